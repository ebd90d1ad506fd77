//! The pieces of the `invoke` benchmark (`benches/invoke.rs`): the real
//! `ignis` binary started on an ephemeral port with the echo function
//! deployed ([`server`]), a minimal loopback HTTP/1.1 server answering the
//! same request as a floor ([`floor`]), one load generator measuring both the
//! same way ([`load`]), CPU time per request ([`cpu`]), percentiles
//! ([`stats`]) and the printed table with the targets ([`report`]);
//! and for `benches/runtimes.rs` (cold and warm invokes per managed runtime),
//! interpreter start-up floors ([`startup`]).
#![deny(missing_docs)]

pub mod client;
pub mod cpu;
pub mod floor;
pub mod load;
pub mod report;
pub mod server;
pub mod startup;
pub mod stats;
