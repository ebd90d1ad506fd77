//! Lambda's state machine of an event source mapping.
//!
//! ```text
//! Creating ─► Enabled ◄─► (Disabling ─►) Disabled
//!   │           │  ▲ (Enabling)              │
//!   └─► Disabled└► Updating ─► Enabled|Disabled
//! any settled state ─► Deleting ─► (gone)
//! ```
//!
//! The API moves a mapping into a transitional state (`Creating`,
//! `Enabling`, `Disabling`, `Updating`, `Deleting`); the supervisor, once
//! it has started or stopped the mapping's pollers, settles it
//! ([`State::settled`]). A mapping in a transitional state refuses updates
//! and deletes (`ResourceInUseException`).

use serde::{Deserialize, Serialize};

/// The state of a mapping, as Lambda names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    /// Just created; pollers not started yet.
    Creating,
    /// Being enabled.
    Enabling,
    /// Pollers running.
    Enabled,
    /// Being disabled.
    Disabling,
    /// No pollers.
    Disabled,
    /// A configuration change is being applied.
    Updating,
    /// Being deleted: pollers stop, then the mapping is gone.
    Deleting,
}

/// Why a state change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event source mapping is in state {0:?}")]
pub struct InUse(pub State);

impl State {
    /// Lambda's name of the state (`State` on the wire).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "Creating",
            Self::Enabling => "Enabling",
            Self::Enabled => "Enabled",
            Self::Disabling => "Disabling",
            Self::Disabled => "Disabled",
            Self::Updating => "Updating",
            Self::Deleting => "Deleting",
        }
    }

    /// Whether the mapping rests here (no change under way).
    pub fn is_settled(self) -> bool {
        matches!(self, Self::Enabled | Self::Disabled)
    }

    /// The state an update moves a settled mapping to: `Enabling` or
    /// `Disabling` when it turns the mapping on or off, `Updating` else.
    pub fn update(self, enabled_after: bool) -> Result<State, InUse> {
        match (self, enabled_after) {
            (Self::Enabled, false) => Ok(Self::Disabling),
            (Self::Disabled, true) => Ok(Self::Enabling),
            (Self::Enabled | Self::Disabled, _) => Ok(Self::Updating),
            (other, _) => Err(InUse(other)),
        }
    }

    /// The state a delete moves a settled mapping to.
    pub fn delete(self) -> Result<State, InUse> {
        if self.is_settled() {
            Ok(Self::Deleting)
        } else {
            Err(InUse(self))
        }
    }

    /// Where a transitional state rests once the pollers follow the
    /// mapping's `Enabled` flag; `None` for `Deleting` (the mapping goes).
    pub fn settled(self, enabled: bool) -> Option<State> {
        match self {
            Self::Deleting => None,
            Self::Enabling => Some(Self::Enabled),
            Self::Disabling => Some(Self::Disabled),
            _ if enabled => Some(Self::Enabled),
            _ => Some(Self::Disabled),
        }
    }

    /// Whether pollers run in this state, given the `Enabled` flag
    /// (transitional states run them when they will settle `Enabled`).
    pub fn polls(self, enabled: bool) -> bool {
        self.settled(enabled) == Some(Self::Enabled)
    }
}

#[cfg(test)]
mod tests {
    use super::State::*;
    use super::*;

    #[test]
    fn updates_move_settled_mappings_and_refuse_transitional_ones() {
        assert_eq!(Enabled.update(false), Ok(Disabling));
        assert_eq!(Disabled.update(true), Ok(Enabling));
        assert_eq!(Enabled.update(true), Ok(Updating));
        assert_eq!(Disabled.update(false), Ok(Updating));
        for s in [Creating, Enabling, Disabling, Updating, Deleting] {
            assert_eq!(s.update(true), Err(InUse(s)));
            assert_eq!(s.delete(), Err(InUse(s)));
        }
        assert_eq!(Enabled.delete(), Ok(Deleting));
        assert_eq!(Disabled.delete(), Ok(Deleting));
    }

    #[test]
    fn transitional_states_settle_by_the_flag() {
        assert_eq!(Creating.settled(true), Some(Enabled));
        assert_eq!(Creating.settled(false), Some(Disabled));
        assert_eq!(Updating.settled(false), Some(Disabled));
        assert_eq!(Enabling.settled(true), Some(Enabled));
        assert_eq!(Disabling.settled(false), Some(Disabled));
        assert_eq!(Deleting.settled(true), None);
        assert!(Creating.polls(true));
        assert!(!Disabling.polls(false));
        assert!(!Deleting.polls(true));
        assert!(Enabled.is_settled() && !Updating.is_settled());
    }

    #[test]
    fn names_are_lambdas() {
        let all = [
            Creating, Enabling, Enabled, Disabling, Disabled, Updating, Deleting,
        ];
        let names: Vec<_> = all.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "Creating",
                "Enabling",
                "Enabled",
                "Disabling",
                "Disabled",
                "Updating",
                "Deleting"
            ]
        );
        for s in all {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
    }
}
