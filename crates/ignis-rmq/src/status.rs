//! What a consumer tells its mapping: each change of its condition, in the
//! words Lambda puts in an Amazon MQ mapping's `LastProcessingResult` and
//! `StateTransitionReason` (`EVENT_SOURCE_AUTHN_ERROR`, …).

/// A consumer's condition, reported each time it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Connected and consuming; no batch processed yet since connecting.
    Consuming,
    /// A batch was invoked successfully and acknowledged.
    Processed,
    /// Something keeps it from processing (it retries with backoff).
    Problem(Problem),
}

/// Why a consumer is not processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The mapping names what cannot be used: an unregistered broker, a
    /// missing secret, a queue the broker does not have.
    Config(String),
    /// The broker refused the credentials.
    Authentication(String),
    /// The user may not use the virtual host or the queue.
    Authorization(String),
    /// The broker could not be reached or went away.
    Connection(String),
    /// The function failed (error, timeout, throttle); the batch was
    /// requeued.
    FunctionCallFailed(String),
    /// A message alone makes an event over 6 MB; it was rejected.
    RecordTooLarge,
}

impl Status {
    /// The mapping's `LastProcessingResult`.
    pub fn last_processing_result(&self) -> String {
        match self {
            Status::Consuming => "No records processed".to_string(),
            Status::Processed => "OK".to_string(),
            Status::Problem(problem) => problem.last_processing_result(),
        }
    }

    /// The mapping's `StateTransitionReason` code, for a problem that is
    /// the event source's or the configuration's.
    pub fn state_transition_reason(&self) -> Option<&'static str> {
        match self {
            Status::Problem(problem) => problem.state_transition_reason(),
            _ => None,
        }
    }
}

impl Problem {
    /// `PROBLEM: …` for `LastProcessingResult`.
    pub fn last_processing_result(&self) -> String {
        match self {
            Problem::Config(why) => {
                format!("PROBLEM: Invalid event source mapping configuration. {why}")
            }
            Problem::Authentication(why) => {
                format!("PROBLEM: Connection error. The broker refused the credentials. {why}")
            }
            Problem::Authorization(why) => {
                format!("PROBLEM: Connection error. The user may not use the virtual host or queue. {why}")
            }
            Problem::Connection(why) => {
                format!("PROBLEM: Connection error. Please check your event source connection configuration. {why}")
            }
            Problem::FunctionCallFailed(why) => format!("PROBLEM: Function call failed. {why}"),
            Problem::RecordTooLarge => {
                "PROBLEM: Record too large. A message makes an event over 6 MB; it was rejected."
                    .to_string()
            }
        }
    }

    /// Lambda's reason code, where Lambda has one.
    pub fn state_transition_reason(&self) -> Option<&'static str> {
        match self {
            Problem::Config(_) => Some("ESM_CONFIG_NOT_VALID"),
            Problem::Authentication(_) => Some("EVENT_SOURCE_AUTHN_ERROR"),
            Problem::Authorization(_) => Some("EVENT_SOURCE_AUTHZ_ERROR"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_read_as_lambdas() {
        let auth = Status::Problem(Problem::Authentication("ACCESS_REFUSED".into()));
        assert!(auth
            .last_processing_result()
            .starts_with("PROBLEM: Connection error."));
        assert_eq!(
            auth.state_transition_reason(),
            Some("EVENT_SOURCE_AUTHN_ERROR")
        );
        assert_eq!(Status::Processed.last_processing_result(), "OK");
        assert_eq!(
            Status::Consuming.last_processing_result(),
            "No records processed"
        );
        assert_eq!(Status::Processed.state_transition_reason(), None);
        let failed = Status::Problem(Problem::FunctionCallFailed("Unhandled".into()));
        assert!(failed
            .last_processing_result()
            .starts_with("PROBLEM: Function call failed."));
        assert_eq!(failed.state_transition_reason(), None);
        assert_eq!(
            Problem::Config("x".into()).state_transition_reason(),
            Some("ESM_CONFIG_NOT_VALID")
        );
    }
}
