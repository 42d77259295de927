//! The AWS CLI's own files, read only: `~/.aws/config`, `~/.aws/credentials`
//! (paths from `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`), the alias file
//! `~/.aws/cli/alias`, and Cloud9's marks in the home directory. Never writes.

use crate::adapters::environment::{debug, expand_path};
use crate::core::argv::Aliases;
use crate::core::configparse::{self, ParseError};
use crate::core::credentials::{has_cloud9_header, Cloud9Facts};
use crate::core::profile::{SharedFile, SharedFiles};
use crate::core::EnvMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

fn read_shared(path: String, env: &EnvMap) -> SharedFile {
    let mut f = SharedFile {
        path: path.clone(),
        ..Default::default()
    };
    let p = Path::new(&path);
    if !p.is_file() {
        debug(env, || format!("{path}: not present"));
        return f;
    }
    match std::fs::read(p) {
        Ok(bytes) => {
            f.age_secs = std::fs::metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .map(|d| d.as_secs());
            f.parsed = Some(match String::from_utf8(bytes) {
                Ok(text) => {
                    f.cloud9_header = has_cloud9_header(&text);
                    configparse::parse(&text)
                }
                Err(e) => Err(ParseError {
                    line: 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
                        .iter()
                        .filter(|b| **b == b'\n')
                        .count(),
                    message: "not valid UTF-8".into(),
                }),
            });
        }
        Err(e) => {
            // The CLI cannot read it either; treat as a parse problem it will report.
            f.parsed = Some(Err(ParseError {
                line: 0,
                message: format!("cannot read: {e}"),
            }));
        }
    }
    f
}

pub fn home(env: &EnvMap) -> Option<PathBuf> {
    env.get("HOME").map(PathBuf::from).or_else(dirs::home_dir)
}

/// The `file://` / `fileb://` values among `args` whose file cannot be read
/// (as written, prefix included): the CLI stops on them ("Unable to load
/// paramfile") before creating any client. One `stat` per such value; an
/// argv without one costs a scan of its bytes.
pub fn unreadable_param_files(args: &[String], env: &EnvMap) -> Vec<String> {
    let mut out = Vec::new();
    for arg in args {
        let value = match arg.strip_prefix("--").and_then(|a| a.split_once('=')) {
            Some((_, v)) => v,
            None => arg.as_str(),
        };
        let Some(path) = value
            .strip_prefix("file://")
            .or_else(|| value.strip_prefix("fileb://"))
        else {
            continue;
        };
        let path = expand_path(path, env);
        let readable = std::fs::metadata(&path).is_ok_and(|m| !m.is_dir())
            && std::fs::File::open(&path).is_ok();
        if !readable {
            out.push(value.to_string());
        }
    }
    out
}

pub fn shared_files(env: &EnvMap) -> SharedFiles {
    let config = env
        .get("AWS_CONFIG_FILE")
        .cloned()
        .unwrap_or_else(|| "~/.aws/config".into());
    let creds = env
        .get("AWS_SHARED_CREDENTIALS_FILE")
        .cloned()
        .unwrap_or_else(|| "~/.aws/credentials".into());
    SharedFiles {
        config: read_shared(expand_path(&config, env), env),
        credentials: read_shared(expand_path(&creds, env), env),
    }
}

/// `[toplevel]` of `~/.aws/cli/alias`. A file the CLI cannot parse makes every
/// call fail in the CLI; here it yields no aliases plus the error to report.
pub fn aliases(env: &EnvMap) -> (Aliases, Option<String>) {
    let Some(path) = home(env).map(|h| h.join(".aws/cli/alias")) else {
        return (Aliases::default(), None);
    };
    let Ok(bytes) = std::fs::read(&path) else {
        return (Aliases::default(), None);
    };
    let text = String::from_utf8_lossy(&bytes);
    match configparse::parse(&text) {
        Ok(ini) => {
            let list = ini
                .section("toplevel")
                .map(|s| {
                    s.entries
                        .iter()
                        .map(|(k, v)| (k.clone(), v.trim().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            (Aliases(list), None)
        }
        Err(e) => (Aliases::default(), Some(format!("{}: {e}", path.display()))),
    }
}

pub fn cloud9_facts(env: &EnvMap) -> Cloud9Facts {
    let Some(h) = home(env) else {
        return Cloud9Facts::default();
    };
    Cloud9Facts {
        c9_dir: h.join(".c9").is_dir(),
        environment_dir: h.join("environment").is_dir(),
    }
}
