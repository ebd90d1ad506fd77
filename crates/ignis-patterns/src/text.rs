//! String comparisons: case-insensitive equality, prefix and suffix without
//! allocating, and EventBridge's `wildcard` (`*` for any run of characters,
//! `\*` for a star, `\\` for a backslash, no `**`).

use crate::error::PatternError;

/// Lowercases a pattern operand once, at parse time.
pub(crate) fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// `value` equals `lowered` (already lowercase) ignoring case.
pub(crate) fn eq_ignore_case(value: &str, lowered: &str) -> bool {
    value
        .chars()
        .flat_map(char::to_lowercase)
        .eq(lowered.chars())
}

/// `value` starts with `lowered` (already lowercase) ignoring case.
pub(crate) fn starts_with_ignore_case(value: &str, lowered: &str) -> bool {
    let mut v = value.chars().flat_map(char::to_lowercase);
    lowered.chars().all(|p| v.next() == Some(p))
}

/// `value` ends with `lowered` (already lowercase) ignoring case.
pub(crate) fn ends_with_ignore_case(value: &str, lowered: &str) -> bool {
    let mut v = value.chars().rev().flat_map(|c| c.to_lowercase().rev());
    lowered.chars().rev().all(|p| v.next() == Some(p))
}

/// A parsed wildcard: literal pieces between stars.
#[derive(Debug, Clone, PartialEq)]
pub struct Wildcard {
    /// The literal text between stars; `pieces.len() - 1` stars.
    pieces: Vec<String>,
}

impl Wildcard {
    /// Parses a wildcard expression, refusing `**` and unknown escapes.
    /// Positions in errors count characters from 0, as EventBridge does.
    pub(crate) fn parse(text: &str) -> Result<Self, PatternError> {
        let mut pieces = vec![String::new()];
        let mut chars = text.chars().enumerate().peekable();
        let mut last_was_star = false;
        while let Some((pos, c)) = chars.next() {
            match c {
                '*' => {
                    if last_was_star {
                        return Err(PatternError::ConsecutiveWildcards(pos));
                    }
                    pieces.push(String::new());
                    last_was_star = true;
                    continue;
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('*' | '\\'))) => push(&mut pieces, e),
                    _ => return Err(PatternError::InvalidEscape(pos)),
                },
                _ => push(&mut pieces, c),
            }
            last_was_star = false;
        }
        Ok(Self { pieces })
    }

    /// Whether `value` matches: the first piece anchors the start, the last
    /// the end, the ones between are found leftmost in order.
    pub(crate) fn matches(&self, value: &str) -> bool {
        let (first, rest) = self
            .pieces
            .split_first()
            .expect("a wildcard has a first piece");
        let Some((last, middle)) = rest.split_last() else {
            return value == first;
        };
        if value.len() < first.len() + last.len()
            || !value.starts_with(first.as_str())
            || !value.ends_with(last.as_str())
        {
            return false;
        }
        let mut window = &value[first.len()..value.len() - last.len()];
        for piece in middle {
            match window.find(piece.as_str()) {
                Some(at) => window = &window[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

fn push(pieces: &mut [String], c: char) {
    pieces.last_mut().expect("pieces is never empty").push(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(p: &str) -> Wildcard {
        Wildcard::parse(p).unwrap()
    }

    #[test]
    fn wildcards_match_as_globs() {
        assert!(w("*/lib/*").matches("/usr/lib/x"));
        assert!(!w("*/lib/*").matches("/usr/bin/x"));
        assert!(w("Simple*Service").matches("SimpleQueueService"));
        assert!(w("Simple*Service").matches("SimpleService"));
        assert!(!w("a*a").matches("a"));
        assert!(w("a*a").matches("aa"));
        assert!(w("*").matches(""));
        assert!(w("a*b*c").matches("abbbc"));
        assert!(!w("a*b*c").matches("acb"));
        assert!(w(r"a\*b").matches("a*b"));
        assert!(!w(r"a\*b").matches("axb"));
        assert!(w(r"a\\b").matches(r"a\b"));
    }

    /// A plain backtracking glob, the reference the fast matcher must agree with.
    fn reference(p: &[u8], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| reference(rest, &s[i..])),
            Some((c, rest)) => s.first() == Some(c) && reference(rest, &s[1..]),
        }
    }

    fn words(alphabet: &[u8], max: usize) -> Vec<Vec<u8>> {
        let mut all = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..max {
            last = last
                .iter()
                .flat_map(|w| alphabet.iter().map(move |c| [w.as_slice(), &[*c]].concat()))
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    #[test]
    fn wildcards_agree_with_backtracking_on_every_small_case() {
        let patterns = words(b"ab*", 5);
        let values = words(b"ab", 6);
        for p in patterns
            .iter()
            .filter(|p| !p.windows(2).any(|w| w == b"**"))
        {
            let wildcard = w(std::str::from_utf8(p).unwrap());
            for v in &values {
                let value = std::str::from_utf8(v).unwrap();
                assert_eq!(
                    wildcard.matches(value),
                    reference(p, v),
                    "{p:?} on {value:?}"
                );
            }
        }
    }

    #[test]
    fn bad_wildcards_say_where() {
        assert_eq!(
            Wildcard::parse("ab**c"),
            Err(PatternError::ConsecutiveWildcards(3))
        );
        assert_eq!(
            Wildcard::parse(r"ab\c"),
            Err(PatternError::InvalidEscape(2))
        );
        assert_eq!(Wildcard::parse(r"ab\"), Err(PatternError::InvalidEscape(2)));
    }

    #[test]
    fn case_folding_without_allocating() {
        assert!(eq_ignore_case("EventBridge", "eventbridge"));
        assert!(!eq_ignore_case("EventBridg", "eventbridge"));
        assert!(starts_with_ignore_case("EVENTBRIDGE", "eventb"));
        assert!(ends_with_ignore_case("photo.PNG", ".png"));
        assert!(!ends_with_ignore_case("png", ".png"));
    }
}
