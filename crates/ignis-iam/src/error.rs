//! IAM's and STS's errors with their codes and HTTP statuses (botocore's
//! `error` traits of each model's exception shapes).

use http::StatusCode;
use ignis_protocol::AwsError;
use ignis_store::iam::{Dependents, Entity, Owner};
use ignis_store::IamStoreError;

/// `ValidationError`, 400: a parameter breaks the model's constraints.
pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::BAD_REQUEST, "ValidationError", message)
}

/// `InvalidInput`, 400.
pub fn invalid_input(message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::BAD_REQUEST, "InvalidInput", message)
}

/// `NoSuchEntity`, 404.
pub fn no_such_entity(message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::NOT_FOUND, "NoSuchEntity", message)
}

/// `EntityAlreadyExists`, 409.
pub fn already_exists(message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::CONFLICT, "EntityAlreadyExists", message)
}

/// `DeleteConflict`, 409.
pub fn delete_conflict(message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::CONFLICT, "DeleteConflict", message)
}

/// `LimitExceeded`, 409.
pub fn limit_exceeded(message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::CONFLICT, "LimitExceeded", message)
}

/// `MalformedPolicyDocument`, 400.
pub fn malformed_policy(message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::BAD_REQUEST, "MalformedPolicyDocument", message)
}

/// `PolicyNotAttachable`, 400.
pub fn not_attachable(message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::BAD_REQUEST, "PolicyNotAttachable", message)
}

/// STS `AccessDenied`, 403.
pub fn access_denied(message: impl Into<String>) -> AwsError {
    AwsError::sender(StatusCode::FORBIDDEN, "AccessDenied", message)
}

/// `ServiceFailure`, 500: the store failed (the cause goes to the log by
/// the caller; the message says only that).
pub fn service_failure() -> AwsError {
    AwsError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "ServiceFailure".to_string(),
        message: "The request processing has failed because of an unknown error.".to_string(),
        sender_fault: false,
    }
}

/// IAM's message for an entity that is missing.
pub fn missing(entity: &Entity) -> AwsError {
    no_such_entity(match entity {
        Entity::User(n) => format!("The user with name {n} cannot be found."),
        Entity::Role(n) => format!("The role with name {n} cannot be found."),
        Entity::Policy(arn) => format!("Policy {arn} does not exist or is not attachable."),
        Entity::AccessKey(id) => format!("The Access Key with id {id} cannot be found."),
        Entity::InlinePolicy(Owner::User(_), p) => {
            format!("The user policy with name {p} cannot be found.")
        }
        Entity::InlinePolicy(Owner::Role(_), p) => {
            format!("The role policy with name {p} cannot be found.")
        }
        Entity::Attachment(_, arn) => format!("Policy {arn} was not found."),
    })
}

/// Maps a store refusal to IAM's error; a backend failure becomes
/// `ServiceFailure` (its cause is returned for the log).
pub fn from_store(err: IamStoreError) -> AwsError {
    match err {
        IamStoreError::NotFound(e) => missing(&e),
        IamStoreError::AlreadyExists(e) => already_exists(match e {
            Entity::User(n) => format!("User with name {n} already exists."),
            Entity::Role(n) => format!("Role with name {n} already exists."),
            Entity::Policy(n) => {
                format!("A policy called {n} already exists. Duplicate names are not allowed.")
            }
            other => format!("{other} already exists."),
        }),
        IamStoreError::DeleteConflict(_, why) => delete_conflict(match why {
            Dependents::AccessKeys => "Cannot delete entity, must delete access keys first.",
            Dependents::InlinePolicies => "Cannot delete entity, must delete policies first.",
            Dependents::AttachedPolicies => "Cannot delete entity, must detach all policies first.",
            Dependents::Attachments => "Cannot delete a policy attached to entities.",
        }),
        IamStoreError::LimitExceeded { quota, limit } => {
            limit_exceeded(format!("Cannot exceed quota for {quota}: {limit}."))
        }
        IamStoreError::Store(_) => service_failure(),
    }
}
