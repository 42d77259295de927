//! A service operation's own arguments, read as the CLI's operation parser
//! reads them, to say where the CLI stops before sending anything: a required
//! option missing (argparse: "the following arguments are required") or an
//! option or word the operation does not have ("Unknown options").
//!
//! Owns: the check, and when it gives no verdict. The parser of each operation
//! comes from the CLI itself (`data/op-args-v*.tsv`, `tools/gen_data.py --only
//! op-args`: awscli's `ArgTableArgParser` over the operation's argument table,
//! customizations applied, waiters as `wait/<name>`).
//!
//! Conservative by design: a wrong "stops" lets a call through unswitched that
//! the CLI does send, so anything this module is not sure of gives no verdict:
//! a name of `--cli-input-json`/`--cli-input-yaml`/`--generate-cli-skeleton`
//! (or a prefix of one: they lift the required options), `help`, `--`, a
//! `--opt=value`, a single-dash word, an empty word, a `-` word with whitespace, an abbreviation
//! that matches several options, an option without its value, and operations
//! the table does not have (customizations). Argparse allows abbreviations
//! (`allow_abbrev` is left on in both majors): a unique prefix is that option.
//! Global options are not seen here: `argv::parse` took them off the line.
//! Only for the CLI version the table was generated from: a newer CLI adds
//! options (and may make required ones optional) every release.
//! Pure.

use crate::core::argv::is_negative_number;
use crate::core::table::{sorted_line, Table, OP_ARGS_V1, OP_ARGS_V2};
use crate::core::CliMajor;

/// Options every service operation has, left out of the table.
const IMPLICIT: &[&str] = &[
    "--cli-input-json",
    "--cli-input-yaml",
    "--generate-cli-skeleton",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Nargs {
    /// Exactly one value.
    One,
    /// `store_true` / `store_false`.
    Zero,
    /// `*`: any number of values.
    Any,
    /// `+`: at least one value.
    Some,
    /// `?`: an optional value.
    Maybe,
}

#[derive(Debug)]
struct Opt {
    /// Without the leading `--`.
    name: String,
    nargs: Nargs,
    required: bool,
}

/// The options of one table line (`data/op-args-v*.tsv`'s encoding).
fn options(encoded: &str) -> Vec<Opt> {
    let mut out = Vec::new();
    for item in encoded.split(' ').filter(|s| !s.is_empty()) {
        if item == "%" {
            for name in ["starting-token", "page-size", "max-items"] {
                out.push(Opt {
                    name: name.to_string(),
                    nargs: Nargs::One,
                    required: false,
                });
            }
            continue;
        }
        let (item, required) = match item.strip_suffix('!') {
            Some(i) => (i, true),
            None => (item, false),
        };
        let (name, nargs) = match item.as_bytes().last() {
            Some(b'0') => (&item[..item.len() - 1], Nargs::Zero),
            Some(b'*') => (&item[..item.len() - 1], Nargs::Any),
            Some(b'+') => (&item[..item.len() - 1], Nargs::Some),
            Some(b'?') => (&item[..item.len() - 1], Nargs::Maybe),
            Some(b'~') => {
                let name = &item[..item.len() - 1];
                for n in [name.to_string(), format!("no-{name}")] {
                    out.push(Opt {
                        name: n,
                        nargs: Nargs::Zero,
                        required: false,
                    });
                }
                continue;
            }
            _ => (item, Nargs::One),
        };
        out.push(Opt {
            name: name.to_string(),
            nargs,
            required,
        });
    }
    out
}

fn table(major: CliMajor) -> &'static Table {
    match major {
        CliMajor::V1 => &OP_ARGS_V1,
        CliMajor::V2 => &OP_ARGS_V2,
    }
}

/// The CLI version the major's table was generated from (its header line
/// `# awscli X botocore …`).
pub fn data_version(major: CliMajor) -> Option<&'static str> {
    table(major)
        .text
        .strip_prefix("# awscli ")?
        .split(' ')
        .next()
}

/// The table's line for `command operation` (waiters: `wait` and the
/// waiter's name, first of `rest`), and the tokens its parser reads.
fn parser_line<'a>(
    major: CliMajor,
    command: &str,
    operation: &str,
    rest: &'a [String],
) -> Option<(&'static str, &'a [String])> {
    let block = table(major).record(command)?;
    let (key, args) = if operation == "wait" {
        // `wait`'s own parser takes the first word as the waiter; options
        // before it are not modelled.
        let (waiter, args) = rest.split_first()?;
        if waiter.starts_with('-') {
            return None;
        }
        (format!("wait/{waiter}"), args)
    } else if operation.contains('/') {
        return None;
    } else {
        (operation.to_string(), rest)
    };
    let line = sorted_line(block, &key)?;
    Some((line.split_once('\t').map_or("", |(_, o)| o), args))
}

/// Why the CLI stops on this service operation's arguments before sending
/// anything, when it certainly does; `None` when it does not or when unsure.
/// `rest` is the operation's tokens (`Invocation::rest`); `cli_version` the
/// running CLI's (`aws --version`): no verdict unless it is the table's.
pub fn stops(
    major: CliMajor,
    cli_version: Option<&str>,
    command: &str,
    operation: &str,
    rest: &[String],
) -> Option<String> {
    if cli_version.is_none() || cli_version != data_version(major) {
        return None;
    }
    let (encoded, args) = parser_line(major, command, operation, rest)?;
    // What this module does not model: no verdict.
    for a in args {
        // An empty word taken by the parser's `help` positional is dropped
        // (`elif parsed_args.help:` is false for it).
        // A word starting with `-` and holding a space is a value to argparse.
        let spaced_dash = a.starts_with('-') && a.chars().any(char::is_whitespace);
        if a.is_empty() || a == "help" || a == "--" || spaced_dash {
            return None;
        }
        if let Some(name) = a.strip_prefix("--") {
            if name.contains('=') {
                return None;
            }
            let full = format!("--{name}");
            if IMPLICIT
                .iter()
                .any(|i| i.starts_with(&full) || full.starts_with(i))
            {
                return None;
            }
        } else if a.starts_with('-') && a.len() > 1 && !is_negative_number(a) {
            return None;
        }
    }
    let opts = options(encoded);
    let mut seen = vec![false; opts.len()];
    let mut unknown: Vec<&str> = Vec::new();
    let is_value = |a: &String| !a.starts_with("--");
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let Some(name) = a.strip_prefix("--") else {
            // A word no option took: the parser's `help` positional or its
            // extras, both reported as unknown.
            unknown.push(a);
            i += 1;
            continue;
        };
        let found = match opts.iter().position(|o| o.name == name) {
            Some(k) => Some(k),
            None => {
                let mut matches = opts
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| o.name.starts_with(name));
                match (matches.next(), matches.next()) {
                    (Some((k, _)), None) => Some(k),
                    // Ambiguous abbreviation: argparse stops, not modelled.
                    (Some(_), Some(_)) => return None,
                    (None, _) => None,
                }
            }
        };
        i += 1;
        let Some(k) = found else {
            unknown.push(a);
            continue;
        };
        seen[k] = true;
        let values = args[i..].iter().take_while(|a| is_value(a)).count();
        i += match opts[k].nargs {
            Nargs::Zero => 0,
            Nargs::One | Nargs::Some if values == 0 => return None,
            Nargs::One => 1,
            Nargs::Maybe => values.min(1),
            Nargs::Any | Nargs::Some => values,
        };
    }
    let missing: Vec<String> = opts
        .iter()
        .zip(&seen)
        .filter(|(o, s)| o.required && !**s)
        .map(|(o, _)| format!("--{}", o.name))
        .collect();
    if !missing.is_empty() {
        return Some(format!(
            "required {} missing (argparse: the following arguments are required)",
            missing.join(", ")
        ));
    }
    if !unknown.is_empty() {
        return Some(format!("Unknown options: {}", unknown.join(", ")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(major: CliMajor, line: &str) -> Option<String> {
        let words = crate::core::shlex::split(line).unwrap();
        stops(
            major,
            data_version(major),
            &words[0],
            &words[1],
            &words[2..],
        )
    }

    #[test]
    fn verdicts_table() {
        use CliMajor::{V1, V2};
        // (major, command operation args..., stops?)
        let rows: &[(CliMajor, &str, bool)] = &[
            // Valid calls.
            (V1, "sts get-caller-identity", false),
            (V2, "sts get-caller-identity", false),
            (V1, "ec2 describe-instances --instance-ids i-1", false),
            (V2, "ec2 describe-instances --instance-ids i-1 i-2", false),
            (V1, "ec2 describe-instances --dry-run", false),
            (V1, "ec2 describe-instances --no-dry-run", false),
            (
                V2,
                "ec2 describe-instances --max-items 5 --page-size 2",
                false,
            ),
            (
                V1,
                "ec2 describe-instances --filters Name=a,Values=b",
                false,
            ),
            (
                V1,
                "kms re-encrypt --ciphertext-blob x --destination-key-id k",
                false,
            ),
            (V1, "ec2 wait instance-running --instance-ids i-1", false),
            (V2, "ec2 run-instances --image-id ami-1 --count -1", false),
            // Missing required options.
            (V1, "kms re-encrypt", true),
            (V2, "kms re-encrypt", true),
            (V1, "kms re-encrypt --ciphertext-blob x", true),
            (V1, "rekognition start-face-detection", true),
            // Unknown options and stray words.
            (V1, "sts get-caller-identity --nosuch", true),
            (V2, "sts get-caller-identity --nosuch x", true),
            (V1, "sts get-caller-identity stray", true),
            (
                V2,
                "ec2 describe-instances --instance-ids i-1 --bogus",
                true,
            ),
            (V1, "ec2 wait instance-running --nosuch", true),
            // Abbreviations argparse accepts: a unique prefix is the option.
            (V1, "ec2 describe-instances --instance i-1", false),
            (
                V1,
                "kms re-encrypt --ciphertext x --destination-key k",
                false,
            ),
            // No verdict when unsure.
            (V1, "kms re-encrypt --cli-input-json file://x", false),
            (V2, "kms re-encrypt --cli-input-yaml file://x", false),
            (V1, "kms re-encrypt --cli-input-j file://x", false),
            (V1, "kms re-encrypt --generate-cli-skeleton", false),
            (V2, "kms re-encrypt --generate-cli-skeleton output", false),
            (V1, "kms re-encrypt --gen", false),
            (V1, "kms re-encrypt help", false),
            (V1, "kms re-encrypt --ciphertext-blob=x", false),
            (V1, "sts get-caller-identity --nosuch=1", false),
            (V1, "kms re-encrypt -- --x", false),
            (V1, "kms re-encrypt -x", false),
            (V1, "kms re-encrypt '--a b'", false),
            (V1, "swf deprecate-domain --name d ''", false),
            (V1, "sts get-caller-identity 'a b'", true),
            (
                V1,
                "kms re-encrypt --ciphertext-blob 'a b' --destination-key-id k",
                false,
            ),
            // Ambiguous abbreviation, option without its value.
            (V1, "ec2 describe-instances --n", false),
            (
                V1,
                "kms re-encrypt --ciphertext-blob --destination-key-id k",
                false,
            ),
            // Operations the table does not have: customizations.
            (V1, "s3 cp a b --nosuch", false),
            (V2, "deploy push --nosuch", false),
            (V1, "ec2 wait --instance-ids i-1 instance-running", false),
            (V1, "nosuch thing --x", false),
        ];
        for (major, line, want) in rows {
            let got = check(*major, line);
            assert_eq!(got.is_some(), *want, "{major:?} {line:?}: {got:?}");
        }
    }

    #[test]
    fn only_for_the_cli_version_of_the_table() {
        assert_eq!(data_version(CliMajor::V1), Some("1.45.11"));
        assert_eq!(data_version(CliMajor::V2), Some("2.36.7"));
        let rest = vec!["--nosuch".to_string()];
        let get = |major, version| stops(major, version, "sts", "get-caller-identity", &rest);
        assert!(get(CliMajor::V1, Some("1.45.11")).is_some());
        assert_eq!(get(CliMajor::V1, Some("1.45.12")), None);
        assert_eq!(get(CliMajor::V1, None), None);
        assert_eq!(get(CliMajor::V2, Some("1.45.11")), None);
    }

    #[test]
    fn reasons_name_the_options() {
        let why = check(CliMajor::V1, "kms re-encrypt --ciphertext-blob x").unwrap();
        assert!(why.contains("--destination-key-id"), "{why}");
        assert!(!why.contains("--ciphertext-blob"), "{why}");
        let why = check(CliMajor::V2, "sts get-caller-identity --tag x").unwrap();
        assert_eq!(why, "Unknown options: --tag, x");
    }

    #[test]
    fn table_encoding() {
        let o = options("a! b0 c~ d* e+ f? %");
        let names: Vec<(&str, Nargs, bool)> = o
            .iter()
            .map(|o| (o.name.as_str(), o.nargs, o.required))
            .collect();
        assert_eq!(
            names,
            vec![
                ("a", Nargs::One, true),
                ("b", Nargs::Zero, false),
                ("c", Nargs::Zero, false),
                ("no-c", Nargs::Zero, false),
                ("d", Nargs::Any, false),
                ("e", Nargs::Some, false),
                ("f", Nargs::Maybe, false),
                ("starting-token", Nargs::One, false),
                ("page-size", Nargs::One, false),
                ("max-items", Nargs::One, false),
            ]
        );
    }
}
