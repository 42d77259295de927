//! c9aws's own commands besides `explain`: each module owns its clap arguments
//! and a `run` that returns the process's exit code.

pub mod credential_process;
pub mod doctor;
pub mod exec;
pub mod init;
pub mod setup;
