//! The direct route-table read (`c9aws-probe __route-tables`, and through a
//! whole `c9aws s3 ls`) against a fake EC2 on loopback that checks the SigV4
//! shape of each request and answers EC2's XML. Bounded: the fake's
//! connections time out, and it is stopped and joined when dropped.

use crate::world::{stderr, write_exe, World};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const PROBE: &str = env!("CARGO_BIN_EXE_c9aws-probe");

/// One request as the fake saw it.
#[derive(Debug, Clone)]
struct Seen {
    headers: BTreeMap<String, String>,
    body: String,
}

type Answer = dyn Fn(&Seen) -> Option<(u16, String)> + Send + Sync;

struct FakeEc2 {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeEc2 {
    fn start(answer: Arc<Answer>) -> FakeEc2 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, st2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut workers = Vec::new();
            while !st2.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((c, _)) => {
                        let (s3, a3, st3) = (s2.clone(), answer.clone(), st2.clone());
                        workers.push(std::thread::spawn(move || one(c, &s3, &*a3, &st3)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            for w in workers {
                let _ = w.join();
            }
        });
        FakeEc2 {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeEc2 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn one(mut c: TcpStream, seen: &Mutex<Vec<Seen>>, answer: &Answer, stop: &AtomicBool) {
    c.set_nonblocking(false).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Reads some more into `buf`; false when the client is gone or time is up.
    let mut more = |buf: &mut Vec<u8>| {
        if Instant::now() > until || stop.load(Ordering::SeqCst) {
            return false;
        }
        match c.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(_) => true,
        }
    };
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if !more(&mut buf) {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let headers: BTreeMap<String, String> = head
        .split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        if !more(&mut buf) {
            return;
        }
    }
    let s = Seen {
        headers,
        body: String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned(),
    };
    seen.lock().unwrap().push(s.clone());
    let Some((status, body)) = answer(&s) else {
        // Never answer: hold the connection until the client gives up or we stop.
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            if matches!(c.read(&mut chunk), Ok(0)) {
                return;
            }
        }
        return;
    };
    let resp = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: text/xml;charset=UTF-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = c.write_all(resp.as_bytes());
}

const TABLES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeRouteTablesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r1</requestId><routeTableSet><item><routeTableId>rtb-0direct</routeTableId><vpcId>vpc-0abc</vpcId><associationSet><item><main>true</main><routeTableId>rtb-0direct</routeTableId></item></associationSet><routeSet><item><destinationPrefixListId>pl-61a54008</destinationPrefixListId><gatewayId>vpce-0s3</gatewayId><state>active</state></item></routeSet></item></routeTableSet></DescribeRouteTablesResponse>"#;
const ENDPOINTS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeVpcEndpointsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r2</requestId><vpcEndpointSet><item><vpcEndpointId>vpce-0s3</vpcEndpointId><vpcEndpointType>Gateway</vpcEndpointType><serviceName>com.amazonaws.ap-northeast-1.s3</serviceName><state>available</state><routeTableIdSet><item>rtb-0direct</item></routeTableIdSet><privateDnsEnabled>false</privateDnsEnabled></item></vpcEndpointSet></DescribeVpcEndpointsResponse>"#;

/// Checks the request's signature shape for `key`, then answers as EC2 would.
fn ec2_answer(key: &'static str) -> Arc<Answer> {
    Arc::new(move |s: &Seen| {
        let auth = s.headers.get("authorization").cloned().unwrap_or_default();
        let ok = auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={key}/"))
            && auth.contains("/ap-northeast-1/ec2/aws4_request, SignedHeaders=")
            && auth.contains("content-type;host;x-amz-date")
            && auth.contains("Signature=")
            && s.headers.get("x-amz-date").is_some_and(|d| d.len() == 16)
            && s.headers
                .get("content-type")
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
            && s.body
                .contains("&Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-0abc");
        if !ok {
            return Some((400, format!("<Response><Errors><Error><Code>BadShape</Code><Message>{auth} {:?}</Message></Error></Errors></Response>", s.body)));
        }
        if s.body.starts_with("Action=DescribeRouteTables&") {
            Some((200, TABLES.to_string()))
        } else {
            Some((200, ENDPOINTS.to_string()))
        }
    })
}

const FB: &str = "[profile fb]\naws_access_key_id = AKIAFBDIRECT00000001\naws_secret_access_key = s\nregion = ap-northeast-1\n";

/// `c9aws-probe __route-tables` in `w` for profile fb: its answer and time.
fn ask(w: &World, deadline_ms: u64) -> (Value, Duration) {
    let req = serde_json::json!({
        "profile": "fb", "region": "ap-northeast-1", "vpc_id": "vpc-0abc",
        "cli_major": 2, "deadline_ms": deadline_ms,
    });
    let started = Instant::now();
    let mut c = w.command(PROBE);
    c.arg("__route-tables")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.to_string().as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let took = started.elapsed();
    assert!(o.status.success(), "{}", stderr(&o));
    (serde_json::from_slice(&o.stdout).unwrap(), took)
}

#[test]
fn signed_reads_become_the_clis_json() {
    let ec2 = FakeEc2::start(ec2_answer("AKIAFBDIRECT00000001"));
    let w = World::new().with_env("AWS_ENDPOINT_URL_EC2", ec2.url());
    w.aws_config(FB);
    let (a, _) = ask(&w, 3000);
    let read = &a["Read"];
    let t: Value = serde_json::from_str(read["route_tables"].as_str().unwrap()).unwrap();
    let e: Value = serde_json::from_str(read["endpoints"].as_str().unwrap()).unwrap();
    assert_eq!(t["RouteTables"][0]["RouteTableId"], "rtb-0direct", "{a}");
    assert_eq!(t["RouteTables"][0]["Associations"][0]["Main"], true);
    assert_eq!(e["VpcEndpoints"][0]["RouteTableIds"][0], "rtb-0direct");
    assert_eq!(ec2.seen().len(), 2);
}

#[test]
fn credential_process_keys_sign_with_their_token() {
    let ec2 = FakeEc2::start(ec2_answer("ASIAFBPROCESS0000001"));
    let w = World::new().with_env("AWS_ENDPOINT_URL_EC2", ec2.url());
    let helper = w.bin().join("creds");
    write_exe(
        &helper,
        "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"ASIAFBPROCESS0000001\", \"SecretAccessKey\": \"s\", \"SessionToken\": \"tok-1\"}'\n",
    );
    w.aws_config(format!(
        "[profile fb]\ncredential_process = {}\n",
        helper.display()
    ));
    let (a, _) = ask(&w, 3000);
    assert!(a.get("Read").is_some(), "{a}");
    let seen = ec2.seen();
    assert_eq!(seen.len(), 2);
    for s in seen {
        assert_eq!(s.headers["x-amz-security-token"], "tok-1");
        assert!(s.headers["authorization"].contains("x-amz-security-token"));
    }
}

#[test]
fn refusals_are_final_and_server_trouble_goes_to_the_cli() {
    let cases: [(u16, &str, &str); 3] = [
        (403, "UnauthorizedOperation", "Refused"),
        (503, "Unavailable", "UseCli"),
        (400, "RequestLimitExceeded", "UseCli"),
    ];
    for (status, code, want) in cases {
        let ec2 = FakeEc2::start(Arc::new(move |_: &Seen| {
            Some((status, format!("<?xml version=\"1.0\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>no</Message></Error></Errors><RequestID>x</RequestID></Response>")))
        }));
        let w = World::new().with_env("AWS_ENDPOINT_URL_EC2", ec2.url());
        w.aws_config(FB);
        let (a, _) = ask(&w, 3000);
        assert!(a.get(want).is_some(), "{status} {code}: {a}");
        if want == "Refused" {
            assert_eq!(a["Refused"]["status"], 403);
            assert!(a["Refused"]["line"].as_str().unwrap().starts_with(
                "An error occurred (UnauthorizedOperation) when calling the Describe"
            ));
        }
    }
}

#[test]
fn a_silent_endpoint_is_left_at_the_deadline() {
    let ec2 = FakeEc2::start(Arc::new(|_: &Seen| None));
    let w = World::new().with_env("AWS_ENDPOINT_URL_EC2", ec2.url());
    w.aws_config(FB);
    let (a, took) = ask(&w, 600);
    assert!(a.get("UseCli").is_some(), "{a}");
    assert!(took < Duration::from_millis(2500), "took {took:?}");
}

#[test]
fn profiles_it_cannot_reproduce_and_proxies_go_to_the_cli() {
    let ec2 = FakeEc2::start(ec2_answer("AKIAFBDIRECT00000001"));
    let w = World::new()
        .with_env("AWS_ENDPOINT_URL_EC2", ec2.url())
        .with_env("HTTPS_PROXY", "http://127.0.0.1:9");
    w.aws_config(FB);
    let (a, _) = ask(&w, 3000);
    assert!(
        a["UseCli"]["why"].as_str().unwrap().contains("HTTPS_PROXY"),
        "{a}"
    );
    let w = World::new().with_env("AWS_ENDPOINT_URL_EC2", ec2.url());
    w.aws_config("[profile fb]\nsso_session = x\nsso_account_id = 1\nsso_role_name = r\n");
    let (a, _) = ask(&w, 3000);
    assert!(a["UseCli"]["why"].as_str().unwrap().contains("sso"), "{a}");
    assert!(ec2.seen().is_empty());
}

/// A whole AMTC call that needs S3's route: the route table comes from the
/// fake EC2, the CLI is not run for it; `route_tables_read = cli` runs it.
fn s3_world(ec2: &FakeEc2) -> World {
    crate::world::public_cloud9("AKIAFBDIRECT00000001")
        .with_env("C9AWS_DEBUG", "1")
        .with_env("AWS_ENDPOINT_URL_EC2", ec2.url())
}

#[test]
fn a_call_reads_its_route_table_directly() {
    let ec2 = FakeEc2::start(ec2_answer("AKIAFBDIRECT00000001"));
    let w = s3_world(&ec2);
    let o = w.run(["explain", "--json", "s3", "ls"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(ec2.seen().len(), 2, "{err}");
    assert!(err.contains("read directly in"), "{err}");
    assert!(w.logged("ec2").is_empty(), "the CLI read too: {err}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["routes"]["s3"]["verdict"], "gateway-endpoint", "{v}");

    // The same with the CLI read: the fake CLI answers, EC2 is not asked.
    let ec2 = FakeEc2::start(ec2_answer("AKIAFBDIRECT00000001"));
    let w = s3_world(&ec2).with_env("C9AWS_ROUTE_TABLES_READ", "cli");
    let o = w.run(["explain", "--json", "s3", "ls"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(ec2.seen().is_empty());
    assert_eq!(w.logged("ec2").matches("end ").count(), 2);
}

#[test]
fn a_refused_direct_read_is_told_and_not_retried_with_the_cli() {
    let ec2 = FakeEc2::start(Arc::new(|_: &Seen| {
        Some((403, "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors></Response>".into()))
    }));
    let w = s3_world(&ec2);
    let o = w.run(["explain", "--json", "s3", "ls"]);
    let err = stderr(&o);
    assert!(
        err.contains("may not ec2:Describe")
            && err.contains("HTTP 403: An error occurred (UnauthorizedOperation)"),
        "{err}"
    );
    assert!(w.logged("ec2").is_empty(), "{err}");
}
