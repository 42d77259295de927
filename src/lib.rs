//! c9aws: the AWS CLI, minus Cloud9's managed-credentials failures.
//!
//! Two executables share this library:
//! - `c9aws` (src/main.rs), started in front of every `aws` call: the argv
//!   model, the plan, the caches and the exec. It carries no async runtime, HTTP
//!   or TLS stack, so its image stays small and starts fast.
//! - `c9aws-probe` (src/bin/c9aws-probe.rs), started by `c9aws` only when the
//!   facts cache is cold (IMDS, DNS, checkip) and for `credential-process`: the
//!   same library with the [`adapters::engine::Engine`] that runs those
//!   in-process (tokio, aws-config's IMDS client, rustls).
//!
//! Layers, each using only the ones below it (tools/check-layers checks the
//! `use` lines): `main` → [`app`] (and [`cli`]) → [`commands`] → [`session`]
//! → [`adapters`] → [`core`]; [`error`] is shared by all and uses none.

pub mod adapters;
pub mod app;
pub mod cli;
pub mod commands;
pub mod core;
pub mod error;
#[cfg(test)]
mod manpage;
pub mod session;
