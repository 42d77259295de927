//! `c9aws init bash|zsh|fish`: prints the shell code that makes `aws` run
//! through c9aws and keeps tab completion (the CLI's aws_completer) working for
//! `aws` and `c9aws`. The scripts live in shell/ and are embedded; the binary's
//! absolute path is substituted, quoted for the shell at hand. On Cloud9, when
//! the facts cache is cold or past its hard limit, it also starts a detached
//! warm-up (`c9aws __warm`, [`crate::commands::warm`]).

use crate::error::Error;
use crate::session::Session;
use std::io::Write;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell to print code for: `eval "$(c9aws init bash)"` (zsh the same),
    /// `c9aws init fish | source`.
    #[arg(value_enum)]
    pub shell: Shell,
}

const BASH: &str = include_str!("../../shell/c9aws.bash");
const ZSH: &str = include_str!("../../shell/c9aws.zsh");
const FISH: &str = include_str!("../../shell/c9aws.fish");
const PLACEHOLDER: &str = "@C9AWS_BIN@";
const SHIM_PLACEHOLDER: &str = "@C9AWS_PATH_DIR@";

pub fn run(s: &Session, args: Args) -> Result<i32, Error> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::io("cannot tell where this c9aws binary is", e))?;
    let Some(path) = exe.to_str() else {
        return Err(Error::Refused(format!(
            "the path of this c9aws binary is not UTF-8 ({}); move it to a plain path",
            exe.display()
        )));
    };
    let shim = crate::adapters::path_shim::dir(&s.env)
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let text = script(args.shell, path, &shim);
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|_| Error::Stdout)?;
    // A shell starting on Cloud9 with a cold (or long-stale) facts cache:
    // warm it in the background, so the first call does not probe.
    crate::commands::warm::start_if_wanted(s);
    Ok(0)
}

/// The script for `shell` with `bin` (the binary) and `shim` (the PATH
/// directory of `c9aws setup --path-shim`) substituted, quoted for that shell.
pub fn script(shell: Shell, bin: &str, shim: &str) -> String {
    let quote = |v: &str| match shell {
        Shell::Bash | Shell::Zsh => crate::core::shlex::quote(v).into_owned(),
        // fish: inside single quotes only \\ and \' are escapes.
        Shell::Fish => format!("'{}'", v.replace('\\', r"\\").replace('\'', r"\'")),
    };
    let text = match shell {
        Shell::Bash => BASH,
        Shell::Zsh => ZSH,
        Shell::Fish => FISH,
    };
    text.replace(PLACEHOLDER, &quote(bin))
        .replace(SHIM_PLACEHOLDER, &quote(shim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_names_the_binary_once_and_quoted() {
        for sh in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let s = script(sh, "/opt/my tools/c9aws", "/h/.local/share/c9aws/bin");
            assert!(!s.contains(PLACEHOLDER), "{sh:?}");
            assert!(!s.contains(SHIM_PLACEHOLDER), "{sh:?}");
            assert_eq!(s.matches("/h/.local/share/c9aws/bin").count(), 1, "{sh:?}");
            assert_eq!(s.matches("'/opt/my tools/c9aws'").count(), 1, "{sh:?}");
        }
        assert!(script(Shell::Bash, "/a'b", "").contains(r"'/a'\''b'"));
        assert!(script(Shell::Fish, r"/a'b\c", "").contains(r"'/a\'b\\c'"));
    }
}
