//! Identity for Ignis: who sent a request and what they may do. Pure
//! logic — no HTTP server, no store; the front and the IAM/STS service
//! call it.
//!
//! - [`sigv4`]: AWS Signature Version 4, header and presigned forms,
//!   parsed without the body (to look the key up) then verified with the
//!   secret, the payload and an injected `now`; and a signer for Ignis's
//!   own clients.
//! - [`credentials`]: temporary credentials for roles (`ASIA…` keys) whose
//!   secret and session token derive from a node master key, so none is
//!   stored in clear.
//! - [`policy`]: IAM policy documents (identity, resource and trust
//!   policies), their checks and size limits, and the evaluator: one
//!   [`policy::authorize`] call per request.
//!
//! `docs/identity.md` records the design.
#![deny(missing_docs)]

pub mod credentials;
pub mod policy;
pub mod sigv4;
