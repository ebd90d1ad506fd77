//! Wildcard patterns of the policy language: `*` (any run of characters)
//! and `?` (one character) in actions, resources and `…Like` conditions,
//! with policy variables (`${aws:username}`, `${aws:username, 'default'}`,
//! and the escapes `${*}`, `${?}`, `${$}`) replaced by literal text first.

use super::context::ContextKeys;

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Char(char),
    Star,
    Question,
}

/// A pattern ready to match; `None` from [`compile`] when a variable it
/// names is absent (and has no default), so it matches nothing.
#[derive(Debug, Clone)]
pub(crate) struct Pattern(Vec<Tok>);

/// Compiles `pattern`; variables are substituted when `vars` is given
/// (documents of version `2012-10-17`), else `${…}` is literal text.
pub(crate) fn compile(pattern: &str, vars: Option<&ContextKeys>) -> Option<Pattern> {
    let mut toks = Vec::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        if let (Some(vars), true) = (vars, rest.starts_with("${")) {
            if let Some(end) = rest.find('}') {
                let value = variable(&rest[2..end], vars)?;
                toks.extend(value.chars().map(Tok::Char));
                rest = &rest[end + 1..];
                continue;
            }
        }
        toks.push(match c {
            '*' => Tok::Star,
            '?' => Tok::Question,
            c => Tok::Char(c),
        });
        rest = &rest[c.len_utf8()..];
    }
    Some(Pattern(toks))
}

/// The value of `${name}` / `${name, 'default'}`.
pub(crate) fn variable(inner: &str, vars: &ContextKeys) -> Option<String> {
    match inner.trim() {
        "*" => return Some("*".into()),
        "?" => return Some("?".into()),
        "$" => return Some("$".into()),
        _ => {}
    }
    let (name, default) = match inner.split_once(',') {
        Some((name, default)) => {
            let d = default.trim();
            let d = d
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
                .unwrap_or(d);
            (name.trim(), Some(d.to_string()))
        }
        None => (inner.trim(), None),
    };
    match vars.get(name) {
        Some([one]) => Some(one.clone()),
        _ => default,
    }
}

impl Pattern {
    /// Whether `text` matches, case-sensitively or not.
    pub(crate) fn matches(&self, text: &str, ignore_case: bool) -> bool {
        let fold = |c: char| {
            if ignore_case {
                c.to_ascii_lowercase()
            } else {
                c
            }
        };
        let text: Vec<char> = text.chars().map(fold).collect();
        let pat = &self.0;
        let (mut p, mut t) = (0, 0);
        let mut backtrack: Option<(usize, usize)> = None;
        while t < text.len() {
            match pat.get(p) {
                Some(Tok::Star) => {
                    backtrack = Some((p, t));
                    p += 1;
                    continue;
                }
                Some(Tok::Question) => {
                    p += 1;
                    t += 1;
                    continue;
                }
                Some(Tok::Char(c)) if fold(*c) == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
            match backtrack {
                Some((star, at)) => {
                    p = star + 1;
                    t = at + 1;
                    backtrack = Some((star, at + 1));
                }
                None => return false,
            }
        }
        pat[p..].iter().all(|tok| *tok == Tok::Star)
    }

    /// Matches ARNs as `ArnLike` and `Resource` do: each of the first five
    /// colon-separated parts on its own, the resource part (which may hold
    /// colons) as a whole.
    pub(crate) fn matches_arn(&self, arn: &str) -> bool {
        let pat = self.render();
        let pat_parts: Vec<&str> = pat.splitn(6, ':').collect();
        if pat_parts.len() < 6 {
            return self.matches(arn, false);
        }
        let arn_parts: Vec<&str> = arn.splitn(6, ':').collect();
        if arn_parts.len() < 6 {
            return false;
        }
        let mut start = 0;
        pat_parts.iter().zip(&arn_parts).all(|(p, a)| {
            let len = p.chars().count();
            let part = Pattern(self.0[start..start + len].to_vec());
            start += len + 1;
            part.matches(a, false)
        })
    }

    /// The pattern as text, wildcards as `*`/`?` (used only to find the
    /// colons that separate ARN parts; a literal `:` from a variable is
    /// rare enough to split on too).
    fn render(&self) -> String {
        self.0
            .iter()
            .map(|t| match t {
                Tok::Char(c) => *c,
                Tok::Star => '*',
                Tok::Question => '?',
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        compile(pattern, None).unwrap().matches(text, false)
    }

    #[test]
    fn wildcards() {
        assert!(m("*", ""));
        assert!(m("iam:Get*", "iam:GetUser"));
        assert!(!m("iam:Get*", "iam:ListUsers"));
        assert!(m("s3:Get?bject", "s3:GetObject"));
        assert!(!m("s3:Get?bject", "s3:GetObbject"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("*Report", "iam:GetOrganizationsAccessReport"));
        assert!(compile("lambda:invoke*", None)
            .unwrap()
            .matches("lambda:InvokeFunction", true));
    }

    #[test]
    fn arns_match_part_by_part() {
        let p = compile("arn:aws:lambda:*:000000000000:function:b*", None).unwrap();
        assert!(p.matches_arn("arn:aws:lambda:us-east-1:000000000000:function:b"));
        assert!(p.matches_arn("arn:aws:lambda:us-east-1:000000000000:function:b:prod"));
        assert!(!p.matches_arn("arn:aws:lambda:us-east-1:000000000000:function:c"));
        // A star in one part does not reach into the next.
        let p = compile("arn:aws:s3:*:*:x", None).unwrap();
        assert!(!p.matches_arn("arn:aws:s3:a:b:c:x"));
    }

    #[test]
    fn variables_are_literal_text() {
        let mut vars = ContextKeys::default();
        vars.insert("aws:username", "al*ce");
        let p = compile("arn:aws:s3:::home/${aws:username}/*", Some(&vars)).unwrap();
        assert!(p.matches_arn("arn:aws:s3:::home/al*ce/file"));
        assert!(!p.matches_arn("arn:aws:s3:::home/alXXce/file"));
        assert!(compile("${aws:userid}", Some(&vars)).is_none());
        let p = compile("${aws:userid, 'none'}-${*}", Some(&vars)).unwrap();
        assert!(p.matches("none-*", false));
        assert!(!p.matches("none-x", false));
        assert!(compile("${aws:username}", None)
            .unwrap()
            .matches("${aws:username}", false));
    }

    proptest! {
        #[test]
        fn a_pattern_without_wildcards_matches_only_itself(a in "[a-z:/]{0,12}", b in "[a-z:/]{0,12}") {
            prop_assert_eq!(m(&a, &b), a == b);
        }

        #[test]
        fn star_matches_any_infix(pre in "[a-z]{0,6}", mid in "[ -~]{0,10}", suf in "[a-z]{0,6}") {
            let text = format!("{pre}{mid}{suf}");
            let pattern = format!("{pre}*{suf}");
            prop_assert!(m(&pattern, &text));
        }

        #[test]
        fn question_marks_match_exactly_that_many(text in "[a-z]{0,8}", n in 0usize..10) {
            prop_assert_eq!(m(&"?".repeat(n), &text), text.len() == n);
        }
    }
}
