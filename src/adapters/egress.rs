//! The egress IP: the source address AWS sees for internet-bound traffic, from
//! a checkip service (`https://checkip.amazonaws.com/` by default; the URL is
//! the caller's). Owns c9aws's own HTTPS trust, which is what the CLI trusts:
//! the system roots plus the PEM bundle of `AWS_CA_BUNDLE` or the profile's
//! `ca_bundle` (the caller picks the path).

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};

/// Largest checkip answer read; an address is at most 45 characters.
const MAX_BODY: u64 = 1024;

/// Why no egress IP was learnt.
#[derive(Debug)]
pub enum EgressError {
    /// The blocking task that made the call died.
    Task(tokio::task::JoinError),
    /// No answer within the timeout given.
    TimedOut(Duration),
    /// The call to `url` failed: transport, TLS, a status other than 2xx, a
    /// redirect, an unreadable body.
    Http { url: String, error: ureq::Error },
    /// The answer from `url` is not one IP address.
    NotAnAddress { url: String },
    /// No root certificate to trust at all.
    NoRoots,
    /// The first tier of trust used up the time before the second could try.
    NoTimeLeft { url: String },
    /// The CA bundle cannot be read.
    BundleUnreadable { path: PathBuf, error: io::Error },
    /// The CA bundle holds no PEM certificate.
    BundleEmpty { path: PathBuf },
}

impl EgressError {
    /// The server's chain did not verify against the roots given (a larger
    /// set of roots may still accept it).
    fn untrusted(&self) -> bool {
        matches!(self, EgressError::Http { error, .. } if untrusted(error))
    }
}

impl fmt::Display for EgressError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            EgressError::Task(e) => write!(f, "checkip: {e}"),
            EgressError::TimedOut(t) => write!(f, "checkip: timed out after {} ms", t.as_millis()),
            EgressError::Http { url, error } => write!(f, "checkip {url}: {error}"),
            EgressError::NotAnAddress { url } => {
                write!(f, "checkip {url}: the answer is not an IP address")
            }
            EgressError::NoRoots => f.write_str(
                "checkip: no trusted root certificates (system store empty, no CA bundle)",
            ),
            EgressError::NoTimeLeft { url } => write!(f, "checkip {url}: timed out"),
            EgressError::BundleUnreadable { path, error } => {
                write!(f, "cannot read CA bundle {}: {error}", path.display())
            }
            EgressError::BundleEmpty { path } => {
                write!(f, "CA bundle {} holds no PEM certificate", path.display())
            }
        }
    }
}

impl std::error::Error for EgressError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EgressError::Task(e) => Some(e),
            EgressError::Http { error, .. } => Some(error),
            EgressError::BundleUnreadable { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// GET `url`, trim the body and parse it as an IP address. Anything else — a
/// status other than 2xx, a redirect, a body that is not one address, a TLS
/// failure, an unreadable or empty CA bundle, or no answer within `timeout` —
/// is an `Err`.
pub async fn egress_ip(
    url: &str,
    ca_bundle: Option<&Path>,
    timeout: Duration,
) -> Result<IpAddr, EgressError> {
    let url = url.to_string();
    let bundle = ca_bundle.map(Path::to_path_buf);
    let job = tokio::task::spawn_blocking(move || fetch(&url, bundle.as_deref(), timeout));
    // ureq's own global timeout bounds the call; this bounds what it does not
    // (a stuck getaddrinfo): the blocking thread is then abandoned.
    match tokio::time::timeout(timeout + Duration::from_millis(50), job).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(EgressError::Task(e)),
        Err(_) => Err(EgressError::TimedOut(timeout)),
    }
}

fn fetch(url: &str, ca_bundle: Option<&Path>, timeout: Duration) -> Result<IpAddr, EgressError> {
    let https = url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    if !https {
        // An http:// checkip URL costs no certificate parsing.
        return get(url, None, timeout);
    }
    fetch_https(url, &files_trust(ca_bundle)?, &system_dirs_trust, timeout)
}

/// HTTPS in two tiers of trust, the way OpenSSL's default verify paths work:
/// the bundle files first (one read, a few ms), and the certificate
/// directories (hundreds of small files: tens of ms) only if the certificate
/// does not verify against the files.
fn fetch_https(
    url: &str,
    files: &[Certificate<'static>],
    dirs: &dyn Fn() -> Vec<Certificate<'static>>,
    timeout: Duration,
) -> Result<IpAddr, EgressError> {
    let started = std::time::Instant::now();
    let first = (!files.is_empty()).then(|| get(url, Some(files.to_vec()), timeout));
    match first {
        Some(Err(ref e)) if e.untrusted() => {}
        None => {}
        Some(r) => return r,
    }
    let mut all = files.to_vec();
    all.extend(dirs());
    if all.len() == files.len() {
        return first.unwrap_or(Err(EgressError::NoRoots));
    }
    let left = timeout.saturating_sub(started.elapsed());
    if left.is_zero() {
        return Err(EgressError::NoTimeLeft {
            url: url.to_string(),
        });
    }
    get(url, Some(all), left)
}

fn get(
    url: &str,
    roots: Option<Vec<Certificate<'static>>>,
    timeout: Duration,
) -> Result<IpAddr, EgressError> {
    let agent = agent(timeout, roots, true);
    let failed = |error: ureq::Error| EgressError::Http {
        url: url.to_string(),
        error,
    };
    let mut resp = agent.get(url).call().map_err(failed)?;
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(failed)?;
    parse_ip(&body).ok_or_else(|| EgressError::NotAnAddress {
        url: url.to_string(),
    })
}

/// c9aws's HTTPS client for one request: a global timeout, no redirects,
/// rustls with `roots` when given (else ureq's webpki roots); statuses other
/// than 2xx are errors only with `status_as_error`.
pub(crate) fn agent(
    timeout: Duration,
    roots: Option<Vec<Certificate<'static>>>,
    status_as_error: bool,
) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(status_as_error)
        .max_redirects(0)
        .user_agent(concat!("c9aws/", env!("CARGO_PKG_VERSION")));
    if let Some(roots) = roots {
        config = config.tls_config(
            TlsConfig::builder()
                .provider(TlsProvider::Rustls)
                .root_certs(RootCerts::Specific(Arc::new(roots)))
                .unversioned_rustls_crypto_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .build(),
        );
    }
    ureq::Agent::new_with_config(config.build())
}

/// rustls refused the server's certificate (unknown issuer, or an issuer of the
/// same name whose signature does not match), whether ureq hands the error over
/// as such or inside an I/O error: the larger trust set may still accept it.
pub(crate) fn untrusted(e: &ureq::Error) -> bool {
    let is = |r: &rustls::Error| matches!(r, rustls::Error::InvalidCertificate(_));
    match e {
        ureq::Error::Rustls(r) => is(r),
        ureq::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_some_and(is),
        _ => false,
    }
}

/// The whole body, trimmed, must be one address.
fn parse_ip(body: &str) -> Option<IpAddr> {
    body.trim().parse().ok()
}

/// First tier: the PEM bundle of `AWS_CA_BUNDLE` / `ca_bundle` (an unreadable
/// or empty one is an error, as for the CLI) plus the system's bundle file
/// (`SSL_CERT_FILE`, else the file OpenSSL would find: openssl-probe).
pub(crate) fn files_trust(
    ca_bundle: Option<&Path>,
) -> Result<Vec<Certificate<'static>>, EgressError> {
    let mut roots = match ca_bundle {
        Some(path) => load_bundle(path)?,
        None => Vec::new(),
    };
    if let Some(system) = openssl_probe::probe().cert_file {
        // A missing or broken system file only leaves the second tier.
        if let Ok(certs) = load_bundle(&system) {
            roots.extend(certs);
        }
    }
    Ok(roots)
}

/// Second tier: everything rustls-native-certs finds (the system file again
/// and every certificate directory, `SSL_CERT_DIR` included).
pub(crate) fn system_dirs_trust() -> Vec<Certificate<'static>> {
    rustls_native_certs::load_native_certs()
        .certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect()
}

/// Every certificate of a PEM bundle; an unreadable file or one without any
/// certificate is an error (the CLI refuses such a bundle too).
fn load_bundle(path: &Path) -> Result<Vec<Certificate<'static>>, EgressError> {
    let pem = std::fs::read(path).map_err(|error| EgressError::BundleUnreadable {
        path: path.to_path_buf(),
        error,
    })?;
    let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(EgressError::BundleEmpty {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::imds::fake;
    use std::collections::BTreeMap;
    use std::time::Instant;

    const T: Duration = Duration::from_secs(1);

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn body_server(status: u16, body: &'static str) -> fake::Server {
        fake::serve(Arc::new(
            move |_: &str, _: &str, _: &BTreeMap<String, String>| Some((status, body.to_string())),
        ))
    }

    #[test]
    fn plain_answer_is_parsed() {
        let srv = body_server(200, "203.0.113.7\n");
        let ip = rt()
            .block_on(egress_ip(&format!("{}/", srv.url()), None, T))
            .unwrap();
        assert_eq!(ip, "203.0.113.7".parse::<IpAddr>().unwrap());
        let srv = body_server(200, " 2001:db8::7 \r\n");
        let ip = rt()
            .block_on(egress_ip(&format!("{}/", srv.url()), None, T))
            .unwrap();
        assert_eq!(ip, "2001:db8::7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn garbage_status_and_bad_urls_are_errors() {
        for body in [
            "<html>captive portal</html>",
            "",
            "203.0.113.7 203.0.113.8",
            "203.0.113",
        ] {
            let srv = body_server(200, body);
            assert!(
                rt().block_on(egress_ip(&srv.url(), None, T)).is_err(),
                "{body:?}"
            );
        }
        let srv = body_server(404, "203.0.113.7");
        assert!(rt().block_on(egress_ip(&srv.url(), None, T)).is_err());
        for url in ["", "not a url", "ftp://127.0.0.1/", "http://"] {
            assert!(rt().block_on(egress_ip(url, None, T)).is_err(), "{url:?}");
        }
    }

    #[test]
    fn closed_port_fails_fast() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let t = Instant::now();
        let r = rt().block_on(egress_ip(&format!("http://127.0.0.1:{port}/"), None, T));
        assert!(r.is_err());
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn silent_server_is_bounded_by_the_timeout() {
        let srv = fake::silent();
        let t = Instant::now();
        let r = rt().block_on(egress_ip(&srv.url(), None, Duration::from_millis(300)));
        assert!(r.is_err());
        assert!(
            t.elapsed() < Duration::from_millis(600),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn unreadable_or_empty_bundle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        for p in [&missing, &empty] {
            let r = rt().block_on(egress_ip("https://127.0.0.1:9/", Some(p), T));
            let err = r.unwrap_err().to_string();
            assert!(err.contains("CA bundle"), "{err}");
        }
    }

    /// HTTPS on 127.0.0.1 with a throwaway CA: trusted only through the bundle.
    mod tls {
        use super::*;
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        use std::io::{Read, Write};
        use std::net::TcpListener;

        struct Tls {
            port: u16,
            ca_pem: String,
            thread: Option<std::thread::JoinHandle<()>>,
        }

        /// Serves `conns` HTTPS connections (answering "203.0.113.7\n"), then stops.
        fn https_server(conns: usize) -> Tls {
            let ca_key = KeyPair::generate().unwrap();
            let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca_params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "c9aws test CA");
            let ca_cert = ca_params.self_signed(&ca_key).unwrap();
            let issuer = Issuer::new(ca_params, ca_key);

            let leaf_key = KeyPair::generate().unwrap();
            let leaf_params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
            let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let server_config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![CertificateDer::from(leaf.der().to_vec())],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
                )
                .unwrap();
            let server_config = Arc::new(server_config);

            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let thread = std::thread::spawn(move || {
                for _ in 0..conns {
                    let Ok((mut sock, _)) = listener.accept() else {
                        return;
                    };
                    let _ = sock.set_read_timeout(Some(Duration::from_secs(3)));
                    let mut conn = rustls::ServerConnection::new(server_config.clone()).unwrap();
                    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    let ok = loop {
                        match tls.read(&mut chunk) {
                            Ok(0) | Err(_) => break false,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            break true;
                        }
                    };
                    if ok {
                        let body = "203.0.113.7\n";
                        let _ = write!(
                            tls,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = tls.flush();
                        conn.send_close_notify();
                        let _ = conn.complete_io(&mut sock);
                    }
                }
            });
            Tls {
                port,
                ca_pem: ca_cert.pem(),
                thread: Some(thread),
            }
        }

        impl Drop for Tls {
            fn drop(&mut self) {
                // Unblock a pending accept so the thread ends.
                for _ in 0..4 {
                    let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
                }
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
            }
        }

        #[test]
        fn custom_bundle_makes_the_local_ca_trusted() {
            let srv = https_server(2);
            let dir = tempfile::tempdir().unwrap();
            let bundle = dir.path().join("ca.pem");
            std::fs::write(&bundle, &srv.ca_pem).unwrap();
            let url = format!("https://127.0.0.1:{}/", srv.port);

            let ip = rt().block_on(egress_ip(&url, Some(&bundle), T)).unwrap();
            assert_eq!(ip, "203.0.113.7".parse::<IpAddr>().unwrap());

            let err = rt()
                .block_on(egress_ip(&url, None, T))
                .unwrap_err()
                .to_string();
            assert!(err.contains("checkip"), "{err}");
        }

        /// The certificate directories are read only when the files do not
        /// know the issuer, and then the call succeeds through them.
        #[test]
        fn directories_are_the_second_tier() {
            // Connections: 1 (files), 2 (files, then directories), 1 (files).
            let srv = https_server(4);
            let other = https_server(0);
            let url = format!("https://127.0.0.1:{}/", srv.port);
            let ours = ureq::tls::parse_pem(srv.ca_pem.as_bytes())
                .filter_map(|i| match i {
                    Ok(PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect::<Vec<_>>();
            let unrelated = ureq::tls::parse_pem(other.ca_pem.as_bytes())
                .filter_map(|i| match i {
                    Ok(PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect::<Vec<_>>();
            let asked = std::cell::Cell::new(0);
            let dirs = || {
                asked.set(asked.get() + 1);
                ours.clone()
            };
            // Issuer in the files: the directories are never read.
            let ip = fetch_https(&url, &ours, &dirs, T).unwrap();
            assert_eq!(ip, "203.0.113.7".parse::<IpAddr>().unwrap());
            assert_eq!(asked.get(), 0);
            // Issuer unknown to the files: read the directories, then succeed.
            let ip = fetch_https(&url, &unrelated, &dirs, T).unwrap();
            assert_eq!(ip, "203.0.113.7".parse::<IpAddr>().unwrap());
            assert_eq!(asked.get(), 1);
            // Trusted nowhere: the certificate error, not a panic.
            let none = || Vec::new();
            let err = fetch_https(&url, &unrelated, &none, T)
                .unwrap_err()
                .to_string();
            assert!(err.contains("certificate"), "{err}");
        }
    }
}
