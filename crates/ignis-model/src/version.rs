//! Which version of a function: `$LATEST` (the one that changes) or a
//! published version (1, 2, 3, …; frozen), and how a qualifier names one.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The literal Lambda uses for the unpublished version.
pub const LATEST: &str = "$LATEST";

/// A version of a function.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub enum Version {
    /// `$LATEST`: the function's current code and configuration.
    #[default]
    Latest,
    /// A published version, numbered from 1.
    Published(u64),
}

impl Version {
    /// The version a qualifier names when it is `$LATEST` or a number;
    /// `None` for anything else (an alias name).
    pub fn from_qualifier(q: &str) -> Option<Self> {
        if q == LATEST {
            return Some(Self::Latest);
        }
        if q.is_empty()
            || q.len() > 20
            || !q.bytes().all(|b| b.is_ascii_digit())
            || q.starts_with('0')
        {
            return None;
        }
        q.parse().ok().map(Self::Published)
    }

    /// The published number, if any.
    pub fn number(self) -> Option<u64> {
        match self {
            Self::Latest => None,
            Self::Published(n) => Some(n),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latest => f.write_str(LATEST),
            Self::Published(n) => write!(f, "{n}"),
        }
    }
}

/// What a qualifier names: a version, or an alias of one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Qualifier {
    /// `$LATEST` or a published version.
    Version(Version),
    /// An alias name.
    Alias(String),
}

impl Qualifier {
    /// The qualifier `q` names (its syntax is checked where it is parsed,
    /// in [`crate::arn::parse_function_ref`] or by the caller).
    pub fn parse(q: &str) -> Self {
        match Version::from_qualifier(q) {
            Some(v) => Self::Version(v),
            None => Self::Alias(q.to_string()),
        }
    }

    /// As written in an ARN or a `Qualifier` parameter.
    pub fn as_string(&self) -> String {
        match self {
            Self::Version(v) => v.to_string(),
            Self::Alias(a) => a.clone(),
        }
    }
}

/// Whether `name` can be an alias name: Lambda's pattern
/// `(?!^[0-9]+$)([a-zA-Z0-9-_]+)`, 1–128 characters.
pub fn is_valid_alias_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_name_versions_or_aliases() {
        assert_eq!(Version::from_qualifier("$LATEST"), Some(Version::Latest));
        assert_eq!(Version::from_qualifier("12"), Some(Version::Published(12)));
        assert_eq!(Version::from_qualifier("prod"), None);
        assert_eq!(Version::from_qualifier("0"), None);
        assert_eq!(Version::from_qualifier("01"), None);
        assert_eq!(Version::from_qualifier("99999999999999999999999"), None);
        assert_eq!(Version::Published(3).to_string(), "3");
        assert_eq!(Version::Latest.to_string(), "$LATEST");
    }

    #[test]
    fn alias_names_are_not_numbers() {
        assert!(is_valid_alias_name("prod"));
        assert!(is_valid_alias_name("v2-blue_1"));
        assert!(!is_valid_alias_name("2"));
        assert!(!is_valid_alias_name("$LATEST"));
        assert!(!is_valid_alias_name(""));
        assert!(!is_valid_alias_name(&"a".repeat(129)));
    }
}
