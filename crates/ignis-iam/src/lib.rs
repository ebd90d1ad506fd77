//! IAM and STS for Ignis, on the query protocol, without HTTP.
//!
//! The front authenticates a request, reads it into a
//! [`ignis_protocol::QueryRequest`], and then, per service:
//!
//! ```text
//! let op = Iam::<S>::parse(&caller, &req)?;          // IamOp: typed, validated
//! authorize(&caller, op.action(), &op.resource(ACCOUNT_ID))?;
//! let answer = iam.execute(&caller, op).await?;      // QueryResponse
//! answer.render(request_id)                          // or AwsError::render
//! ```
//!
//! ([`Iam::handle`] parses and executes in one call when nothing is
//! authorized in between.) STS is the same with [`StsOp`] and [`Sts`].
//! State lives behind [`ignis_store::IamStore`]; what belongs to the
//! identity crate (trust evaluation, temporary credentials, and policy
//! validation once its parser is wired) comes through the [`Identity`]
//! seam. For the front's authentication and authorization, [`Iam`] also
//! answers who holds an access key ([`Iam::access_key`]), which policies
//! apply to a principal ([`Iam::identity_policies`]) and which role an
//! ARN names ([`Iam::role_by_arn`]).
#![deny(missing_docs)]

pub mod document;
pub mod error;
mod iam;
mod identity;
mod ids;
pub mod managed;
mod op;
pub mod params;
mod principal;
mod render;
mod sts;

pub use iam::{
    Iam, IAM_NAMESPACE, MAX_ACCESS_KEYS_PER_USER, MAX_ATTACHED_POLICIES, MAX_MANAGED_POLICY_SIZE,
    MAX_ROLE_INLINE_SIZE, MAX_TRUST_POLICY_SIZE, MAX_USER_INLINE_SIZE,
};
pub use identity::{Identity, SessionCredentials};
pub use op::{IamOp, Scope, Tag};
pub use principal::{policy_arn, role_arn, user_arn, Principal};
pub use sts::{Sts, StsOp, STS_NAMESPACE};
