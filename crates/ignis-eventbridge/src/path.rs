//! The JSON paths of `InputPath` and `InputPathsMap`: `$`, then `.name`,
//! `['name']` or `[index]` steps (EventBridge's JSONPath without filters
//! or wildcards).

use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath(Vec<Step>);

impl JsonPath {
    /// Parses `text`; `None` if it is not a path this module reads.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.trim().strip_prefix('$')?;
        let chars: Vec<char> = rest.chars().collect();
        let mut steps = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    let start = i + 1;
                    let mut end = start;
                    while end < chars.len() && chars[end] != '.' && chars[end] != '[' {
                        end += 1;
                    }
                    if end == start {
                        return None;
                    }
                    steps.push(Step::Field(chars[start..end].iter().collect()));
                    i = end;
                }
                '[' => {
                    let close = chars[i..].iter().position(|&c| c == ']')? + i;
                    let inner: String = chars[i + 1..close].iter().collect();
                    let inner = inner.trim();
                    if let Some(q) = inner
                        .strip_prefix('\'')
                        .and_then(|s| s.strip_suffix('\''))
                        .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                    {
                        steps.push(Step::Field(q.to_string()));
                    } else {
                        steps.push(Step::Index(inner.parse().ok()?));
                    }
                    i = close + 1;
                }
                _ => return None,
            }
        }
        Some(Self(steps))
    }

    /// The value at this path in `value`, if there is one.
    pub fn get<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        self.0.iter().try_fold(value, |v, step| match step {
            Step::Field(name) => v.get(name.as_str()),
            Step::Index(i) => v.get(*i),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_fields_indexes_and_quoted_names() {
        let v = json!({"detail": {"a": [1, {"b": "x"}], "odd.name": 2}});
        let get = |p: &str| JsonPath::parse(p).and_then(|p| p.get(&v).cloned());
        assert_eq!(get("$"), Some(v.clone()));
        assert_eq!(get("$.detail.a[1].b"), Some(json!("x")));
        assert_eq!(get("$.detail['odd.name']"), Some(json!(2)));
        assert_eq!(get("$.detail.missing"), None);
        assert!(JsonPath::parse("detail.a").is_none());
        assert!(JsonPath::parse("$..a").is_none());
        assert!(JsonPath::parse("$.a[x]").is_none());
    }
}
