//! What several integration tests share: Cloud9's credentials file as Cloud9
//! writes it (AMTC in play; the keys are test values that must never be
//! printed), writing an executable script, the sandbox each test world starts
//! from, and reading one check of `c9aws doctor --json`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub const CLOUD9_CREDENTIALS: &str = "# Do not modify this file, if this file is modified it will not be updated. If the file is deleted, it will be recreated on Sat Nov 28 2026 16:00:00 GMT+0000 (Coordinated Universal Time).\n# 6d0d5f2b1c7e4a4f9b8e3d2c1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f #\n\n[default]\naws_access_key_id = ASIAC9AWSTESTKEYID00\naws_secret_access_key = c9awsTESTsecretKEYdoNOTprint0000000000000\naws_session_token = c9awsTESTsessionTOKENdoNOTprint\nregion = ap-northeast-1\n";

/// Writes `text` to `p`, mode 0755.
pub fn write_exe(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A temporary directory with an empty `home/` and `bin/aws`, the given fake
/// CLI; each test file's `World` adds what it needs on top.
pub fn sandbox(fake_aws: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    std::fs::create_dir_all(dir.path().join("bin")).unwrap();
    write_exe(&dir.path().join("bin/aws"), fake_aws);
    dir
}

/// The check called `name` in the output of `c9aws doctor --json`.
pub fn doctor_check<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["checks"]
        .as_array()
        .expect("doctor --json has a checks array")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {v}"))
}
