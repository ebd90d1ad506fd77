//! Queue names and ARNs.

use ignis_model::arn::ACCOUNT_ID;

use crate::error::SqsError;

/// The suffix of a FIFO queue's name.
pub const FIFO_SUFFIX: &str = ".fifo";

/// The longest queue name, `.fifo` included.
const MAX_NAME: usize = 80;

/// Checks a queue name for a queue of this type (FIFO names end in
/// `.fifo`); the error is SQS's `InvalidParameterValue`.
pub fn check(name: &str, fifo: bool) -> Result<(), SqsError> {
    let stem = if fifo {
        name.strip_suffix(FIFO_SUFFIX)
    } else {
        Some(name)
    };
    let valid = stem.is_some_and(|s| {
        !s.is_empty()
            && name.len() <= MAX_NAME
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if valid {
        return Ok(());
    }
    Err(SqsError::invalid_parameter(if fifo {
        "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length."
    } else {
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
    }))
}

/// The ARN of queue `name` in `region`.
pub fn arn(region: &str, name: &str) -> String {
    format!("arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}")
}

/// The queue name an ARN of this region and account names.
pub fn name_of_arn<'a>(region: &str, arn: &'a str) -> Option<&'a str> {
    let rest = arn.strip_prefix("arn:aws:sqs:")?;
    let rest = rest.strip_prefix(region)?.strip_prefix(':')?;
    let name = rest.strip_prefix(ACCOUNT_ID)?.strip_prefix(':')?;
    (!name.is_empty() && !name.contains(':')).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_sqs_rules() {
        assert!(check("a-b_C9", false).is_ok());
        assert!(check(&"a".repeat(80), false).is_ok());
        assert!(check(&"a".repeat(81), false).is_err());
        assert!(check("", false).is_err());
        assert!(check("a.b", false).is_err());
        assert!(
            check("q.fifo", false).is_err(),
            "a standard queue cannot end in .fifo"
        );
        assert!(check("q.fifo", true).is_ok());
        assert!(check(".fifo", true).is_err());
        assert!(check("q", true).is_err());
        assert!(check(&format!("{}.fifo", "a".repeat(75)), true).is_ok());
        assert!(check(&format!("{}.fifo", "a".repeat(76)), true).is_err());
    }

    #[test]
    fn arns_round_trip() {
        let a = arn("us-east-1", "q");
        assert_eq!(a, "arn:aws:sqs:us-east-1:000000000000:q");
        assert_eq!(name_of_arn("us-east-1", &a), Some("q"));
        assert_eq!(name_of_arn("eu-west-1", &a), None);
        assert_eq!(
            name_of_arn("us-east-1", "arn:aws:sqs:us-east-1:111111111111:q"),
            None
        );
        assert_eq!(
            name_of_arn("us-east-1", "arn:aws:sns:us-east-1:000000000000:q"),
            None
        );
    }
}
