//! Would AWS refuse Cloud9's managed credentials (AMTC) for this service, on
//! this route? One verdict per service, each with evidence in words.
//!
//! Owns: AMTC's action allow-list (iam, sts, cloud9), and the network rules —
//! no public IPv4 or an egress IP that differs from it means NAT; a host that
//! resolves into the VPC or a private range means an interface endpoint; the
//! subnet's route table sending the service's prefix list to a `vpce-` means a
//! gateway endpoint. Also what needs no network fact: the commands whose
//! output is signed with AMTC for another machine to present
//! (`signed-for-elsewhere`), and AMTC past their life, from the credentials
//! file's age (`expired`). Pure: facts in (each may be missing), verdicts out.

use crate::core::credentials::human_age;
use crate::core::CliMajor;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Public,
    Nat,
    InterfaceEndpoint,
    GatewayEndpoint,
    RefusedAction,
    /// AWS refused AMTC for this service and region before (the safety net saw it).
    LearntRefusal,
    /// The command's output is a token or URL signed with AMTC for another
    /// machine to present: AWS checks it against that machine's address.
    SignedForElsewhere,
    /// Cloud9 has not rewritten the credentials file for longer than AMTC live.
    Expired,
    Unknown,
}

impl Verdict {
    /// AWS would refuse AMTC on this route.
    pub fn refuses(self) -> bool {
        matches!(
            self,
            Verdict::Nat
                | Verdict::InterfaceEndpoint
                | Verdict::GatewayEndpoint
                | Verdict::RefusedAction
                | Verdict::LearntRefusal
                | Verdict::SignedForElsewhere
                | Verdict::Expired
        )
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Public => "public",
            Verdict::Nat => "nat",
            Verdict::InterfaceEndpoint => "interface-endpoint",
            Verdict::GatewayEndpoint => "gateway-endpoint",
            Verdict::RefusedAction => "refused-action",
            Verdict::LearntRefusal => "learnt-refusal",
            Verdict::SignedForElsewhere => "signed-for-elsewhere",
            Verdict::Expired => "expired",
            Verdict::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteVerdict {
    pub verdict: Verdict,
    pub evidence: Vec<String>,
}

/// An IPv4 network, `a.b.c.d/len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Net4 {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Net4 {
    pub fn parse(s: &str) -> Option<Net4> {
        let (a, l) = s.trim().split_once('/')?;
        let len: u8 = l.parse().ok()?;
        (len <= 32).then_some(())?;
        Some(Net4 {
            addr: a.parse().ok()?,
            len,
        })
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - self.len)
        };
        (u32::from(ip) & mask) == (u32::from(self.addr) & mask)
    }
}

impl std::fmt::Display for Net4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// What the instance metadata says about this machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instance {
    pub instance_id: Option<String>,
    pub region: Option<String>,
    pub mac: Option<String>,
    pub public_ipv4: Option<Ipv4Addr>,
    pub local_ipv4: Option<Ipv4Addr>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub vpc_cidrs: Vec<Net4>,
}

/// A VPC endpoint as `ec2 describe-vpc-endpoints` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcEndpoint {
    pub id: String,
    /// `Gateway` or `Interface`.
    pub kind: String,
    /// `com.amazonaws.<region>.<service>`.
    pub service_name: String,
    pub route_table_ids: Vec<String>,
    pub private_dns: bool,
}

/// The subnet's routing, read with the fallback profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    /// The route table in force for the instance's subnet (explicit or main).
    pub route_table_id: Option<String>,
    /// Prefix lists routed to a gateway endpoint by that table: (pl-…, vpce-…).
    pub prefix_list_routes: Vec<(String, String)>,
    pub endpoints: Vec<VpcEndpoint>,
}

/// Everything the verdicts may use. `None` means the fact could not be learnt.
#[derive(Debug, Clone, Default)]
pub struct NetFacts {
    pub instance: Option<Instance>,
    /// The source IP AWS sees for internet-bound traffic (checkip).
    pub egress_ip: Option<IpAddr>,
    /// Per host, every A/AAAA answer; `None` when resolution failed.
    pub dns: BTreeMap<String, Option<Vec<IpAddr>>>,
    pub routing: Option<Routing>,
    /// Services AWS refused AMTC for recently in this region (from the safety net).
    pub learnt_refused: Vec<String>,
}

/// One service of the call, with what the verdict needs to know about it.
pub struct ServiceCall<'a> {
    pub service: &'a str,
    /// The API operation (`AssumeRole`), when known.
    pub api_operation: Option<&'a str>,
    /// Parameters of the operation (for IAM role names).
    pub params: &'a [String],
    /// Is this the command's own service (its operation known)?
    pub primary: bool,
    pub hosts: &'a [String],
    pub region: Option<&'a str>,
}

const STS_ALLOWED: &[&str] = &["GetCallerIdentity", "DecodeAuthorizationMessage"];
const IAM_ALLOWED: &[&str] = &[
    "AttachRolePolicy",
    "ChangePassword",
    "CreatePolicy",
    "CreatePolicyVersion",
    "CreateRole",
    "CreateServiceLinkedRole",
    "DeletePolicy",
    "DeletePolicyVersion",
    "DeleteRole",
    "DeleteRolePolicy",
    "DeleteSSHPublicKey",
    "DetachRolePolicy",
    "GetInstanceProfile",
    "GetPolicy",
    "GetPolicyVersion",
    "GetRole",
    "GetRolePolicy",
    "GetSSHPublicKey",
    "GetUser",
    "PassRole",
    "PutRolePolicy",
    "SetDefaultPolicyVersion",
    "UpdateAssumeRolePolicy",
    "UpdateRoleDescription",
    "UpdateSSHPublicKey",
    "UploadSSHPublicKey",
];
/// IAM role actions AMTC allows only on roles named `Cloud9-…`.
const IAM_ROLE_ACTIONS: &[&str] = &[
    "AttachRolePolicy",
    "CreateRole",
    "DeleteRole",
    "DeleteRolePolicy",
    "DetachRolePolicy",
    "GetRole",
    "GetRolePolicy",
    "PutRolePolicy",
    "UpdateAssumeRolePolicy",
    "UpdateRoleDescription",
];
const CLOUD9_ALLOWED: &[&str] = &[
    "CreateEnvironmentEC2",
    "CreateEnvironmentSSH",
    "DescribeEnvironmentMemberships",
    "DescribeEnvironments",
    "DescribeEnvironmentStatus",
    "UpdateEnvironment",
];

fn param<'a>(params: &'a [String], name: &str) -> Option<&'a str> {
    let eq = format!("{name}=");
    let mut it = params.iter();
    while let Some(p) = it.next() {
        if p == name {
            return it.next().map(String::as_str);
        }
        if let Some(v) = p.strip_prefix(&eq) {
            return Some(v);
        }
    }
    None
}

/// AMTC's action rule, which needs no network fact. `None`: the action is
/// allowed (or the service has no such rule).
pub fn refused_action(call: &ServiceCall) -> Option<String> {
    let svc = call.service;
    if !matches!(svc, "iam" | "sts" | "cloud9") {
        return None;
    }
    if !call.primary {
        return match svc {
            "iam" => Some(
                "this command creates or changes IAM users or roles, which AMTC may not do".into(),
            ),
            "sts" if param(call.params, "--role-arn").is_some() => {
                Some("assuming a role (--role-arn) is outside AMTC's sts allow-list".into())
            }
            _ => None,
        };
    }
    let op = call.api_operation?;
    let allowed = match svc {
        "sts" => STS_ALLOWED.contains(&op),
        "cloud9" => CLOUD9_ALLOWED.contains(&op),
        _ => IAM_ALLOWED.contains(&op) || op.starts_with("List"),
    };
    if !allowed {
        return Some(format!("{svc}:{op} is outside AMTC's allow-list for {svc}"));
    }
    if svc == "iam" && IAM_ROLE_ACTIONS.contains(&op) {
        if let Some(role) = param(call.params, "--role-name") {
            if !role.starts_with("Cloud9-") {
                return Some(format!(
                    "iam:{op} on role {role:?}: AMTC may act only on roles named Cloud9-…"
                ));
            }
        }
    }
    None
}

/// The CLI majors that have a command.
#[derive(Clone, Copy)]
enum Majors {
    Both,
    V2,
}

/// Commands whose output is a credential or a signed URL that someone else
/// presents to AWS later, from their own address. AMTC are accepted only from
/// the environment's IP, so what is signed with them fails there even when
/// signing it worked here. (command, operation, majors, why.)
const SIGNED_FOR_ELSEWHERE: &[(&str, &str, Majors, &str)] = &[
    (
        "eks",
        "get-token",
        Majors::Both,
        "the token is a presigned sts:GetCallerIdentity URL that the EKS control plane presents to STS from its own address, so AMTC signatures are refused there (kubectl: \"You must be logged in to the server (Unauthorized)\")",
    ),
    (
        "s3",
        "presign",
        Majors::Both,
        "a presigned URL is used by whoever it is given to, from their address, and stops working when the AMTC session token expires (~15 min), whatever --expires-in says",
    ),
    (
        "rds",
        "generate-db-auth-token",
        Majors::Both,
        "the IAM auth token is presented by a database client to the database, not from the environment's public IP, and lives no longer than the AMTC session",
    ),
    (
        "dsql",
        "generate-db-connect-auth-token",
        Majors::V2,
        "the token is presented by a database client to Aurora DSQL, not from the environment's public IP, and lives no longer than the AMTC session",
    ),
    (
        "dsql",
        "generate-db-connect-admin-auth-token",
        Majors::V2,
        "the token is presented by a database client to Aurora DSQL, not from the environment's public IP, and lives no longer than the AMTC session",
    ),
];

/// Operations whose API also requires `sts:GetServiceBearerToken` (their API
/// references say so), an STS action outside AMTC's allow-list.
const NEEDS_SERVICE_BEARER_TOKEN: &[(&str, &str)] = &[
    ("codeartifact", "get-authorization-token"),
    ("codeartifact", "login"),
    ("ecr-public", "get-authorization-token"),
    ("ecr-public", "get-login-password"),
];

/// The verdict a command gets from its name alone, for its primary service:
/// `signed-for-elsewhere` (its output is for another machine) or
/// `refused-action` (it needs an STS action AMTC may not do). `None` for
/// every other command.
pub fn command_verdict(
    major: CliMajor,
    command: &str,
    operation: &str,
    params: &[String],
) -> Option<RouteVerdict> {
    if let Some((_, _, _, why)) = SIGNED_FOR_ELSEWHERE.iter().find(|(c, o, m, _)| {
        *c == command && *o == operation && (matches!(m, Majors::Both) || major == CliMajor::V2)
    }) {
        let mut evidence = vec![format!("`{command} {operation}`: {why}")];
        if command == "eks" && param(params, "--role-arn").is_some() {
            evidence.push(
                "with --role-arn it also calls sts:AssumeRole, outside AMTC's sts allow-list"
                    .into(),
            );
        }
        return Some(RouteVerdict {
            verdict: Verdict::SignedForElsewhere,
            evidence,
        });
    }
    if NEEDS_SERVICE_BEARER_TOKEN
        .iter()
        .any(|(c, o)| *c == command && *o == operation)
    {
        return Some(RouteVerdict {
            verdict: Verdict::RefusedAction,
            evidence: vec![format!(
                "`{command} {operation}` needs sts:GetServiceBearerToken, outside AMTC's sts allow-list"
            )],
        });
    }
    None
}

/// AMTC past their life: Cloud9 rewrites the credentials file every ~5 min
/// while the owner's IDE is open, and each token lives ~15 min. A file older
/// than `life` seconds holds expired keys (the IDE is closed). `life` 0 turns
/// the check off; an unknown age is not evidence.
pub fn expired(age_secs: Option<u64>, life: u64, path: &str) -> Option<RouteVerdict> {
    let age = age_secs?;
    (life > 0 && age > life).then(|| RouteVerdict {
        verdict: Verdict::Expired,
        evidence: vec![format!(
            "Cloud9 last wrote {path} {} ago, longer than its managed credentials live ({} s, amtc_life): they have expired (is the IDE closed?)",
            human_age(age),
            life
        )],
    })
}

/// RFC 1918 and the shared/link-local ranges: never reached over the internet.
fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_link_local()
                || Net4 {
                    addr: Ipv4Addr::new(100, 64, 0, 0),
                    len: 10,
                }
                .contains(v4)
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// The verdict for one service of an AMTC call.
pub fn verdict(call: &ServiceCall, facts: &NetFacts) -> RouteVerdict {
    let mut ev = Vec::new();
    if let Some(why) = refused_action(call) {
        return RouteVerdict {
            verdict: Verdict::RefusedAction,
            evidence: vec![why],
        };
    }
    if facts.learnt_refused.iter().any(|s| s == call.service) {
        return RouteVerdict {
            verdict: Verdict::LearntRefusal,
            evidence: vec![format!(
                "AWS refused Cloud9's managed credentials for {} in {} on a recent call",
                call.service,
                call.region.unwrap_or("this region")
            )],
        };
    }
    let mut missing = Vec::new();
    // 1. No public IPv4, or traffic leaves from another address: NAT.
    match &facts.instance {
        Some(inst) => match inst.public_ipv4 {
            None => {
                return RouteVerdict {
                    verdict: Verdict::Nat,
                    evidence: vec![
                        "the instance has no public IPv4 (IMDS): its traffic leaves through a NAT gateway, or not at all".into(),
                    ],
                }
            }
            Some(public) => {
                match facts.egress_ip {
                    Some(egress) if egress != IpAddr::V4(public) => {
                        return RouteVerdict {
                            verdict: Verdict::Nat,
                            evidence: vec![format!(
                                "traffic leaves from {egress} (checkip), not from the public IPv4 {public}: a NAT gateway"
                            )],
                        }
                    }
                    Some(_) => ev.push(format!("traffic leaves from the public IPv4 {public}")),
                    None => missing.push("the egress IP (checkip did not answer)".to_string()),
                }
            }
        },
        None => missing.push("instance metadata (IMDS did not answer)".to_string()),
    }
    // 2. A host that resolves inside the VPC or a private range: interface endpoint.
    let cidrs = facts
        .instance
        .as_ref()
        .map(|i| i.vpc_cidrs.clone())
        .unwrap_or_default();
    for host in call.hosts {
        match facts.dns.get(host) {
            Some(Some(addrs)) if !addrs.is_empty() => {
                let inside: Vec<String> = addrs
                    .iter()
                    .filter(|a| {
                        private(**a)
                            || matches!(a, IpAddr::V4(v4) if cidrs.iter().any(|c| c.contains(*v4)))
                    })
                    .map(|a| a.to_string())
                    .collect();
                if !inside.is_empty() {
                    return RouteVerdict {
                        verdict: Verdict::InterfaceEndpoint,
                        evidence: vec![format!(
                            "{host} resolves into the VPC ({}): an interface endpoint with private DNS",
                            inside.join(", ")
                        )],
                    };
                }
                let list: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
                ev.push(format!(
                    "{host} resolves to public addresses ({})",
                    list.join(", ")
                ));
            }
            _ => missing.push(format!("the addresses of {host}")),
        }
    }
    // 3. S3 and DynamoDB: a gateway endpoint in the subnet's route table.
    if matches!(call.service, "s3" | "dynamodb") {
        match &facts.routing {
            Some(r) => {
                let wanted = call
                    .region
                    .map(|reg| format!("com.amazonaws.{reg}.{}", call.service));
                let hit = r.endpoints.iter().find(|e| {
                    e.kind.eq_ignore_ascii_case("Gateway")
                        && Some(&e.service_name) == wanted.as_ref()
                        && r.route_table_id
                            .as_ref()
                            .is_some_and(|rt| e.route_table_ids.contains(rt))
                });
                match hit {
                    Some(e) => {
                        return RouteVerdict {
                            verdict: Verdict::GatewayEndpoint,
                            evidence: vec![format!(
                                "route table {} sends {} to gateway endpoint {}",
                                r.route_table_id.as_deref().unwrap_or("?"),
                                e.service_name,
                                e.id
                            )],
                        }
                    }
                    None => ev.push(format!(
                        "route table {} has no gateway endpoint for {}",
                        r.route_table_id.as_deref().unwrap_or("?"),
                        wanted.as_deref().unwrap_or(call.service)
                    )),
                }
            }
            None => missing.push(
                "the subnet's route table (needs a fallback profile allowed ec2:Describe*)".into(),
            ),
        }
    }
    if missing.is_empty() {
        RouteVerdict {
            verdict: Verdict::Public,
            evidence: ev,
        }
    } else {
        ev.extend(missing.into_iter().map(|m| format!("unknown: {m}")));
        RouteVerdict {
            verdict: Verdict::Unknown,
            evidence: ev,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(public: Option<&str>) -> Instance {
        Instance {
            instance_id: Some("i-0123".into()),
            region: Some("ap-northeast-1".into()),
            mac: Some("0e:00:00:00:00:01".into()),
            public_ipv4: public.map(|p| p.parse().unwrap()),
            local_ipv4: Some("10.0.1.10".parse().unwrap()),
            vpc_id: Some("vpc-1".into()),
            subnet_id: Some("subnet-1".into()),
            vpc_cidrs: vec![Net4::parse("10.0.0.0/16").unwrap()],
        }
    }

    fn facts(public: Option<&str>, egress: Option<&str>, host_ip: &str, gateway: bool) -> NetFacts {
        let mut dns = BTreeMap::new();
        dns.insert("h".to_string(), Some(vec![host_ip.parse().unwrap()]));
        NetFacts {
            instance: Some(inst(public)),
            egress_ip: egress.map(|e| e.parse().unwrap()),
            dns,
            routing: Some(Routing {
                route_table_id: Some("rtb-1".into()),
                prefix_list_routes: vec![],
                endpoints: if gateway {
                    vec![VpcEndpoint {
                        id: "vpce-1".into(),
                        kind: "Gateway".into(),
                        service_name: "com.amazonaws.ap-northeast-1.s3".into(),
                        route_table_ids: vec!["rtb-1".into()],
                        private_dns: false,
                    }]
                } else {
                    vec![]
                },
            }),
            learnt_refused: vec![],
        }
    }

    fn call<'a>(
        service: &'a str,
        op: Option<&'a str>,
        params: &'a [String],
        hosts: &'a [String],
    ) -> ServiceCall<'a> {
        ServiceCall {
            service,
            api_operation: op,
            params,
            primary: true,
            hosts,
            region: Some("ap-northeast-1"),
        }
    }

    #[test]
    fn network_verdict_table() {
        let hosts = vec!["h".to_string()];
        let pubip = Some("203.0.113.10");
        let rows: &[(&str, NetFacts, Verdict)] = &[
            (
                "ec2",
                facts(pubip, pubip, "198.51.100.5", false),
                Verdict::Public,
            ),
            (
                "ec2",
                facts(None, Some("203.0.113.99"), "198.51.100.5", false),
                Verdict::Nat,
            ),
            (
                "ec2",
                facts(pubip, Some("203.0.113.99"), "198.51.100.5", false),
                Verdict::Nat,
            ),
            (
                "sts",
                facts(pubip, pubip, "10.0.5.5", false),
                Verdict::InterfaceEndpoint,
            ),
            (
                "sts",
                facts(pubip, pubip, "172.31.0.5", false),
                Verdict::InterfaceEndpoint,
            ),
            (
                "s3",
                facts(pubip, pubip, "198.51.100.5", true),
                Verdict::GatewayEndpoint,
            ),
            (
                "s3",
                facts(pubip, pubip, "198.51.100.5", false),
                Verdict::Public,
            ),
            (
                "ec2",
                facts(pubip, None, "198.51.100.5", false),
                Verdict::Unknown,
            ),
            ("ec2", NetFacts::default(), Verdict::Unknown),
            (
                "ec2",
                NetFacts {
                    learnt_refused: vec!["ec2".into()],
                    ..NetFacts::default()
                },
                Verdict::LearntRefusal,
            ),
        ];
        for (svc, f, want) in rows {
            let op = if *svc == "sts" {
                Some("GetCallerIdentity")
            } else {
                None
            };
            let v = verdict(&call(svc, op, &[], &hosts), f);
            assert_eq!(v.verdict, *want, "{svc} {f:?}: {:?}", v.evidence);
            assert!(!v.evidence.is_empty());
        }
        // A gateway endpoint of another region does not carry this call.
        let mut c = call("s3", None, &[], &hosts);
        c.region = Some("eu-west-1");
        assert_eq!(
            verdict(&c, &facts(pubip, pubip, "198.51.100.5", true)).verdict,
            Verdict::Public
        );
        // Without the route table, S3 is unknown; EC2 does not need it.
        let mut f = facts(pubip, pubip, "198.51.100.5", false);
        f.routing = None;
        assert_eq!(
            verdict(&call("s3", None, &[], &hosts), &f).verdict,
            Verdict::Unknown
        );
        assert_eq!(
            verdict(&call("ec2", None, &[], &hosts), &f).verdict,
            Verdict::Public
        );
    }

    #[test]
    fn action_allow_list_table() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let rows: &[(&str, &str, Vec<String>, bool)] = &[
            ("sts", "GetCallerIdentity", s(&[]), false),
            ("sts", "AssumeRole", s(&["--role-arn", "arn"]), true),
            ("sts", "GetSessionToken", s(&[]), true),
            ("iam", "ListUsers", s(&[]), false),
            ("iam", "CreateUser", s(&["--user-name", "u"]), true),
            ("iam", "CreateAccessKey", s(&[]), true),
            ("iam", "GetRole", s(&["--role-name", "Cloud9-x"]), false),
            ("iam", "GetRole", s(&["--role-name=admin"]), true),
            ("iam", "PassRole", s(&[]), false),
            ("cloud9", "DescribeEnvironments", s(&[]), false),
            ("cloud9", "CreateEnvironmentMembership", s(&[]), true),
            ("ec2", "RunInstances", s(&[]), false),
        ];
        for (svc, op, params, refused) in rows {
            let c = call(svc, Some(op), params, &[]);
            assert_eq!(refused_action(&c).is_some(), *refused, "{svc}:{op}");
            if *refused {
                assert_eq!(
                    verdict(&c, &NetFacts::default()).verdict,
                    Verdict::RefusedAction
                );
            }
        }
    }

    /// Every classed command, with each major it exists in; and the
    /// neighbours checked and left out (their output is used from this
    /// machine, or is not signed with AWS credentials).
    #[test]
    fn command_verdict_table() {
        use CliMajor::{V1, V2};
        let none: &[String] = &[];
        let rows: &[(CliMajor, &str, &str, Option<Verdict>)] = &[
            (V1, "eks", "get-token", Some(Verdict::SignedForElsewhere)),
            (V2, "eks", "get-token", Some(Verdict::SignedForElsewhere)),
            (V1, "s3", "presign", Some(Verdict::SignedForElsewhere)),
            (V2, "s3", "presign", Some(Verdict::SignedForElsewhere)),
            (
                V1,
                "rds",
                "generate-db-auth-token",
                Some(Verdict::SignedForElsewhere),
            ),
            (
                V2,
                "rds",
                "generate-db-auth-token",
                Some(Verdict::SignedForElsewhere),
            ),
            (
                V2,
                "dsql",
                "generate-db-connect-auth-token",
                Some(Verdict::SignedForElsewhere),
            ),
            (
                V2,
                "dsql",
                "generate-db-connect-admin-auth-token",
                Some(Verdict::SignedForElsewhere),
            ),
            // v1's dsql has no token commands: a usage error there, nothing to switch.
            (V1, "dsql", "generate-db-connect-auth-token", None),
            (
                V1,
                "codeartifact",
                "get-authorization-token",
                Some(Verdict::RefusedAction),
            ),
            (
                V2,
                "codeartifact",
                "get-authorization-token",
                Some(Verdict::RefusedAction),
            ),
            (V1, "codeartifact", "login", Some(Verdict::RefusedAction)),
            (V2, "codeartifact", "login", Some(Verdict::RefusedAction)),
            (
                V1,
                "ecr-public",
                "get-login-password",
                Some(Verdict::RefusedAction),
            ),
            (
                V2,
                "ecr-public",
                "get-login-password",
                Some(Verdict::RefusedAction),
            ),
            (
                V2,
                "ecr-public",
                "get-authorization-token",
                Some(Verdict::RefusedAction),
            ),
            // Checked and left out.
            (V1, "ecr", "get-login-password", None),
            (V2, "ecr", "get-login-password", None),
            (V1, "ecr", "get-login", None),
            (V2, "ecr", "get-authorization-token", None),
            (V2, "codecommit", "credential-helper", None),
            (V2, "cloudfront", "sign", None),
            (V2, "redshift", "get-cluster-credentials", None),
            (V2, "emr", "get-cluster-session-credentials", None),
            (V2, "s3", "cp", None),
            (V2, "eks", "update-kubeconfig", None),
            (V2, "rds", "describe-db-instances", None),
        ];
        for (major, c, o, want) in rows {
            let got = command_verdict(*major, c, o, none);
            assert_eq!(got.as_ref().map(|v| v.verdict), *want, "{major:?} {c} {o}");
            if let Some(v) = got {
                assert!(v.verdict.refuses());
                assert!(
                    v.evidence[0].contains(&format!("`{c} {o}`")),
                    "{:?}",
                    v.evidence
                );
            }
        }
        let role = vec![
            "--cluster-name".to_string(),
            "c".into(),
            "--role-arn".into(),
            "arn:aws:iam::1:role/r".into(),
        ];
        let v = command_verdict(V2, "eks", "get-token", &role).unwrap();
        assert_eq!(v.verdict, Verdict::SignedForElsewhere);
        assert!(v.evidence[1].contains("sts:AssumeRole"), "{:?}", v.evidence);
    }

    #[test]
    fn expired_from_the_files_age() {
        let rows: &[(Option<u64>, u64, bool)] = &[
            (None, 900, false),
            (Some(0), 900, false),
            (Some(600), 900, false),
            (Some(900), 900, false),
            (Some(901), 900, true),
            (Some(7200), 900, true),
            (Some(7200), 0, false),
            (Some(1000), 1200, false),
        ];
        for (age, life, want) in rows {
            let v = expired(*age, *life, "/h/.aws/credentials");
            assert_eq!(v.is_some(), *want, "{age:?} {life}");
            if let Some(v) = v {
                assert_eq!(v.verdict, Verdict::Expired);
                assert!(v.verdict.refuses());
                assert!(v.evidence[0].contains("/h/.aws/credentials"));
                assert!(v.evidence[0].contains(&format!("({life} s, amtc_life)")));
            }
        }
        assert!(expired(Some(7200), 900, "c").unwrap().evidence[0].contains("2 h ago"));
    }
}
