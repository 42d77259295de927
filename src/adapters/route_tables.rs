//! The subnet's routing, read with the fallback profile: directly by
//! c9aws-probe (signed EC2 calls, [`crate::adapters::ec2_direct`]) when that
//! can stand for the CLI, else with the real AWS CLI:
//! `ec2 describe-route-tables` and `ec2 describe-vpc-endpoints`, run as two
//! concurrent children under one deadline.
//!
//! Why the CLI and not an SDK: the fallback profile may use anything the CLI
//! supports (SSO, credential_process, role chains, `ca_bundle`, endpoint
//! overrides), and the CLI resolves it exactly as the switched call will. The
//! cost (two interpreter start-ups, in parallel) is paid once per route-table
//! TTL, and only for S3/DynamoDB calls with a fallback profile configured.
//!
//! Owns: the two command lines, their environment (`C9AWS_ACTIVE=1` so an `aws`
//! shim that is c9aws passes through, no pager, no auto-prompt, stdin null),
//! and what a failed call means in words (which permission or credential is
//! missing). The children are run by [`crate::adapters::child`] (own process
//! group, killed whole at the deadline); their JSON is read by the pure
//! [`crate::core::route_tables`].

use crate::adapters::aws_cli::{self, ACTIVE_VAR, VIA_VAR};
use crate::adapters::child::{self, ChildError, Deadline, Finished, Running};
use crate::adapters::engine::Engine;
use crate::adapters::environment::debug;
use crate::adapters::settings::RouteTablesRead;
use crate::core::ec2_query::{DirectAnswer, DirectRequest};
use crate::core::route::Routing;
use crate::core::route_tables::{routing_from, RoutingError};
use crate::core::CliMajor;
use crate::core::EnvMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Longest error line quoted back (the CLI appends long encoded messages).
const ERROR_LINE_LIMIT: usize = 300;

/// Running the real CLI went wrong (not: it ran and said no).
#[derive(Debug)]
pub struct CliRunError {
    aws: PathBuf,
    error: ChildError,
}

impl fmt::Display for CliRunError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match &self.error {
            ChildError::Spawn(e) => write!(f, "cannot run {}: {e}", self.aws.display()),
            ChildError::Timeout(_) => write!(f, "{}", self.error),
            ChildError::Wait(e) => write!(f, "cannot wait for the CLI: {e}"),
            ChildError::LostOutput => f.write_str("lost the CLI's output"),
        }
    }
}

impl std::error::Error for CliRunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// What a describe call's failure is most likely about, from its error line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The fallback may not call the operation.
    NotPermitted,
    /// AWS does not accept the fallback's credentials.
    CredentialsRefused,
    /// The CLI does not know the profile.
    UnknownProfile,
    /// The profile resolves to no credentials.
    NoCredentials,
    Other,
}

impl Refusal {
    /// What an HTTP error answer of EC2 says (the direct read): the CLI's
    /// profile and credential-chain refusals cannot come from there.
    fn of_http(line: &str) -> Refusal {
        match Refusal::of(line) {
            Refusal::UnknownProfile | Refusal::NoCredentials => Refusal::Other,
            r => r,
        }
    }

    /// The refusal in words, for the fallback `profile`'s ec2:`operation`.
    fn describe(&self, f: &mut fmt::Formatter<'_>, operation: &str, profile: &str) -> fmt::Result {
        match self {
            Refusal::NotPermitted => {
                write!(f, "the fallback profile {profile} may not ec2:{operation}")
            }
            Refusal::CredentialsRefused => write!(
                f,
                "AWS refused the credentials of the fallback profile {profile} for ec2:{operation}"
            ),
            Refusal::UnknownProfile => write!(
                f,
                "the fallback profile {profile} is not configured for the CLI"
            ),
            Refusal::NoCredentials => {
                write!(f, "the fallback profile {profile} has no credentials")
            }
            Refusal::Other => write!(f, "ec2:{operation} with profile {profile} failed"),
        }
    }

    fn of(line: &str) -> Refusal {
        let any = |words: &[&str]| words.iter().any(|w| line.contains(w));
        if any(&["AccessDenied", "UnauthorizedOperation", "not authorized"]) {
            Refusal::NotPermitted
        } else if any(&[
            "InvalidClientTokenId",
            "AuthFailure",
            "ExpiredToken",
            "UnrecognizedClient",
        ]) {
            Refusal::CredentialsRefused
        } else if line.contains("could not be found") {
            Refusal::UnknownProfile
        } else if line.contains("Unable to locate credentials") {
            Refusal::NoCredentials
        } else {
            Refusal::Other
        }
    }
}

/// Why the routing could not be read.
#[derive(Debug)]
pub enum RouteTableError {
    /// The CLI could not be started.
    Start(CliRunError),
    /// A describe call did not finish (deadline, lost output).
    Unfinished {
        operation: &'static str,
        profile: String,
        error: CliRunError,
    },
    /// A describe call succeeded but printed something that is not text.
    NotUtf8 { operation: &'static str },
    /// A describe call failed: `exit` is its status (`None`: killed by a
    /// signal), `line` the first line of its error output, shortened.
    Failed {
        operation: &'static str,
        profile: String,
        refusal: Refusal,
        exit: Option<i32>,
        line: String,
    },
    /// The direct read's EC2 call was refused for good (as the CLI's would
    /// be): `status` is the HTTP status, `line` the error as the CLI words it.
    Refused {
        operation: String,
        profile: String,
        refusal: Refusal,
        status: u16,
        line: String,
    },
    /// Both calls answered, but their JSON makes no routing.
    Unreadable(RoutingError),
}

impl fmt::Display for RouteTableError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            RouteTableError::Start(e) => write!(f, "{e}"),
            RouteTableError::Unfinished {
                operation,
                profile,
                error,
            } => write!(f, "ec2:{operation} with profile {profile}: {error}"),
            RouteTableError::NotUtf8 { operation } => {
                write!(f, "ec2:{operation}: the CLI's output is not UTF-8")
            }
            RouteTableError::Failed {
                operation,
                profile,
                refusal,
                exit,
                line,
            } => {
                refusal.describe(f, operation, profile)?;
                match exit {
                    Some(c) => write!(f, " (exit {c}")?,
                    None => f.write_str(" (killed by a signal")?,
                }
                if line.is_empty() {
                    f.write_str(")")
                } else {
                    write!(f, ": {line})")
                }
            }
            RouteTableError::Refused {
                operation,
                profile,
                refusal,
                status,
                line,
            } => {
                refusal.describe(f, operation, profile)?;
                write!(f, " (HTTP {status}: {line})")
            }
            RouteTableError::Unreadable(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RouteTableError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RouteTableError::Start(e) | RouteTableError::Unfinished { error: e, .. } => Some(e),
            RouteTableError::Unreadable(e) => Some(e),
            RouteTableError::NotUtf8 { .. }
            | RouteTableError::Failed { .. }
            | RouteTableError::Refused { .. } => None,
        }
    }
}

/// Longest wait for the direct read (credentials, both calls, every page);
/// past it the CLI reads as before.
pub const DIRECT_DEADLINE: Duration = Duration::from_secs(4);

/// Reads the routing in force for `subnet_id` of `vpc_id`: directly from
/// `c9aws-probe` when `how` is [`RouteTablesRead::Direct`] and it can stand for
/// the CLI, else (or when it says so) with the CLI ([`read`]).
#[allow(clippy::too_many_arguments)]
pub fn read_routing(
    engine: &Engine,
    how: RouteTablesRead,
    aws: &Path,
    profile: &str,
    region: &str,
    vpc_id: &str,
    subnet_id: &str,
    env: &EnvMap,
    timeout: Duration,
) -> Result<Routing, RouteTableError> {
    if how == RouteTablesRead::Direct {
        match aws_cli::version(aws, env) {
            None => debug(env, || {
                "direct route-table read: the CLI's version is unknown; using the CLI".into()
            }),
            Some(v) => {
                let req = DirectRequest {
                    profile: profile.to_string(),
                    region: region.to_string(),
                    vpc_id: vpc_id.to_string(),
                    cli_major: match v.major {
                        CliMajor::V1 => 1,
                        CliMajor::V2 => 2,
                    },
                    deadline_ms: DIRECT_DEADLINE.as_millis() as u64,
                };
                match (engine.route_tables)(env, &req) {
                    DirectAnswer::Read {
                        route_tables,
                        endpoints,
                        elapsed_ms,
                    } => {
                        debug(env, || {
                            format!("route tables of {vpc_id} read directly in {elapsed_ms} ms with profile {profile}")
                        });
                        let routing = routing_from(&route_tables, &endpoints, vpc_id, subnet_id)
                            .map_err(RouteTableError::Unreadable)?;
                        told(env, &routing, subnet_id, vpc_id);
                        return Ok(routing);
                    }
                    DirectAnswer::Refused {
                        operation,
                        status,
                        line,
                    } => {
                        return Err(RouteTableError::Refused {
                            operation,
                            profile: profile.to_string(),
                            refusal: Refusal::of_http(&line),
                            status,
                            line,
                        })
                    }
                    DirectAnswer::UseCli { why } => debug(env, || {
                        format!("direct route-table read: {why}; using the CLI")
                    }),
                }
            }
        }
    }
    read(aws, profile, region, vpc_id, subnet_id, env, timeout)
}

fn told(env: &EnvMap, routing: &Routing, subnet_id: &str, vpc_id: &str) {
    debug(env, || {
        format!(
            "route table {} for {subnet_id}: {} prefix-list route(s) to endpoints, {} endpoint(s) in {vpc_id}",
            routing.route_table_id.as_deref().unwrap_or("?"),
            routing.prefix_list_routes.len(),
            routing.endpoints.len()
        )
    });
}

/// Reads the routing in force for `subnet_id` of `vpc_id` with the CLI. Both describe calls
/// must succeed: without the endpoints a gateway route cannot be told apart
/// from nothing, and a wrong "public" is worse than "unknown".
pub fn read(
    aws: &Path,
    profile: &str,
    region: &str,
    vpc_id: &str,
    subnet_id: &str,
    env: &EnvMap,
    timeout: Duration,
) -> Result<Routing, RouteTableError> {
    let deadline = Deadline::after(timeout);
    let filter = format!("Name=vpc-id,Values={vpc_id}");
    let args = |op: &str| -> Vec<String> {
        [
            "--profile",
            profile,
            "--region",
            region,
            "--output",
            "json",
            "ec2",
            op,
            "--filters",
            &filter,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    debug(env, || {
        format!(
            "reading the route tables of {vpc_id} ({subnet_id}, {region}) with profile {profile} via {}",
            aws.display()
        )
    });
    let start = |op: &str| {
        Running::spawn(&mut command(aws, &args(op)), None).map_err(|error| {
            RouteTableError::Start(CliRunError {
                aws: aws.to_path_buf(),
                error,
            })
        })
    };
    let tables = start("describe-route-tables")?;
    let endpoints = start("describe-vpc-endpoints")?;
    // Both run concurrently; waiting for one then the other costs nothing extra.
    // On the first failure `Running`'s Drop kills the other at once.
    let finished = |r: Running| {
        r.finish(deadline).map_err(|error| CliRunError {
            aws: aws.to_path_buf(),
            error,
        })
    };
    let t = check("DescribeRouteTables", profile, finished(tables))?;
    let e = check("DescribeVpcEndpoints", profile, finished(endpoints))?;
    let routing = routing_from(&t, &e, vpc_id, subnet_id).map_err(RouteTableError::Unreadable)?;
    told(env, &routing, subnet_id, vpc_id);
    Ok(routing)
}

/// The real CLI as the route-table reads run it: marked as run by c9aws, no
/// pager, no auto-prompt.
fn command(aws: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new(aws);
    cmd.args(args)
        .env(ACTIVE_VAR, "1")
        .env(VIA_VAR, aws)
        .env("AWS_PAGER", "")
        .env("AWS_CLI_AUTO_PROMPT", "off");
    cmd
}

/// One run of the real CLI as the route-table reads run it (stdin null, own
/// process group, pipes drained, killed with its children after `timeout`).
pub(crate) fn run_bounded(
    aws: &Path,
    args: &[String],
    timeout: Duration,
) -> Result<Finished, CliRunError> {
    child::run(&mut command(aws, args), None, timeout).map_err(|error| CliRunError {
        aws: aws.to_path_buf(),
        error,
    })
}

/// The first non-empty line of the CLI's error output, shortened.
fn first_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() > ERROR_LINE_LIMIT {
        let cut: String = line.chars().take(ERROR_LINE_LIMIT).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// The call's JSON, or why there is none.
fn check(
    operation: &'static str,
    profile: &str,
    finished: Result<Finished, CliRunError>,
) -> Result<String, RouteTableError> {
    let f = finished.map_err(|error| RouteTableError::Unfinished {
        operation,
        profile: profile.to_string(),
        error,
    })?;
    if f.status.success() {
        return String::from_utf8(f.stdout).map_err(|_| RouteTableError::NotUtf8 { operation });
    }
    let line = first_line(&f.stderr);
    Err(RouteTableError::Failed {
        operation,
        profile: profile.to_string(),
        refusal: Refusal::of(&line),
        exit: f.status.code(),
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::route_tables::fixtures::{ENDPOINTS, TABLES_EXPLICIT};
    use std::os::unix::fs::PermissionsExt;
    use std::time::Instant;

    /// A fake `aws` that checks its command line and environment, then prints
    /// `tables` or `endpoints`.
    fn fake_aws(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn json_files(dir: &Path, tables: &str) {
        std::fs::write(dir.join("tables.json"), tables).unwrap();
        std::fs::write(dir.join("endpoints.json"), ENDPOINTS).unwrap();
    }

    const CHECKING_BODY: &str = r#"
dir=$(dirname "$0")
[ "$C9AWS_ACTIVE" = 1 ] || { echo "C9AWS_ACTIVE not set" >&2; exit 3; }
[ "${AWS_PAGER-unset}" = "" ] || { echo "AWS_PAGER not empty" >&2; exit 3; }
[ "$1 $2 $3 $4 $5 $6 $7" = "--profile fb --region ap-northeast-1 --output json ec2" ] || { echo "bad args: $*" >&2; exit 3; }
[ "$9 ${10}" = "--filters Name=vpc-id,Values=vpc-0abc" ] || { echo "bad filter: $*" >&2; exit 3; }
[ -t 0 ] && { echo "stdin is a terminal" >&2; exit 3; }
case "$8" in
  describe-route-tables) cat "$dir/tables.json" ;;
  describe-vpc-endpoints) cat "$dir/endpoints.json" ;;
  *) echo "unexpected $8" >&2; exit 3 ;;
esac"#;

    #[test]
    fn reads_through_a_fake_cli() {
        let d = tempfile::tempdir().unwrap();
        json_files(d.path(), TABLES_EXPLICIT);
        let aws = fake_aws(d.path(), "aws", CHECKING_BODY);
        let r = read(
            &aws,
            "fb",
            "ap-northeast-1",
            "vpc-0abc",
            "subnet-0priv",
            &EnvMap::new(),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(r.route_table_id.as_deref(), Some("rtb-0priv00000000002"));
        assert_eq!(r.prefix_list_routes.len(), 2);
        assert_eq!(r.endpoints.len(), 3);
    }

    #[test]
    fn large_output_does_not_stall() {
        // Far beyond a pipe's buffer: the drains must run while the child writes.
        let mut tables = String::from(r#"{"RouteTables":["#);
        for i in 0..3000 {
            tables.push_str(&format!(
                r#"{{"RouteTableId":"rtb-{i:08}","Associations":[{{"SubnetId":"subnet-{i:08}"}}],"Routes":[{{"DestinationCidrBlock":"10.0.0.0/16","GatewayId":"local","State":"active"}}]}},"#
            ));
        }
        tables.push_str(r#"{"RouteTableId":"rtb-main","Associations":[{"Main":true}]}]}"#);
        assert!(tables.len() > 256 * 1024);
        let d = tempfile::tempdir().unwrap();
        json_files(d.path(), &tables);
        let aws = fake_aws(d.path(), "aws", CHECKING_BODY);
        let r = read(
            &aws,
            "fb",
            "ap-northeast-1",
            "vpc-0abc",
            "subnet-00002999",
            &EnvMap::new(),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(r.route_table_id.as_deref(), Some("rtb-00002999"));
    }

    #[test]
    fn access_denied_names_the_permission() {
        let d = tempfile::tempdir().unwrap();
        json_files(d.path(), TABLES_EXPLICIT);
        let aws = fake_aws(
            d.path(),
            "aws",
            r#"
case "$8" in
  describe-route-tables)
    printf '\nAn error occurred (UnauthorizedOperation) when calling the DescribeRouteTables operation: You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/fb is not authorized to perform: ec2:DescribeRouteTables because no identity-based policy allows the ec2:DescribeRouteTables action\n' >&2
    exit 254 ;;
  *) cat "$(dirname "$0")/endpoints.json" ;;
esac"#,
        );
        let e = read(
            &aws,
            "fb",
            "ap-northeast-1",
            "vpc-0abc",
            "subnet-0priv",
            &EnvMap::new(),
            Duration::from_secs(10),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("the fallback profile fb may not ec2:DescribeRouteTables (exit 254: An error occurred (UnauthorizedOperation)"),
            "{e}"
        );
        assert!(!e.contains('\n'));

        let aws = fake_aws(
            d.path(),
            "aws2",
            "echo 'An error occurred (AccessDenied) when calling the DescribeVpcEndpoints operation: denied' >&2; exit 254",
        );
        let e = read(
            &aws,
            "fb",
            "r",
            "v",
            "s",
            &EnvMap::new(),
            Duration::from_secs(10),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("may not ec2:DescribeRouteTables"), "{e}");

        let aws = fake_aws(
            d.path(),
            "aws3",
            "echo '' >&2; echo 'The config profile (fb) could not be found' >&2; exit 255",
        );
        let e = read(
            &aws,
            "fb",
            "r",
            "v",
            "s",
            &EnvMap::new(),
            Duration::from_secs(10),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("is not configured"), "{e}");
        assert!(
            e.contains("exit 255: The config profile (fb) could not be found"),
            "{e}"
        );
    }

    #[test]
    fn missing_cli_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let e = read(
            &d.path().join("no-such-aws"),
            "fb",
            "r",
            "v",
            "s",
            &EnvMap::new(),
            Duration::from_secs(1),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("cannot run"), "{e}");
    }

    #[test]
    fn slow_cli_is_killed_at_the_deadline() {
        let d = tempfile::tempdir().unwrap();
        let marker = d.path().join("survived");
        // Not `exec sleep`: the sleep is a grandchild, killed with the group.
        let aws = fake_aws(
            d.path(),
            "aws",
            &format!("sleep 3; touch '{}'", marker.display()),
        );
        let timeout = Duration::from_millis(400);
        let started = Instant::now();
        let e = read(&aws, "fb", "r", "v", "s", &EnvMap::new(), timeout)
            .unwrap_err()
            .to_string();
        let took = started.elapsed();
        assert!(took < timeout + Duration::from_millis(300), "took {took:?}");
        assert!(took >= timeout, "took {took:?}");
        assert!(e.contains("no answer within 400 ms"), "{e}");
        // The whole group died: nothing runs on to create the marker.
        std::thread::sleep(Duration::from_millis(3200));
        assert!(!marker.exists());
    }

    #[test]
    fn error_lines_are_short() {
        let long = format!("\n\n  {}\nsecond line", "x".repeat(1000));
        let l = first_line(long.as_bytes());
        assert_eq!(l.chars().count(), ERROR_LINE_LIMIT + 1);
        assert!(!l.contains("second"));
        assert_eq!(first_line(b""), "");
    }
}
