//! The parsed form shared by the three languages: a tree of objects whose
//! leaves are lists of value matchers, plus the [`Language`] that says which
//! operators, limits and matching rules apply.

use std::net::IpAddr;

use crate::cidr::Cidr;
use crate::text::Wildcard;

/// Which service's rules a pattern follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// EventBridge event patterns: every operator.
    EventBridge,
    /// Lambda event filtering (the EventBridge Pipes subset): no `wildcard`,
    /// `anything-but` only over values; exact numbers compare as text.
    Lambda,
    /// SNS filter policies; `nested` is false for the `MessageAttributes`
    /// scope, where a policy is flat.
    Sns {
        /// Whether nested objects are allowed (the `MessageBody` scope).
        nested: bool,
    },
}

impl Language {
    /// Whether `{"wildcard": …}` exists.
    pub fn has_wildcard(self) -> bool {
        self == Self::EventBridge
    }

    /// Whether `prefix`/`suffix` take `{"equals-ignore-case": …}`.
    pub fn has_ignore_case_affix(self) -> bool {
        matches!(self, Self::EventBridge | Self::Lambda)
    }

    /// Whether `anything-but` takes `prefix` and `suffix`.
    pub fn has_anything_but_affix(self) -> bool {
        matches!(self, Self::EventBridge | Self::Sns { .. })
    }

    /// Whether `anything-but` takes `equals-ignore-case` and `wildcard`.
    pub fn has_anything_but_strings(self) -> bool {
        self == Self::EventBridge
    }

    /// Whether a field may hold an object (a nested pattern).
    pub fn allows_nesting(self) -> bool {
        !matches!(self, Self::Sns { nested: false })
    }

    /// The largest magnitude a `numeric` operand may have.
    pub fn numeric_limit(self) -> f64 {
        match self {
            Self::EventBridge | Self::Lambda => 5.0e9,
            Self::Sns { .. } => 1.0e9,
        }
    }

    /// Exact numbers compare by their text (Lambda: 300 and 300.0 differ)
    /// rather than by value (EventBridge, SNS).
    pub fn numbers_as_text(self) -> bool {
        self == Self::Lambda
    }

    /// SNS treats a `$or` that is not an array of at least two objects free
    /// of operator names as an ordinary field named `$or`; EventBridge and
    /// Lambda refuse it.
    pub fn or_falls_back_to_field(self) -> bool {
        matches!(self, Self::Sns { .. })
    }

    /// SNS attribute scope: `anything-but` on a `String.Array` matches only
    /// when no element is excluded (elsewhere: when some element is not).
    pub fn anything_but_every_element(self) -> bool {
        self == Self::Sns { nested: false }
    }
}

/// One object level of a pattern: every field must match, and every `$or`
/// group must have one alternative that matches the same object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    /// Field name and what its value must satisfy.
    pub fields: Vec<(String, Field)>,
    /// `$or` groups at this level, each a list of alternatives.
    pub ors: Vec<Vec<Node>>,
}

/// What a named field must satisfy.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A nested object pattern.
    Nested(Node),
    /// A list of matchers; one must match (a leaf value, or an element of an
    /// array value).
    Leaf(Vec<Matcher>),
}

/// One entry of a field's list of values.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// An exact string.
    String(String),
    /// An exact string that is an IP address: also matches other spellings
    /// of the same address.
    Ip(String, IpAddr),
    /// An exact number: its value and its JSON text.
    Number(f64, String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `{"prefix": s}`.
    Prefix(String),
    /// `{"prefix": {"equals-ignore-case": s}}`, `s` lowercased.
    PrefixIgnoreCase(String),
    /// `{"suffix": s}`.
    Suffix(String),
    /// `{"suffix": {"equals-ignore-case": s}}`, `s` lowercased.
    SuffixIgnoreCase(String),
    /// `{"equals-ignore-case": s}`, `s` lowercased.
    EqualsIgnoreCase(String),
    /// `{"wildcard": s}`.
    Wildcard(Wildcard),
    /// `{"anything-but": …}`.
    AnythingBut(AnythingBut),
    /// `{"numeric": [...]}`.
    Numeric(Range),
    /// `{"exists": b}`.
    Exists(bool),
    /// `{"cidr": s}`.
    Cidr(Cidr),
}

/// What `anything-but` excludes.
#[derive(Debug, Clone, PartialEq)]
pub enum AnythingBut {
    /// These strings (matches other strings).
    Strings(Vec<String>),
    /// These numbers (matches other numbers).
    Numbers(Vec<f64>),
    /// Strings with this prefix.
    Prefix(String),
    /// Strings with this suffix.
    Suffix(String),
    /// These strings in any case (lowercased here).
    IgnoreCase(Vec<String>),
    /// Strings matching any of these wildcards.
    Wildcards(Vec<Wildcard>),
}

/// A numeric interval; `=` is a closed interval of one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Lower bound and whether it is included.
    pub lower: Option<(f64, bool)>,
    /// Upper bound and whether it is included.
    pub upper: Option<(f64, bool)>,
}

impl Range {
    /// Whether `x` lies in the interval.
    pub fn contains(&self, x: f64) -> bool {
        let above = match self.lower {
            None => true,
            Some((b, true)) => x >= b,
            Some((b, false)) => x > b,
        };
        let below = match self.upper {
            None => true,
            Some((t, true)) => x <= t,
            Some((t, false)) => x < t,
        };
        above && below
    }
}
