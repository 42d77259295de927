//! c9aws's own configuration file: `$C9AWS_CONFIG`, else `<config dir>/c9aws/config`
//! (`~/.config/c9aws/config` on Linux), INI read with rust-ini. A malformed file is
//! reported with its name and line, and c9aws carries on with defaults.

use crate::core::profile::EnvMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub path: Option<PathBuf>,
    /// `aws_path`: the AWS CLI to run, when not found on PATH.
    pub aws_path: Option<String>,
    /// A problem reading the file, for the user.
    pub problem: Option<String>,
}

pub fn config_path(env: &EnvMap) -> Option<PathBuf> {
    if let Some(p) = env.get("C9AWS_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    // Why HOME first: tests and sudo-less users set HOME; dirs falls back to passwd.
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("c9aws/config"));
    }
    if let Some(h) = env.get("HOME") {
        return Some(PathBuf::from(h).join(".config/c9aws/config"));
    }
    dirs::config_dir().map(|d| d.join("c9aws/config"))
}

pub fn load(env: &EnvMap) -> Settings {
    let mut s = Settings {
        path: config_path(env),
        ..Default::default()
    };
    let Some(path) = s.path.clone() else {
        return s;
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return s,
        Err(e) => {
            s.problem = Some(format!("{}: cannot read: {e}", path.display()));
            return s;
        }
    };
    match ini::Ini::load_from_str(&text) {
        Ok(conf) => {
            s.aws_path = conf
                .general_section()
                .get("aws_path")
                .or_else(|| conf.section(Some("c9aws")).and_then(|c| c.get("aws_path")))
                .map(str::to_string)
                .filter(|p| !p.is_empty());
        }
        Err(e) => {
            s.problem = Some(format!(
                "{}: line {}: {}; using defaults",
                path.display(),
                e.line,
                e.msg
            ));
        }
    }
    s
}
