//! DNS the way the CLI does it: the system resolver (getaddrinfo, so
//! `/etc/hosts`, `nsswitch.conf` and resolv.conf all apply), every A and AAAA
//! answer. Owns nothing else; the deadline belongs to the caller (`probe`).

use std::fmt;
use std::io;
use std::net::IpAddr;

/// Why a name gave no address.
#[derive(Debug)]
pub enum DnsError {
    /// The name is empty (or only brackets and blanks).
    Empty,
    /// The name holds a NUL byte (the resolver would cut it there).
    Nul,
    /// The resolver failed for `host`.
    Lookup { host: String, error: io::Error },
    /// The resolver answered with no address for `host`.
    NoAddresses { host: String },
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            DnsError::Empty => f.write_str("empty host name"),
            DnsError::Nul => f.write_str("host name contains a NUL byte"),
            DnsError::Lookup { host, error } => write!(f, "cannot resolve {host}: {error}"),
            DnsError::NoAddresses { host } => write!(f, "cannot resolve {host}: no addresses"),
        }
    }
}

impl std::error::Error for DnsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DnsError::Lookup { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Every address `host` resolves to, in resolver order, without duplicates.
/// An empty host, a failed lookup or a lookup with no answer is an `Err`.
///
/// `tokio::net::lookup_host` runs getaddrinfo on a blocking thread: a stuck
/// lookup keeps that thread, so callers bound it with a timeout and never wait
/// for the runtime's drop (see `probe`).
pub async fn resolve(host: &str) -> Result<Vec<IpAddr>, DnsError> {
    let host = host.trim();
    // `[::1]`-style literals as a URL would carry them.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(DnsError::Empty);
    }
    if host.contains('\0') {
        return Err(DnsError::Nul);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let addrs = tokio::net::lookup_host((host, 443))
        .await
        .map_err(|error| DnsError::Lookup {
            host: host.to_string(),
            error,
        })?;
    let mut out: Vec<IpAddr> = Vec::new();
    for a in addrs {
        let ip = a.ip();
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    if out.is_empty() {
        return Err(DnsError::NoAddresses {
            host: host.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn localhost_is_loopback_and_deduplicated() {
        let ips = rt().block_on(resolve("localhost")).unwrap();
        assert!(!ips.is_empty());
        assert!(ips.iter().all(|ip| ip.is_loopback()), "{ips:?}");
        let mut sorted = ips.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ips.len(), "duplicates in {ips:?}");
    }

    #[test]
    fn literals_need_no_lookup() {
        let rt = rt();
        assert_eq!(
            rt.block_on(resolve("127.0.0.1")).unwrap(),
            vec!["127.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            rt.block_on(resolve("[::1]")).unwrap(),
            vec!["::1".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn unresolvable_and_malformed_names_are_errors() {
        // Names glibc rejects before sending any query (an empty label, a label
        // over 63 octets): `nonexistent.invalid` would be sent to the
        // configured nameserver, which may be off the machine (checked with
        // strace), and tests stay on 127.0.0.1/::1.
        let rt = rt();
        let err = rt
            .block_on(resolve("bad..invalid"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad..invalid"), "{err}");
        let long = format!("{}.invalid", "x".repeat(64));
        assert!(rt.block_on(resolve(&long)).is_err());
        assert!(rt.block_on(resolve("")).is_err());
        assert!(rt.block_on(resolve("  ")).is_err());
        assert!(rt.block_on(resolve("a\0b")).is_err());
    }
}
