//! c9aws's commands. Each module owns its clap arguments (if any) and a `run`
//! that takes the [`Session`](crate::session::Session) and returns the exit
//! status, or an [`Error`](crate::error::Error) for `app` to print.
//! `run` is the AWS CLI call itself; the rest are c9aws's own words.

pub mod amtc_credentials;
pub mod credential_process;
pub mod doctor;
pub mod endpoints;
pub mod exec;
pub mod explain;
pub mod init;
pub mod refresh;
pub mod run;
pub mod setup;
pub mod warm;
