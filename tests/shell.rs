//! `c9aws init bash|zsh|fish` in the real shells: `aws` reaches c9aws (and
//! through it the CLI, argv intact), the real aws runs when c9aws is gone, and
//! tab completion answers through the AWS CLI's own aws_completer. The scripts
//! are also checked with shellcheck (bash) and the shells' own syntax check.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const C9AWS: &str = env!("CARGO_BIN_EXE_c9aws");

/// Records argv (one per line) and whether it was started by c9aws.
const FAKE_AWS: &str = r#"#!/bin/sh
[ "$1" = "--version" ] && { echo "aws-cli/1.45.11 Python/3.11.7 Linux/6 botocore/1.43.11"; exit 0; }
printf '%s\n' "$@" > "$FAKE_AWS_LOG.argv"
printf '%s' "${C9AWS_ACTIVE-unset}" > "$FAKE_AWS_LOG.active"
exit "${FAKE_AWS_EXIT:-0}"
"#;

struct Box {
    dir: tempfile::TempDir,
}

/// The real v1 aws_completer (installed with awscli; CI installs it): the
/// interpreter's own bin dir, so that no pyenv shim needs the real HOME.
fn aws_completer() -> PathBuf {
    if let Some(p) = std::env::var_os("C9AWS_TEST_AWS_COMPLETER") {
        return p.into();
    }
    let out = Command::new("python3")
        .args(["-c", "import os,sys; print(os.path.join(os.path.dirname(os.path.realpath(sys.executable)), 'aws_completer'))"])
        .output()
        .expect("python3 runs");
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        p.is_file(),
        "aws_completer not found at {} (pip install awscli, or set C9AWS_TEST_AWS_COMPLETER)",
        p.display()
    );
    p
}

fn need(tool: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "{tool} is not installed (.ci/run installs it)");
}

impl Box {
    fn new() -> Box {
        let b = Box {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in ["home", "bin", "completer"] {
            fs::create_dir_all(b.path().join(d)).unwrap();
        }
        let aws = b.path().join("bin/aws");
        fs::write(&aws, FAKE_AWS).unwrap();
        fs::set_permissions(&aws, fs::Permissions::from_mode(0o755)).unwrap();
        symlink(aws_completer(), b.path().join("completer/aws_completer")).unwrap();
        b
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    /// `shell -c SCRIPT` in a clean environment; `c9aws` is on PATH.
    fn sh(&self, shell: &str, script: &str, env: &[(&str, &str)]) -> Output {
        need(shell);
        let c9dir = Path::new(C9AWS).parent().unwrap();
        let mut c = Command::new(shell);
        if shell == "fish" {
            c.arg("--no-config");
        } else if shell == "zsh" {
            c.arg("-f");
        } else {
            c.args(["--norc", "--noprofile"]);
        }
        c.arg("-c")
            .arg(script)
            .env_clear()
            .env("HOME", self.path().join("home"))
            .env(
                "PATH",
                format!(
                    "{}:{}:{}:/usr/bin:/bin",
                    self.path().join("bin").display(),
                    c9dir.display(),
                    self.path().join("completer").display()
                ),
            )
            .env("FAKE_AWS_LOG", self.path().join("log"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("C9AWS_CHECKIP_URL", "http://127.0.0.1:9/")
            .envs(env.iter().copied());
        c.output().unwrap()
    }
    fn logged(&self, what: &str) -> String {
        fs::read_to_string(self.path().join(format!("log.{what}"))).unwrap_or_default()
    }
}

fn load(shell: &str, bin: &str) -> String {
    match shell {
        "fish" => format!("{bin} init fish | source"),
        _ => format!("eval \"$({bin} init {shell})\""),
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn aws_runs_through_c9aws_in_every_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let b = Box::new();
        let script = format!(
            "{}; aws s3 cp 'a b' '*' '$HOME' \"it's\"",
            load(shell, "c9aws")
        );
        let o = b.sh(shell, &script, &[("FAKE_AWS_EXIT", "3")]);
        assert_eq!(o.status.code(), Some(3), "{shell}: {}", text(&o));
        assert_eq!(
            b.logged("active"),
            "1",
            "{shell}: aws did not go through c9aws"
        );
        assert_eq!(
            b.logged("argv"),
            "s3\ncp\na b\n*\n$HOME\nit's\n",
            "{shell}: argv changed"
        );
        // `command aws` bypasses c9aws.
        let o = b.sh(
            shell,
            &format!("{}; command aws sts", load(shell, "c9aws")),
            &[],
        );
        assert!(o.status.success(), "{shell}: {}", text(&o));
        assert_eq!(
            b.logged("active"),
            "unset",
            "{shell}: command aws went through c9aws"
        );
    }
}

#[test]
fn when_c9aws_is_removed_aws_still_runs() {
    for shell in ["bash", "zsh", "fish"] {
        let b = Box::new();
        // A copy in a directory with a space and a quote, removed after loading.
        let dir = b.path().join("my c9'aws");
        fs::create_dir_all(&dir).unwrap();
        let copy = dir.join("c9aws");
        fs::copy(C9AWS, &copy).unwrap();
        let q = format!("'{}'", copy.display().to_string().replace('\'', r"'\''"));
        let fq = format!("'{}'", copy.display().to_string().replace('\'', r"\'"));
        let loader = if shell == "fish" {
            format!("{fq} init fish | source")
        } else {
            format!("eval \"$({q} init {shell})\"")
        };
        let o = b.sh(shell, &format!("{loader}; aws sts x"), &[]);
        assert!(o.status.success(), "{shell}: {}", text(&o));
        assert_eq!(
            b.logged("active"),
            "1",
            "{shell}: the quoted path did not work"
        );
        let o = b.sh(shell, &format!("{loader}; rm {q}; aws sts y"), &[]);
        assert!(o.status.success(), "{shell}: {}", text(&o));
        assert_eq!(b.logged("active"), "unset", "{shell}");
        assert_eq!(b.logged("argv"), "sts\ny\n", "{shell}");
    }
}

#[test]
fn bash_completion_answers_for_aws_and_c9aws() {
    let b = Box::new();
    // What bash runs on TAB: `complete -C` for aws, the function for c9aws.
    let script = format!(
        r#"{}
complete -p aws c9aws
COMP_LINE='aws s3 l' COMP_POINT=8 aws_completer
complete_c9aws() {{ COMP_LINE=$1; COMP_POINT=${{#1}}; read -ra COMP_WORDS <<< "$1"; [ "${{1: -1}}" = " " ] && COMP_WORDS+=(""); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); __c9aws_complete; echo "[$1] ${{COMPREPLY[*]}}"; }}
complete_c9aws 'c9aws ex'
complete_c9aws 'c9aws s3 l'
complete_c9aws 'c9aws explain s3 l'
complete_c9aws 'c9aws --reg'
"#,
        load("bash", "c9aws")
    );
    let o = b.sh("bash", &script, &[]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("complete -C 'aws_completer' aws"), "{out}");
    assert!(out.contains("complete -F __c9aws_complete c9aws"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"ls"), "aws s3 l → ls: {out}");
    assert!(lines.contains(&"[c9aws ex] explain exec"), "{out}");
    assert!(lines.contains(&"[c9aws s3 l] ls"), "{out}");
    assert!(lines.contains(&"[c9aws explain s3 l] ls"), "{out}");
    assert!(lines.contains(&"[c9aws --reg] --region"), "{out}");
}

#[test]
fn zsh_registers_completion_for_aws_and_c9aws() {
    let b = Box::new();
    let script = format!(
        "{}; print -r -- \"aws=${{_comps[aws]}} c9aws=${{_comps[c9aws]}}\"; type aws",
        load("zsh", "c9aws")
    );
    let o = b.sh("zsh", &script, &[]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    // bashcompinit's bridge function, driving aws_completer.
    assert!(
        out.contains("aws=_bash_complete") && out.contains("c9aws=_bash_complete"),
        "{out}"
    );
    assert!(out.contains("aws is a shell function"), "{out}");
}

#[test]
fn fish_completion_answers_for_aws_and_c9aws() {
    let b = Box::new();
    let script = format!(
        "{}; complete -C'aws s3 l'; echo SEP; complete -C'c9aws ex'; echo SEP; complete -C'c9aws s3 l'",
        load("fish", "c9aws")
    );
    let o = b.sh("fish", &script, &[]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let parts: Vec<Vec<&str>> = out
        .split("SEP\n")
        .map(|p| p.lines().map(|l| l.split('\t').next().unwrap()).collect())
        .collect();
    assert_eq!(parts.len(), 3, "{out}");
    assert!(parts[0].contains(&"ls"), "{out}");
    assert!(
        parts[1].contains(&"explain") && parts[1].contains(&"exec"),
        "{out}"
    );
    assert!(parts[2].contains(&"ls"), "{out}");
}

#[test]
fn scripts_pass_shellcheck_and_syntax_checks() {
    let b = Box::new();
    need("shellcheck");
    for (shell, check) in [
        (
            "bash",
            "c9aws init bash > s.bash && shellcheck -s bash s.bash",
        ),
        ("zsh", "c9aws init zsh > s.zsh && zsh -n s.zsh"),
        (
            "fish",
            "c9aws init fish > s.fish && fish --no-execute s.fish",
        ),
    ] {
        let o = Command::new("sh")
            .args(["-c", check])
            .current_dir(b.path())
            .env(
                "PATH",
                format!(
                    "{}:/usr/bin:/bin",
                    Path::new(C9AWS).parent().unwrap().display()
                ),
            )
            .output()
            .unwrap();
        assert!(o.status.success(), "{shell}: {}", text(&o));
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = Command::new("shellcheck")
        .args(["-s", "bash"])
        .arg(repo.join("shell/c9aws.bash"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let o = Command::new(C9AWS).args(["init", "tcsh"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bash, zsh, fish"));
}
