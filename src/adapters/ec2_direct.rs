//! The route-table read without the CLI (c9aws-probe only): the fallback
//! profile's credentials from aws-config's profile provider (static keys,
//! `credential_process`), `DescribeRouteTables` and `DescribeVpcEndpoints`
//! signed with aws-sigv4 and sent concurrently with ureq over rustls (ring),
//! trusting what the CLI trusts (`AWS_CA_BUNDLE` / the profile's `ca_bundle`,
//! then the system's bundle file, then its certificate directories).
//!
//! Whenever it cannot stand for the CLI — a profile whose credentials only the
//! CLI resolves the same way, a proxy, no CLI version known, a network or
//! server problem, throttling, an answer it cannot read — it says so
//! ([`DirectAnswer::UseCli`]) and c9aws reads with the CLI as before. A refusal
//! the CLI would get too (403 UnauthorizedOperation …) is final.
//!
//! Known differences from the CLI: no retries (a failure goes to the CLI,
//! which retries), the CLI's credential cache is not used (static keys and
//! `credential_process` are not cached by the CLI either).

use crate::adapters::aws_files;
use crate::adapters::egress::{agent, files_trust, system_dirs_trust, untrusted};
use crate::adapters::environment::{debug, expand_path};
use crate::core::ec2_query::{self, DirectAnswer, DirectRequest, Operation, Verdict};
use crate::core::profile::{resolve, ProfileOrigin};
use crate::core::{CliMajor, EnvMap};
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};
use ureq::tls::Certificate;

/// Largest answer read (the CLI reads any size; a VPC's tables are far smaller).
const MAX_BODY: u64 = 32 * 1024 * 1024;

/// Reads both answers for `req`, or says why the CLI must.
pub fn read(env: &EnvMap, req: &DirectRequest) -> DirectAnswer {
    let started = Instant::now();
    let deadline = Duration::from_millis(req.deadline_ms);
    let use_cli = |why: String| {
        debug(env, || {
            format!("direct route-table read: {why}; using the CLI")
        });
        DirectAnswer::UseCli { why }
    };
    let files = aws_files::shared_files(env);
    let profile = resolve(&files, req.profile.clone(), ProfileOrigin::Flag);
    if let Some(why) = ec2_query::direct_eligible(&profile, env) {
        return use_cli(why);
    }
    let major = match req.cli_major {
        1 => CliMajor::V1,
        2 => CliMajor::V2,
        m => return use_cli(format!("unknown CLI major version {m}")),
    };
    let url = match ec2_query::endpoint_url(major, &req.region, env, &profile, &files) {
        Ok(u) => u,
        Err(why) => return use_cli(why),
    };
    let ca_bundle = env
        .get("AWS_CA_BUNDLE")
        .filter(|v| !v.is_empty())
        .cloned()
        .or_else(|| profile.get("ca_bundle").map(str::to_string))
        .map(|p| PathBuf::from(expand_path(&p, env)));
    let creds = match credentials(&req.profile, &req.region, deadline) {
        Ok(c) => c,
        Err(why) => return use_cli(why),
    };
    let roots = match files_trust(ca_bundle.as_deref()) {
        Ok(r) => r,
        Err(e) => return use_cli(e.to_string()),
    };
    let left = deadline.saturating_sub(started.elapsed());
    let call = |op| Call {
        op,
        url: &url,
        region: &req.region,
        vpc_id: &req.vpc_id,
        creds: &creds,
        timeout: left,
    };
    let (tables, endpoints) = std::thread::scope(|s| {
        let t = s.spawn(|| call(Operation::DescribeRouteTables).all_pages(&roots));
        let e = call(Operation::DescribeVpcEndpoints).all_pages(&roots);
        (
            t.join()
                .unwrap_or_else(|_| Err(Outcome::UseCli("a thread panicked".into()))),
            e,
        )
    });
    let refused = |op: Operation, status, line| DirectAnswer::Refused {
        operation: op.action().to_string(),
        status,
        line,
    };
    match (tables, endpoints) {
        (Ok(t), Ok(e)) => DirectAnswer::Read {
            route_tables: t,
            endpoints: e,
            elapsed_ms: started.elapsed().as_millis() as u64,
        },
        (Err(Outcome::Refused(status, line)), _) => {
            refused(Operation::DescribeRouteTables, status, line)
        }
        (_, Err(Outcome::Refused(status, line))) => {
            refused(Operation::DescribeVpcEndpoints, status, line)
        }
        (Err(Outcome::UseCli(why)), _) | (_, Err(Outcome::UseCli(why))) => use_cli(why),
    }
}

/// The profile's credentials through aws-config's profile provider, on a
/// current-thread runtime, within `deadline`.
fn credentials(profile: &str, region: &str, deadline: Duration) -> Result<Credentials, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("no async runtime: {e}"))?;
    let got = rt.block_on(async {
        // Plain HTTP only (as for IMDS): the provider builds an STS client it
        // needs for role chains, which go to the CLI (ec2_query::direct_eligible).
        let http = aws_smithy_http_client::Builder::new().build_http();
        let conf = aws_config::provider_config::ProviderConfig::without_region()
            .with_http_client(http)
            .with_region(Some(aws_config::Region::new(region.to_string())));
        let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .profile_name(profile)
            .configure(&conf)
            .build();
        tokio::time::timeout(deadline, provider.provide_credentials()).await
    });
    // A credential_process that outlives the deadline is not waited for.
    rt.shutdown_background();
    match got {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(format!(
            "aws-config could not resolve profile {profile}: {}",
            error_chain(&e)
        )),
        Err(_) => Err(format!(
            "profile {profile}'s credentials took longer than {} ms",
            deadline.as_millis()
        )),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

enum Outcome {
    Refused(u16, String),
    UseCli(String),
}

struct Call<'a> {
    op: Operation,
    url: &'a str,
    region: &'a str,
    vpc_id: &'a str,
    creds: &'a Credentials,
    timeout: Duration,
}

impl Call<'_> {
    /// Every page of the operation, as the CLI's JSON.
    fn all_pages(&self, files: &[Certificate<'static>]) -> Result<String, Outcome> {
        let started = Instant::now();
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..ec2_query::MAX_PAGES {
            let left = self.timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(Outcome::UseCli(format!(
                    "ec2:{}: no time left",
                    self.op.action()
                )));
            }
            let body = ec2_query::request_body(self.op, self.vpc_id, token.as_deref());
            let (status, text) = self.send_trusted(&body, files, left)?;
            match ec2_query::verdict(self.op, status, &text) {
                Verdict::Page => {}
                Verdict::Refused { line } => return Err(Outcome::Refused(status, line)),
                Verdict::UseCli { why } => return Err(Outcome::UseCli(why)),
            }
            let page = ec2_query::parse_page(self.op, &text).map_err(|e| {
                Outcome::UseCli(format!("ec2:{}: unreadable answer: {e}", self.op.action()))
            })?;
            items.extend(page.items);
            match page.next_token {
                Some(t) => token = Some(t),
                None => return Ok(ec2_query::cli_json(self.op, items)),
            }
        }
        Err(Outcome::UseCli(format!(
            "ec2:{}: more than {} pages",
            self.op.action(),
            ec2_query::MAX_PAGES
        )))
    }

    /// The bundle files first; the certificate directories only if the
    /// server's certificate is not trusted by them (as egress does).
    fn send_trusted(
        &self,
        body: &str,
        files: &[Certificate<'static>],
        timeout: Duration,
    ) -> Result<(u16, String), Outcome> {
        let started = Instant::now();
        let https = self
            .url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        if !https {
            return self.send(body, None, timeout).map_err(|e| self.failed(&e));
        }
        if !files.is_empty() {
            match self.send(body, Some(files.to_vec()), timeout) {
                Err(e) if untrusted(&e) => {}
                r => return r.map_err(|e| self.failed(&e)),
            }
        }
        let mut all = files.to_vec();
        all.extend(system_dirs_trust());
        let left = timeout.saturating_sub(started.elapsed());
        self.send(body, Some(all), left)
            .map_err(|e| self.failed(&e))
    }

    fn failed(&self, e: &ureq::Error) -> Outcome {
        Outcome::UseCli(format!("ec2:{} at {}: {e}", self.op.action(), self.url))
    }

    fn send(
        &self,
        body: &str,
        roots: Option<Vec<Certificate<'static>>>,
        timeout: Duration,
    ) -> Result<(u16, String), ureq::Error> {
        let agent = agent(timeout, roots, false);
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let signed = sign(self.url, content_type, body, self.region, self.creds)
            .map_err(|e| ureq::Error::BadUri(format!("cannot sign the request: {e}")))?;
        let mut r = agent.post(self.url).header("Content-Type", content_type);
        for (name, value) in &signed {
            r = r.header(name.as_str(), value.as_str());
        }
        let mut resp = r.send(body)?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()?;
        Ok((status, text))
    }
}

/// The SigV4 headers of one POST (`X-Amz-Date`, `Authorization`, and
/// `X-Amz-Security-Token` with a session token).
pub(crate) fn sign(
    url: &str,
    content_type: &str,
    body: &str,
    region: &str,
    creds: &Credentials,
) -> Result<Vec<(String, String)>, String> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let identity = creds.clone().into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("ec2")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let req = SignableRequest::new(
        "POST",
        url,
        std::iter::once(("content-type", content_type)),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(req, &params).map_err(|e| e.to_string())?.into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// `c9aws-probe __route-tables`: one [`DirectRequest`] on stdin, the
/// [`DirectAnswer`] on stdout.
pub fn serve() -> i32 {
    use std::io::{Read, Write};
    let env = crate::adapters::environment::snapshot();
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        return 2;
    }
    let Ok(req) = serde_json::from_slice::<DirectRequest>(&input) else {
        eprintln!(
            "c9aws-probe: `{}` is for c9aws's own use (a request on stdin)",
            crate::adapters::helper::ROUTE_TABLES_WORD
        );
        return 2;
    };
    let answer = read(&env, &req);
    let mut out = std::io::stdout().lock();
    match serde_json::to_writer(&mut out, &answer).map(|_| out.flush()) {
        Ok(Ok(())) => 0,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_headers_have_the_sigv4_shape() {
        let c = Credentials::new("AKIDEXAMPLE", "secret", Some("tok".into()), None, "t");
        let h = sign(
            "https://ec2.ap-northeast-1.amazonaws.com",
            "application/x-www-form-urlencoded; charset=utf-8",
            "Action=DescribeRouteTables",
            "ap-northeast-1",
            &c,
        )
        .unwrap();
        let get = |k: &str| {
            h.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let auth = get("authorization");
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{auth}"
        );
        assert!(auth.contains("/ap-northeast-1/ec2/aws4_request"), "{auth}");
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"),
            "{auth}"
        );
        assert_eq!(get("x-amz-security-token"), "tok");
        assert_eq!(get("x-amz-date").len(), 16);
    }

    #[test]
    fn ineligible_profiles_go_to_the_cli() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("config"),
            "[profile fb]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = s\n",
        )
        .unwrap();
        let env: EnvMap = [
            ("HOME".to_string(), d.path().display().to_string()),
            (
                "AWS_CONFIG_FILE".to_string(),
                d.path().join("config").display().to_string(),
            ),
        ]
        .into();
        let req = DirectRequest {
            profile: "fb".into(),
            region: "ap-northeast-1".into(),
            vpc_id: "vpc-1".into(),
            cli_major: 2,
            deadline_ms: 1000,
        };
        match read(&env, &req) {
            DirectAnswer::UseCli { why } => assert!(why.contains("role_arn"), "{why}"),
            a => panic!("{a:?}"),
        }
    }
}
