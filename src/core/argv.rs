//! The AWS CLI's top-level command line, read exactly as the CLI's argparse reads it.
//!
//! Owns: global options (anywhere, last wins, `--opt=value`, unique-prefix
//! abbreviations, `--`), the command and its operation, and `[toplevel]` alias
//! expansion. It is a port of the parts of Python's `argparse._parse_known_args`
//! that the CLI's `MainArgParser` and `ServiceArgParser` exercise, so that a
//! token is an option, a value or a positional here exactly when it is one there.
//! Pure: tokens, the CLI's major version, the command table and the alias table
//! in; an [`Invocation`] out. The raw `OsString` argv is never rewritten here.

use crate::core::shlex;
use crate::core::CliMajor;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Takes exactly one value.
    Value,
    /// `store_true` / `store_false`.
    Flag,
    /// `--version`: prints and exits (no AWS call).
    Version,
}

struct OptSpec {
    name: &'static str,
    kind: Kind,
    choices: &'static [&'static str],
}

const fn v(name: &'static str) -> OptSpec {
    OptSpec {
        name,
        kind: Kind::Value,
        choices: &[],
    }
}
const fn c(name: &'static str, choices: &'static [&'static str]) -> OptSpec {
    OptSpec {
        name,
        kind: Kind::Value,
        choices,
    }
}
const fn f(name: &'static str) -> OptSpec {
    OptSpec {
        name,
        kind: Kind::Flag,
        choices: &[],
    }
}

/// awscli 1.x `data/cli.json`, in its order.
const V1_OPTIONS: &[OptSpec] = &[
    f("--debug"),
    v("--endpoint-url"),
    f("--no-verify-ssl"),
    f("--no-paginate"),
    c("--output", &["json", "text", "table"]),
    v("--query"),
    v("--profile"),
    v("--region"),
    OptSpec {
        name: "--version",
        kind: Kind::Version,
        choices: &[],
    },
    c("--color", &["on", "off", "auto"]),
    f("--no-sign-request"),
    v("--ca-bundle"),
    v("--cli-read-timeout"),
    v("--cli-connect-timeout"),
    f("--v2-debug"),
];

/// awscli 2.x `data/cli.json`, in its order.
const V2_OPTIONS: &[OptSpec] = &[
    f("--debug"),
    v("--endpoint-url"),
    f("--no-verify-ssl"),
    f("--no-paginate"),
    c(
        "--output",
        &["json", "text", "table", "yaml", "yaml-stream", "off"],
    ),
    v("--query"),
    v("--profile"),
    v("--region"),
    OptSpec {
        name: "--version",
        kind: Kind::Version,
        choices: &[],
    },
    c("--color", &["on", "off", "auto"]),
    f("--no-sign-request"),
    v("--ca-bundle"),
    v("--cli-read-timeout"),
    v("--cli-connect-timeout"),
    c("--cli-binary-format", &["base64", "raw-in-base64-out"]),
    f("--no-cli-pager"),
    f("--cli-auto-prompt"),
    f("--no-cli-auto-prompt"),
    c(
        "--cli-error-format",
        &["legacy", "json", "yaml", "text", "table", "enhanced"],
    ),
];

fn options(major: CliMajor) -> &'static [OptSpec] {
    match major {
        CliMajor::V1 => V1_OPTIONS,
        CliMajor::V2 => V2_OPTIONS,
    }
}

/// The global options as parsed: option name (with `--`) → value (`""` for flags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Globals(BTreeMap<&'static str, String>);

impl Globals {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
    pub fn flag(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str()))
    }
}

/// What the command table says a name is. Supplied by the caller so that this
/// module stays independent of the generated data.
pub trait CommandTable {
    fn is_command(&self, name: &str) -> bool;
    /// Does the command's parser accept this subcommand? (`true` when unknown.)
    fn accepts_operation(&self, _command: &str, _op: &str) -> bool {
        true
    }
    /// Does the command stop with a usage error when no subcommand is given?
    fn requires_operation(&self, _command: &str) -> bool {
        false
    }
}

/// `[toplevel]` aliases of `~/.aws/cli/alias`, values already stripped.
#[derive(Debug, Clone, Default)]
pub struct Aliases(pub Vec<(String, String)>);

impl Aliases {
    fn get(&self, name: &str) -> Option<&str> {
        // configparser keeps the last of equal keys only when they differ in
        // case; keys are lower-cased, so the first match is the only match.
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasUse {
    pub name: String,
    pub value: String,
}

/// The command line as the CLI will act on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    pub globals: Globals,
    /// The command that will run, after alias expansion (e.g. `s3`).
    pub command: Option<String>,
    /// Aliases expanded on the way, outermost first.
    pub aliases: Vec<AliasUse>,
    /// The alias that runs a shell command (`!…`): nothing can be predicted.
    pub external_alias: Option<AliasUse>,
    /// The subcommand (`ls`, `get-caller-identity`).
    pub operation: Option<String>,
    /// Tokens after the operation, in order (operation parameters).
    pub rest: Vec<String>,
    /// Set when the CLI would stop with a usage error before any call.
    pub usage_error: Option<String>,
}

impl Invocation {
    pub fn region(&self) -> Option<&str> {
        self.globals.get("--region")
    }
    pub fn profile(&self) -> Option<&str> {
        self.globals.get("--profile")
    }
    pub fn endpoint_url(&self) -> Option<&str> {
        self.globals.get("--endpoint-url")
    }
    pub fn no_sign_request(&self) -> bool {
        self.globals.flag("--no-sign-request")
    }
    pub fn version_flag(&self) -> bool {
        self.globals.flag("--version")
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pat {
    /// An option-like token (known option, abbreviation, or unknown `-x`).
    O,
    /// A positional-like token.
    A,
    /// `--`.
    Dash,
}

/// `_parse_optional`'s answer for an option-like token.
struct Optional {
    spec: Option<&'static OptSpec>,
    explicit: Option<String>,
}

fn parse_optional(arg: &str, opts: &'static [OptSpec]) -> Result<Option<Optional>, UsageError> {
    if !arg.starts_with('-') {
        return Ok(None);
    }
    if let Some(spec) = opts.iter().find(|o| o.name == arg) {
        return Ok(Some(Optional {
            spec: Some(spec),
            explicit: None,
        }));
    }
    if arg.len() == 1 {
        return Ok(None);
    }
    if let Some((name, value)) = arg.split_once('=') {
        if let Some(spec) = opts.iter().find(|o| o.name == name) {
            return Ok(Some(Optional {
                spec: Some(spec),
                explicit: Some(value.to_string()),
            }));
        }
    }
    // Abbreviations: only `--x` forms can match, all global options being long.
    if arg.starts_with("--") {
        let (prefix, explicit) = match arg.split_once('=') {
            Some((p, e)) => (p, Some(e.to_string())),
            None => (arg, None),
        };
        let matches: Vec<&'static OptSpec> =
            opts.iter().filter(|o| o.name.starts_with(prefix)).collect();
        if matches.len() > 1 {
            let names: Vec<&str> = matches.iter().map(|o| o.name).collect();
            return Err(UsageError(format!(
                "ambiguous option: {prefix} could match {}",
                names.join(", ")
            )));
        }
        if let Some(spec) = matches.first() {
            return Ok(Some(Optional {
                spec: Some(spec),
                explicit,
            }));
        }
    }
    if is_negative_number(arg) {
        return Ok(None);
    }
    if arg.contains(' ') {
        return Ok(None);
    }
    Ok(Some(Optional {
        spec: None,
        explicit: None,
    }))
}

/// argparse's `^-\d+$|^-\d*\.\d+$`: a negative number is a value, not an option
/// (Python's `\d` is Unicode digits; ASCII covers real use).
pub(crate) fn is_negative_number(arg: &str) -> bool {
    let Some(rest) = arg.strip_prefix('-') else {
        return false;
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !rest.is_empty() && digits(rest) {
        return true;
    }
    match rest.split_once('.') {
        Some((a, b)) => digits(a) && !b.is_empty() && digits(b),
        None => false,
    }
}

/// Result of one `parse_known_args` run of a parser with one positional.
/// The CLI's argparse stopped with this message (it prints usage and exits 252).
#[derive(Debug, Clone, PartialEq, Eq)]
struct UsageError(String);

struct Known {
    positional: Option<String>,
    extras: Vec<String>,
}

/// A port of `ArgumentParser._parse_known_args` for a parser made of `opts` and a
/// single positional of `nargs=None`; values are stored into `globals`.
fn parse_known(
    args: &[String],
    opts: &'static [OptSpec],
    globals: &mut Globals,
    choice: &dyn Fn(&str) -> bool,
) -> Result<Known, UsageError> {
    // Classify every token, as argparse does before consuming anything.
    let mut pats = Vec::with_capacity(args.len());
    let mut optionals: Vec<Option<Optional>> = Vec::with_capacity(args.len());
    let mut after_dashdash = false;
    for a in args {
        if after_dashdash {
            pats.push(Pat::A);
            optionals.push(None);
        } else if a == "--" {
            after_dashdash = true;
            pats.push(Pat::Dash);
            optionals.push(None);
        } else {
            match parse_optional(a, opts)? {
                Some(o) => {
                    pats.push(Pat::O);
                    optionals.push(Some(o));
                }
                None => {
                    pats.push(Pat::A);
                    optionals.push(None);
                }
            }
        }
    }

    let mut extras = Vec::new();
    let mut positional: Option<String> = None;
    let mut positional_pending = true;

    // consume_positionals: pattern `-*A-*` at `start`.
    let consume_positional = |start: usize,
                              pending: &mut bool,
                              positional: &mut Option<String>|
     -> Result<usize, UsageError> {
        if !*pending {
            return Ok(start);
        }
        let mut i = start;
        while i < pats.len() && pats[i] == Pat::Dash {
            i += 1;
        }
        if i >= pats.len() || pats[i] != Pat::A {
            return Ok(start);
        }
        i += 1;
        while i < pats.len() && pats[i] == Pat::Dash {
            i += 1;
        }
        let mut taken: Vec<&String> = args[start..i].iter().collect();
        if let Some(p) = taken.iter().position(|s| s.as_str() == "--") {
            taken.remove(p);
        }
        if taken.len() != 1 {
            return Err(UsageError(format!("invalid choice: {:?}", taken)));
        }
        // argparse checks the choice as it consumes the positional, so this
        // error comes before anything later on the line (a later --version too).
        if !choice(taken[0]) {
            return Err(UsageError(format!("invalid choice: {:?}", taken[0])));
        }
        *positional = Some(taken[0].clone());
        *pending = false;
        Ok(i)
    };

    let option_indices: Vec<usize> = (0..pats.len()).filter(|&i| pats[i] == Pat::O).collect();
    let mut start = 0usize;
    if let Some(&max_opt) = option_indices.last() {
        while start <= max_opt {
            let next_opt = *option_indices.iter().find(|&&i| i >= start).unwrap();
            if start != next_opt {
                let end = consume_positional(start, &mut positional_pending, &mut positional)?;
                if end > start {
                    start = end;
                    continue;
                }
            }
            if pats[start] != Pat::O {
                extras.extend(args[start..next_opt].iter().cloned());
                start = next_opt;
            }
            // consume_optional(start)
            let o = optionals[start].as_ref().expect("option index");
            match o.spec {
                None => {
                    extras.push(args[start].clone());
                    start += 1;
                }
                Some(spec) => match spec.kind {
                    Kind::Flag | Kind::Version => {
                        if o.explicit.is_some() {
                            return Err(UsageError(format!(
                                "{}: ignored explicit argument",
                                spec.name
                            )));
                        }
                        globals.0.insert(spec.name, String::new());
                        start += 1;
                        if spec.kind == Kind::Version {
                            // argparse prints the version and exits right here:
                            // nothing after it is looked at.
                            return Ok(Known { positional, extras });
                        }
                    }
                    Kind::Value => {
                        let value = match &o.explicit {
                            Some(e) => {
                                start += 1;
                                e.clone()
                            }
                            None => {
                                if start + 1 < pats.len() && pats[start + 1] == Pat::A {
                                    start += 2;
                                    args[start - 1].clone()
                                } else {
                                    return Err(UsageError(format!(
                                        "{}: expected one argument",
                                        spec.name
                                    )));
                                }
                            }
                        };
                        if !spec.choices.is_empty() && !spec.choices.contains(&value.as_str()) {
                            return Err(UsageError(format!(
                                "argument {}: Invalid choice {:?}",
                                spec.name, value
                            )));
                        }
                        globals.0.insert(spec.name, value);
                    }
                },
            }
        }
    }
    let stop = consume_positional(start, &mut positional_pending, &mut positional)?;
    extras.extend(args[stop..].iter().cloned());
    Ok(Known { positional, extras })
}

/// Python's `int(str)`: optional sign, digits with single underscores, spaces around.
fn is_python_int(s: &str) -> bool {
    let s = s.trim();
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    !s.is_empty()
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
        && s.chars().all(|c| c.is_ascii_digit() || c == '_')
}

/// Reads the CLI's argv (program name removed).
pub fn parse(
    args: &[String],
    major: CliMajor,
    table: &dyn CommandTable,
    aliases: &Aliases,
) -> Invocation {
    let mut inv = Invocation::default();
    if let Err(e) = parse_into(args, major, table, aliases, &mut inv) {
        // The CLI stops: no command runs, whatever was read so far.
        inv.usage_error = Some(e.0);
        inv.command = None;
        inv.operation = None;
    }
    inv
}

fn parse_into(
    args: &[String],
    major: CliMajor,
    table: &dyn CommandTable,
    aliases: &Aliases,
    inv: &mut Invocation,
) -> Result<(), UsageError> {
    let opts = options(major);
    let is_choice = |c: &str| table.is_command(c) || aliases.get(c).is_some();
    let known = parse_known(args, opts, &mut inv.globals, &is_choice)?;
    if inv.version_flag() {
        // argparse runs the version action as soon as it meets it.
        return Ok(());
    }
    // The timeouts are converted to int after parsing, last value only; a bad one
    // stops the CLI before any call.
    for name in ["--cli-read-timeout", "--cli-connect-timeout"] {
        if let Some(v) = inv.globals.get(name) {
            if !is_python_int(v) {
                return Err(UsageError(format!("{name}: invalid int value: {v:?}")));
            }
        }
    }
    let Some(mut command) = known.positional else {
        return Err(UsageError(
            "the following arguments are required: command".to_string(),
        ));
    };
    let mut remaining = known.extras;
    // Alias expansion: an alias shadows a command of the same name; its own
    // global options override the user's; its tokens come before the user's.
    let mut depth = 0;
    while let Some(value) = aliases.get(&command) {
        let use_ = AliasUse {
            name: command.clone(),
            value: value.to_string(),
        };
        if value.starts_with('!') {
            inv.external_alias = Some(use_);
            inv.command = None;
            return Ok(());
        }
        let was_shadowing = table.is_command(&command);
        let alias_name = command.clone();
        inv.aliases.push(use_);
        depth += 1;
        if depth > 16 {
            return Err(UsageError(format!(
                "alias {alias_name:?} expands into itself"
            )));
        }
        let words = shlex::split(value)
            .map_err(|e| UsageError(format!("alias {alias_name:?} could not be parsed: {e}")))?;
        let words: Vec<String> = words
            .into_iter()
            .map(|w| w.trim_matches('\n').to_string())
            .collect();
        let mut alias_globals = Globals::default();
        let known = parse_known(&words, opts, &mut alias_globals, &is_choice)?;
        for (name, _) in alias_globals.iter() {
            if matches!(name, "--debug" | "--profile") {
                return Err(UsageError(format!(
                    "Global parameter \"{name}\" detected in alias \"{alias_name}\" which is not supported in subcommand aliases."
                )));
            }
        }
        for (name, value) in alias_globals.0 {
            inv.globals.0.insert(name, value);
        }
        let Some(target) = known.positional else {
            return Err(UsageError(format!("alias {alias_name:?} names no command")));
        };
        let mut r = known.extras;
        r.extend(remaining);
        remaining = r;
        if target == alias_name && was_shadowing {
            // The alias proxies to the built-in command it shadows.
            command = target;
            break;
        }
        if !table.is_command(&target) && aliases.get(&target).is_none() {
            return Err(UsageError(format!("invalid choice: {target:?}")));
        }
        command = target;
    }
    if !table.is_command(&command) {
        return Err(UsageError(format!("invalid choice: {command:?}")));
    }
    inv.command = Some(command.clone());
    // ServiceArgParser: no options, one positional (the operation).
    let mut none = Globals::default();
    let known = parse_known(&remaining, &[], &mut none, &|op| {
        table.accepts_operation(&command, op)
    })?;
    if known.positional.is_none() && table.requires_operation(&command) {
        return Err(UsageError(format!(
            "{command}: the following arguments are required: operation"
        )));
    }
    inv.operation = known.positional;
    inv.rest = known.extras;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Table;
    impl CommandTable for Table {
        fn is_command(&self, name: &str) -> bool {
            matches!(
                name,
                "s3" | "s3api" | "ec2" | "sts" | "sns" | "help" | "configure" | "iam"
            )
        }
    }

    fn p(line: &str) -> Invocation {
        p_alias(line, &[])
    }
    fn p_alias(line: &str, aliases: &[(&str, &str)]) -> Invocation {
        let args: Vec<String> = shlex::split(line).unwrap();
        let aliases = Aliases(
            aliases
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        );
        parse(&args, CliMajor::V1, &Table, &aliases)
    }

    #[test]
    fn command_operation_region_table() {
        // (argv, command, operation, region, profile, usage error?)
        type Row = (
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
            bool,
        );
        let rows: &[Row] = &[
            ("s3 ls", Some("s3"), Some("ls"), None, None, false),
            (
                "--region eu-west-1 s3 ls",
                Some("s3"),
                Some("ls"),
                Some("eu-west-1"),
                None,
                false,
            ),
            (
                "s3 ls --region eu-west-1",
                Some("s3"),
                Some("ls"),
                Some("eu-west-1"),
                None,
                false,
            ),
            (
                "s3 --region=a ls --region b",
                Some("s3"),
                Some("ls"),
                Some("b"),
                None,
                false,
            ),
            (
                "s3 ls --reg eu-west-2",
                Some("s3"),
                Some("ls"),
                Some("eu-west-2"),
                None,
                false,
            ),
            (
                "s3 ls --reg=eu-west-3",
                Some("s3"),
                Some("ls"),
                Some("eu-west-3"),
                None,
                false,
            ),
            (
                "--p dev sts get-caller-identity",
                Some("sts"),
                Some("get-caller-identity"),
                None,
                Some("dev"),
                false,
            ),
            (
                "ec2 describe-instances --filters Name=a,Values=b",
                Some("ec2"),
                Some("describe-instances"),
                None,
                None,
                false,
            ),
            ("s3 ls --no", None, None, None, None, true),
            ("s3 ls --region", None, None, None, None, true),
            ("s3 ls --region --output json", None, None, None, None, true),
            ("--output xml s3 ls", None, None, None, None, true),
            ("--debug=1 s3 ls", None, None, None, None, true),
            ("nosuch thing", None, None, None, None, true),
            ("", None, None, None, None, true),
            ("-- s3 ls", Some("s3"), Some("ls"), None, None, false),
            ("s3 -- ls", Some("s3"), Some("ls"), None, None, false),
            (
                "s3 ls -- --region x",
                Some("s3"),
                Some("ls"),
                None,
                None,
                false,
            ),
            (
                "--region -1 s3 ls",
                Some("s3"),
                Some("ls"),
                Some("-1"),
                None,
                false,
            ),
            (
                "s3 ls --cli-read-timeout 5",
                Some("s3"),
                Some("ls"),
                None,
                None,
                false,
            ),
            (
                "s3 ls --cli-read-timeout five",
                None,
                None,
                None,
                None,
                true,
            ),
            (
                "sns subscribe --endpoint x --protocol email",
                Some("sns"),
                Some("subscribe"),
                None,
                None,
                false,
            ),
        ];
        for (line, cmd, op, region, profile, err) in rows {
            let inv = p(line);
            assert_eq!(
                inv.usage_error.is_some(),
                *err,
                "{line:?}: {:?}",
                inv.usage_error
            );
            if *err {
                continue;
            }
            assert_eq!(inv.command.as_deref(), *cmd, "{line:?}");
            assert_eq!(inv.operation.as_deref(), *op, "{line:?}");
            assert_eq!(inv.region(), *region, "{line:?}");
            assert_eq!(inv.profile(), *profile, "{line:?}");
        }
    }

    #[test]
    fn abbreviated_endpoint_is_swallowed_as_endpoint_url() {
        let inv = p("sns subscribe --endpoint https://x --protocol email");
        assert_eq!(inv.endpoint_url(), Some("https://x"));
        assert_eq!(inv.rest, vec!["--protocol", "email"]);
    }

    #[test]
    fn version_and_flags() {
        assert!(p("--version").version_flag());
        assert!(p("s3 ls --vers").version_flag());
        assert!(p("s3 ls --no-sign").no_sign_request());
    }

    #[test]
    fn aliases_expand_like_the_cli() {
        let inv = p_alias(
            "whoami",
            &[("whoami", "sts get-caller-identity --region ap-northeast-1")],
        );
        assert_eq!(inv.command.as_deref(), Some("sts"));
        assert_eq!(inv.operation.as_deref(), Some("get-caller-identity"));
        assert_eq!(inv.region(), Some("ap-northeast-1"));
        // The alias's global wins over the user's.
        let inv = p_alias(
            "--region x whoami",
            &[("whoami", "sts get-caller-identity --region y")],
        );
        assert_eq!(inv.region(), Some("y"));
        // Shadowing a built-in command and proxying to it.
        let inv = p_alias("ec2 describe-vpcs", &[("ec2", "ec2 --region z")]);
        assert_eq!(inv.command.as_deref(), Some("ec2"));
        assert_eq!(inv.operation.as_deref(), Some("describe-vpcs"));
        assert_eq!(inv.region(), Some("z"));
        // Alias to alias.
        let inv = p_alias("a", &[("a", "b --region r"), ("b", "s3 ls")]);
        assert_eq!(inv.command.as_deref(), Some("s3"));
        assert_eq!(inv.operation.as_deref(), Some("ls"));
        // Shell aliases: unpredictable.
        let inv = p_alias("sh x", &[("sh", "!f() { aws s3 ls; }; f")]);
        assert!(inv.external_alias.is_some());
        assert_eq!(inv.command, None);
        // --profile in an alias is an error in the CLI.
        assert!(
            p_alias("w", &[("w", "sts get-caller-identity --profile p")])
                .usage_error
                .is_some()
        );
        assert!(p_alias("w", &[("w", "'unclosed")]).usage_error.is_some());
        assert!(p_alias("a", &[("a", "b"), ("b", "a")])
            .usage_error
            .is_some());
    }

    #[test]
    fn v2_options_differ() {
        let args: Vec<String> = shlex::split("s3 ls --no-cli-pager --output yaml").unwrap();
        let inv = parse(&args, CliMajor::V2, &Table, &Aliases::default());
        assert!(inv.usage_error.is_none());
        assert_eq!(inv.globals.get("--output"), Some("yaml"));
        let inv = parse(&args, CliMajor::V1, &Table, &Aliases::default());
        assert!(inv.usage_error.is_some());
    }
}
