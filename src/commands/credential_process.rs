//! `c9aws credential-process`: the instance role's credentials, in the AWS
//! CLI's `credential_process` JSON format, so that a fallback profile can be
//! `credential_process = /path/to/c9aws credential-process`
//! (adapters::instance_role fetches them). In `c9aws` the whole command is
//! handed to `c9aws-probe` by exec: the CLI reads its stdout and stderr as
//! they are. stdout carries the secret by design; stderr never does.

use crate::adapters::{helper, process};
use crate::error::Error;
use crate::session::Session;
use std::ffi::OsString;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Use this instance profile (role) name instead of asking IMDS for it.
    #[arg(long, value_name = "NAME")]
    pub role: Option<String>,
}

/// `own_args`: c9aws's arguments as given (`credential-process …`), handed
/// on unchanged to the helper.
pub fn run(s: &Session, args: Args, own_args: &[OsString]) -> Result<i32, Error> {
    if !s.engine.in_process {
        let helper = helper::process(own_args)?;
        return Err(process::exec_replace(&helper, Some(helper::MISSING_HINT)));
    }
    let json = (s.engine.credentials)(&s.env, args.role.as_deref())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{json}")
        .and_then(|_| out.flush())
        .map_err(|_| Error::Stdout)?;
    Ok(0)
}
