//! `c9aws init bash|zsh|fish` in the real shells: `aws` reaches c9aws (and
//! through it the CLI, argv byte-exact, exit status kept), the real aws runs
//! when c9aws is gone, and tab completion answers for `aws` and `c9aws`
//! through an aws_completer (a fake that records what it was asked, and the
//! AWS CLI's real v1 and v2 ones). The scripts are also checked with
//! shellcheck (bash) and the shells' own syntax checks.

use crate::fake_aws;
use crate::world::{need, write_exe, World, C9AWS};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Answers like the CLI's aws_completer: the candidates of a fixed list that
/// start with the word under the cursor (COMP_LINE cut at COMP_POINT), each
/// ending with a space as v1 prints them; records COMP_LINE|COMP_POINT.
const FAKE_COMPLETER: &str = r#"#!/bin/bash
line=${COMP_LINE-}
point=${COMP_POINT:-${#line}}
printf '%s|%s\n' "$line" "$point" >> "$FAKE_AWS_LOG.completer"
head=${line:0:point}
word=${head##* }
for c in s3 sts ec2 ls lsx mb sync --region --output; do
  case $c in "$word"*) printf '%s \n' "$c" ;; esac
done
"#;

enum Completer {
    Fake,
    /// The AWS CLI's own, at this path.
    Real(PathBuf),
    None,
}

/// The real v1 aws_completer from this machine's PATH (pip installs it with
/// awscli; CI does).
fn real_v1_completer() -> PathBuf {
    let out = Command::new("sh")
        .args(["-c", "command -v aws_completer"])
        .output()
        .expect("sh runs");
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        out.status.success() && p.is_file(),
        "aws_completer (AWS CLI v1) is not on PATH: `pip install awscli` (.ci/run installs it)"
    );
    p
}

/// The real v2 aws_completer, where .ci/run installs AWS CLI v2.
fn real_v2_completer() -> PathBuf {
    let p = PathBuf::from("/opt/awscli-v2/bin/aws_completer");
    assert!(
        p.is_file(),
        "{} is missing: AWS CLI v2 is not installed (.ci/run installs it)",
        p.display()
    );
    p
}

/// The world with c9aws's directory on PATH and an aws_completer in a
/// directory of its own, for dumb terminals.
fn world(completer: Completer) -> World {
    let w = World::new();
    let dir = w.root().join("completer");
    fs::create_dir_all(&dir).unwrap();
    let at = dir.join("aws_completer");
    match completer {
        Completer::Fake => write_exe(&at, FAKE_COMPLETER),
        Completer::Real(p) => symlink(p, at).unwrap(),
        Completer::None => {}
    }
    w.with_path_dir(Path::new(C9AWS).parent().unwrap())
        .with_path_dir(dir)
        .with_env("TERM", "dumb")
}

/// `shell -c SCRIPT` without rc files, in the world; `c9aws` is on PATH.
fn sh(w: &World, shell: &str, script: &str, env: &[(&str, &str)]) -> Output {
    need(shell);
    let mut c = w.command(shell);
    match shell {
        "fish" => c.arg("--no-config"),
        "zsh" => c.arg("-f"),
        _ => c.args(["--norc", "--noprofile"]),
    };
    c.arg("-c").arg(script).envs(env.iter().copied());
    c.output().unwrap()
}

/// The fake completer was asked each of `want` (`COMP_LINE|COMP_POINT`);
/// clears its log.
#[track_caller]
fn assert_asked(w: &World, want: &[&str]) {
    let asked = w.logged("completer");
    let _ = fs::remove_file(w.log("completer"));
    let asked: Vec<&str> = asked.lines().collect();
    for l in want {
        assert!(asked.contains(l), "{l:?} not in {asked:?}");
    }
}

/// Interactive zsh on a pseudo-terminal (zsh's own zpty): loads the init
/// code, then for each line types it, presses TAB and reports the buffer
/// as it stands after completion, with the screen around it.
fn zsh_tab(w: &World, lines: &[&str]) -> Vec<(String, String)> {
    need("zsh");
    let driver = r#"
zmodload zsh/zpty || exit 3
zpty -b z 'zsh -f -i'
zpty -w z "PS1='%% '; unsetopt beep; eval \"\$(c9aws init zsh)\"; print -r -- RE''ADY"
zpty -r z out '*READY*' || exit 4
for l; do
  zpty -n -w z "$l"$'\t'
  # Turn the completed buffer into a command that prints it.
  zpty -w z $'\C-aprint -r -- \'\'C9BUF=\C-e; print -r -- E\'\'ND'
  zpty -r z out '*END*' || exit 5
  print -rn -- "${out//$'\r'/}"$'\0'
done
zpty -d z
"#;
    // Why `timeout`: a zpty read waits for its pattern; if zsh never
    // prints it, the test fails instead of hanging.
    let o = w
        .command("timeout")
        .args(["120", "zsh", "-f", "-c", driver, "zsh"])
        .args(lines)
        .output()
        .unwrap();
    assert!(o.status.success(), "zsh driver: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let screens: Vec<&str> = out.split('\0').filter(|s| !s.is_empty()).collect();
    assert_eq!(screens.len(), lines.len(), "{out}");
    screens
        .iter()
        .map(|s| {
            let buf = s
                .lines()
                .find_map(|l| l.strip_prefix("C9BUF="))
                .unwrap_or_else(|| panic!("no buffer in {s:?}"));
            (buf.trim_end().to_owned(), s.to_string())
        })
        .collect()
}

fn load(shell: &str, bin: &str) -> String {
    match shell {
        "fish" => format!("{bin} init fish | source"),
        _ => format!("eval \"$({bin} init {shell})\""),
    }
}

/// `rest`, after loading c9aws's init code for `shell`.
fn loaded(shell: &str, rest: &str) -> String {
    format!("{}; {rest}", load(shell, "c9aws"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Bash's side of a TAB for c9aws: COMP_* as bash sets them, then the
/// function `complete -F` names; prints `[LINE] <candidate>…`.
const BASH_TAB: &str = r#"
tab() {
  COMP_LINE=$1; COMP_POINT=${#1}
  read -ra COMP_WORDS <<< "$1"
  [ "${1: -1}" = " " ] && COMP_WORDS+=("")
  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
  __c9aws_complete
  printf '[%s]' "$1"; printf ' <%s>' "${COMPREPLY[@]}"; echo
}
"#;

#[test]
fn aws_runs_through_c9aws_in_every_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let b = world(Completer::Fake);
        // A file the glob would match if anything expanded it again.
        fs::write(b.root().join("work/x.txt"), "").unwrap();
        let script = format!(
            "{}; aws s3 cp 'a b' '*.txt' '$HOME' \"it's\" '' 'tab\there' 'back\\slash' 'new\nline' --opt='v w'",
            load(shell, "c9aws")
        );
        let o = sh(&b, shell, &script, &[(fake_aws::EXIT, "3")]);
        assert_eq!(o.status.code(), Some(3), "{shell}: {}", text(&o));
        assert_eq!(
            b.logged("active"),
            "1",
            "{shell}: aws did not go through c9aws"
        );
        let want = [
            "s3",
            "cp",
            "a b",
            "*.txt",
            "$HOME",
            "it's",
            "",
            "tab\there",
            "back\\slash",
            "new\nline",
            "--opt=v w",
        ];
        let got = b.logged("argv");
        let got: Vec<&str> = got.strip_suffix('\0').unwrap_or("").split('\0').collect();
        assert_eq!(got, want, "{shell}: argv changed");
        // Exit statuses pass through, success included.
        for code in ["0", "255"] {
            let o = sh(
                &b,
                shell,
                &loaded(shell, "aws sts get-caller-identity"),
                &[(fake_aws::EXIT, code)],
            );
            assert_eq!(
                o.status.code(),
                Some(code.parse().unwrap()),
                "{shell}: {}",
                text(&o)
            );
            assert_eq!(b.logged("active"), "1", "{shell}");
            assert_eq!(b.logged("argv"), "sts\0get-caller-identity\0", "{shell}");
        }
        // `command aws` bypasses c9aws.
        let o = sh(&b, shell, &loaded(shell, "command aws sts"), &[]);
        assert!(o.status.success(), "{shell}: {}", text(&o));
        assert_eq!(
            b.logged("active"),
            "unset",
            "{shell}: command aws went through c9aws"
        );
    }
}

#[test]
fn an_older_alias_named_aws_gives_way_and_backslash_does_not_bypass() {
    // README once advised `alias aws=c9aws`; bash would then define the
    // function under the alias's expansion, and zsh would refuse to parse it.
    for shell in ["bash", "zsh"] {
        let b = world(Completer::Fake);
        let script = format!(
            "shopt -s expand_aliases 2>/dev/null\nalias aws='echo ALIAS'\n{}\naws sts x\n\\aws sts y\n",
            load(shell, "c9aws")
        );
        let o = sh(&b, shell, &script, &[]);
        let out = text(&o);
        assert!(o.status.success(), "{shell}: {out}");
        assert!(
            !out.contains("ALIAS"),
            "{shell}: the alias still ran: {out}"
        );
        // `\aws` skips aliases only: the function, and so c9aws, still runs.
        assert_eq!(b.logged("active"), "1", "{shell}: {out}");
        assert_eq!(b.logged("argv"), "sts\0y\0", "{shell}: {out}");
    }
}

#[test]
fn when_c9aws_is_removed_aws_still_runs() {
    for shell in ["bash", "zsh", "fish"] {
        let b = world(Completer::Fake);
        // A copy in a directory with a space and a quote, removed after loading.
        let dir = b.root().join("my c9'aws $x");
        fs::create_dir_all(&dir).unwrap();
        let copy = dir.join("c9aws");
        crate::world::place_c9aws(&copy);
        let q = format!("'{}'", copy.display().to_string().replace('\'', r"'\''"));
        let fq = format!("'{}'", copy.display().to_string().replace('\'', r"\'"));
        let loader = if shell == "fish" {
            format!("{fq} init fish | source")
        } else {
            format!("eval \"$({q} init {shell})\"")
        };
        let o = sh(&b, shell, &format!("{loader}; aws sts x"), &[]);
        assert!(o.status.success(), "{shell}: {}", text(&o));
        assert_eq!(
            b.logged("active"),
            "1",
            "{shell}: the quoted path did not work"
        );
        let o = sh(
            &b,
            shell,
            &format!("{loader}; rm {q}; aws sts y"),
            &[(fake_aws::EXIT, "4")],
        );
        assert_eq!(o.status.code(), Some(4), "{shell}: {}", text(&o));
        assert_eq!(b.logged("active"), "unset", "{shell}");
        assert_eq!(b.logged("argv"), "sts\0y\0", "{shell}");
    }
}

#[test]
fn bash_completion_answers_for_aws_and_c9aws() {
    let b = world(Completer::Fake);
    let script = format!(
        "{}\n{BASH_TAB}\ncomplete -p aws c9aws\n\
         tab 'c9aws ex'\ntab 'c9aws s3 l'\ntab 'c9aws explain --json --refresh s3 l'\n\
         tab 'c9aws explain --j'\ntab 'c9aws init '\ntab 'c9aws --reg'\n",
        load("bash", "c9aws")
    );
    let o = sh(&b, "bash", &script, &[]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    // bash itself runs aws_completer for aws (with COMP_LINE and COMP_POINT).
    assert!(out.contains("complete -C 'aws_completer' aws"), "{out}");
    assert!(out.contains("complete -F __c9aws_complete c9aws"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    for want in [
        "[c9aws ex] <explain> <exec>",
        // v1's trailing spaces are gone.
        "[c9aws s3 l] <ls> <lsx>",
        "[c9aws explain --json --refresh s3 l] <ls> <lsx>",
        "[c9aws explain --j] <--json>",
        "[c9aws init ] <bash> <zsh> <fish>",
        "[c9aws --reg] <--region>",
    ] {
        assert!(lines.contains(&want), "want {want:?} in:\n{out}");
    }
    // After `explain`, aws_completer sees an aws command line.
    assert_asked(&b, &["c9aws s3 l|10", "aws s3 l|8"]);
}

#[test]
fn zsh_completion_answers_for_aws_and_c9aws() {
    let b = world(Completer::Fake);
    let tabs = zsh_tab(
        &b,
        &[
            "aws s3 sy",
            "c9aws s3 sy",
            "c9aws explain --json s3 sy",
            "c9aws init z",
            "c9aws ex",
            "aws s3 l",
        ],
    );
    let bufs: Vec<&str> = tabs.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(
        bufs[..4],
        [
            "aws s3 sync",
            "c9aws s3 sync",
            "c9aws explain --json s3 sync",
            "c9aws init zsh"
        ],
        "{tabs:#?}"
    );
    // Ambiguous: zsh lists the candidates.
    assert!(
        tabs[4].1.contains("exec") && tabs[4].1.contains("explain"),
        "{tabs:#?}"
    );
    // `ls` and `lsx`: the common part is inserted.
    assert_eq!(bufs[5], "aws s3 ls", "{tabs:#?}");
    assert_asked(&b, &["aws s3 sy|9", "c9aws s3 sy|11"]);
}

#[test]
fn fish_completion_answers_for_aws_and_c9aws() {
    let b = world(Completer::Fake);
    let lines = [
        "aws s3 l",
        "c9aws ex",
        "c9aws s3 l",
        "c9aws explain --refresh s3 l",
        "c9aws explain --j",
        "c9aws init ",
    ];
    let mut script = load("fish", "c9aws");
    for l in lines {
        script.push_str(&format!("; complete -C'{l}'; echo SEP"));
    }
    let o = sh(&b, "fish", &script, &[]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let parts: Vec<Vec<&str>> = out
        .split("SEP\n")
        .map(|p| p.lines().map(|l| l.split('\t').next().unwrap()).collect())
        .collect();
    assert_eq!(parts.len(), lines.len() + 1, "{out}");
    assert_eq!(parts[0], ["ls", "lsx"], "{out}");
    assert!(
        parts[1].contains(&"explain") && parts[1].contains(&"exec"),
        "{out}"
    );
    assert_eq!(parts[2], ["ls", "lsx"], "{out}");
    assert_eq!(parts[3], ["ls", "lsx"], "{out}");
    assert!(parts[4].contains(&"--json"), "{out}");
    assert_eq!(parts[5], ["bash", "fish", "zsh"], "{out}");
    assert_asked(&b, &["aws s3 l|8", "c9aws s3 l|10"]);
}

#[test]
fn the_cli_completers_answer_through_every_shell() {
    for completer in [real_v1_completer(), real_v2_completer()] {
        let name = completer.display().to_string();
        let b = world(Completer::Real(completer));
        let o = sh(
            &b,
            "bash",
            &format!(
                "{}\n{BASH_TAB}\ntab 'c9aws s3 l'\ntab 'c9aws explain s3 l'\n\
                 COMP_LINE='aws s3 l' COMP_POINT=8 aws_completer",
                load("bash", "c9aws")
            ),
            &[],
        );
        let out = text(&o);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.contains(&"[c9aws s3 l] <ls>"), "{name} bash: {out}");
        assert!(
            lines.contains(&"[c9aws explain s3 l] <ls>"),
            "{name} bash: {out}"
        );
        assert!(lines.contains(&"ls"), "{name} bash: {out}");

        let o = sh(
            &b,
            "fish",
            &format!(
                "{}; complete -C'aws s3 l'; echo SEP; complete -C'c9aws ec2 describe-instances --filt'",
                load("fish", "c9aws")
            ),
            &[],
        );
        let out = text(&o);
        assert_eq!(out.trim(), "ls\nSEP\n--filters", "{name} fish");

        let tabs = zsh_tab(&b, &["aws s3 l", "c9aws s3 l"]);
        let bufs: Vec<&str> = tabs.iter().map(|(b, _)| b.as_str()).collect();
        assert_eq!(bufs, ["aws s3 ls", "c9aws s3 ls"], "{name} zsh: {tabs:#?}");
    }
}

#[test]
fn without_aws_completer_init_is_quiet_and_aws_still_works() {
    for shell in ["bash", "zsh", "fish"] {
        let b = world(Completer::None);
        let check = match shell {
            "bash" => "complete -p aws 2>/dev/null || echo no-aws-completion",
            "zsh" => "(( $+_comps[aws] )) || echo no-aws-completion",
            _ => "complete -c aws | grep -q __c9aws || echo no-aws-completion",
        };
        let o = sh(
            &b,
            shell,
            &loaded(shell, &format!("{check}; aws sts x")),
            &[],
        );
        assert!(o.status.success(), "{shell}: {}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stderr), "", "{shell}");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "no-aws-completion\n",
            "{shell}"
        );
        assert_eq!(b.logged("active"), "1", "{shell}");
    }
}

#[test]
fn scripts_pass_shellcheck_and_syntax_checks() {
    let b = world(Completer::None);
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
        need(shell);
        let o = b.command("sh").args(["-c", check]).output().unwrap();
        assert!(o.status.success(), "{shell}: {}", text(&o));
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = b
        .command("shellcheck")
        .args(["-s", "bash"])
        .arg(repo.join("shell/c9aws.bash"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let o = World::new().run(["init", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bash, zsh, fish"));
}
