//! Why a pattern was refused. The variants' texts are the reasons AWS gives
//! (EventBridge's `InvalidEventPatternException` "Reason: …", SNS's
//! `InvalidParameter` "FilterPolicy: …"); each service module wraps them in
//! its own sentence ([`PatternError::eventbridge_message`],
//! [`PatternError::sns_message`], [`crate::lambda::FilterError`]).

use thiserror::Error;

/// A pattern, filter or filter policy that cannot be used.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PatternError {
    /// The text is not JSON.
    #[error("{0}")]
    InvalidJson(String),
    /// The text is longer than the service allows.
    #[error("Pattern is longer than the maximum of {max} characters")]
    TooLarge {
        /// The limit, in characters.
        max: usize,
    },
    /// Objects are nested deeper than the limit.
    #[error("Pattern is nested deeper than the maximum of {max} levels")]
    TooDeep {
        /// The limit, in levels.
        max: usize,
    },
    /// The top level is not a JSON object.
    #[error("Filter is not an object")]
    NotAnObject,
    /// A field's value is neither an object nor an array.
    #[error("\"{0}\" must be an object or an array")]
    NotObjectOrArray(String),
    /// `{}` somewhere in the pattern.
    #[error("Empty objects are not allowed")]
    EmptyObject,
    /// `[]` as a field's list of values.
    #[error("Empty arrays are not allowed")]
    EmptyArray,
    /// An array inside a field's list of values.
    #[error("Match value must be String, number, true, false, or null")]
    BadMatchValue,
    /// `{}` inside a field's list of values.
    #[error("Match expression name not found")]
    MatchExpressionNameNotFound,
    /// A match expression with more than one key.
    #[error("Only one key allowed in match expression")]
    OnlyOneKey,
    /// An operator this language does not have.
    #[error("Unrecognized match type {0}")]
    UnrecognizedMatchType(String),
    /// An operator's value is not a string.
    #[error("{0} match pattern must be a string")]
    MustBeString(&'static str),
    /// `anything-but`'s value has the wrong type.
    #[error("Value of anything-but must be an array or single string/number value.")]
    AnythingButValue,
    /// `null`, a boolean or an object inside an `anything-but` list.
    #[error("Inside anything but list, start|null|boolean is not supported.")]
    AnythingButListType,
    /// An `anything-but` list mixing strings and numbers (or empty).
    #[error("Inside anything but list, either all values are number or string, mixed type is not supported")]
    AnythingButMixed,
    /// A non-string inside `anything-but`'s `equals-ignore-case` or `wildcard`.
    #[error("Inside anything-but/{0} list, number|start|null|boolean is not supported.")]
    AnythingButStringsOnly(&'static str),
    /// An operator `anything-but` cannot wrap in this language.
    #[error("Unsupported anything-but pattern: {0}")]
    UnsupportedAnythingBut(String),
    /// `anything-but` `prefix`/`suffix` of the empty string.
    #[error("Null prefix/suffix not allowed")]
    EmptyPrefixSuffix,
    /// `numeric` not followed by an array.
    #[error("Value of numeric must be an array.")]
    NumericNotArray,
    /// A numeric expression starting with something that is not an operator.
    #[error("Invalid member in numeric match: {0}")]
    NumericInvalidMember(String),
    /// A numeric operator followed by a non-number.
    #[error("Value of {0} must be numeric")]
    NumericNotNumber(String),
    /// An unknown numeric operator.
    #[error("Unrecognized numeric range operator: {0}")]
    NumericUnknownOperator(String),
    /// The second half of a range is not a string operator.
    #[error("Bad value in numeric range: {0}")]
    NumericBadRangeValue(String),
    /// The second half of a range is not `<` or `<=`.
    #[error("Bad numeric range operator: {0}")]
    NumericBadRangeOperator(String),
    /// Terms after a complete numeric expression.
    #[error("Too many elements in numeric expression")]
    NumericTooManyElements,
    /// A range whose bottom is not below its top.
    #[error("Bottom must be less than top")]
    NumericBottomNotBelowTop,
    /// A number outside the range the service compares.
    #[error("Value of {op} must be between -{limit:e} and {limit:e}")]
    NumericOutOfRange {
        /// The operator the value follows.
        op: String,
        /// The largest magnitude allowed.
        limit: f64,
    },
    /// `exists` with a non-boolean value.
    #[error("exists match pattern must be either true or false.")]
    ExistsNotBoolean,
    /// `cidr` with something that is not an address range.
    #[error("Nonstandard IP address: {0}")]
    InvalidCidr(String),
    /// Two `*` in a row in a wildcard.
    #[error("Consecutive wildcard characters at pos {0}")]
    ConsecutiveWildcards(usize),
    /// A backslash before something other than `*` or `\`.
    #[error("Invalid escape character at pos {0}")]
    InvalidEscape(usize),
    /// `$or` not followed by an array.
    #[error("It must be an Array followed with $or.")]
    OrNotArray,
    /// Something other than an object inside `$or`.
    #[error("Only JSON object is allowed in array of $or relationship.")]
    OrNotObject,
    /// `$or` with fewer than two alternatives.
    #[error("There must have at least 2 Objects in $or relationship.")]
    OrTooFew,
    /// An operator name used as a field name inside `$or`.
    #[error("{0} is Ruler reserved fieldName which cannot be used inside $or.")]
    OrReservedField(String),
    /// A nested object in an SNS attribute-scope policy.
    #[error("Filter policy scope MessageAttributes does not support nested filter policy")]
    NestedNotAllowed,
    /// An SNS policy naming more than five keys.
    #[error("Filter policy can not have more than {max} keys")]
    TooManyKeys {
        /// The limit.
        max: usize,
    },
    /// An SNS policy whose value combinations exceed the limit.
    #[error("Filter policy is too complex")]
    TooComplex,
}

impl PatternError {
    /// The message of EventBridge's `InvalidEventPatternException`.
    pub fn eventbridge_message(&self) -> String {
        format!("Event pattern is not valid. Reason: {self}")
    }

    /// The message of SNS's `InvalidParameter` for a bad `FilterPolicy`.
    pub fn sns_message(&self) -> String {
        match self {
            Self::NestedNotAllowed => format!("Invalid parameter: {self}"),
            _ => format!("Invalid parameter: FilterPolicy: {self}"),
        }
    }
}
