//! What a parsed command line will call: never anything (local-only commands,
//! help, usage errors), something unpredictable (shell aliases), or a set of
//! botocore services plus the S3 buckets named in the argv.
//!
//! Owns: the local-only list, the customizations that call more services than
//! their command names (the union is taken), and bucket extraction. Pure.

use crate::core::argv::Invocation;
use crate::core::command_table::{lookup_command, CommandKind};
use crate::core::CliMajor;

/// What kind of command line it is, as `explain` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Calls AWS services: the only kind c9aws may switch.
    Calls,
    Local,
    Unpredictable,
    /// The CLI stops before sending anything (no such profile, no region …).
    Fails,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Calls => "calls",
            Kind::Local => "local",
            Kind::Unpredictable => "unpredictable",
            Kind::Fails => "fails",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Makes no AWS call that credentials matter for: never switch.
    Local(String),
    /// The CLI stops before calling anything, or the target cannot be known.
    Unpredictable(String),
    /// Calls these botocore services (primary first).
    Calls {
        services: Vec<String>,
        buckets: Vec<String>,
    },
}

impl Target {
    pub fn kind(&self) -> Kind {
        match self {
            Target::Local(_) => Kind::Local,
            Target::Unpredictable(_) => Kind::Unpredictable,
            Target::Calls { .. } => Kind::Calls,
        }
    }
}

/// Commands that never reach an AWS service with the caller's credentials.
const LOCAL_COMMANDS: &[&str] = &[
    "configure",
    "history",
    "help",
    "cli-dev",
    "update",
    "login",
    "logout",
];

/// The clients of a customization, as against its command's own service.
enum Clients {
    /// These as well.
    Add(&'static [&'static str]),
    /// Only these (the command's service is never called).
    Only(&'static [&'static str]),
}

/// Customizations whose clients differ from their command's service:
/// (command, operation, only when this option is given, clients). From the
/// awscli sources (`customizations/`), v1 and v2 alike, checked against the
/// running CLI by tests/differential/trace.py.
const CUSTOM_CLIENTS: &[(&str, &str, Option<&str>, Clients)] = &[
    // package.py uploads with an s3 client and never calls CloudFormation.
    ("cloudformation", "package", None, Clients::Only(&["s3"])),
    // deploy.py creates its s3 client only for --s3-bucket.
    (
        "cloudformation",
        "deploy",
        Some("--s3-bucket"),
        Clients::Add(&["s3"]),
    ),
    // validation.py: organizations first, s3 per digest bucket afterwards.
    (
        "cloudtrail",
        "validate-logs",
        None,
        Clients::Add(&["s3", "organizations"]),
    ),
    // subscribe.py: sts (the account id), s3 and sns set up before cloudtrail.
    (
        "cloudtrail",
        "create-subscription",
        None,
        Clients::Add(&["sts", "s3", "sns"]),
    ),
    (
        "cloudtrail",
        "update-subscription",
        None,
        Clients::Add(&["sts", "s3", "sns"]),
    ),
    ("deploy", "push", None, Clients::Add(&["s3"])),
    ("deploy", "register", None, Clients::Add(&["iam"])),
    ("deploy", "deregister", None, Clients::Add(&["iam"])),
    ("ecs", "deploy", None, Clients::Add(&["codedeploy"])),
    // createdefaultroles.py: iam, and an emr client of its own.
    ("emr", "create-default-roles", None, Clients::Add(&["iam"])),
    (
        "datapipeline",
        "create-default-roles",
        None,
        Clients::Add(&["iam"]),
    ),
    ("dlm", "create-default-role", None, Clients::Only(&["iam"])),
    // get_token.py presigns sts GetCallerIdentity (AssumeRole first with
    // --role-arn); no eks client.
    ("eks", "get-token", None, Clients::Only(&["sts"])),
    // emrcontainers: eks DescribeCluster (then iam for the trust policy).
    (
        "emr-containers",
        "update-role-trust-policy",
        None,
        Clients::Only(&["eks", "iam"]),
    ),
    (
        "emr-containers",
        "create-role-associations",
        None,
        Clients::Only(&["eks"]),
    ),
    (
        "emr-containers",
        "delete-role-associations",
        None,
        Clients::Only(&["eks"]),
    ),
    ("gamelift", "upload-build", None, Clients::Add(&["s3"])),
    (
        "configservice",
        "subscribe",
        None,
        Clients::Add(&["s3", "sns"]),
    ),
    ("opsworks", "register", None, Clients::Add(&["iam", "sts"])),
    ("ec2-instance-connect", "ssh", None, Clients::Add(&["ec2"])),
];

pub fn target(inv: &Invocation, major: CliMajor) -> Target {
    if let Some(e) = &inv.usage_error {
        return Target::Unpredictable(format!("the CLI will stop with a usage error: {e}"));
    }
    if inv.version_flag() {
        return Target::Local("--version prints the CLI's version".into());
    }
    if let Some(a) = &inv.external_alias {
        return Target::Unpredictable(format!(
            "alias {:?} runs a shell command ({})",
            a.name, a.value
        ));
    }
    let Some(command) = inv.command.as_deref() else {
        return Target::Unpredictable("no command".into());
    };
    if LOCAL_COMMANDS.contains(&command) {
        return Target::Local(format!("`{command}` works locally"));
    }
    let operation = inv.operation.as_deref();
    if operation.is_none() {
        return Target::Unpredictable(format!(
            "`{command}` needs an operation: the CLI prints usage"
        ));
    }
    if operation == Some("help") || inv.rest.first().map(String::as_str) == Some("help") {
        return Target::Local("help is rendered locally".into());
    }
    let Some(info) = lookup_command(major, command) else {
        return Target::Unpredictable(format!("`{command}` is not a command of this CLI"));
    };
    let Some(primary) = info.service else {
        return match info.kind {
            CommandKind::Custom => Target::Local(format!("`{command}` calls no AWS service")),
            CommandKind::Service => Target::Unpredictable(format!("`{command}` has no service")),
        };
    };
    let mut services = vec![primary.to_string()];
    let op = operation.unwrap_or("");
    for (c, o, when, clients) in CUSTOM_CLIENTS {
        if *c != command || *o != op || when.is_some_and(|opt| !has_option(inv, opt)) {
            continue;
        }
        let extra = match clients {
            Clients::Add(extra) => extra,
            Clients::Only(only) => {
                services.clear();
                only
            }
        };
        for s in *extra {
            if !services.iter().any(|x| x == s) {
                services.push(s.to_string());
            }
        }
    }
    let buckets = buckets(inv, command);
    Target::Calls { services, buckets }
}

/// `--option v` or `--option=v` among the operation's arguments.
fn has_option(inv: &Invocation, option: &str) -> bool {
    inv.rest
        .iter()
        .any(|t| t == option || t.strip_prefix(option).is_some_and(|r| r.starts_with('=')))
}

/// The bucket an option names: `--bucket`, and the customizations' own
/// `--s3-bucket` (cloudformation package/deploy, configservice subscribe) and
/// `--s3-location s3://bucket/key` (deploy push).
fn bucket_option<'a>(command: &str, tok: &'a str, next: Option<&'a str>) -> Option<&'a str> {
    let options: &[&str] = match command {
        "cloudformation" | "configservice" => &["--bucket", "--s3-bucket"],
        "deploy" => &["--bucket", "--s3-location"],
        _ => &["--bucket"],
    };
    for opt in options {
        let value = if tok == *opt {
            next
        } else {
            tok.strip_prefix(opt).and_then(|r| r.strip_prefix('='))
        };
        if let Some(v) = value {
            return Some(match v.strip_prefix("s3://") {
                Some(path) => path.split('/').next().unwrap_or(""),
                None => v,
            });
        }
    }
    None
}

/// Buckets named by `s3://bucket/...` paths (high-level `s3`) or bucket options.
fn buckets(inv: &Invocation, command: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |b: &str| {
        if !b.is_empty() && !out.iter().any(|x| x == b) {
            out.push(b.to_string());
        }
    };
    let mut it = inv.rest.iter().peekable();
    while let Some(tok) = it.next() {
        if command == "s3" {
            if let Some(path) = tok.strip_prefix("s3://") {
                // Access-point ARNs keep their slashes up to the access point name.
                if path.starts_with("arn:") {
                    let end = path
                        .match_indices('/')
                        .nth(1)
                        .map(|(i, _)| i)
                        .unwrap_or(path.len());
                    push(&path[..end]);
                } else {
                    push(path.split('/').next().unwrap_or(""));
                }
            }
        } else if let Some(b) = bucket_option(command, tok, it.peek().map(|s| s.as_str())) {
            push(b);
        }
    }
    out
}
