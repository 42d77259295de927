//! Property tests: the argv model and the readers never panic on any input,
//! and global options mean the same wherever they stand before `--`.

use crate::core::argv::{self, Aliases};
use crate::core::plan::Table;
use crate::core::{configparse, shlex, CliMajor};
use proptest::prelude::*;

/// Words an argv is made of: real commands, operations, options, values, junk.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("s3".to_string()),
        Just("sts".to_string()),
        Just("ec2".to_string()),
        Just("configure".to_string()),
        Just("help".to_string()),
        Just("ls".to_string()),
        Just("get-caller-identity".to_string()),
        Just("describe-instances".to_string()),
        Just("--region".to_string()),
        Just("--reg".to_string()),
        Just("--profile".to_string()),
        Just("--output".to_string()),
        Just("--debug".to_string()),
        Just("--no-sign-request".to_string()),
        Just("--endpoint-url".to_string()),
        Just("--version".to_string()),
        Just("--".to_string()),
        Just("-".to_string()),
        Just("".to_string()),
        Just("--region=eu-west-1".to_string()),
        "[a-z0-9:/=._-]{0,12}",
        any::<String>(),
    ]
}

/// A command line the CLI runs: command, operation, then plain arguments.
fn base() -> impl Strategy<Value = Vec<String>> {
    (
        prop_oneof![
            Just(vec!["sts", "get-caller-identity"]),
            Just(vec!["ec2", "describe-instances"]),
            Just(vec!["s3", "ls"]),
            Just(vec!["s3api", "list-buckets"]),
            Just(vec!["dynamodb", "list-tables"]),
        ],
        proptest::collection::vec("[a-z0-9]{1,8}", 0..3),
    )
        .prop_map(|(cmd, extra)| {
            let mut v: Vec<String> = cmd.into_iter().map(String::from).collect();
            // Operation arguments that are not options (e.g. an S3 path).
            if v[0] == "s3" {
                v.extend(extra.into_iter().map(|e| format!("s3://{e}")));
            }
            v
        })
}

/// Global options with their values, as whole units.
fn globals() -> impl Strategy<Value = Vec<Vec<String>>> {
    proptest::collection::vec(
        prop_oneof![
            "[a-z]{2}-[a-z]{4,7}-[1-3]".prop_map(|r| vec!["--region".into(), r]),
            "[a-z]{1,8}".prop_map(|p| vec!["--profile".into(), p]),
            prop_oneof![Just("json"), Just("text"), Just("table")]
                .prop_map(|o| vec![format!("--output={o}")]),
            Just(vec!["--debug".to_string()]),
            Just(vec!["--no-paginate".to_string()]),
            Just(vec!["--no-verify-ssl".to_string()]),
            "[a-z]{1,8}"
                .prop_map(|h| vec!["--endpoint-url".into(), format!("https://{h}.example")]),
            "[1-9][0-9]{0,2}".prop_map(|t| vec![format!("--cli-read-timeout={t}")]),
        ],
        0..4,
    )
}

fn parse(args: &[String], major: CliMajor) -> argv::Invocation {
    argv::parse(args, major, &Table(major), &Aliases::default())
}

proptest! {
    // No regression files: a failure prints its minimal input, which goes into
    // a table test.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_argv_parses_without_panicking(args in proptest::collection::vec(word(), 0..10)) {
        for major in [CliMajor::V1, CliMajor::V2] {
            let inv = parse(&args, major);
            // A usage error means no command runs.
            if inv.usage_error.is_some() {
                prop_assert!(inv.command.is_none());
            }
        }
    }

    #[test]
    fn globals_anywhere_before_the_end_mean_the_same(
        base in base(),
        globals in globals(),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 4),
    ) {
        // Up front...
        let mut front: Vec<String> = globals.iter().flatten().cloned().collect();
        front.extend(base.iter().cloned());
        // ...and each unit between two words of the base, in their order
        // (the last --region must stay last).
        let mut slots: Vec<usize> = (0..globals.len())
            .map(|i| cuts[i % cuts.len()].index(base.len() + 1))
            .collect();
        slots.sort_unstable();
        let mut spread = Vec::new();
        let mut units = globals.iter().zip(slots).peekable();
        for s in 0..=base.len() {
            while let Some((g, _)) = units.next_if(|(_, at)| *at == s) {
                spread.extend(g.iter().cloned());
            }
            spread.extend(base.get(s).cloned());
        }
        for major in [CliMajor::V1, CliMajor::V2] {
            let a = parse(&front, major);
            let b = parse(&spread, major);
            prop_assert_eq!(&a.usage_error, &b.usage_error, "{:?} vs {:?}", front, spread);
            prop_assert_eq!(&a.command, &b.command);
            prop_assert_eq!(&a.operation, &b.operation);
            prop_assert_eq!(a.region(), b.region());
            prop_assert_eq!(a.profile(), b.profile());
            prop_assert_eq!(a.globals.get("--output"), b.globals.get("--output"));
            prop_assert_eq!(a.endpoint_url(), b.endpoint_url());
            prop_assert_eq!(a.globals.flag("--debug"), b.globals.flag("--debug"));
            // The last --region wins, as in argparse.
            let last_region = globals.iter().rev().find(|g| g[0] == "--region").map(|g| g[1].as_str());
            prop_assert_eq!(a.region(), last_region);
        }
    }

    #[test]
    fn ini_reader_never_panics_and_errors_name_a_line(text in any::<String>()) {
        if let Err(e) = configparse::parse(&text) {
            prop_assert!(e.line >= 1 && e.line <= text.split('\n').count().max(1));
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn ini_reader_on_ini_shaped_text(lines in proptest::collection::vec(
        prop_oneof![
            "\\[[a-z ]{0,10}\\]",
            "[a-z_]{1,8} ?= ?[a-z0-9 ]{0,8}",
            "  [a-z_]{1,8} = [a-z]{0,5}",
            "[#;].{0,10}",
            "",
            ".{0,12}",
        ], 0..12)) {
        let text = lines.join("\n");
        if let Err(e) = configparse::parse(&text) {
            prop_assert!(e.line >= 1 && !e.message.is_empty());
        }
    }

    #[test]
    fn ini_reader_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        // The files are read as bytes and decoded lossily, as the adapters do.
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = configparse::parse(&text) {
            let prefix = format!("line {}: ", e.line);
            prop_assert!(e.to_string().starts_with(&prefix), "{}", e);
        }
    }

    #[test]
    fn nested_values_never_panic(s in any::<String>()) {
        let _ = configparse::nested(&s);
        let _ = configparse::nested(&format!("\n{s}"));
    }

    #[test]
    fn shlex_never_panics(s in any::<String>()) {
        if let Ok(words) = shlex::split(&s) {
            // Splitting the words joined by spaces, when none holds a special
            // character, gives them back.
            if words.iter().all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric())) {
                prop_assert_eq!(shlex::split(&words.join(" ")).unwrap(), words);
            }
        }
    }

    #[test]
    fn aliases_expand_without_panicking(
        name in "[a-z]{1,6}",
        value in any::<String>(),
        args in proptest::collection::vec(word(), 0..5),
    ) {
        let aliases = Aliases(vec![(name.clone(), value)]);
        let mut argv = vec![name];
        argv.extend(args);
        for major in [CliMajor::V1, CliMajor::V2] {
            let _ = argv::parse(&argv, major, &Table(major), &aliases);
        }
    }
}
