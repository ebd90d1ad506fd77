//! HTTP routes: Lambda's paths and Ignis's own under `/ignis/v1`.

pub mod concurrency;
pub mod event_invoke;
pub mod event_sources;
pub mod invoke;
pub mod layers;
pub mod logs;
pub mod management;
pub mod policy;
pub mod provisioned;
pub mod runtimes;
pub mod settings;
pub mod streaming;
pub mod urls;
pub mod versions;
