//! The subnet's routing, read with the real AWS CLI and the fallback profile:
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
//! the deadline (the children run in their own process group, killed whole on
//! expiry), and the tolerant reading of their JSON: which table is in force for
//! the subnet (its explicit association, else the VPC's main table), which
//! prefix lists that table sends to a `vpce-`, and the VPC's endpoints.

use crate::adapters::aws_cli::{ACTIVE_VAR, VIA_VAR};
use crate::adapters::environment::debug;
use crate::core::profile::EnvMap;
use crate::core::route::{Routing, VpcEndpoint};
use serde_json::Value;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// More output than this from one describe call is cut (and then fails to parse).
const OUTPUT_LIMIT: u64 = 64 << 20;
/// Longest error line quoted back (the CLI appends long encoded messages).
const ERROR_LINE_LIMIT: usize = 300;

/// Reads the routing in force for `subnet_id` of `vpc_id`. Both describe calls
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
) -> Result<Routing, String> {
    let deadline = Instant::now() + timeout;
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
    let mut tables = Running::spawn(aws, &args("describe-route-tables"))
        .map_err(|e| format!("cannot run {}: {e}", aws.display()))?;
    let mut endpoints = Running::spawn(aws, &args("describe-vpc-endpoints"))
        .map_err(|e| format!("cannot run {}: {e}", aws.display()))?;
    // Both run concurrently; waiting for one then the other costs nothing extra.
    // On the first failure `Running`'s Drop kills the other at once.
    let t = check(
        "DescribeRouteTables",
        profile,
        tables.finish(deadline, timeout),
    )?;
    let e = check(
        "DescribeVpcEndpoints",
        profile,
        endpoints.finish(deadline, timeout),
    )?;
    let routing = routing_from(&t, &e, vpc_id, subnet_id)?;
    debug(env, || {
        format!(
            "route table {} for {subnet_id}: {} prefix-list route(s) to endpoints, {} endpoint(s) in {vpc_id}",
            routing.route_table_id.as_deref().unwrap_or("?"),
            routing.prefix_list_routes.len(),
            routing.endpoints.len()
        )
    });
    Ok(routing)
}

/// Builds the routing from the two JSON documents (`--output json`).
pub fn routing_from(
    route_tables_json: &str,
    endpoints_json: &str,
    vpc_id: &str,
    subnet_id: &str,
) -> Result<Routing, String> {
    let tables: Value = serde_json::from_str(route_tables_json)
        .map_err(|e| format!("unreadable describe-route-tables output: {e}"))?;
    let eps: Value = serde_json::from_str(endpoints_json)
        .map_err(|e| format!("unreadable describe-vpc-endpoints output: {e}"))?;
    let table = pick_table(&tables, subnet_id).ok_or_else(|| {
        format!("no route table of {vpc_id} applies to {subnet_id} (neither an explicit association nor a main table)")
    })?;
    Ok(Routing {
        route_table_id: Some(str_of(table, "RouteTableId")).filter(|s| !s.is_empty()),
        prefix_list_routes: prefix_list_routes(table),
        endpoints: endpoints(&eps),
    })
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// An association that is (still) in force: no state given, or `associated`/`associating`.
fn association_live(a: &Value) -> bool {
    match a.pointer("/AssociationState/State").and_then(Value::as_str) {
        None => true,
        Some(s) => matches!(s, "associated" | "associating"),
    }
}

/// The subnet's explicitly associated table, else the VPC's main table.
fn pick_table<'a>(tables: &'a Value, subnet_id: &str) -> Option<&'a Value> {
    let all = array(tables, "RouteTables");
    let has = |t: &Value, pred: &dyn Fn(&Value) -> bool| {
        array(t, "Associations")
            .iter()
            .any(|a| association_live(a) && pred(a))
    };
    all.iter()
        .find(|t| {
            has(t, &|a| {
                a.get("SubnetId").and_then(Value::as_str) == Some(subnet_id)
            })
        })
        .or_else(|| {
            all.iter()
                .find(|t| has(t, &|a| a.get("Main").and_then(Value::as_bool) == Some(true)))
        })
}

/// Routes of the table that send a prefix list to a gateway endpoint, except
/// blackholed ones (their endpoint is gone).
fn prefix_list_routes(table: &Value) -> Vec<(String, String)> {
    array(table, "Routes")
        .iter()
        .filter(|r| r.get("State").and_then(Value::as_str) != Some("blackhole"))
        .filter_map(|r| {
            let pl = r.get("DestinationPrefixListId")?.as_str()?;
            let gw = r.get("GatewayId")?.as_str()?;
            gw.starts_with("vpce-")
                .then(|| (pl.to_string(), gw.to_string()))
        })
        .collect()
}

/// The VPC's endpoints, except those that no longer carry traffic.
fn endpoints(eps: &Value) -> Vec<VpcEndpoint> {
    array(eps, "VpcEndpoints")
        .iter()
        .filter(|e| {
            let state = e.get("State").and_then(Value::as_str).unwrap_or_default();
            !matches!(
                state.to_ascii_lowercase().as_str(),
                "deleting" | "deleted" | "rejected" | "failed" | "expired"
            )
        })
        .filter_map(|e| {
            let id = str_of(e, "VpcEndpointId");
            (!id.is_empty()).then(|| VpcEndpoint {
                id,
                kind: str_of(e, "VpcEndpointType"),
                service_name: str_of(e, "ServiceName"),
                route_table_ids: array(e, "RouteTableIds")
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                private_dns: e
                    .get("PrivateDnsEnabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
        })
        .collect()
}

/// What one describe call left behind.
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

/// One run of the real CLI as the route-table reads run it (own process
/// group, pipes drained, killed with its children after `timeout`).
pub(crate) fn run_bounded(
    aws: &Path,
    args: &[String],
    timeout: Duration,
) -> Result<Finished, String> {
    let mut r =
        Running::spawn(aws, args).map_err(|e| format!("cannot run {}: {e}", aws.display()))?;
    r.finish(Instant::now() + timeout, timeout)
}

/// One describe call: a child in its own process group, its output drained by
/// two threads (so a large answer cannot fill a pipe and stall it).
struct Running {
    child: Child,
    reaped: bool,
    stdout: Receiver<Vec<u8>>,
    stderr: Receiver<Vec<u8>>,
}

fn drain(r: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.take(OUTPUT_LIMIT).read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

impl Running {
    fn spawn(aws: &Path, args: &[String]) -> std::io::Result<Running> {
        let mut attempt = 0;
        let mut child = loop {
            let spawned = Command::new(aws)
                .args(args)
                .env(ACTIVE_VAR, "1")
                .env(VIA_VAR, aws)
                .env("AWS_PAGER", "")
                .env("AWS_CLI_AUTO_PROMPT", "off")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                // Own group: on expiry the whole tree (a wrapper script, its
                // children) is killed, not just the direct child.
                .process_group(0)
                .spawn();
            match spawned {
                // A script just written by another thread of this process may
                // still be open for writing in a concurrently forked child.
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempt < 10 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => break other?,
            }
        };
        let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other("no pipes to the child"));
        };
        Ok(Running {
            child,
            reaped: false,
            stdout: drain(out),
            stderr: drain(err),
        })
    }

    fn kill(&mut self) {
        if !self.reaped {
            if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
                // SAFETY: signals the process group this child leads (it was
                // spawned with process_group(0) and has not been reaped, so the
                // id cannot have been reused).
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = self.child.wait();
            self.reaped = true;
        }
    }

    /// Waits for the child and its output until `deadline`; kills it after.
    fn finish(&mut self, deadline: Instant, timeout: Duration) -> Result<Finished, String> {
        let expired = || format!("no answer within {} ms", timeout.as_millis());
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => {
                    self.reaped = true;
                    break s;
                }
                Ok(None) => {
                    let now = Instant::now();
                    if now >= deadline {
                        self.kill();
                        return Err(expired());
                    }
                    std::thread::sleep((deadline - now).min(Duration::from_millis(5)));
                }
                Err(e) => {
                    self.kill();
                    return Err(format!("cannot wait for the CLI: {e}"));
                }
            }
        };
        // The child is gone; a grandchild could still hold the pipes open.
        let take = |rx: &Receiver<Vec<u8>>| {
            rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .map_err(|e| match e {
                    RecvTimeoutError::Timeout => expired(),
                    RecvTimeoutError::Disconnected => "lost the CLI's output".to_string(),
                })
        };
        let stdout = take(&self.stdout);
        let stderr = take(&self.stderr);
        match (stdout, stderr) {
            (Ok(stdout), Ok(stderr)) => Ok(Finished {
                status,
                stdout,
                stderr,
            }),
            // The leader is reaped, so its id may be reused: stragglers are
            // not signalled, they end on their own (or on a closed pipe).
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
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

/// The call's JSON, or why there is none, in words.
fn check(
    operation: &str,
    profile: &str,
    finished: Result<Finished, String>,
) -> Result<String, String> {
    let f = finished.map_err(|e| format!("ec2:{operation} with profile {profile}: {e}"))?;
    if f.status.success() {
        return String::from_utf8(f.stdout)
            .map_err(|_| format!("ec2:{operation}: the CLI's output is not UTF-8"));
    }
    let line = first_line(&f.stderr);
    let how = match f.status.code() {
        Some(c) => format!("exit {c}"),
        None => "killed by a signal".to_string(),
    };
    let why = if ["AccessDenied", "UnauthorizedOperation", "not authorized"]
        .iter()
        .any(|s| line.contains(s))
    {
        format!("the fallback profile {profile} may not ec2:{operation}")
    } else if [
        "InvalidClientTokenId",
        "AuthFailure",
        "ExpiredToken",
        "UnrecognizedClient",
    ]
    .iter()
    .any(|s| line.contains(s))
    {
        format!("AWS refused the credentials of the fallback profile {profile} for ec2:{operation}")
    } else if line.contains("could not be found") {
        format!("the fallback profile {profile} is not configured for the CLI")
    } else if line.contains("Unable to locate credentials") {
        format!("the fallback profile {profile} has no credentials")
    } else {
        format!("ec2:{operation} with profile {profile} failed")
    };
    Err(if line.is_empty() {
        format!("{why} ({how})")
    } else {
        format!("{why} ({how}: {line})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A subnet with its own table (explicit association) holding S3 and
    /// DynamoDB gateway routes; the main table has none. Shaped like real
    /// `aws ec2 describe-route-tables --output json` output.
    const TABLES_EXPLICIT: &str = r#"{
    "RouteTables": [
        {
            "Associations": [
                {
                    "Main": true,
                    "RouteTableAssociationId": "rtbassoc-0aaa1111bbbb2222c",
                    "RouteTableId": "rtb-0main000000000001",
                    "AssociationState": { "State": "associated" }
                }
            ],
            "PropagatingVgws": [],
            "RouteTableId": "rtb-0main000000000001",
            "Routes": [
                { "DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active" },
                { "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0123456789abcdef0", "Origin": "CreateRoute", "State": "active" }
            ],
            "Tags": [],
            "VpcId": "vpc-0abc",
            "OwnerId": "123456789012"
        },
        {
            "Associations": [
                {
                    "Main": false,
                    "RouteTableAssociationId": "rtbassoc-0ddd3333eeee4444f",
                    "RouteTableId": "rtb-0priv00000000002",
                    "SubnetId": "subnet-0priv",
                    "AssociationState": { "State": "associated" }
                },
                {
                    "Main": false,
                    "RouteTableAssociationId": "rtbassoc-0old",
                    "RouteTableId": "rtb-0priv00000000002",
                    "SubnetId": "subnet-0gone",
                    "AssociationState": { "State": "disassociated" }
                }
            ],
            "PropagatingVgws": [],
            "RouteTableId": "rtb-0priv00000000002",
            "Routes": [
                { "DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active" },
                { "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-0123456789abcdef0", "Origin": "CreateRoute", "State": "active" },
                { "DestinationPrefixListId": "pl-61a54008", "GatewayId": "vpce-0s3gw0000000001", "Origin": "CreateRoute", "State": "active" },
                { "DestinationPrefixListId": "pl-78a54011", "GatewayId": "vpce-0ddbgw000000001", "Origin": "CreateRoute", "State": "active" },
                { "DestinationPrefixListId": "pl-0customer", "TransitGatewayId": "tgw-0123", "Origin": "CreateRoute", "State": "active" },
                { "DestinationPrefixListId": "pl-00dead", "GatewayId": "vpce-0deleted", "Origin": "CreateRoute", "State": "blackhole" }
            ],
            "Tags": [ { "Key": "Name", "Value": "private" } ],
            "VpcId": "vpc-0abc",
            "OwnerId": "123456789012"
        }
    ]
}"#;

    const ENDPOINTS: &str = r#"{
    "VpcEndpoints": [
        {
            "VpcEndpointId": "vpce-0s3gw0000000001",
            "VpcEndpointType": "Gateway",
            "VpcId": "vpc-0abc",
            "ServiceName": "com.amazonaws.ap-northeast-1.s3",
            "State": "available",
            "PolicyDocument": "{\"Version\":\"2008-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
            "RouteTableIds": [ "rtb-0priv00000000002" ],
            "SubnetIds": [],
            "Groups": [],
            "PrivateDnsEnabled": false,
            "RequesterManaged": false,
            "NetworkInterfaceIds": [],
            "DnsEntries": [],
            "CreationTimestamp": "2026-10-01T09:00:00+00:00",
            "OwnerId": "123456789012"
        },
        {
            "VpcEndpointId": "vpce-0ddbgw000000001",
            "VpcEndpointType": "Gateway",
            "VpcId": "vpc-0abc",
            "ServiceName": "com.amazonaws.ap-northeast-1.dynamodb",
            "State": "available",
            "RouteTableIds": [ "rtb-0priv00000000002" ],
            "PrivateDnsEnabled": false
        },
        {
            "VpcEndpointId": "vpce-0sts0000000000001",
            "VpcEndpointType": "Interface",
            "VpcId": "vpc-0abc",
            "ServiceName": "com.amazonaws.ap-northeast-1.sts",
            "State": "available",
            "RouteTableIds": [],
            "SubnetIds": [ "subnet-0priv", "subnet-0pub" ],
            "Groups": [ { "GroupId": "sg-0123", "GroupName": "default" } ],
            "IpAddressType": "ipv4",
            "DnsOptions": { "DnsRecordIpType": "ipv4" },
            "PrivateDnsEnabled": true,
            "NetworkInterfaceIds": [ "eni-0aaa", "eni-0bbb" ],
            "DnsEntries": [
                { "DnsName": "vpce-0sts0000000000001-abcd1234.sts.ap-northeast-1.vpce.amazonaws.com", "HostedZoneId": "Z2E726K9Y6RL4W" },
                { "DnsName": "sts.ap-northeast-1.amazonaws.com", "HostedZoneId": "Z0123" }
            ]
        },
        {
            "VpcEndpointId": "vpce-0gone",
            "VpcEndpointType": "Interface",
            "ServiceName": "com.amazonaws.ap-northeast-1.ssm",
            "State": "deleted",
            "PrivateDnsEnabled": true
        }
    ]
}"#;

    /// No explicit association for the subnet: the main table is in force.
    const TABLES_MAIN_ONLY: &str = r#"{
    "RouteTables": [
        {
            "Associations": [
                { "Main": false, "RouteTableId": "rtb-0other", "SubnetId": "subnet-0other",
                  "AssociationState": { "State": "associated" } }
            ],
            "RouteTableId": "rtb-0other",
            "Routes": [
                { "DestinationPrefixListId": "pl-61a54008", "GatewayId": "vpce-0s3gw0000000001", "State": "active" }
            ],
            "VpcId": "vpc-0abc"
        },
        {
            "Associations": [ { "Main": true, "RouteTableId": "rtb-0main" } ],
            "RouteTableId": "rtb-0main",
            "Routes": [
                { "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0123", "State": "active" }
            ],
            "VpcId": "vpc-0abc"
        }
    ]
}"#;

    #[test]
    fn explicit_association_with_gateway_endpoints() {
        let r = routing_from(TABLES_EXPLICIT, ENDPOINTS, "vpc-0abc", "subnet-0priv").unwrap();
        assert_eq!(r.route_table_id.as_deref(), Some("rtb-0priv00000000002"));
        assert_eq!(
            r.prefix_list_routes,
            vec![
                (
                    "pl-61a54008".to_string(),
                    "vpce-0s3gw0000000001".to_string()
                ),
                (
                    "pl-78a54011".to_string(),
                    "vpce-0ddbgw000000001".to_string()
                ),
            ]
        );
        assert_eq!(r.endpoints.len(), 3, "the deleted endpoint is dropped");
        let s3 = &r.endpoints[0];
        assert_eq!(
            s3,
            &VpcEndpoint {
                id: "vpce-0s3gw0000000001".into(),
                kind: "Gateway".into(),
                service_name: "com.amazonaws.ap-northeast-1.s3".into(),
                route_table_ids: vec!["rtb-0priv00000000002".into()],
                private_dns: false,
            }
        );
        assert_eq!(
            r.endpoints[1].service_name,
            "com.amazonaws.ap-northeast-1.dynamodb"
        );
        assert_eq!(r.endpoints[1].kind, "Gateway");
        let sts = &r.endpoints[2];
        assert_eq!(sts.kind, "Interface");
        assert!(sts.private_dns);
        assert!(sts.route_table_ids.is_empty());
    }

    #[test]
    fn main_table_when_no_explicit_association() {
        // A subnet without its own table, in the VPC of TABLES_EXPLICIT.
        let r = routing_from(TABLES_EXPLICIT, ENDPOINTS, "vpc-0abc", "subnet-0pub").unwrap();
        assert_eq!(r.route_table_id.as_deref(), Some("rtb-0main000000000001"));
        assert!(r.prefix_list_routes.is_empty());
        // A disassociated subnet falls back to the main table too.
        let r = routing_from(TABLES_EXPLICIT, ENDPOINTS, "vpc-0abc", "subnet-0gone").unwrap();
        assert_eq!(r.route_table_id.as_deref(), Some("rtb-0main000000000001"));
        let r = routing_from(
            TABLES_MAIN_ONLY,
            r#"{"VpcEndpoints":[]}"#,
            "vpc-0abc",
            "subnet-0x",
        )
        .unwrap();
        assert_eq!(r.route_table_id.as_deref(), Some("rtb-0main"));
        assert!(r.prefix_list_routes.is_empty());
        assert!(r.endpoints.is_empty());
    }

    #[test]
    fn tolerant_of_missing_fields_and_odd_types() {
        let tables = r#"{"RouteTables":[
            {"RouteTableId":"rtb-1","Associations":[{"SubnetId":"subnet-1"}],
             "Routes":[{"DestinationPrefixListId":"pl-1","GatewayId":"vpce-1"},
                       {"DestinationPrefixListId":7,"GatewayId":"vpce-2"},
                       {"GatewayId":"vpce-3"}, "nonsense", null]},
            {"Associations":"not a list"}, 42]}"#;
        let eps = r#"{"VpcEndpoints":[{"VpcEndpointId":"vpce-1"},{"ServiceName":"no id"},
                      {"VpcEndpointId":"vpce-2","RouteTableIds":["rtb-1",5],"PrivateDnsEnabled":"yes"}]}"#;
        let r = routing_from(tables, eps, "vpc-1", "subnet-1").unwrap();
        assert_eq!(r.route_table_id.as_deref(), Some("rtb-1"));
        assert_eq!(r.prefix_list_routes, vec![("pl-1".into(), "vpce-1".into())]);
        assert_eq!(r.endpoints.len(), 2);
        assert_eq!(r.endpoints[0].kind, "");
        assert_eq!(r.endpoints[1].route_table_ids, vec!["rtb-1".to_string()]);
        assert!(!r.endpoints[1].private_dns);
        // No table applies at all: an error, not an empty (= "public") routing.
        assert!(routing_from("{}", "{}", "vpc-1", "subnet-1")
            .unwrap_err()
            .contains("no route table"));
        assert!(routing_from("[]", "null", "vpc-1", "subnet-1").is_err());
        assert!(routing_from("not json", "{}", "vpc-1", "subnet-1")
            .unwrap_err()
            .contains("describe-route-tables"));
        assert!(routing_from(TABLES_MAIN_ONLY, "{", "vpc-1", "subnet-1")
            .unwrap_err()
            .contains("describe-vpc-endpoints"));
    }

    #[test]
    fn core_verdict_sees_the_gateway_endpoint() {
        use crate::core::route::{verdict, Instance, NetFacts, ServiceCall, Verdict};
        let r = routing_from(TABLES_EXPLICIT, ENDPOINTS, "vpc-0abc", "subnet-0priv").unwrap();
        let hosts = vec!["s3.ap-northeast-1.amazonaws.com".to_string()];
        let mut facts = NetFacts {
            instance: Some(Instance {
                public_ipv4: Some("203.0.113.10".parse().unwrap()),
                ..Instance::default()
            }),
            egress_ip: Some("203.0.113.10".parse().unwrap()),
            routing: Some(r),
            ..NetFacts::default()
        };
        facts
            .dns
            .insert(hosts[0].clone(), Some(vec!["52.219.0.1".parse().unwrap()]));
        let call = ServiceCall {
            service: "s3",
            api_operation: None,
            params: &[],
            primary: true,
            hosts: &hosts,
            region: Some("ap-northeast-1"),
        };
        assert_eq!(verdict(&call, &facts).verdict, Verdict::GatewayEndpoint);
    }

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
        .unwrap_err();
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
        .unwrap_err();
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
        .unwrap_err();
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
        .unwrap_err();
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
        let e = read(&aws, "fb", "r", "v", "s", &EnvMap::new(), timeout).unwrap_err();
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
