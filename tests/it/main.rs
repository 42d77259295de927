//! The integration tests: the built `c9aws` (and its `c9aws-probe` helper)
//! run as a user would run them, each test in its own hermetic [`world`]
//! (temporary HOME, clean environment, the one fake `aws` of [`fake_aws`],
//! loopback fakes for IMDS and checkip). One test binary: `cargo test --test
//! it`, or a part of it, e.g. `cargo test --test it shell::`.

// Shared with the library's unit tests (src/adapters/imds.rs includes it by
// this path), hence its place outside this directory.
mod fake_aws;
#[path = "../common/fake_imds.rs"]
mod fake_imds;
mod world;

mod cli;
mod credential_process;
mod direct_read;
mod doctor_exec;
mod helper;
mod kube;
mod long_call;
mod secrets;
mod setup;
mod shell;
mod stale;
mod warm;
