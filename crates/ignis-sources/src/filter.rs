//! A mapping's `FilterCriteria` in `ignis-patterns`' Lambda language:
//! checked when the mapping is written ([`check`]), compiled once for its
//! pollers ([`Filters`]).

use ignis_model::LambdaError;
use serde::Serialize;

use crate::wire::FilterCriteria;

fn patterns(criteria: &FilterCriteria) -> Vec<String> {
    criteria
        .filters
        .iter()
        .flatten()
        .map(|f| f.pattern.clone().unwrap_or_default())
        .collect()
}

/// Checks every pattern: Lambda's `InvalidParameterValueException`
/// (`Invalid filter pattern definition.`) when one does not parse.
pub fn check(criteria: &FilterCriteria) -> Result<(), LambdaError> {
    Filters::compile(criteria).map(drop)
}

/// Compiled filters.
#[derive(Debug, Clone)]
pub struct Filters(ignis_patterns::lambda::Filters);

impl Filters {
    /// Compiles the criteria.
    pub fn compile(criteria: &FilterCriteria) -> Result<Self, LambdaError> {
        ignis_patterns::lambda::Filters::parse(&patterns(criteria))
            .map(Self)
            .map_err(|e| LambdaError::invalid(e.to_string()))
    }

    /// Whether an SQS event record passes (its `body` matched as JSON when
    /// it is JSON).
    pub fn matches_sqs(&self, record: &impl Serialize) -> bool {
        match serde_json::to_value(record) {
            Ok(v) => self.0.matches_sqs(&v),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Filter;
    use serde_json::json;

    fn criteria(patterns: &[&str]) -> FilterCriteria {
        FilterCriteria {
            filters: Some(
                patterns
                    .iter()
                    .map(|p| Filter {
                        pattern: Some((*p).to_owned()),
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn bad_patterns_are_lambdas_invalid_parameter() {
        for bad in ["{oops", "[1]", r#"{"body":{"a":"not-a-list"}}"#] {
            let e = check(&criteria(&[bad])).unwrap_err();
            assert_eq!(e.message, "Invalid filter pattern definition.", "{bad}");
        }
        let many = ["{\"body\":{\"a\":[1]}}"; 6];
        assert!(check(&criteria(&many)).is_err());
    }

    #[test]
    fn records_match_on_their_json_body() {
        let f = Filters::compile(&criteria(&[r#"{"body":{"kind":["keep"]}}"#])).unwrap();
        assert!(f.matches_sqs(&json!({"messageId": "1", "body": "{\"kind\":\"keep\"}"})));
        assert!(!f.matches_sqs(&json!({"messageId": "2", "body": "{\"kind\":\"drop\"}"})));
        assert!(!f.matches_sqs(&json!({"messageId": "3", "body": "plain"})));
    }
}
