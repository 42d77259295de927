//! The process's outline: what `c9aws`'s C entry point keeps of std's start-up,
//! the nested-call guard, dispatch to a command, and the one place where an
//! error becomes a message (`c9aws[ command]: …`) and an exit status.

use crate::adapters::engine::Engine;
use crate::adapters::environment;
use crate::cli::{self, Dispatch, Own, OwnCommand};
use crate::commands;
use crate::core::process::ACTIVE_VAR;
use crate::error::Error;
use crate::session::Session;
use clap::Parser;
use std::ffi::OsString;

/// What `c9aws`'s C entry point keeps of std's process start-up (src/main.rs
/// says why it skips the rest):
/// - SIGPIPE ignored, so a write to a closed pipe (the helper's stdin, a
///   closed stdout under `explain`) is an error c9aws handles rather than a
///   silent death. Children get the default back: std's spawn and exec reset
///   SIGPIPE, as they did when std's own start-up had ignored it.
/// - Fds 0–2 that are closed get `/dev/null`, so nothing c9aws opens lands on
///   them and nothing it prints goes into one of its own files. Unlike std's,
///   these are close-on-exec: the `aws` that c9aws execs sees the fd closed,
///   exactly as it would without c9aws in front.
pub fn start_process() {
    // SAFETY: plain libc calls at start-up, before any other thread exists;
    // `fds` outlives the poll, and the path is a NUL-terminated literal.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
        if libc::poll(fds.as_mut_ptr(), 3, 0) <= 0 {
            return;
        }
        for p in fds {
            if p.revents & libc::POLLNVAL != 0 {
                // open returns the lowest free fd: this one.
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
            }
        }
    }
}

/// Runs c9aws on `argv` (program name first) with `engine`; the exit status.
pub fn run(argv: Vec<OsString>, engine: Engine) -> i32 {
    let args = argv.get(1..).unwrap_or_default();
    let session = Session::new(environment::snapshot(), engine);
    // Why first: a c9aws started by the CLI it exec'd (an `aws` shim calling
    // c9aws) must do nothing but pass through, or it could loop. Three
    // exceptions, neither an AWS CLI command nor able to loop: `credential-process`
    // and `__amtc-credentials`, which the CLI c9aws ran starts itself (for a
    // fallback profile, for a long call), and `doctor`, which must be able to
    // say that C9AWS_ACTIVE is set in the shell.
    let own_even_nested = args
        .first()
        .is_some_and(|a| a == "credential-process" || a == "__amtc-credentials" || a == "doctor");
    if session.env.contains_key(ACTIVE_VAR) && !own_even_nested {
        return finish(None, commands::run::passthrough(&session, args));
    }
    let skip = match cli::dispatch(args) {
        Dispatch::Aws { skip } => skip,
        Dispatch::Own => return own(&session, &argv),
    };
    finish(None, commands::run::run(&session, &args[skip..]))
}

fn own(s: &Session, argv: &[OsString]) -> i32 {
    let own = match Own::try_parse_from(argv) {
        Ok(o) => o,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let word = own.command.word();
    let outcome = match own.command {
        OwnCommand::Explain(a) => commands::explain::run(s, a),
        OwnCommand::Init(a) => commands::init::run(s, a),
        OwnCommand::Doctor(a) => commands::doctor::run(s, a),
        OwnCommand::Setup(a) => commands::setup::run(s, a),
        OwnCommand::CredentialProcess(a) => commands::credential_process::run(s, a, &argv[1..]),
        OwnCommand::Exec(a) => commands::exec::run(s, a),
        OwnCommand::Endpoints => commands::endpoints::run(),
        OwnCommand::Refresh(a) => commands::refresh::run(s, a),
        OwnCommand::Warm => commands::warm::run(s),
        OwnCommand::AmtcCredentials(a) => commands::amtc_credentials::run(s, a),
    };
    finish(Some(word), outcome)
}

/// The exit status of `outcome`; an error is told here, once, with the prefix.
fn finish(word: Option<&str>, outcome: Result<i32, Error>) -> i32 {
    match outcome {
        Ok(code) => code,
        Err(e) => {
            if !e.is_silent() {
                match word {
                    Some(w) => eprintln!("c9aws {w}: {e}"),
                    None => eprintln!("c9aws: {e}"),
                }
            }
            e.code()
        }
    }
}
