//! Ignis's shared vocabulary: the Lambda wire shapes (management, Invoke and
//! Runtime API), Lambda's limits and error types, and the stored form of a
//! function. No I/O lives here; every other crate depends on this one.
#![deny(missing_docs)]

pub mod alias;
pub mod arn;
pub mod error;
pub mod function;
pub mod headers;
pub mod layer;
pub mod limits;
pub mod local;
pub mod logs;
pub mod policy;
pub mod runtime;
pub mod settings;
pub mod version;
pub mod wire;

pub use error::{ErrorKind, LambdaError};
pub use function::{FunctionRecord, FunctionState, LastUpdateStatus};
pub use version::Version;
