//! Can this command line make the AWS CLI read its stdin? The question the safety
//! net must answer before it runs a call a second time: a first attempt that read
//! a pipe leaves nothing for the retry.
//!
//! Owns: every way the CLI's argv (plus the auto-prompt setting, which is not in
//! argv) makes the CLI, or a child it starts with its own stdin, read fd 0 or
//! another inherited descriptor that cannot be read twice: paramfile values
//! (`file://`, `fileb://`, shorthand `@=`, `--cli-input-json`/`--cli-input-yaml`),
//! paths the CLI opens itself (streaming blobs, `--ca-bundle`, the file arguments
//! of customizations), `s3 cp -`, `ddb put -`, prompts, children that inherit
//! stdin, and v2's auto-prompt. Each rule cites the code it mirrors in the
//! installed CLIs (v1 1.45.11, v2 2.36.7; paths relative to the `awscli` package).
//!
//! Conservative by design, and only in one direction: a line it cannot read with
//! certainty (usage error, unknown command, `!` alias, an option it does not know
//! in front of `-`) "may read". A false "may read" costs one retry; a false
//! "cannot" would replay a call without its input.
//!
//! Pure: the raw argv, its parsed [`Invocation`], the CLI's major version and the
//! auto-prompt setting in; an answer out. It must not look at fd 0, the file
//! system or the environment: what stdin is, and whether a FIFO or a symlink
//! named in argv leads to it, are the asking adapter's business (`supervise`).
//! Out of its reach by construction, because they come from the profile and not
//! from argv: `credential_process` (started with the CLI's stdin), the MFA prompt
//! of an assume-role profile (getpass, which falls back to stdin without a
//! terminal), and v2 help rendered in a browser (`cli_help_output`). None of them
//! runs on the safety net's first attempt, which signs with AMTC from the shared
//! credentials file.

use crate::core::argv::Invocation;
use crate::core::command_table::lookup_command;
use crate::core::CliMajor;
use std::fmt;

/// Why a command line may make the CLI read its stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinUse {
    /// v2's auto-prompt runs before the command: prompt_toolkit reads stdin.
    AutoPrompt,
    /// The line cannot be read with certainty; assumed to read.
    Unsure(&'static str),
    /// A value names a descriptor the CLI opens and reads.
    Descriptor(&'static str),
    /// The command reads stdin itself.
    Reads(&'static str),
    /// The command asks questions on stdin.
    Prompts(&'static str),
    /// The command starts a program that inherits the CLI's stdin.
    Child(&'static str),
}

impl fmt::Display for StdinUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StdinUse::AutoPrompt => {
                f.write_str("the CLI's auto-prompt reads the command line from stdin")
            }
            StdinUse::Unsure(why) => write!(f, "assumed to read stdin: {why}"),
            StdinUse::Descriptor(what) => write!(f, "a value makes the CLI read {what}"),
            StdinUse::Reads(what) => write!(f, "the command reads stdin: {what}"),
            StdinUse::Prompts(what) => write!(f, "the command prompts on stdin: {what}"),
            StdinUse::Child(what) => write!(f, "the command runs {what} with the CLI's stdin"),
        }
    }
}

/// v2's `cli_auto_prompt` below argv, as the CLI's config chain holds it
/// (`clidriver.py:413-426`: instance variable, then `AWS_CLI_AUTO_PROMPT`, then the
/// profile's `cli_auto_prompt`, then `off`). Ignored for v1, which has no auto-prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AutoPromptSetting<'a> {
    /// `AWS_CLI_AUTO_PROMPT` when set. An empty value still ends the lookup
    /// (botocore's EnvironmentProvider answers for any variable that exists).
    pub env: Option<&'a str>,
    /// `cli_auto_prompt` of the profile the *environment* selects (`AWS_PROFILE`,
    /// else `AWS_DEFAULT_PROFILE`, else `default`): the CLI resolves the mode on a
    /// session created before `--profile` is applied (`clidriver.py:267-271`).
    pub profile: Option<&'a str>,
}

/// Whether the CLI may read its stdin for this command line, and why.
///
/// `args` is the argv the CLI gets (program name removed) and `inv` its parse
/// (`argv::parse`); the raw tokens are needed because v2 decides on auto-prompt
/// by exact token membership before any parsing.
pub fn stdin_use(
    args: &[String],
    inv: &Invocation,
    major: CliMajor,
    auto_prompt: AutoPromptSetting,
) -> Option<StdinUse> {
    if major == CliMajor::V2 && auto_prompt_runs(args, auto_prompt) {
        return Some(StdinUse::AutoPrompt);
    }
    if inv.version_flag() {
        // argparse's version action prints and exits as it meets the option.
        return None;
    }
    if inv.external_alias.is_some() {
        // v1 alias.py:269, v2 alias.py:396: subprocess.call of the shell command.
        return Some(StdinUse::Child("the shell command of a `!` alias"));
    }
    if inv.usage_error.is_some() {
        return Some(StdinUse::Unsure(
            "the line does not parse (c9aws's reading of it may differ from the CLI's)",
        ));
    }
    let Some(command) = inv.command.as_deref() else {
        return Some(StdinUse::Unsure("no command"));
    };
    if command == "help" {
        // v1 help.py:102/133/159, v2 help.py:147/221/256: the pager and groff get
        // stdin=PIPE, never the CLI's own stdin.
        return None;
    }
    if lookup_command(major, command).is_none() {
        return Some(StdinUse::Unsure(
            "a command not in this CLI's command table",
        ));
    }
    // Values that name a descriptor, whatever the command: operation parameters
    // (paramfiles, shorthand `@=`, `--cli-input-*`, paths opened by the command)
    // and `--ca-bundle`, which OpenSSL reads as a file.
    let values = inv
        .rest
        .iter()
        .map(String::as_str)
        .chain(inv.globals.get("--ca-bundle"));
    for value in values {
        if let Some(found) = descriptor_in(value) {
            return Some(found);
        }
    }
    command_use(command, inv.operation.as_deref(), &inv.rest)
}

/// v2 `clidriver.py:140-167` (`resolve_auto_prompt_mode`) and `:271-283`: on the
/// raw argv, by exact token; `on` prompts first, `on-partial` prompts when the
/// first run fails validation. Both read stdin through prompt_toolkit, which uses
/// `sys.stdin` even when it is a pipe (prompt_toolkit 3.0.51 `input/defaults.py`:
/// "Warning: Input is not a terminal").
fn auto_prompt_runs(args: &[String], setting: AutoPromptSetting) -> bool {
    let has = |t: &str| args.iter().any(|a| a == t);
    if has("--cli-auto-prompt") && has("--no-cli-auto-prompt") {
        // ParamValidationError before any prompt.
        return false;
    }
    if has("help") || has("--version") || has("--no-cli-auto-prompt") {
        return false;
    }
    if has("--cli-auto-prompt") {
        return true;
    }
    let mode = setting
        .env
        .or(setting.profile)
        .unwrap_or("off")
        .to_lowercase();
    mode == "on" || mode == "on-partial"
}

const STDIN: &str = "stdin (/dev/stdin, /dev/fd/0 or /proc/…/fd/0)";
const INHERITED: &str =
    "an inherited descriptor (/dev/fd/N, e.g. bash's <(…)), which cannot be read twice";
const EXPANDED: &str =
    "a path the CLI expands from the environment ($VAR or ~), which may lead to stdin";

/// Separators of the values a path can hide in: `--opt=value`, shorthand
/// (`Key@=file://…`, lists, hashes, quotes) and JSON. Splitting on more than the
/// CLI does only finds more candidates: the last component of a path never
/// contains one of them, so the piece that ends a path still ends with it.
const SEPARATORS: &[char] = &[
    ',', '=', '[', ']', '{', '}', '"', '\'', ' ', '\t', '\n', '\r',
];

/// Does this value name a descriptor the CLI could read?
///
/// - paramfiles: v1 `paramfile.py:269-272`, v2 `paramfile.py:103-106`: a value
///   that starts with `file://` or `fileb://` is replaced by the file's content,
///   after `os.path.expandvars(os.path.expanduser(…))` (v1 `:238-242`, v2
///   `:86-90`). That applies to every operation and customization parameter
///   (`load-cli-arg`, v1 `argprocess.py:80`, v2 `customizations/commands.py:170`);
///   v1 exempts `PARAMFILE_DISABLED` and `no_paramfile` arguments (`:176-181`),
///   v2 exempts none (`paramfile.py:44-51`: `aws configure set k file:///dev/stdin`
///   reads stdin in v2, not in v1). Exemptions are not modelled: a stdin path as
///   a URL or a config value is no use, and ignoring them can only say "may read".
///   `cli_binary_format` only changes how a blob's bytes are decoded, not what is
///   read. `file://-` opens a file named `-` (both majors).
/// - shorthand `Key@=file://…` (v1 `shorthand.py:186-198` and `:357-360`, v2
///   `:189-199` and `:376-379`), also inside `{…}` and quotes. Values nested in
///   JSON are not resolved by the CLI; finding them anyway is conservative.
/// - `--cli-input-json` (v1 `customizations/cliinputjson.py:65`), v2
///   `--cli-input-json`/`--cli-input-yaml` (`customizations/cliinput.py:90`).
/// - plain paths the CLI opens: streaming blobs (`s3api put-object --body PATH`,
///   v1 `argprocess.py:234-243`, v2 `:231-240`, also expanded), and the file
///   arguments of customizations (`cloudformation package --template-file`, `s3
///   cp SRC`, …).
/// - v1 also fetches `http://`/`https://` values (`paramfile.py:275-278`): a URL
///   cannot name stdin, so other `scheme://` pieces are skipped.
fn descriptor_in(value: &str) -> Option<StdinUse> {
    for piece in value.split(SEPARATORS) {
        let prefix = ["file://", "fileb://"]
            .iter()
            .filter_map(|p| piece.find(p).map(|i| i + p.len()))
            .min();
        let (path, paramfile) = match prefix {
            Some(start) => (&piece[start..], true),
            None if piece.contains("://") => continue,
            None if piece.contains('/') => (piece, false),
            None => continue,
        };
        if let Some(found) = path_descriptor(path, paramfile) {
            return Some(found);
        }
    }
    None
}

/// Does `path` lead to stdin or another inherited descriptor? Read by its last
/// component, which is what `/dev/stdin`, `/dev/fd/N`, `/proc/self/fd/N`,
/// `/proc/<pid>/fd/N` and `/proc/thread-self/fd/N` share however they are spelt
/// (`//`, `.`, a relative path from `/dev`); no other path can be told from argv.
fn path_descriptor(path: &str, paramfile: bool) -> Option<StdinUse> {
    let components: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let last = *components.last()?;
    let absolute = path.starts_with('/');
    let expands = |c: &str| c.contains('$') || c.starts_with('~');
    if last.contains('$') || (components.len() == 1 && !absolute && last.starts_with('~')) {
        return Some(StdinUse::Descriptor(EXPANDED));
    }
    if last == "stdin" {
        return Some(StdinUse::Descriptor(STDIN));
    }
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        let parent = components.len().checked_sub(2).map(|i| components[i]);
        let in_fd_dir = match parent {
            Some(p) => p == "fd" || p == ".." || expands(p),
            // `file://0` from a working directory of /dev/fd.
            None => paramfile && !absolute,
        };
        if in_fd_dir {
            return match last.trim_start_matches('0') {
                "" => Some(StdinUse::Descriptor(STDIN)),
                // stdout and stderr: reading them is no use and consumes no input.
                "1" | "2" => None,
                _ => Some(StdinUse::Descriptor(INHERITED)),
            };
        }
    }
    None
}

/// Commands that read stdin, prompt, or hand it to a child.
fn command_use(command: &str, operation: Option<&str>, rest: &[String]) -> Option<StdinUse> {
    use StdinUse::{Child, Prompts, Reads};
    let op = operation.unwrap_or("");
    let found = match (command, op) {
        // v1 configure/configure.py:42, v2 :57: compat_input (input()) per value.
        ("configure", "") => Prompts("`configure` asks for keys, region and output"),
        // v2 configure/sso.py:20 (prompt_toolkit prompts, then a browser).
        ("configure", "sso" | "sso-session") => Prompts("`configure sso` asks with prompt_toolkit"),
        // v2 configure/mfalogin.py:37,45: compat_input.
        ("configure", "mfa-login") => Prompts("`configure mfa-login` asks for the MFA code"),
        // v2 agenttoolkit/configure.py:106,148,198 (prompts.py:28,65: input() and
        // prompt_toolkit); with --yes still agents.py:247, subprocess.run of the
        // agent's own CLI with the CLI's stdin.
        ("configure", "agent-toolkit") => {
            Prompts("`configure agent-toolkit` asks, and runs the agents' CLIs")
        }
        // v2 wizard/commands.py:23-30 adds `wizard` to configure, dynamodb,
        // events, iam and lambda; wizard/app.py runs a prompt_toolkit Application.
        (_, "wizard") => Prompts("a wizard (prompt_toolkit)"),
        // v2 wizard/devcommands.py:53: `cli-dev wizard-dev --run-wizard` runs one.
        ("cli-dev", "wizard-dev") => Prompts("a wizard (prompt_toolkit)"),
        // v2 login/utils.py:334 (compat_input for the verification code),
        // login/login.py:169 (yes_no_choice before overwriting a profile).
        ("login", _) => Prompts("`login` asks for the verification code"),
        // v2 update.py:151: subprocess.run of the installer script.
        ("update", _) => Child("the installer script"),
        // v1 codecommit.py:123, v2 :131: `for line in sys.stdin` (git's
        // credential protocol); store and erase are no-ops, kept for safety.
        ("codecommit", "credential-helper") => Reads("git's credential request"),
        // v1 sessionmanager.py:150, v2 :155: check_call(session-manager-plugin).
        ("ssm", "start-session") => Child("session-manager-plugin"),
        // v1 ecs/executecommand.py:105, v2 :102: check_call(session-manager-plugin).
        ("ecs", "execute-command") => Child("session-manager-plugin"),
        // v2 ecs/monitorexpressgatewayservice.py:186-189,283-290: with a TTY on
        // stdout (the default, or INTERACTIVE), prompt_toolkit_display reads keys.
        ("ecs", "monitor-express-gateway-service")
            if last_option(rest, "--mode") != Some(Some("TEXT-ONLY")) =>
        {
            Prompts("the interactive monitor (prompt_toolkit)")
        }
        // v2 ecs/monitormutatinggatewayservice.py: the same monitor after the
        // call, with --monitor-resources (mode from --monitor-mode).
        (
            "ecs",
            "create-express-gateway-service"
            | "update-express-gateway-service"
            | "delete-express-gateway-service",
        ) if last_option(rest, "--monitor-resources").is_some()
            && last_option(rest, "--monitor-mode") != Some(Some("TEXT-ONLY")) =>
        {
            Prompts("the interactive monitor (prompt_toolkit)")
        }
        // v2 logs/startlivetail.py:203-208: --mode interactive runs ui.py's
        // InteractiveUI (prompt_toolkit keys); print-only is the default.
        ("logs", "start-live-tail")
            if !matches!(last_option(rest, "--mode"), None | Some(Some("print-only"))) =>
        {
            Prompts("live tail's interactive mode (prompt_toolkit)")
        }
        // v1 emr/ssh.py:60,106,147,186, v2 :143,209,272,331: subprocess.call.
        ("emr", "ssh" | "socks" | "get" | "put") => Child("ssh or scp"),
        // v2 ec2instanceconnect/ssh.py:440: subprocess.call(ssh).
        ("ec2-instance-connect", "ssh") => Child("ssh"),
        // v2 ec2instanceconnect/opentunnel.py:195, websocket.py:70-79: without
        // --local-port the tunnel's input is sys.stdin.
        ("ec2-instance-connect", "open-tunnel") => Reads("the tunnel's input"),
        // v1 codedeploy/systems.py:84,92,174,185,217-233, v2 :81,90,182,191,220-236:
        // check_call of the installer, apt-get, yum, dpkg.
        ("deploy", "install" | "uninstall") => Child("the agent's installer and package manager"),
        // v1 codeartifact/login.py:101,311, v2 :113,324,356: subprocess run of
        // npm, pip, twine, dotnet, nuget or swift (capture_output, stdin inherited).
        ("codeartifact", "login") => Child("the package tool (npm, pip, dotnet, nuget, swift)"),
        // v2 sso/login.py:71-72, sso/utils.py:133-136,183: webbrowser, which
        // runs a console browser (lynx, w3m, $BROWSER) with the CLI's stdin.
        ("sso", "login") if last_option(rest, "--no-browser").is_none() => {
            Child("a web browser (a console one reads stdin)")
        }
        ("s3", "cp" | "mv") => return s3_stream(rest),
        // v2 dynamodb/subcommands.py:338-339: `ddb put TABLE -` loads YAML from stdin.
        ("ddb", "put") if rest.iter().any(|t| t == "-") => Reads("`ddb put TABLE -`"),
        _ => return None,
    };
    Some(found)
}

/// `s3 cp - s3://…` uploads stdin: v1 s3/subcommands.py:1462-1470 sets
/// `is_stream` when a path is `-`, s3handler.py:484-486 reads `get_binary_stdin()`
/// (compat.py:117-120); v2 subcommands.py:1807-1815, s3handler.py:560-562. A `-`
/// destination streams to stdout and reads nothing. `mv` with `-` stops in the
/// same validation (streaming is `cp` only); it is answered like `cp` so a CLI
/// that starts to accept it stays covered.
///
/// The source is the first positional of the command's argparse parser, so the
/// options in front of it are walked with their arities (below); `--opt=value`
/// carries its own value; abbreviations are argparse's unique prefixes.
fn s3_stream(rest: &[String]) -> Option<StdinUse> {
    const STREAM: StdinUse = StdinUse::Reads("`s3 cp - s3://…` uploads stdin");
    if !rest.iter().any(|t| t == "-") {
        return None;
    }
    let mut i = 0;
    while i < rest.len() {
        let t = rest[i].as_str();
        i += 1;
        if t == "--" {
            // argparse: everything after `--` is positional.
            return (rest.get(i).map(String::as_str) == Some("-")).then_some(STREAM);
        }
        let arity = match s3_token(t) {
            S3Token::Positional => return (t == "-").then_some(STREAM),
            S3Token::Unknown => {
                return Some(StdinUse::Unsure(
                    "an `s3` option c9aws does not know comes before `-`",
                ))
            }
            S3Token::Option { arity, explicit } if !explicit => arity,
            S3Token::Option { .. } => continue,
        };
        let positional_next = |i: usize| rest.get(i).is_some_and(|t| is_positional(t));
        match arity {
            Arity::Flag => {}
            Arity::One => i += 1,
            Arity::Optional => {
                if positional_next(i) {
                    i += 1;
                }
            }
            Arity::Greedy => {
                while positional_next(i) {
                    i += 1;
                }
            }
        }
    }
    None
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arity {
    /// `store_true`.
    Flag,
    /// One value (`nargs=None`, `AppendFilter`).
    One,
    /// `nargs='?'`.
    Optional,
    /// `nargs='+'`.
    Greedy,
}

/// The options of `s3 cp` and `s3 mv` (`CpCommand.ARG_TABLE`, `MvCommand.ARG_TABLE`),
/// union of both commands and both majors: an option one of them lacks is an
/// "Unknown options" error there (customizations/commands.py: v1 :186-187, v2
/// :203-205), which reads nothing, so the union can only err towards "may read"
/// (a prefix unique in one table may be ambiguous in the union: then unknown).
/// v2-only: --no-overwrite, --progress-multiline, --copy-props,
/// --progress-frequency. cp-only: --expected-size. mv-only:
/// --validate-same-s3-paths.
const S3_CP_MV_OPTIONS: &[(&str, Arity)] = &[
    ("--acl", Arity::One),
    ("--cache-control", Arity::One),
    ("--case-conflict", Arity::One),
    ("--checksum-algorithm", Arity::One),
    ("--checksum-mode", Arity::One),
    ("--content-disposition", Arity::One),
    ("--content-encoding", Arity::One),
    ("--content-language", Arity::One),
    ("--content-type", Arity::One),
    ("--copy-props", Arity::One),
    ("--dryrun", Arity::Flag),
    ("--exclude", Arity::One),
    ("--expected-size", Arity::One),
    ("--expires", Arity::One),
    ("--follow-symlinks", Arity::Flag),
    ("--force-glacier-transfer", Arity::Flag),
    ("--grants", Arity::Greedy),
    ("--ignore-glacier-warnings", Arity::Flag),
    ("--include", Arity::One),
    ("--metadata", Arity::One),
    ("--metadata-directive", Arity::One),
    ("--no-follow-symlinks", Arity::Flag),
    ("--no-guess-mime-type", Arity::Flag),
    ("--no-overwrite", Arity::Flag),
    ("--no-progress", Arity::Flag),
    ("--only-show-errors", Arity::Flag),
    ("--page-size", Arity::One),
    ("--progress-frequency", Arity::One),
    ("--progress-multiline", Arity::Flag),
    ("--quiet", Arity::Flag),
    ("--recursive", Arity::Flag),
    ("--request-payer", Arity::Optional),
    ("--source-region", Arity::One),
    ("--sse", Arity::Optional),
    ("--sse-c", Arity::Optional),
    ("--sse-c-copy-source", Arity::Optional),
    ("--sse-c-copy-source-key", Arity::One),
    ("--sse-c-key", Arity::One),
    ("--sse-kms-key-id", Arity::One),
    ("--storage-class", Arity::One),
    ("--validate-same-s3-paths", Arity::Flag),
    ("--website-redirect", Arity::One),
];

enum S3Token {
    Positional,
    Option { arity: Arity, explicit: bool },
    Unknown,
}

/// argparse's `_parse_optional` for the s3 parser: exact name, `name=value`,
/// unique prefix, else a negative number or a token with a space is positional.
fn s3_token(t: &str) -> S3Token {
    if is_positional(t) {
        return S3Token::Positional;
    }
    let exact = |name: &str| {
        S3_CP_MV_OPTIONS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, a)| *a)
    };
    if let Some(arity) = exact(t) {
        return S3Token::Option {
            arity,
            explicit: false,
        };
    }
    let (name, explicit) = match t.split_once('=') {
        Some((n, _)) => (n, true),
        None => (t, false),
    };
    if let Some(arity) = exact(name) {
        return S3Token::Option { arity, explicit };
    }
    if name.starts_with("--") {
        let mut matches = S3_CP_MV_OPTIONS.iter().filter(|(n, _)| n.starts_with(name));
        match (matches.next(), matches.next()) {
            (Some((_, arity)), None) => {
                return S3Token::Option {
                    arity: *arity,
                    explicit,
                }
            }
            // Ambiguous: argparse stops with an error; unknown to us.
            (Some(_), Some(_)) => return S3Token::Unknown,
            (None, _) => {}
        }
    }
    if is_negative_number(t) || t.contains(' ') {
        return S3Token::Positional;
    }
    S3Token::Unknown
}

/// Not option-like for argparse: `-` itself or no leading `-`.
fn is_positional(t: &str) -> bool {
    t == "-" || !t.starts_with('-')
}

/// argparse's `^-\d+$|^-\d*\.\d+$`: positional when no option looks like one.
fn is_negative_number(t: &str) -> bool {
    let Some(rest) = t.strip_prefix('-') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(rest)
        || rest
            .split_once('.')
            .is_some_and(|(a, b)| (a.is_empty() || digits(a)) && digits(b))
}

/// The last occurrence of option `name` among an operation's tokens: `Some(value)`
/// where a value follows (`--name v`, `--name=v`), `Some(None)` for a bare flag.
/// argparse's abbreviations count (a prefix of at least one letter after `--`); an
/// ambiguous one stops the CLI, so counting it can only say "given" too often.
fn last_option<'a>(rest: &'a [String], name: &str) -> Option<Option<&'a str>> {
    let mut found = None;
    let mut it = rest.iter().map(String::as_str).peekable();
    while let Some(t) = it.next() {
        if t == "--" {
            break;
        }
        let (key, value) = match t.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (t, None),
        };
        if key.len() > 2 && key.starts_with("--") && name.starts_with(key) {
            let value = value.or_else(|| it.peek().copied().filter(|v| is_positional(v)));
            found = Some(value);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::argv::{self, Aliases};
    use crate::core::plan::Table;
    use crate::core::shlex;
    use CliMajor::{V1, V2};

    /// What a row expects: the kind of reason, or `None` (retry allowed).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum K {
        Auto,
        Unsure,
        Desc,
        Reads,
        Prompts,
        Child,
    }

    fn kind(u: &StdinUse) -> K {
        match u {
            StdinUse::AutoPrompt => K::Auto,
            StdinUse::Unsure(_) => K::Unsure,
            StdinUse::Descriptor(_) => K::Desc,
            StdinUse::Reads(_) => K::Reads,
            StdinUse::Prompts(_) => K::Prompts,
            StdinUse::Child(_) => K::Child,
        }
    }

    fn check(
        major: CliMajor,
        line: &str,
        setting: AutoPromptSetting,
        aliases: &Aliases,
    ) -> Option<K> {
        let args = shlex::split(line).unwrap();
        let inv = argv::parse(&args, major, &Table(major), aliases);
        stdin_use(&args, &inv, major, setting).as_ref().map(kind)
    }

    #[test]
    fn every_way_argv_reads_stdin_and_lines_that_cannot() {
        use K::*;
        const BOTH: &[CliMajor] = &[V1, V2];
        const ONLY_V2: &[CliMajor] = &[V2];
        #[rustfmt::skip]
        let rows: &[(&[CliMajor], &str, Option<K>)] = &[
            // Lines that cannot read stdin: the retry stays on.
            (BOTH, "s3 ls", None),
            (BOTH, "s3 ls s3://bucket/stdin", None),
            (BOTH, "sts get-caller-identity", None),
            (BOTH, "--region eu-west-1 sts get-caller-identity --output json", None),
            (BOTH, "s3 cp ./local.txt s3://b/k", None),
            (BOTH, "s3 cp s3://b/k -", None),
            (BOTH, "s3 cp s3://b/k - --quiet", None),
            (BOTH, "s3 cp --acl private s3://b/k -", None),
            (BOTH, "s3 cp --content-type - s3://b/k ./x", None),
            (BOTH, "s3 sync . s3://b/prefix --exclude '*.tmp'", None),
            (BOTH, "s3 cp --sse - s3://b/k", None),
            (BOTH, "ec2 describe-instances --filters file://filters.json", None),
            (BOTH, "ec2 describe-instances --filters file:///home/ec2-user/f.json", None),
            (BOTH, "ec2 run-instances --user-data fileb://$HOME/init.sh", None),
            (BOTH, "ec2 describe-instances --filters file://-", None),
            (BOTH, "ec2 describe-instances --filters Name=tag:Name,Values=stdin", None),
            (BOTH, "lambda invoke --function-name f /dev/stdout", None),
            (BOTH, "lambda invoke --function-name f /dev/fd/1", None),
            (BOTH, "lambda invoke --function-name f /dev/stderr", None),
            (BOTH, "cloudformation create-stack --stack-name s --template-url https://h/stdin", None),
            (BOTH, "ecr get-login-password", None),
            (BOTH, "configure list", None),
            (BOTH, "configure set region eu-west-1", None),
            (BOTH, "configure help", None),
            (BOTH, "help", None),
            (BOTH, "--version", None),
            (BOTH, "s3 ls --version", None),
            (BOTH, "history list", None),
            (BOTH, "ssm describe-sessions --state Active", None),
            (BOTH, "codecommit list-repositories", None),
            (BOTH, "logs start-live-tail --log-group-identifiers a", None),
            (BOTH, "logs start-live-tail --log-group-identifiers a --mode print-only", None),
            (ONLY_V2, "sso login --no-browser", None),
            (ONLY_V2, "ddb select t", None),
            (ONLY_V2, "ddb put t '{a: 1}'", None),
            (ONLY_V2, "ecs monitor-express-gateway-service --service-arn a --mode TEXT-ONLY", None),
            (ONLY_V2, "ecs create-express-gateway-service --execution-role-arn r", None),
            (ONLY_V2, "lightsail push-container-image --service-name s --label l --image i", None),
            (ONLY_V2, "s3 cp --no-overwrite s3://b/k -", None),

            // Paramfiles and paths that name stdin or an inherited descriptor.
            (BOTH, "ec2 describe-instances --filters file:///dev/stdin", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters=file:///dev/stdin", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters fileb:///dev/fd/0", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters file:///proc/self/fd/0", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters file:///proc/thread-self/fd/0", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters file:///proc/4242/fd/0", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters file:////dev//./stdin/", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters file://../../dev/stdin", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters file://stdin", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters file://0", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters file://self/fd/0", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters file:///dev/fd/63", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters file:///proc/self/fd/3", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters file://$INPUT", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters file://${DIR}/0", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters file://~", Some(Desc)),
            (BOTH, "ec2 describe-instances --cli-input-json file:///dev/stdin", Some(Desc)),
            (ONLY_V2, "ec2 describe-instances --cli-input-yaml file:///dev/stdin", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters 'Name@=file:///dev/stdin,Values=a'", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters 'Name=a,Values=[x,y],Other@=\"fileb:///dev/fd/0\"'", Some(Desc)),
            (BOTH, "ec2 describe-instances --filters '[{\"Name\":\"file:///dev/stdin\"}]'", Some(Desc)),
            (BOTH, "s3api put-object --bucket b --key k --body /dev/stdin", Some(Desc)),
            (BOTH, "cloudformation package --template-file /dev/fd/0 --s3-bucket b", Some(Desc)),
            (BOTH, "--ca-bundle /dev/stdin sts get-caller-identity", Some(Desc)),
            (BOTH, "sts get-caller-identity --ca-bundle=/dev/fd/0", Some(Desc)),
            (ONLY_V2, "configure set foo file:///dev/stdin", Some(Desc)),
            (BOTH, "s3 cp /dev/stdin s3://b/k", Some(Desc)),

            // Commands that read stdin themselves.
            (BOTH, "s3 cp - s3://b/k", Some(Reads)),
            (BOTH, "s3 cp - s3://b/k --expected-size 10", Some(Reads)),
            (BOTH, "s3 cp --quiet --acl private - s3://b/k", Some(Reads)),
            (BOTH, "s3 cp --content-t text/plain - s3://b/k", Some(Reads)),
            (BOTH, "s3 cp --acl=private - s3://b/k", Some(Reads)),
            (BOTH, "s3 cp -- - s3://b/k", Some(Reads)),
            (BOTH, "s3 cp --grants read=uri=x -- - s3://b/k", Some(Reads)),
            (BOTH, "s3 mv - s3://b/k", Some(Reads)),
            (BOTH, "s3 cp --brand-new-option - s3://b/k", Some(Unsure)),
            (BOTH, "s3 cp --c x - s3://b/k", Some(Unsure)),
            (BOTH, "codecommit credential-helper get", Some(Reads)),
            (BOTH, "codecommit credential-helper store", Some(Reads)),
            (ONLY_V2, "ddb put t -", Some(Reads)),
            (ONLY_V2, "ec2-instance-connect open-tunnel --instance-id i-1", Some(Reads)),

            // Prompts.
            (BOTH, "configure", Some(Prompts)),
            (BOTH, "configure --profile dev", Some(Prompts)),
            (ONLY_V2, "configure sso", Some(Prompts)),
            (ONLY_V2, "configure sso-session", Some(Prompts)),
            (ONLY_V2, "configure mfa-login", Some(Prompts)),
            (ONLY_V2, "configure agent-toolkit --yes", Some(Prompts)),
            (ONLY_V2, "configure wizard", Some(Prompts)),
            (ONLY_V2, "iam wizard new-role", Some(Prompts)),
            (ONLY_V2, "cli-dev wizard-dev --run-wizard file://w.yml", Some(Prompts)),
            (ONLY_V2, "login", Some(Prompts)),
            (ONLY_V2, "login --remote", Some(Prompts)),
            (ONLY_V2, "logs start-live-tail --log-group-identifiers a --mode interactive", Some(Prompts)),
            (ONLY_V2, "logs start-live-tail --log-group-identifiers a --mo=interactive", Some(Prompts)),
            (ONLY_V2, "ecs monitor-express-gateway-service --service-arn a", Some(Prompts)),
            (ONLY_V2, "ecs create-express-gateway-service --execution-role-arn r --monitor-resources", Some(Prompts)),
            (ONLY_V2, "ecs delete-express-gateway-service --service-arn a --monitor-resources RESOURCE", Some(Prompts)),

            // Children that get the CLI's stdin.
            (BOTH, "ssm start-session --target i-1", Some(Child)),
            (BOTH, "ecs execute-command --cluster c --task t --command sh --interactive", Some(Child)),
            (BOTH, "emr ssh --cluster-id j-1 --key-pair-file k.pem", Some(Child)),
            (BOTH, "emr socks --cluster-id j-1 --key-pair-file k.pem", Some(Child)),
            (BOTH, "emr put --cluster-id j-1 --key-pair-file k.pem --src a", Some(Child)),
            (BOTH, "emr get --cluster-id j-1 --key-pair-file k.pem --src a", Some(Child)),
            (BOTH, "deploy install --config-file c.yml", Some(Child)),
            (BOTH, "deploy uninstall", Some(Child)),
            (BOTH, "codeartifact login --tool npm --domain d --repository r", Some(Child)),
            (ONLY_V2, "ec2-instance-connect ssh --instance-id i-1", Some(Child)),
            (ONLY_V2, "sso login", Some(Child)),
            (ONLY_V2, "update", Some(Child)),

            // Lines that cannot be read with certainty.
            (BOTH, "", Some(Unsure)),
            (BOTH, "nosuch-command op", Some(Unsure)),
            (BOTH, "s3 ls --region", Some(Unsure)),
            (BOTH, "ec2 no-such-operation", Some(Unsure)),
        ];
        for (majors, line, want) in rows {
            for major in *majors {
                let got = check(
                    *major,
                    line,
                    AutoPromptSetting::default(),
                    &Aliases::default(),
                );
                assert_eq!(got, *want, "{major:?} {line:?}");
            }
        }
    }

    #[test]
    fn auto_prompt_is_v2_only_and_decided_on_exact_tokens() {
        let none = AutoPromptSetting::default();
        let env = |v| AutoPromptSetting {
            env: Some(v),
            profile: None,
        };
        let profile = |v| AutoPromptSetting {
            env: None,
            profile: Some(v),
        };
        let no = &Aliases::default();
        let rows: &[(CliMajor, &str, AutoPromptSetting, Option<K>)] = &[
            (
                V2,
                "sts get-caller-identity --cli-auto-prompt",
                none,
                Some(K::Auto),
            ),
            (V2, "--cli-auto-prompt", none, Some(K::Auto)),
            (V2, "s3 ls -- --cli-auto-prompt", none, Some(K::Auto)),
            (V2, "sts get-caller-identity", env("on"), Some(K::Auto)),
            (V2, "sts get-caller-identity", env("ON"), Some(K::Auto)),
            (
                V2,
                "sts get-caller-identity",
                env("on-partial"),
                Some(K::Auto),
            ),
            (V2, "sts get-caller-identity", profile("on"), Some(K::Auto)),
            (V2, "--version", env("on-partial").with_profile("on"), None),
            // --version abbreviated is not the exact token: the prompt runs first.
            (V2, "--vers", env("on"), Some(K::Auto)),
            (V2, "sts get-caller-identity", env("off"), None),
            (
                V2,
                "sts get-caller-identity",
                env("").with_profile("on"),
                None,
            ),
            (V2, "sts get-caller-identity", profile("off"), None),
            (
                V2,
                "sts get-caller-identity --no-cli-auto-prompt",
                env("on"),
                None,
            ),
            (V2, "sts get-caller-identity help", env("on"), None),
            (V2, "sts get-caller-identity --version", profile("on"), None),
            (
                V2,
                "sts get-caller-identity --cli-auto-prompt --no-cli-auto-prompt",
                none,
                None,
            ),
            // An abbreviation does not turn it off.
            (
                V2,
                "sts get-caller-identity --no-cli-auto",
                env("on"),
                Some(K::Auto),
            ),
            // v1 has no auto-prompt: neither the setting nor the option (an
            // unknown option there, which stops the CLI before any call).
            (V1, "sts get-caller-identity", env("on"), None),
            (V1, "sts get-caller-identity --cli-auto-prompt", none, None),
        ];
        for (major, line, setting, want) in rows {
            assert_eq!(
                check(*major, line, *setting, no),
                *want,
                "{major:?} {line:?} {setting:?}"
            );
        }
    }

    impl<'a> AutoPromptSetting<'a> {
        fn with_profile(self, value: &'a str) -> Self {
            AutoPromptSetting {
                profile: Some(value),
                ..self
            }
        }
    }

    #[test]
    fn aliases_are_read_after_expansion() {
        let aliases = Aliases(vec![
            ("up".into(), "s3 cp - s3://b/k".into()),
            ("down".into(), "s3 cp s3://b/k -".into()),
            ("tunnel".into(), "ssm start-session --target".into()),
            ("sh".into(), "!f() { cat; }; f".into()),
        ]);
        let none = AutoPromptSetting::default();
        for major in [V1, V2] {
            assert_eq!(check(major, "up", none, &aliases), Some(K::Reads));
            assert_eq!(check(major, "down", none, &aliases), None);
            assert_eq!(check(major, "tunnel i-1", none, &aliases), Some(K::Child));
            assert_eq!(check(major, "sh", none, &aliases), Some(K::Child));
        }
    }

    #[test]
    fn reasons_read_as_sentences() {
        let args: Vec<String> = shlex::split("s3 cp - s3://b/k").unwrap();
        let inv = argv::parse(&args, V1, &Table(V1), &Aliases::default());
        let got = stdin_use(&args, &inv, V1, AutoPromptSetting::default()).unwrap();
        assert_eq!(
            got.to_string(),
            "the command reads stdin: `s3 cp - s3://…` uploads stdin"
        );
        assert_eq!(
            StdinUse::Descriptor(STDIN).to_string(),
            "a value makes the CLI read stdin (/dev/stdin, /dev/fd/0 or /proc/…/fd/0)"
        );
    }

    #[test]
    fn last_option_reads_argparse_forms() {
        let v = |s: &str| shlex::split(s).unwrap();
        assert_eq!(
            last_option(&v("--mode interactive"), "--mode"),
            Some(Some("interactive"))
        );
        assert_eq!(
            last_option(&v("--mode=a --mode b"), "--mode"),
            Some(Some("b"))
        );
        assert_eq!(last_option(&v("--mo x"), "--mode"), Some(Some("x")));
        assert_eq!(last_option(&v("--mode --other"), "--mode"), Some(None));
        assert_eq!(last_option(&v("-- --mode x"), "--mode"), None);
        assert_eq!(last_option(&v("--"), "--mode"), None);
        assert_eq!(last_option(&v("--modes x"), "--mode"), None);
    }
}
