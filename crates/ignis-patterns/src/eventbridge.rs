//! EventBridge event patterns (`PutRule`'s `EventPattern`,
//! `TestEventPattern`): the whole language, matched against an event.

use std::str::FromStr;

use serde_json::Value;

use crate::ast::{Language, Node};
use crate::error::PatternError;
use crate::parse::parse;

/// A parsed, checked EventBridge event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPattern {
    root: Node,
}

impl EventPattern {
    /// The longest pattern EventBridge accepts, in characters.
    pub const MAX_LENGTH: usize = 4096;

    /// Parses and checks a pattern; the error's
    /// [`eventbridge_message`](PatternError::eventbridge_message) is the
    /// `InvalidEventPatternException` message.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        parse(text, Language::EventBridge, Self::MAX_LENGTH).map(|root| Self { root })
    }

    /// Whether `event` (an event envelope, or any JSON object) matches.
    /// A non-object event matches only patterns whose fields all allow
    /// absence (`exists: false`).
    pub fn matches(&self, event: &Value) -> bool {
        self.root.matches(&event.as_object(), Language::EventBridge)
    }

    /// Whether the event in `event_json` matches (`TestEventPattern` takes
    /// the event as text); an error if it is not JSON.
    pub fn matches_json(&self, event_json: &str) -> Result<bool, serde_json::Error> {
        serde_json::from_str::<Value>(event_json).map(|event| self.matches(&event))
    }
}

impl FromStr for EventPattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, PatternError> {
        Self::parse(text)
    }
}
