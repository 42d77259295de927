//! A fake HTTP server on 127.0.0.1 (IMDSv2 and checkip stand-ins) for the
//! unit tests of src/adapters (included there as `imds::fake`) and for the
//! integration tests (tests/it/main.rs, by `#[path]`). Bounded: one thread
//! per connection, a read timeout, and everything closed and joined on drop.
#![allow(dead_code)] // each includer uses a part

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub const TOKEN: &str = "fake-imds-token";

/// A listener thread on an ephemeral 127.0.0.1 port. `requests` counts the
/// requests read (or, for a silent server, the connections accepted).
pub struct Server {
    pub port: u16,
    pub requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    pub fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for s in self.held.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(
            &([127, 0, 0, 1], self.port).into(),
            Duration::from_millis(500),
        );
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `handler(method, path, headers)` → (status, body); `None` = never answer.
pub type Handler =
    dyn Fn(&str, &str, &BTreeMap<String, String>) -> Option<(u16, String)> + Send + Sync;

pub fn serve(handler: Arc<Handler>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let held = Arc::new(Mutex::new(Vec::new()));
    let (r, s, h) = (requests.clone(), stop.clone(), held.clone());
    let thread = std::thread::spawn(move || {
        let mut workers = Vec::new();
        for conn in listener.incoming() {
            if s.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            if let Ok(c) = conn.try_clone() {
                h.lock().unwrap().push(c);
            }
            let (r, handler) = (r.clone(), handler.clone());
            workers.push(std::thread::spawn(move || {
                answer(conn, &r, &*handler);
            }));
        }
        for w in workers {
            let _ = w.join();
        }
    });
    Server {
        port,
        requests,
        stop,
        held,
        thread: Some(thread),
    }
}

/// One request per connection, answered with `Connection: close`.
fn answer(mut conn: TcpStream, count: &AtomicUsize, handler: &Handler) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    count.fetch_add(1, Ordering::SeqCst);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let Some((status, body)) = handler(&method, &path, &headers) else {
        // Never answer: hold the connection until the peer or Drop closes it.
        let _ = conn.read(&mut chunk);
        return;
    };
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Status",
    };
    // Real IMDS echoes the token's TTL; aws-config requires it.
    let ttl = if path == "/latest/api/token" && status == 200 {
        "X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600\r\n"
    } else {
        ""
    };
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n{ttl}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(resp.as_bytes());
    let _ = conn.flush();
}

/// A server that accepts connections and never answers.
pub fn silent() -> Server {
    serve(Arc::new(
        |_: &str, _: &str, _: &BTreeMap<String, String>| None,
    ))
}

/// An IMDSv2 fake: token PUT, 401 on a missing or bad token, 404 unknown.
pub fn imds<V: AsRef<str>>(values: &[(&str, V)]) -> Server {
    let values: BTreeMap<String, String> = values
        .iter()
        .map(|(k, v)| (format!("/latest/meta-data/{k}"), v.as_ref().to_string()))
        .collect();
    serve(Arc::new(
        move |method: &str, path: &str, h: &BTreeMap<String, String>| {
            if path == "/latest/api/token" {
                return Some(
                    if method == "PUT" && h.contains_key("x-aws-ec2-metadata-token-ttl-seconds") {
                        (200, TOKEN.to_string())
                    } else {
                        (400, String::new())
                    },
                );
            }
            if h.get("x-aws-ec2-metadata-token").map(String::as_str) != Some(TOKEN) {
                return Some((401, String::new()));
            }
            Some(match (method, values.get(path)) {
                ("GET", Some(v)) => (200, v.clone()),
                _ => (404, String::new()),
            })
        },
    ))
}

/// The facts of a typical private-subnet Cloud9 instance behind a NAT.
pub const MAC: &str = "0a:1b:2c:3d:4e:5f";
pub fn cloud9_values(public: Option<&'static str>) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![
        ("instance-id", "i-0123456789abcdef0"),
        ("placement/region", "ap-northeast-1"),
        ("mac", MAC),
        ("local-ipv4", "10.0.1.23"),
        (
            "network/interfaces/macs/0a:1b:2c:3d:4e:5f/vpc-id",
            "vpc-0abc",
        ),
        (
            "network/interfaces/macs/0a:1b:2c:3d:4e:5f/subnet-id",
            "subnet-0def",
        ),
        (
            "network/interfaces/macs/0a:1b:2c:3d:4e:5f/vpc-ipv4-cidr-blocks",
            "10.0.0.0/16\n100.64.0.0/16\n",
        ),
    ];
    if let Some(p) = public {
        v.push(("public-ipv4", p));
    }
    v
}
