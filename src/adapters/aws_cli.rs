//! The real AWS CLI: finding it (never c9aws itself) and learning its version
//! once per binary. Running it is adapters::process's.

use crate::adapters::child::{self, ChildError};
use crate::adapters::environment::debug;
use crate::adapters::private_file::write_atomic;
use crate::core::CliMajor;
use crate::core::EnvMap;
use crate::error::LocateError;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use crate::core::process::{ACTIVE_VAR, VIA_VAR};

/// A regular file with an execute bit (what `exec` needs, short of ACLs).
pub(crate) fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| executable(&m))
}

fn executable(m: &std::fs::Metadata) -> bool {
    m.is_file() && m.permissions().mode() & 0o111 != 0
}

/// (device, inode) of the file a path finally points to.
pub fn identity(p: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// Where the CLI is: `C9AWS_AWS`, else `aws_path` from c9aws's config, else the
/// first `aws` on PATH that is not c9aws itself (same inode) and not the one a
/// parent c9aws already ran.
pub fn locate(env: &EnvMap, configured: Option<&str>) -> Result<PathBuf, LocateError> {
    let me = std::env::current_exe().ok().and_then(|p| identity(&p));
    let explicit = env
        .get("C9AWS_AWS")
        .filter(|v| !v.is_empty())
        .map(|v| (v.as_str(), "C9AWS_AWS"))
        .or(configured.map(|v| (v, "aws_path in c9aws's config")));
    if let Some((path, from)) = explicit {
        let p = PathBuf::from(path);
        if !p.exists() {
            return Err(LocateError::NotFound(format!(
                "{path} (from {from}) does not exist"
            )));
        }
        if !is_executable(&p) {
            return Err(LocateError::NotExecutable(format!(
                "{path} (from {from}) is not an executable file"
            )));
        }
        if me.is_some() && identity(&p) == me {
            return Err(LocateError::NotFound(format!(
                "{path} (from {from}) is c9aws itself, not the AWS CLI"
            )));
        }
        return Ok(p);
    }
    let via = env.get(VIA_VAR).map(PathBuf::from);
    let via_id = via.as_deref().and_then(identity);
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let mut not_exec: Option<PathBuf> = None;
    let mut skipped_self = false;
    for dir in std::env::split_paths(&path_var) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let cand = dir.join("aws");
        // One stat per candidate: every call walks this loop.
        let Ok(m) = std::fs::metadata(&cand) else {
            continue;
        };
        if !executable(&m) {
            if m.is_file() && not_exec.is_none() {
                not_exec = Some(cand);
            }
            continue;
        }
        let id = Some((m.dev(), m.ino()));
        if me.is_some() && id == me {
            skipped_self = true;
            continue;
        }
        if via_id.is_some() && id == via_id {
            debug(env, || {
                format!(
                    "{}: already run by a parent c9aws; skipping it",
                    cand.display()
                )
            });
            continue;
        }
        return Ok(cand);
    }
    if let Some(p) = not_exec {
        return Err(LocateError::NotExecutable(format!(
            "{} is not executable (chmod +x it, or set C9AWS_AWS)",
            p.display()
        )));
    }
    let dirs: Vec<String> = std::env::split_paths(&path_var)
        .map(|d| d.display().to_string())
        .collect();
    Err(LocateError::NotFound(format!(
        "no AWS CLI found: looked for `aws` in PATH ({}){}; install the AWS CLI or set C9AWS_AWS",
        dirs.join(":"),
        if skipped_self {
            ", skipping c9aws itself"
        } else {
            ""
        }
    )))
}

/// The CLI's version string (`1.45.11`) and major version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliVersion {
    pub version: String,
    pub major: CliMajor,
}

/// Parses the first word of `aws --version`: `aws-cli/2.36.7 Python/3.11 …`.
pub fn parse_version(out: &str) -> Option<CliVersion> {
    let word = out.split_whitespace().find(|w| w.starts_with("aws-cli/"))?;
    let version = word.trim_start_matches("aws-cli/").to_string();
    let major = match version.split('.').next()? {
        "1" => CliMajor::V1,
        "2" => CliMajor::V2,
        _ => return None,
    };
    Some(CliVersion { version, major })
}

fn cache_file(env: &EnvMap) -> Option<PathBuf> {
    crate::adapters::environment::cache_dir(env).map(|d| d.join("cli-versions"))
}

/// The key a remembered version is valid for: the binary's canonical path, size
/// and modification time (an upgrade changes at least one of them).
fn binary_key(aws: &Path) -> Option<String> {
    let canon = std::fs::canonicalize(aws).ok()?;
    let m = std::fs::metadata(&canon).ok()?;
    Some(format!(
        "{}\t{}\t{}.{}",
        String::from_utf8_lossy(canon.as_os_str().as_bytes()),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    ))
}

/// The CLI's version: remembered per binary, measured with `aws --version` (at
/// most 10 s) when not yet known. `None` when it cannot be learnt.
pub fn version(aws: &Path, env: &EnvMap) -> Option<CliVersion> {
    let key = binary_key(aws)?;
    let cache = cache_file(env);
    let remembered = cache
        .as_deref()
        .and_then(|c| std::fs::read_to_string(c).ok())
        .unwrap_or_default();
    for line in remembered.lines() {
        if let Some((k, v)) = line.rsplit_once('\t') {
            if k == key {
                // `?`: this binary's version could not be learnt; do not run
                // `aws --version` again on every call (an upgrade changes the key).
                if v == UNKNOWN_VERSION {
                    return None;
                }
                if let Some(found) = parse_version(&format!("aws-cli/{v}")) {
                    return Some(found);
                }
            }
        }
    }
    let measured = measure_version(aws, env);
    if let Some(c) = cache {
        // Keep other binaries' lines (a user may switch between v1 and v2), drop
        // stale lines of this one; the file is small and rewritten atomically.
        let path_part = key.split('\t').next().unwrap_or_default();
        let mut lines: Vec<&str> = remembered
            .lines()
            .filter(|l| l.split('\t').next() != Some(path_part))
            .rev()
            .take(15)
            .collect();
        lines.reverse();
        let new_line = format!(
            "{key}\t{}",
            measured
                .as_ref()
                .map_or(UNKNOWN_VERSION, |m| m.version.as_str())
        );
        lines.push(&new_line);
        let mut text = lines.join("\n");
        text.push('\n');
        if let Err(e) = write_atomic(&c, text.as_bytes()) {
            crate::adapters::environment::cache_unwritable(&c, &e);
        }
    }
    measured
}

const UNKNOWN_VERSION: &str = "?";

/// `aws --version` gets this long.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Why `aws --version` told no version.
#[derive(Debug)]
enum VersionError {
    /// It could not be started.
    Start(ChildError),
    /// It did not exit within [`VERSION_TIMEOUT`], or its status was lost.
    NoAnswer,
    /// It printed no version (or its output was lost).
    Unparsable,
}

impl std::fmt::Display for VersionError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            VersionError::Start(e) => write!(f, "aws --version: {e}"),
            VersionError::NoAnswer => write!(
                f,
                "aws --version did not answer within {} s",
                VERSION_TIMEOUT.as_secs()
            ),
            VersionError::Unparsable => f.write_str("aws --version printed no aws-cli/X.Y.Z"),
        }
    }
}

fn measure_version(aws: &Path, env: &EnvMap) -> Option<CliVersion> {
    debug(env, || format!("measuring {} --version", aws.display()));
    match run_version(aws) {
        Ok(v) => Some(v),
        // Said when the CLI itself is run (exec), as it always was.
        Err(VersionError::Start(_)) => None,
        Err(e) => {
            debug(env, || e.to_string());
            None
        }
    }
}

fn run_version(aws: &Path) -> Result<CliVersion, VersionError> {
    let mut cmd = Command::new(aws);
    cmd.arg("--version").env(ACTIVE_VAR, "1").env(VIA_VAR, aws);
    let f = match child::run(&mut cmd, None, VERSION_TIMEOUT) {
        Ok(f) => f,
        Err(e @ ChildError::Spawn(_)) => return Err(VersionError::Start(e)),
        Err(ChildError::Timeout(_) | ChildError::Wait(_)) => return Err(VersionError::NoAnswer),
        Err(ChildError::LostOutput) => return Err(VersionError::Unparsable),
    };
    // CLI v1 under Python 2 printed it on stderr.
    let out = String::from_utf8_lossy(&f.stdout) + String::from_utf8_lossy(&f.stderr);
    parse_version(&out).ok_or(VersionError::Unparsable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines() {
        let rows = [
            (
                "aws-cli/1.45.11 Python/3.11.7 Linux/6 botocore/1.43.11\n",
                Some(("1.45.11", CliMajor::V1)),
            ),
            (
                "aws-cli/2.36.7 Python/3.11.7 Linux/6 source/x86_64\n",
                Some(("2.36.7", CliMajor::V2)),
            ),
            ("command not found", None),
            ("aws-cli/3.0.0", None),
        ];
        for (out, want) in rows {
            let got = parse_version(out);
            assert_eq!(
                got.as_ref().map(|v| (v.version.as_str(), v.major)),
                want,
                "{out}"
            );
        }
    }
}
