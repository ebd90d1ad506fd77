//! Who makes a request, as the front authenticated it.

use ignis_model::arn::ACCOUNT_ID;

/// The caller of an IAM or STS operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The account's root user.
    Root,
    /// An IAM user.
    User {
        /// Its name.
        name: String,
        /// Its unique id (`AIDA…`).
        id: String,
        /// Its path (`/`).
        path: String,
    },
    /// A session of an assumed role (STS AssumeRole, a function's
    /// execution role).
    AssumedRole {
        /// The role's name.
        role_name: String,
        /// The role's unique id (`AROA…`).
        role_id: String,
        /// The session name.
        session_name: String,
    },
}

impl Principal {
    /// Its ARN, as `GetCallerIdentity` answers it.
    pub fn arn(&self) -> String {
        match self {
            Self::Root => format!("arn:aws:iam::{ACCOUNT_ID}:root"),
            Self::User { name, path, .. } => user_arn(path, name),
            Self::AssumedRole {
                role_name,
                session_name,
                ..
            } => format!("arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/{session_name}"),
        }
    }

    /// Its user id, as `GetCallerIdentity` answers it: the account for the
    /// root user, `AIDA…` for a user, `AROA…:<session>` for a role session.
    pub fn user_id(&self) -> String {
        match self {
            Self::Root => ACCOUNT_ID.to_string(),
            Self::User { id, .. } => id.clone(),
            Self::AssumedRole {
                role_id,
                session_name,
                ..
            } => format!("{role_id}:{session_name}"),
        }
    }
}

/// `arn:aws:iam::<account>:user<path><name>`.
pub fn user_arn(path: &str, name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:user{path}{name}")
}

/// `arn:aws:iam::<account>:role<path><name>`.
pub fn role_arn(path: &str, name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:role{path}{name}")
}

/// `arn:aws:iam::<account>:policy<path><name>`.
pub fn policy_arn(path: &str, name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:policy{path}{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_are_named_as_get_caller_identity_names_them() {
        assert_eq!(Principal::Root.arn(), "arn:aws:iam::000000000000:root");
        assert_eq!(Principal::Root.user_id(), "000000000000");
        let user = Principal::User {
            name: "alice".into(),
            id: "AIDAX".into(),
            path: "/team/".into(),
        };
        assert_eq!(user.arn(), "arn:aws:iam::000000000000:user/team/alice");
        assert_eq!(user.user_id(), "AIDAX");
        let session = Principal::AssumedRole {
            role_name: "r".into(),
            role_id: "AROAY".into(),
            session_name: "s".into(),
        };
        assert_eq!(session.arn(), "arn:aws:sts::000000000000:assumed-role/r/s");
        assert_eq!(session.user_id(), "AROAY:s");
    }
}
