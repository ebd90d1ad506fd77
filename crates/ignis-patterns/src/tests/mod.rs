//! Table-driven tests for the three languages.

mod eventbridge_cases;
mod lambda_cases;
mod sns_cases;
