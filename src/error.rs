//! The one error type of c9aws's commands: what went wrong, the exit status it
//! gives (`code`), and its message (`Display`, without a prefix: `app` prints
//! `c9aws[ command]: ` in front, in one place).
//!
//! Facts that cannot be gathered are not errors: they fail open (a missing
//! fact is `None` plus a debug line) and never reach this type.

use std::fmt;
use std::path::PathBuf;

/// Exit status of a command that could not run what it was asked to.
pub const CANNOT_EXECUTE: i32 = 126;
/// Exit status when the program to run does not exist (as a shell gives).
pub const NOT_FOUND: i32 = 127;

/// Why there is no AWS CLI to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocateError {
    /// Nothing to run: exit 127.
    NotFound(String),
    /// Found, but it cannot be executed: exit 126.
    NotExecutable(String),
}

impl fmt::Display for LocateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocateError::NotFound(m) | LocateError::NotExecutable(m) => f.write_str(m),
        }
    }
}

#[derive(Debug)]
pub enum Error {
    /// No AWS CLI to run.
    Locate(LocateError),
    /// `exec` of a planned process failed; `hint` says what to do.
    Exec {
        program: PathBuf,
        source: std::io::Error,
        hint: Option<&'static str>,
    },
    /// A file c9aws needed could not be read or written.
    Io {
        what: String,
        source: std::io::Error,
    },
    /// What the user asked for cannot be done as asked (bad flag value, no
    /// terminal for a question, a profile c9aws must not overwrite).
    Refused(String),
    /// Credentials could not be had (credential-process).
    Credentials(String),
    /// Standard output is gone (a closed pipe): nothing more can be said.
    Stdout,
}

impl Error {
    /// The process's exit status for this error.
    pub fn code(&self) -> i32 {
        match self {
            Error::Locate(LocateError::NotFound(_)) => NOT_FOUND,
            Error::Locate(LocateError::NotExecutable(_)) => CANNOT_EXECUTE,
            Error::Exec { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                NOT_FOUND
            }
            Error::Exec { .. } => CANNOT_EXECUTE,
            Error::Io { .. } | Error::Refused(_) | Error::Credentials(_) | Error::Stdout => 1,
        }
    }

    /// Whether there is anything to print (a closed stdout has no message).
    pub fn is_silent(&self) -> bool {
        matches!(self, Error::Stdout)
    }

    pub fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Locate(e) => e.fmt(f),
            Error::Refused(m) | Error::Credentials(m) => f.write_str(m),
            Error::Exec {
                program,
                source,
                hint,
            } => {
                write!(f, "cannot run {}: {source}", program.display())?;
                match hint {
                    Some(h) => write!(f, "; {h}"),
                    None => Ok(()),
                }
            }
            Error::Io { what, source } => write!(f, "{what}: {source}"),
            Error::Stdout => f.write_str("standard output is closed"),
        }
    }
}

impl From<LocateError> for Error {
    fn from(e: LocateError) -> Error {
        Error::Locate(e)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Exec { source, .. } | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn codes_and_messages() {
        let exec = |kind| Error::Exec {
            program: "/x/aws".into(),
            source: std::io::Error::from(kind),
            hint: None,
        };
        let rows: [(Error, i32, &str); 7] = [
            (
                LocateError::NotFound("no AWS CLI found".into()).into(),
                127,
                "no AWS CLI found",
            ),
            (
                LocateError::NotExecutable("not executable".into()).into(),
                126,
                "not executable",
            ),
            (
                exec(ErrorKind::NotFound),
                127,
                "cannot run /x/aws: entity not found",
            ),
            (
                exec(ErrorKind::PermissionDenied),
                126,
                "cannot run /x/aws: permission denied",
            ),
            (
                Error::io(
                    "cannot read /c",
                    std::io::Error::from(ErrorKind::PermissionDenied),
                ),
                1,
                "cannot read /c: permission denied",
            ),
            (
                Error::Refused("needs a terminal".into()),
                1,
                "needs a terminal",
            ),
            (Error::Stdout, 1, "standard output is closed"),
        ];
        for (e, code, text) in rows {
            assert_eq!(e.code(), code, "{e:?}");
            assert_eq!(e.to_string(), text);
        }
        let hinted = Error::Exec {
            program: "/x/c9aws-probe".into(),
            source: std::io::Error::from(ErrorKind::NotFound),
            hint: Some("install it beside c9aws"),
        };
        assert!(hinted.to_string().ends_with("; install it beside c9aws"));
    }
}
