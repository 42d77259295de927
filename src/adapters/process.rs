//! Carries out a [`ProcessPlan`]: replaces this process with it (`exec`), or
//! prepares it as a child for the one caller that must wait (the safety net).
//! Owns nothing else: what to run is decided before it gets here.
//!
//! Why exec and not spawn: the CLI must own the terminal, stdin, signals and the
//! exit status exactly as if it had been started directly; a waiting parent would
//! stand between the user's Ctrl-C and the CLI and would have to re-create every
//! exit status and signal death.

use crate::core::process::{EnvChange, ProcessPlan};
use crate::error::Error;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Replaces this process with `plan`. Returns only on failure, as an error
/// whose code is the status a shell would give (126 cannot execute, 127 not
/// found).
pub fn exec_replace(plan: &ProcessPlan, hint: Option<&'static str>) -> Error {
    // The changes go into this process's own environment rather than through
    // `Command::env`: with no per-command change, std execs with `environ` as
    // it is instead of copying every variable into a map and rebuilding the
    // block (~70 k instructions on every call). No other thread reads the
    // environment here: c9aws's only threads (the probe helper's pipe readers)
    // are blocked in read(2) or gone by now.
    let saved: Vec<(String, Option<std::ffi::OsString>)> = plan
        .env
        .iter()
        .map(|c| {
            let name = match c {
                EnvChange::Set(n, _) | EnvChange::Remove(n) => n,
            };
            (name.clone(), std::env::var_os(name))
        })
        .collect();
    apply(&plan.env);
    let source = Command::new(&plan.program).args(&plan.args).exec();
    for (name, old) in saved.into_iter().rev() {
        match old {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
    Error::Exec {
        program: plan.program.clone(),
        source,
        hint,
    }
}

fn apply(changes: &[EnvChange]) {
    for c in changes {
        match c {
            EnvChange::Set(n, v) => std::env::set_var(n, v),
            EnvChange::Remove(n) => std::env::remove_var(n),
        }
    }
}

/// `plan` as a child process (stdio inherited unless the caller says
/// otherwise).
pub fn command(plan: &ProcessPlan) -> Command {
    let mut cmd = Command::new(&plan.program);
    cmd.args(&plan.args);
    for c in &plan.env {
        match c {
            EnvChange::Set(n, v) => cmd.env(n, v),
            EnvChange::Remove(n) => cmd.env_remove(n),
        };
    }
    cmd
}
