//! The process a call is handed to, as a value: program, arguments (raw
//! bytes) and the changes to the environment it inherits. `explain` prints it,
//! and `run`, `exec` and the safety net carry out exactly this value
//! (adapters::process), so what is shown is what runs.
//!
//! Pure: building and printing only. Nothing here starts a process or reads
//! the environment.

use crate::core::shlex;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

/// Set in the CLI's environment so that a c9aws started by it (an `aws` shim
/// that calls c9aws) passes straight through.
pub const ACTIVE_VAR: &str = "C9AWS_ACTIVE";
/// The `aws` c9aws exec'd: a nested c9aws skips it, so a loop cannot form.
pub const VIA_VAR: &str = "C9AWS_VIA";

/// One change to the inherited environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvChange {
    Set(String, OsString),
    Remove(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessPlan {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Applied in order, on top of the environment c9aws was started with.
    pub env: Vec<EnvChange>,
}

impl ProcessPlan {
    pub fn new(program: impl Into<PathBuf>) -> ProcessPlan {
        ProcessPlan {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    pub fn args<I, S>(mut self, args: I) -> ProcessPlan
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn set(mut self, name: &str, value: impl Into<OsString>) -> ProcessPlan {
        self.env.push(EnvChange::Set(name.into(), value.into()));
        self
    }

    pub fn remove(mut self, name: &str) -> ProcessPlan {
        self.env.push(EnvChange::Remove(name.into()));
        self
    }

    /// The value the plan gives `name`: `Some(Some(v))` set, `Some(None)`
    /// removed, `None` inherited unchanged.
    pub fn env_value(&self, name: &str) -> Option<Option<&OsString>> {
        self.env.iter().rev().find_map(|c| match c {
            EnvChange::Set(n, v) if n == name => Some(Some(v)),
            EnvChange::Remove(n) if n == name => Some(None),
            _ => None,
        })
    }

    /// Program and arguments as text (lossy where they are not UTF-8).
    pub fn words(&self) -> Vec<String> {
        std::iter::once(self.program.to_string_lossy().into_owned())
            .chain(self.args.iter().map(|a| a.to_string_lossy().into_owned()))
            .collect()
    }
}

/// As a shell command line that does the same: `env -u NAME` for removals,
/// `NAME=value` for assignments, then the quoted words.
impl fmt::Display for ProcessPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        let removes: Vec<&str> = self
            .env
            .iter()
            .filter_map(|c| match c {
                EnvChange::Remove(n) => Some(n.as_str()),
                EnvChange::Set(..) => None,
            })
            .collect();
        if !removes.is_empty() {
            parts.push("env".into());
            for n in removes {
                parts.push(format!("-u {}", shlex::quote(n)));
            }
        }
        for c in &self.env {
            if let EnvChange::Set(n, v) = c {
                parts.push(format!("{n}={}", shlex::quote(&v.to_string_lossy())));
            }
        }
        parts.extend(self.words().iter().map(|w| shlex::quote(w).into_owned()));
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_a_shell_line() {
        let rows = [
            (ProcessPlan::new("aws").args(["s3", "ls"]), "aws s3 ls"),
            (
                ProcessPlan::new("/usr/bin/aws")
                    .args(["--profile", "fb", "s3", "ls", "s3://b/a key"])
                    .set("C9AWS_ACTIVE", "1"),
                "C9AWS_ACTIVE=1 /usr/bin/aws --profile fb s3 ls 's3://b/a key'",
            ),
            (
                ProcessPlan::new("terraform")
                    .set("AWS_PROFILE", "fb")
                    .remove("AWS_ACCESS_KEY_ID"),
                "env -u AWS_ACCESS_KEY_ID AWS_PROFILE=fb terraform",
            ),
            (
                ProcessPlan::new("/my dir/aws").args(["it's", ""]),
                r"'/my dir/aws' 'it'\''s' ''",
            ),
        ];
        for (p, want) in rows {
            assert_eq!(p.to_string(), want);
        }
    }

    #[test]
    fn env_value_is_the_last_change() {
        let p = ProcessPlan::new("x")
            .set("A", "1")
            .remove("B")
            .set("A", "2");
        assert_eq!(p.env_value("A"), Some(Some(&OsString::from("2"))));
        assert_eq!(p.env_value("B"), Some(None));
        assert_eq!(p.env_value("C"), None);
    }
}
