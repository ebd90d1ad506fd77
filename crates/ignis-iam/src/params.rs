//! Reading a query request's parameters with the models' constraints,
//! refusing as IAM does: `ValidationError` with AWS's wording
//! (`1 validation error detected: Value 'x' at 'userName' failed to
//! satisfy constraint: …`).

use ignis_protocol::{AwsError, QueryRequest};

use crate::error::validation;

/// A pattern of the models, checked by hand (no regex engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// `[\w+=,.@-]+` (user, role and policy names).
    Name,
    /// `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)` (user and role paths).
    Path,
    /// `\u002F[\u0021-\u007F]*` (path prefixes of users and roles).
    PathPrefix,
    /// `((/[A-Za-z0-9\.,\+@=_-]+)*)/` (policy paths and their prefixes).
    PolicyPath,
    /// `[\u0009\u000A\u000D\u0020-\u00FF]+` (policy documents).
    Document,
    /// `[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*` (role descriptions).
    Description,
    /// `[\w]+` (access key ids).
    Word,
    /// `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?` (policy version ids).
    VersionId,
    /// `[\p{L}\p{Z}\p{N}_.:/=+\-@]*` (tag keys and values).
    Tag,
    /// Anything.
    Any,
}

impl Pattern {
    /// The pattern as the model writes it (for messages).
    fn text(self) -> &'static str {
        match self {
            Self::Name => r"[\w+=,.@-]+",
            Self::Path => r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
            Self::PathPrefix => r"\u002F[\u0021-\u007F]*",
            Self::PolicyPath => r"((/[A-Za-z0-9\.,\+@=_-]+)*)/",
            Self::Document => r"[\u0009\u000A\u000D\u0020-\u00FF]+",
            Self::Description => r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*",
            Self::Word => r"[\w]+",
            Self::VersionId => r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?",
            Self::Tag => r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*",
            Self::Any => "",
        }
    }

    /// Whether `s` matches the whole pattern.
    pub fn matches(self, s: &str) -> bool {
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        match self {
            Self::Name => !s.is_empty() && s.chars().all(|c| word(c) || "+=,.@-".contains(c)),
            Self::Path => {
                s == "/"
                    || (s.len() > 2
                        && s.starts_with('/')
                        && s.ends_with('/')
                        && s.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c)))
            }
            Self::PathPrefix => {
                s.starts_with('/') && s.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c))
            }
            Self::PolicyPath => {
                let segment = |p: &str| {
                    !p.is_empty()
                        && p.chars()
                            .all(|c| c.is_ascii_alphanumeric() || ".,+@=_-".contains(c))
                };
                s.strip_suffix('/').is_some_and(|inner| {
                    inner.is_empty()
                        || inner
                            .strip_prefix('/')
                            .is_some_and(|rest| rest.split('/').all(segment))
                })
            }
            Self::Document => {
                !s.is_empty()
                    && s.chars()
                        .all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
            }
            Self::Description => s.chars().all(
                |c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}'),
            ),
            Self::Word => !s.is_empty() && s.chars().all(word),
            Self::VersionId => {
                let Some(rest) = s.strip_prefix('v') else {
                    return false;
                };
                let (number, suffix) = rest
                    .split_once('.')
                    .map_or((rest, None), |(n, x)| (n, Some(x)));
                number.starts_with(|c: char| ('1'..='9').contains(&c))
                    && number.chars().all(|c| c.is_ascii_digit())
                    && suffix
                        .is_none_or(|x| x.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            }
            Self::Tag => s
                .chars()
                .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)),
            Self::Any => true,
        }
    }
}

/// A string parameter's constraints.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Minimum length (characters).
    pub min: usize,
    /// Maximum length (characters).
    pub max: usize,
    /// Its pattern.
    pub pattern: Pattern,
}

/// `userName`, `roleName`: 1–64 of `[\w+=,.@-]`.
pub const NAME64: Rule = Rule {
    min: 1,
    max: 64,
    pattern: Pattern::Name,
};
/// `existingUserNameType`: 1–128.
pub const NAME128: Rule = Rule {
    min: 1,
    max: 128,
    pattern: Pattern::Name,
};
/// `pathType`.
pub const PATH: Rule = Rule {
    min: 1,
    max: 512,
    pattern: Pattern::Path,
};
/// `pathPrefixType`.
pub const PATH_PREFIX: Rule = Rule {
    min: 1,
    max: 512,
    pattern: Pattern::PathPrefix,
};
/// `policyPathType`.
pub const POLICY_PATH: Rule = Rule {
    min: 1,
    max: 512,
    pattern: Pattern::PolicyPath,
};
/// `policyDocumentType`.
pub const DOCUMENT: Rule = Rule {
    min: 1,
    max: 131_072,
    pattern: Pattern::Document,
};
/// `arnType`.
pub const ARN: Rule = Rule {
    min: 20,
    max: 2048,
    pattern: Pattern::Any,
};
/// `accessKeyIdType`.
pub const ACCESS_KEY_ID: Rule = Rule {
    min: 16,
    max: 128,
    pattern: Pattern::Word,
};
/// `markerType` (`[\u0020-\u00FF]+`, not checked beyond its length).
pub const MARKER: Rule = Rule {
    min: 1,
    max: 320,
    pattern: Pattern::Any,
};

/// The parameters of one request, read with their constraints.
pub struct Params<'a> {
    req: &'a QueryRequest,
}

/// The model's member name as IAM's messages write it (`userName`).
fn field(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn failed(value: &str, name: &str, constraint: &str) -> AwsError {
    validation(format!(
        "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: {constraint}",
        field(name)
    ))
}

impl<'a> Params<'a> {
    /// Reads `req`.
    pub fn new(req: &'a QueryRequest) -> Self {
        Self { req }
    }

    /// Optional string `name`, checked against `rule`.
    pub fn opt(&self, name: &str, rule: Rule) -> Result<Option<String>, AwsError> {
        let Some(value) = self.req.get(name) else {
            return Ok(None);
        };
        check(name, value, rule)?;
        Ok(Some(value.to_string()))
    }

    /// Required string `name`, checked against `rule`.
    pub fn req(&self, name: &str, rule: Rule) -> Result<String, AwsError> {
        self.opt(name, rule)?.ok_or_else(|| {
            validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                field(name)
            ))
        })
    }

    /// Optional integer `name` within `min..=max`.
    pub fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, AwsError> {
        let Some(text) = self.req.get(name) else {
            return Ok(None);
        };
        let value: i64 = text
            .parse()
            .map_err(|_| failed(text, name, "Member must be a number"))?;
        if value < min {
            return Err(failed(
                text,
                name,
                &format!("Member must have value greater than or equal to {min}"),
            ));
        }
        if value > max {
            return Err(failed(
                text,
                name,
                &format!("Member must have value less than or equal to {max}"),
            ));
        }
        Ok(Some(value))
    }

    /// Optional boolean `name` (`true`/`false`).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, AwsError> {
        match self.req.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(failed(other, name, "Member must be a boolean")),
        }
    }

    /// Tags, `Tags.member.N.Key`/`.Value`: at most 50, keys 1–128 and
    /// values 0–256 of the tag pattern, keys unique.
    pub fn tags(&self) -> Result<Vec<(String, String)>, AwsError> {
        let members = self.req.structs("Tags");
        if members.len() > 50 {
            return Err(failed(
                "[…]",
                "Tags",
                "Member must have length less than or equal to 50",
            ));
        }
        let key_rule = Rule {
            min: 1,
            max: 128,
            pattern: Pattern::Tag,
        };
        let value_rule = Rule {
            min: 0,
            max: 256,
            pattern: Pattern::Tag,
        };
        let mut tags: Vec<(String, String)> = Vec::with_capacity(members.len());
        for m in members {
            let key = m
                .get("Key")
                .copied()
                .ok_or_else(|| failed("null", "Tags.member.key", "Member must not be null"))?;
            let value = m
                .get("Value")
                .copied()
                .ok_or_else(|| failed("null", "Tags.member.value", "Member must not be null"))?;
            check("Tags.member.key", key, key_rule)?;
            check("Tags.member.value", value, value_rule)?;
            if tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
                return Err(crate::error::invalid_input(
                    "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
                ));
            }
            tags.push((key.to_string(), value.to_string()));
        }
        Ok(tags)
    }

    /// `Marker` and `MaxItems` of a paginated list.
    pub fn page(&self) -> Result<Page, AwsError> {
        Ok(Page {
            marker: self.opt("Marker", MARKER)?,
            max_items: self.int("MaxItems", 1, 1000)?.map_or(100, |n| n as usize),
        })
    }
}

/// Checks `value` of parameter `name` against `rule`.
pub fn check(name: &str, value: &str, rule: Rule) -> Result<(), AwsError> {
    let len = value.chars().count();
    if len < rule.min {
        return Err(failed(
            value,
            name,
            &format!(
                "Member must have length greater than or equal to {}",
                rule.min
            ),
        ));
    }
    if len > rule.max {
        return Err(failed(
            value,
            name,
            &format!("Member must have length less than or equal to {}", rule.max),
        ));
    }
    if !rule.pattern.matches(value) {
        return Err(failed(
            value,
            name,
            &format!(
                "Member must satisfy regular expression pattern: {}",
                rule.pattern.text()
            ),
        ));
    }
    Ok(())
}

/// Where a list starts and how long it may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The `Marker` a previous page answered.
    pub marker: Option<String>,
    /// `MaxItems` (100 unless given).
    pub max_items: usize,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            marker: None,
            max_items: 100,
        }
    }
}

impl Page {
    /// The page of `items` (sorted by `key`) after the marker, and the
    /// marker of the next page if more follow. The marker is the last key
    /// answered.
    pub fn take<T>(&self, items: Vec<T>, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
        let mut rest: Vec<T> = match &self.marker {
            Some(m) => items
                .into_iter()
                .filter(|i| key(i).as_str() > m.as_str())
                .collect(),
            None => items,
        };
        if rest.len() > self.max_items {
            rest.truncate(self.max_items);
            let next = rest.last().map(&key);
            (rest, next)
        } else {
            (rest, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_the_models_say() {
        use Pattern::*;
        for (p, ok, bad) in [
            (Name, vec!["a", "A_b+=,.@-9"], vec!["", "a b", "a/b", "é"]),
            (
                Path,
                vec!["/", "/a/", "/a/b-c/"],
                vec!["", "a/", "/a", "//x", "/a b/"],
            ),
            (PathPrefix, vec!["/", "/a", "/a/b"], vec!["", "a"]),
            (
                PolicyPath,
                vec!["/", "/a/", "/a/b.c/"],
                vec!["", "//", "/a", "a/", "/a b/"],
            ),
            (Document, vec!["{}", "{\n\t}"], vec!["", "\u{1}", "\u{100}"]),
            (
                VersionId,
                vec!["v1", "v10", "v2.a-b"],
                vec!["v0", "1", "v", "va"],
            ),
            (Word, vec!["AKIA123_x"], vec!["", "a-b"]),
            (Tag, vec!["", "a b:c/d=e+f-g@h_i.j", "é"], vec!["a*b", "a#"]),
        ] {
            for s in ok {
                assert!(p.matches(s), "{p:?} should match {s:?}");
            }
            for s in bad {
                assert!(!p.matches(s), "{p:?} should not match {s:?}");
            }
        }
    }

    #[test]
    fn violations_are_worded_as_iam_words_them() {
        let req = QueryRequest::parse("", b"Action=X&UserName=a%20b&MaxItems=0").unwrap();
        let p = Params::new(&req);
        let e = p.req("UserName", NAME64).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.code.as_str()),
            (400, "ValidationError")
        );
        assert_eq!(
            e.message,
            r"1 validation error detected: Value 'a b' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+"
        );
        let e = p.req("RoleName", NAME64).unwrap_err();
        assert!(
            e.message.contains("Value null at 'roleName'"),
            "{}",
            e.message
        );
        let e = p.page().unwrap_err();
        assert!(
            e.message.contains("greater than or equal to 1"),
            "{}",
            e.message
        );
    }

    #[test]
    fn pages_follow_the_marker() {
        let page = Page {
            marker: None,
            max_items: 2,
        };
        let (first, next) = page.take(vec!["a", "b", "c"], |s| s.to_string());
        assert_eq!((first, next.as_deref()), (vec!["a", "b"], Some("b")));
        let page = Page {
            marker: next,
            max_items: 2,
        };
        assert_eq!(
            page.take(vec!["a", "b", "c"], |s| s.to_string()),
            (vec!["c"], None)
        );
    }
}
