//! Which machine this is, as the cache file names it: `/etc/machine-id` (else
//! dbus's copy) and the host name, so that a home directory carried to another
//! instance, or an image cloned with its machine-id, starts afresh.
//!
//! Owns reading those two, once per process; it must not fail (an unreadable
//! part is empty) and must not decide what a mismatch means (`schema` does).

use std::sync::OnceLock;

/// This machine: `<machine-id>/<host name>`, either part possibly empty.
pub fn machine_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mid = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
            .iter()
            .find_map(|p| {
                std::fs::read_to_string(p)
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_default();
        format!("{mid}/{}", hostname())
    })
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into a buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
