//! Instance metadata (IMDSv2) through aws-config's IMDS client: the network
//! facts of this machine. Owns the endpoint choice (from the environment map,
//! not the process), `AWS_EC2_METADATA_DISABLED`, and short timeouts so that
//! off EC2 it fails fast. A 404 is a fact (the item does not exist), not an
//! error; any other failure makes the whole answer an `Err`, so that a missing
//! `public-ipv4` can only ever mean "no public IPv4".

use crate::adapters::environment::debug;
use crate::core::route::{Instance, Net4};
use crate::core::EnvMap;
use aws_config::imds::client::error::ImdsError as ClientError;
use aws_config::imds::Client;
use aws_config::provider_config::ProviderConfig;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
const READ_TIMEOUT: Duration = Duration::from_millis(500);
const DEFAULT_ENDPOINT_V4: &str = "http://169.254.169.254";
const DEFAULT_ENDPOINT_V6: &str = "http://[fd00:ec2::254]";
const META: &str = "/latest/meta-data/";

/// Why the instance's facts could not be read.
#[derive(Debug)]
pub enum ImdsError {
    /// `AWS_EC2_METADATA_DISABLED=true`: nothing was asked.
    Disabled,
    /// The endpoint is not a URI.
    Endpoint {
        endpoint: String,
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `mac` holds something other than a MAC address.
    BadMac,
    /// `item` answered with an HTTP status other than 200 and 404.
    Status { item: String, status: u16 },
    /// No session token for `item`: IMDS unreachable, or the token request
    /// failed.
    NoToken { item: String, unreachable: bool },
    /// Any other failure of the client for `item` (boxed: the SDK's error
    /// is large, and this one travels in every probe result).
    Client {
        item: String,
        error: Box<ClientError>,
    },
    /// An address item is not an IPv4 address.
    NotIpv4 { item: &'static str },
}

impl fmt::Display for ImdsError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ImdsError::Disabled => f.write_str("disabled (AWS_EC2_METADATA_DISABLED=true)"),
            ImdsError::Endpoint { endpoint, error } => {
                write!(f, "invalid IMDS endpoint {endpoint:?}: {error}")
            }
            ImdsError::BadMac => f.write_str("IMDS mac is not a MAC address"),
            ImdsError::Status { item, status } => write!(f, "IMDS {item}: HTTP {status}"),
            ImdsError::NoToken { item, unreachable } => write!(
                f,
                "IMDS {item}: no session token ({})",
                if *unreachable {
                    "IMDS unreachable"
                } else {
                    "token request failed"
                }
            ),
            ImdsError::Client { item, error } => write!(f, "IMDS {item}: {}", error_chain(error)),
            ImdsError::NotIpv4 { item } => write!(f, "IMDS {item} is not an IPv4 address"),
        }
    }
}

impl std::error::Error for ImdsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ImdsError::Endpoint { error, .. } => Some(error.as_ref()),
            ImdsError::Client { error, .. } => Some(error.as_ref()),
            _ => None,
        }
    }
}

pub use crate::core::region::imds_disabled as disabled;

/// `AWS_EC2_METADATA_SERVICE_ENDPOINT` when set, else the default address for
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE` (IPv4 unless `IPv6`). Always set
/// explicitly so that the client never reads the process environment or the
/// profile files on its own. (The `ec2_metadata_service_endpoint[_mode]` keys
/// of the config file are not read here.)
pub fn endpoint(env: &EnvMap) -> String {
    if let Some(e) = env
        .get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
    {
        return e.to_string();
    }
    let v6 = env
        .get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("ipv6"));
    if v6 {
        DEFAULT_ENDPOINT_V6
    } else {
        DEFAULT_ENDPOINT_V4
    }
    .to_string()
}

/// An IMDS client builder for `ep` on a plain-HTTP connection: IMDS is never
/// HTTPS, so no TLS stack (and no trust store) is loaded to reach it.
pub(crate) fn builder(ep: &str) -> Result<aws_config::imds::client::Builder, ImdsError> {
    let http = aws_smithy_http_client::Builder::new().build_http();
    Client::builder()
        .configure(&ProviderConfig::without_region().with_http_client(http))
        .endpoint(ep)
        .map_err(|error| ImdsError::Endpoint {
            endpoint: ep.to_string(),
            error,
        })
}

/// The instance's network facts. `Err("disabled …")` without any request when
/// `AWS_EC2_METADATA_DISABLED=true`; `Err` on any transport, token or status
/// failure other than 404.
pub async fn instance(env: &EnvMap) -> Result<Instance, ImdsError> {
    if disabled(env) {
        debug(env, || "imds: disabled by AWS_EC2_METADATA_DISABLED".into());
        return Err(ImdsError::Disabled);
    }
    let ep = endpoint(env);
    debug(env, || format!("imds: endpoint {ep}"));
    let client = builder(&ep)?
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .operation_attempt_timeout(CONNECT_TIMEOUT + READ_TIMEOUT)
        .operation_timeout(CONNECT_TIMEOUT + READ_TIMEOUT)
        .max_attempts(1)
        .build();

    let (instance_id, region, mac, local, public) = tokio::join!(
        get(&client, "instance-id"),
        get(&client, "placement/region"),
        get(&client, "mac"),
        get(&client, "local-ipv4"),
        get(&client, "public-ipv4"),
    );
    let mut out = Instance {
        instance_id: instance_id?,
        region: region?,
        mac: mac?.map(|m| m.to_ascii_lowercase()),
        local_ipv4: ipv4("local-ipv4", local?)?,
        public_ipv4: ipv4("public-ipv4", public?)?,
        ..Instance::default()
    };

    if let Some(mac) = out.mac.clone() {
        if !mac.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(ImdsError::BadMac);
        }
        let base = format!("network/interfaces/macs/{mac}/");
        let (vpc_item, subnet_item, cidrs_item) = (
            format!("{base}vpc-id"),
            format!("{base}subnet-id"),
            format!("{base}vpc-ipv4-cidr-blocks"),
        );
        let (vpc, subnet, cidrs) = tokio::join!(
            get(&client, &vpc_item),
            get(&client, &subnet_item),
            get(&client, &cidrs_item),
        );
        out.vpc_id = vpc?;
        out.subnet_id = subnet?;
        let cidrs = match cidrs? {
            Some(c) => Some(c),
            None => get(&client, &format!("{base}vpc-ipv4-cidr-block")).await?,
        };
        for line in cidrs.as_deref().unwrap_or("").lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            match Net4::parse(line) {
                Some(n) if !out.vpc_cidrs.contains(&n) => out.vpc_cidrs.push(n),
                Some(_) => {}
                None => debug(env, || {
                    format!("imds: ignoring VPC CIDR block that is not a.b.c.d/n: {line:?}")
                }),
            }
        }
    }
    debug(env, || {
        format!(
            "imds: instance {}, region {}, public IPv4 {}, {} VPC CIDR block(s)",
            out.instance_id.as_deref().unwrap_or("-"),
            out.region.as_deref().unwrap_or("-"),
            if out.public_ipv4.is_some() {
                "present"
            } else {
                "none"
            },
            out.vpc_cidrs.len()
        )
    });
    Ok(out)
}

/// One metadata item, trimmed; `Ok(None)` on 404 or an empty value.
async fn get(client: &Client, item: &str) -> Result<Option<String>, ImdsError> {
    let named = || item.to_string();
    match client.get(format!("{META}{item}")).await {
        Ok(v) => {
            let v = v.as_ref().trim();
            Ok((!v.is_empty()).then(|| v.to_string()))
        }
        Err(ClientError::ErrorResponse(r)) if r.response().status().as_u16() == 404 => Ok(None),
        Err(ClientError::ErrorResponse(r)) => Err(ImdsError::Status {
            item: named(),
            status: r.response().status().as_u16(),
        }),
        Err(ClientError::FailedToLoadToken(e)) => Err(ImdsError::NoToken {
            item: named(),
            unreachable: e.is_dispatch_failure(),
        }),
        Err(error) => Err(ImdsError::Client {
            item: named(),
            error: Box::new(error),
        }),
    }
}

fn ipv4(item: &'static str, v: Option<String>) -> Result<Option<Ipv4Addr>, ImdsError> {
    match v {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| ImdsError::NotIpv4 { item }),
    }
}

/// An error and its sources in one line, each told once.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    s
}

/// Fake servers on 127.0.0.1 for the adapter tests (shared with the
/// integration tests, hence the file's place): bounded, stopped on drop.
#[cfg(test)]
#[path = "../../tests/common/fake_imds.rs"]
pub(crate) mod fake;

#[cfg(test)]
mod tests {
    use super::fake;
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> EnvMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn facts_from_a_private_instance_and_public_ipv4_404_is_none() {
        let srv = fake::imds(&fake::cloud9_values(None));
        let e = env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &srv.url())]);
        let i = rt().block_on(instance(&e)).unwrap();
        assert_eq!(i.instance_id.as_deref(), Some("i-0123456789abcdef0"));
        assert_eq!(i.region.as_deref(), Some("ap-northeast-1"));
        assert_eq!(i.mac.as_deref(), Some(fake::MAC));
        assert_eq!(i.local_ipv4, Some(Ipv4Addr::new(10, 0, 1, 23)));
        assert_eq!(i.public_ipv4, None);
        assert_eq!(i.vpc_id.as_deref(), Some("vpc-0abc"));
        assert_eq!(i.subnet_id.as_deref(), Some("subnet-0def"));
        assert_eq!(
            i.vpc_cidrs,
            vec![
                Net4::parse("10.0.0.0/16").unwrap(),
                Net4::parse("100.64.0.0/16").unwrap()
            ]
        );
        assert!(srv.count() >= 9, "requests: {}", srv.count());
    }

    #[test]
    fn public_ipv4_and_single_cidr_fallback() {
        let mut v: Vec<(&str, &str)> = fake::cloud9_values(Some("203.0.113.7"))
            .into_iter()
            .filter(|(k, _)| !k.ends_with("vpc-ipv4-cidr-blocks"))
            .collect();
        v.push((
            "network/interfaces/macs/0a:1b:2c:3d:4e:5f/vpc-ipv4-cidr-block",
            "172.31.0.0/16",
        ));
        let srv = fake::imds(&v);
        let e = env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &srv.url())]);
        let i = rt().block_on(instance(&e)).unwrap();
        assert_eq!(i.public_ipv4, Some(Ipv4Addr::new(203, 0, 113, 7)));
        assert_eq!(i.vpc_cidrs, vec![Net4::parse("172.31.0.0/16").unwrap()]);
    }

    #[test]
    fn disabled_makes_no_request() {
        let srv = fake::imds(&fake::cloud9_values(None));
        for v in ["true", "TRUE", " True "] {
            let e = env(&[
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &srv.url()),
                ("AWS_EC2_METADATA_DISABLED", v),
            ]);
            let err = rt().block_on(instance(&e)).unwrap_err().to_string();
            assert!(err.starts_with("disabled"), "{err}");
        }
        assert_eq!(srv.count(), 0);
        // Anything else is not "disabled".
        let e = env(&[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &srv.url()),
            ("AWS_EC2_METADATA_DISABLED", "false"),
        ]);
        assert!(rt().block_on(instance(&e)).is_ok());
    }

    #[test]
    fn bad_token_and_server_errors_are_errors_not_missing_facts() {
        // A server that rejects every token: 401 must not become "no public IP".
        let srv = fake::serve(std::sync::Arc::new(
            |m: &str, p: &str, _: &std::collections::BTreeMap<String, String>| {
                Some(if m == "PUT" && p == "/latest/api/token" {
                    (200, "t".to_string())
                } else {
                    (401, String::new())
                })
            },
        ));
        let e = env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &srv.url())]);
        let err = rt().block_on(instance(&e)).unwrap_err().to_string();
        assert!(err.contains("401"), "{err}");
    }

    #[test]
    fn garbage_values_are_errors() {
        let mut v = fake::cloud9_values(None);
        v.push(("public-ipv4", "not-an-ip"));
        let srv = fake::imds(&v);
        let e = env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &srv.url())]);
        assert!(rt().block_on(instance(&e)).is_err());

        let srv = fake::imds(&[("mac", "../../etc")]);
        let e = env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &srv.url())]);
        assert!(rt().block_on(instance(&e)).is_err());
    }

    #[test]
    fn closed_port_and_bad_endpoint_fail_fast() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = env(&[(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            &format!("http://127.0.0.1:{port}"),
        )]);
        let t = std::time::Instant::now();
        assert!(rt().block_on(instance(&e)).is_err());
        assert!(
            t.elapsed() < Duration::from_millis(1500),
            "{:?}",
            t.elapsed()
        );

        let e = env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "not a uri")]);
        assert!(rt().block_on(instance(&e)).is_err());
    }

    #[test]
    fn endpoint_choice() {
        assert_eq!(endpoint(&env(&[])), DEFAULT_ENDPOINT_V4);
        assert_eq!(
            endpoint(&env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")])),
            DEFAULT_ENDPOINT_V6
        );
        assert_eq!(
            endpoint(&env(&[
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6"),
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1")
            ])),
            "http://127.0.0.1:1"
        );
        assert_eq!(
            endpoint(&env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "")])),
            DEFAULT_ENDPOINT_V4
        );
    }
}
