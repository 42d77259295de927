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
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Calls => "calls",
            Kind::Local => "local",
            Kind::Unpredictable => "unpredictable",
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

/// Customizations that call other services too: (command, operation, extra services).
/// From the awscli sources (`customizations/`), for v1 and v2 alike.
const EXTRA_SERVICES: &[(&str, &str, &[&str])] = &[
    ("cloudformation", "package", &["s3"]),
    ("cloudformation", "deploy", &["s3"]),
    ("cloudtrail", "validate-logs", &["s3", "organizations"]),
    ("deploy", "push", &["s3"]),
    ("deploy", "register", &["iam", "s3"]),
    ("deploy", "deregister", &["iam"]),
    ("ecs", "deploy", &["codedeploy"]),
    ("emr", "create-default-roles", &["iam"]),
    ("datapipeline", "create-default-roles", &["iam"]),
    ("dlm", "create-default-role", &["iam"]),
    ("eks", "update-kubeconfig", &["sts"]),
    ("gamelift", "upload-build", &["s3"]),
    ("configservice", "subscribe", &["s3", "sns"]),
    ("opsworks", "register", &["iam", "sts"]),
    ("ec2-instance-connect", "ssh", &["ec2"]),
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
    for (c, o, extra) in EXTRA_SERVICES {
        if *c == command && *o == op {
            for s in *extra {
                if !services.iter().any(|x| x == s) {
                    services.push(s.to_string());
                }
            }
        }
    }
    let buckets = buckets(inv, command);
    if command == "s3" && buckets.iter().any(|b| b.starts_with("arn:")) {
        for s in ["s3control", "sts"] {
            if !services.iter().any(|x| x == s) {
                services.push(s.to_string());
            }
        }
    }
    Target::Calls { services, buckets }
}

/// Buckets named by `s3://bucket/...` paths (high-level `s3`) or `--bucket`.
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
        } else if tok == "--bucket" {
            if let Some(b) = it.peek() {
                push(b);
            }
        } else if let Some(b) = tok.strip_prefix("--bucket=") {
            push(b);
        }
    }
    out
}
