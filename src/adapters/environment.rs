//! The process environment, read once: the variables the CLI and c9aws act on,
//! plus debug output. Owns nothing else; the core receives a plain map.

use crate::core::EnvMap;
use std::ffi::OsString;

/// Variables that matter to the AWS CLI or c9aws (values lossily decoded; a
/// non-UTF-8 value in one of these is an error for the CLI too).
pub fn snapshot() -> EnvMap {
    from_vars(std::env::vars_os())
}

pub fn from_vars(vars: impl Iterator<Item = (OsString, OsString)>) -> EnvMap {
    vars.filter_map(|(k, v)| {
        let k = k.into_string().ok()?;
        let wanted = k.starts_with("AWS_")
            || k.starts_with("C9_")
            || k.starts_with("C9AWS_")
            || matches!(k.as_str(), "HOME" | "XDG_CONFIG_HOME" | "XDG_CACHE_HOME")
            // The proxies the CLI goes through (the direct route-table read
            // leaves those to the CLI).
            || matches!(
                k.to_ascii_lowercase().as_str(),
                "http_proxy" | "https_proxy" | "all_proxy" | "no_proxy"
            );
        wanted.then(|| (k, v.to_string_lossy().into_owned()))
    })
    .collect()
}

/// `C9AWS_DEBUG` set to anything but empty or `0`.
pub fn debug_enabled(env: &EnvMap) -> bool {
    env.get("C9AWS_DEBUG")
        .is_some_and(|v| !v.is_empty() && v != "0")
}

/// Prints one debug line. Callers pass paths, names and decisions only — never a
/// value read from a credentials source.
pub fn debug(env: &EnvMap, msg: impl FnOnce() -> String) {
    if debug_enabled(env) {
        eprintln!("c9aws: debug: {}", msg());
    }
}

/// Says, once per process, that c9aws could not write a file of its cache.
/// The call still runs, but nothing is remembered: every call then measures
/// `aws --version` again (a Python start-up) and probes the network again
/// (for S3 and DynamoDB with a fallback, the ~1.5 s route-table read), which
/// the user would otherwise see only as slowness. A `~/.cache` left owned by
/// root by a `sudo` run is the common cause.
pub fn cache_unwritable(file: &std::path::Path, err: &std::io::Error) {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let dir = file.parent().unwrap_or(file);
    eprintln!(
        "c9aws: cannot write its cache in {}: {err}; until it can, every call measures the CLI and \
         probes the network again (make that directory writable, or set XDG_CACHE_HOME to one that is)",
        dir.display()
    );
}

/// c9aws's cache directory: `$XDG_CACHE_HOME/c9aws`, else `$HOME/.cache/c9aws`,
/// else the platform's cache dir. Written once: the version and facts caches share it.
pub fn cache_dir(env: &EnvMap) -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    let base = match env.get("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => match env.get("HOME").filter(|h| !h.is_empty()) {
            Some(h) => PathBuf::from(h).join(".cache"),
            None => dirs::cache_dir()?,
        },
    };
    Some(base.join("c9aws"))
}

/// Python's `os.path.expanduser` + `os.path.expandvars`, as botocore applies
/// them to `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`.
pub fn expand_path(raw: &str, env: &EnvMap) -> String {
    let vars = expand_vars(raw, env);
    expand_user(&vars, env)
}

fn home(env: &EnvMap) -> Option<String> {
    env.get("HOME")
        .cloned()
        .or_else(|| dirs::home_dir().map(|h| h.to_string_lossy().into_owned()))
}

fn expand_user(path: &str, env: &EnvMap) -> String {
    if path == "~" || path.starts_with("~/") {
        if let Some(h) = home(env) {
            let h = if h.len() > 1 {
                h.trim_end_matches('/')
            } else {
                &h
            };
            return format!("{h}{}", &path[1..]);
        }
    }
    path.to_string()
}

/// `$NAME` and `${NAME}`; unknown variables are left as written.
fn expand_vars(s: &str, env: &EnvMap) -> String {
    if !s.contains('$') {
        return s.to_string();
    }
    let lookup = |name: &str| -> Option<String> {
        env.get(name).cloned().or_else(|| std::env::var(name).ok())
    };
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match (name.is_empty(), lookup(name)) {
            (false, Some(v)) => {
                out.push_str(&v);
                rest = &after[consumed..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_like_python() {
        let env: EnvMap = [("HOME", "/home/ec2-user"), ("D", "dir")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let rows = [
            ("~/.aws/config", "/home/ec2-user/.aws/config"),
            ("$HOME/x", "/home/ec2-user/x"),
            ("${D}/y", "dir/y"),
            ("$NOPE_C9AWS_TEST/z", "$NOPE_C9AWS_TEST/z"),
            ("a$", "a$"),
            ("~user/x", "~user/x"),
        ];
        for (raw, want) in rows {
            assert_eq!(expand_path(raw, &env), want);
        }
    }
}
