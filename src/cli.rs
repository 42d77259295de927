//! c9aws's own words. They are few and cannot be AWS CLI commands (a test checks
//! every command of the installed CLIs); anything else is the AWS CLI's argv and
//! is never parsed by clap.

use clap::{Parser, Subcommand};
use std::ffi::OsString;

/// Words c9aws owns or reserves, as the first argument.
pub const OWN_WORDS: &[&str] = &[
    "explain",
    "doctor",
    "init",
    "setup",
    "exec",
    "credential-process",
];

/// Hidden words, started by c9aws itself (the differential tests' endpoint
/// resolver, the detached refresher and warm-up) or by the CLI it ran (the
/// credential process of a long call).
pub const HIDDEN_WORDS: &[&str] = &["__endpoints", "__refresh", "__warm", "__amtc-credentials"];

#[derive(Parser, Debug)]
#[command(
    name = "c9aws",
    version,
    about = "Runs the AWS CLI, switching to a fallback profile only for the calls Cloud9's managed credentials would lose.",
    after_help = "Any other arguments are the AWS CLI's: `c9aws s3 ls` runs `aws s3 ls`.\n`c9aws -- ARGS…` always passes ARGS to aws unchanged."
)]
pub struct Own {
    #[command(subcommand)]
    pub command: OwnCommand,
}

#[derive(Subcommand, Debug)]
pub enum OwnCommand {
    /// Print what c9aws would do with an AWS CLI command line, without running it.
    Explain(crate::commands::explain::Args),
    /// Print shell code that makes `aws` run through c9aws, with completion.
    Init(crate::commands::init::Args),
    /// Check c9aws, the AWS CLI, Cloud9's credentials, the network and the fallback profile.
    Doctor(crate::commands::doctor::Args),
    /// Create the fallback profile c9aws switches to, and c9aws's config.
    Setup(crate::commands::setup::Args),
    /// Print the instance role's credentials for `credential_process` in ~/.aws/config.
    #[command(name = "credential-process")]
    CredentialProcess(crate::commands::credential_process::Args),
    /// Run an SDK-based program with the fallback profile when Cloud9's credentials would be refused.
    Exec(crate::commands::exec::Args),
    /// Answer endpoint queries from stdin, one per line (for the differential tests).
    #[command(name = "__endpoints", hide = true)]
    Endpoints,
    /// Probe again, detached, the facts a call used past their TTL.
    #[command(name = "__refresh", hide = true)]
    Refresh(crate::commands::refresh::Args),
    /// Probe, detached, the facts of the usual calls (started by `init`).
    #[command(name = "__warm", hide = true)]
    Warm,
    /// Print Cloud9's credentials, read anew, for a long call's credential_process.
    #[command(name = "__amtc-credentials", hide = true)]
    AmtcCredentials(crate::commands::amtc_credentials::Args),
}

impl OwnCommand {
    /// The word that names the command (in c9aws's messages).
    pub fn word(&self) -> &'static str {
        match self {
            OwnCommand::Explain(_) => "explain",
            OwnCommand::Init(_) => "init",
            OwnCommand::Doctor(_) => "doctor",
            OwnCommand::Setup(_) => "setup",
            OwnCommand::CredentialProcess(_) => "credential-process",
            OwnCommand::Exec(_) => "exec",
            OwnCommand::Endpoints => "__endpoints",
            OwnCommand::Refresh(_) => "__refresh",
            OwnCommand::Warm => "__warm",
            OwnCommand::AmtcCredentials(_) => "__amtc-credentials",
        }
    }
}

/// What the first argument asks for.
pub enum Dispatch {
    /// Not ours: the AWS CLI's argv (possibly after a leading `--`).
    Aws { skip: usize },
    /// One of c9aws's own words.
    Own,
}

pub fn dispatch(args: &[OsString]) -> Dispatch {
    match args.first().and_then(|a| a.to_str()) {
        Some("--") => Dispatch::Aws { skip: 1 },
        Some(w) if OWN_WORDS.contains(&w) || HIDDEN_WORDS.contains(&w) => Dispatch::Own,
        _ => Dispatch::Aws { skip: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::command_table::command_names;
    use crate::core::CliMajor;

    /// c9aws's words must never hide an AWS CLI command. The command tables are
    /// generated from the installed CLIs (tools/gen_data.py), both majors.
    #[test]
    fn own_words_are_no_aws_command() {
        for major in [CliMajor::V1, CliMajor::V2] {
            let names: Vec<&str> = command_names(major).collect();
            assert!(names.len() > 400, "{major:?}: {} commands", names.len());
            assert!(names.contains(&"s3") && names.contains(&"configure"));
            for w in OWN_WORDS.iter().chain(HIDDEN_WORDS) {
                assert!(!names.contains(w), "{w} is an AWS CLI {major:?} command");
            }
        }
    }

    #[test]
    fn dispatch_table() {
        let d = |args: &[&str]| dispatch(&args.iter().map(OsString::from).collect::<Vec<_>>());
        assert!(matches!(d(&["s3", "ls"]), Dispatch::Aws { skip: 0 }));
        assert!(matches!(d(&["--", "explain"]), Dispatch::Aws { skip: 1 }));
        assert!(matches!(d(&["explain", "s3"]), Dispatch::Own));
        assert!(matches!(d(&["doctor"]), Dispatch::Own));
        assert!(matches!(d(&[]), Dispatch::Aws { skip: 0 }));
        assert!(matches!(
            d(&["--region", "x", "explain"]),
            Dispatch::Aws { skip: 0 }
        ));
    }
}
