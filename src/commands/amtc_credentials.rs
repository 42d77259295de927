//! `c9aws __amtc-credentials [--life SECS] FILE [PROFILE]`: Cloud9's managed
//! credentials from FILE (its real `~/.aws/credentials`), in the AWS CLI's
//! `credential_process` JSON, read anew at every run. The generated file of a
//! long call (core::long_call) names it; the CLI runs it for the keys and
//! again before they end, so a call can outlive a token.
//!
//! stdout carries the secret by design (the JSON only); stderr, the debug
//! lines and the error messages never do. A file past its life (the IDE
//! closed mid-call) is an error the CLI shows: no other keys are handed out.

use crate::adapters::long_call_file;
use crate::core::{configparse, long_call};
use crate::error::Error;
use crate::session::Session;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// How long a token lives after Cloud9 writes the file, seconds (`amtc_life`).
    #[arg(long, value_name = "SECS", default_value_t = crate::core::decide::DEFAULT_AMTC_LIFE)]
    pub life: u64,
    /// Cloud9's credentials file.
    pub file: PathBuf,
    /// The section to read.
    #[arg(default_value = "default")]
    pub profile: String,
}

pub fn run(s: &Session, a: Args) -> Result<i32, Error> {
    let path = a.file.display().to_string();
    let (text, mtime, now) =
        long_call_file::read_cloud9(&a.file).map_err(|e| Error::io(path.clone(), e))?;
    let ini = configparse::parse(&text)
        .map_err(|e| Error::Credentials(format!("{path}: cannot parse: {e}")))?;
    let json = long_call::credentials_json(&ini, &path, &a.profile, mtime, now, a.life)
        .map_err(Error::Credentials)?;
    s.debug(|| {
        format!(
            "__amtc-credentials: [{}] of {path}, written {} s ago",
            a.profile,
            now.saturating_sub(mtime)
        )
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{json}")
        .and_then(|_| out.flush())
        .map_err(|_| Error::Stdout)?;
    Ok(0)
}
