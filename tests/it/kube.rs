//! Issue 15: what AMTC lose outside a plain CLI call in an open IDE —
//! tokens signed for another machine (`eks get-token`), keys Cloud9 stopped
//! refreshing (the credentials file's age), and programs that run `aws`
//! through PATH (kubectl's exec plugin).

use crate::fake_aws;
use crate::world::{doctor_check, stderr, stdout_json, write_exe, World, C9AWS};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

const FALLBACK: &str = "[profile c9-fallback]\naws_access_key_id = AKIAFALLBACKKEY00000\naws_secret_access_key = fallback-secret-do-not-print\n";

/// Cloud9 with a fallback profile configured.
fn cloud9_world() -> World {
    let w = World::new();
    w.cloud9()
        .aws_config(FALLBACK)
        .c9aws_config("fallback_profile = c9-fallback\n");
    w
}

/// Sets the credentials file's mtime `ago` in the past (Cloud9 stopped writing it).
fn age_credentials(w: &World, ago: Duration) {
    let f = fs::File::options()
        .write(true)
        .open(w.home().join(".aws/credentials"))
        .unwrap();
    f.set_modified(SystemTime::now() - ago).unwrap();
}

#[test]
fn expired_amtc_switch_every_call_until_the_file_is_fresh_again() {
    let w = cloud9_world();
    age_credentials(&w, Duration::from_secs(2 * 3600));
    let o = w.run(["ec2", "describe-vpcs"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        w.calls(),
        ["--profile c9-fallback --region ap-northeast-1 --output json ec2 describe-vpcs"]
    );
    let o = w.run(["explain", "--json", "ec2", "describe-vpcs"]);
    let v = stdout_json(&o);
    assert_eq!(v["routes"]["ec2"]["verdict"], "expired", "{v}");
    assert!(
        v["routes"]["ec2"]["evidence"][0]
            .as_str()
            .unwrap()
            .contains("2 h ago"),
        "{v}"
    );
    let o = w.run(["explain", "ec2", "describe-vpcs"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("expired"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let (_, v) = w.doctor(&[]);
    let c = doctor_check(&v, "cloud9");
    assert_eq!(c["status"], "warn", "{v:#}");
    assert!(c["fix"].as_str().unwrap().contains("`expired`"), "{c}");
    // A longer life in c9aws's config keeps AMTC.
    w.c9aws_config("fallback_profile = c9-fallback\namtc_life = 86400\n");
    w.run(["ec2", "describe-vpcs"]);
    assert_eq!(w.calls().last().unwrap(), "ec2 describe-vpcs");
    // Cloud9 wrote the file again (default life): AMTC are used again.
    w.c9aws_config("fallback_profile = c9-fallback\n");
    age_credentials(&w, Duration::from_secs(60));
    let o = w.run(["ec2", "describe-vpcs"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(w.calls().last().unwrap(), "ec2 describe-vpcs");
}

/// An ExpiredToken the safety net sees is retried with the fallback but not
/// learnt: learnt refusals are keyed by service and region only, and would
/// keep switching for their TTL after Cloud9 wrote fresh keys.
#[test]
fn an_expired_token_is_retried_but_not_remembered() {
    let w = cloud9_world().with_env(fake_aws::REFUSE, "ExpiredToken");
    for _ in 0..2 {
        let o = w.run(["ec2", "describe-vpcs"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    assert_eq!(
        w.calls(),
        [
            "ec2 describe-vpcs",
            "--profile c9-fallback --region ap-northeast-1 --output json ec2 describe-vpcs",
            "ec2 describe-vpcs",
            "--profile c9-fallback --region ap-northeast-1 --output json ec2 describe-vpcs",
        ]
    );
}

#[test]
fn eks_get_token_is_signed_for_elsewhere_and_switched() {
    // One world per major: the CLI's version is remembered per binary.
    for major in ["1.45.11", "2.36.7"] {
        let w = cloud9_world().with_env(fake_aws::VERSION, major);
        let o = w
            .c9aws(["eks", "get-token", "--cluster-name", "c"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            w.argv_strings()[..2],
            ["--profile", "c9-fallback"],
            "{major}"
        );
        let o = w
            .c9aws(["explain", "--json", "s3", "presign", "s3://b/k"])
            .output()
            .unwrap();
        let v = stdout_json(&o);
        assert_eq!(v["routes"]["s3"]["verdict"], "signed-for-elsewhere", "{v}");
        assert_eq!(v["decision"]["action"], "switch", "{v}");
        assert_eq!(v["cli_major"], if major.starts_with('2') { 2 } else { 1 });
    }
}

/// kubectl's exec plugin runs the `aws` of its kubeconfig through PATH from
/// a non-interactive process: with `c9aws setup --path-shim` and the PATH
/// `c9aws init` sets, that `aws` is c9aws, which runs the real (fake) aws
/// with the fallback, never itself. `--remove-path-shim` leaves nothing.
#[test]
fn kubectl_reaches_c9aws_through_the_path_directory() {
    let w = cloud9_world();
    let shim = w.home().join(".local/share/c9aws/bin");
    // Before: sh finds the real aws; doctor says programs bypass c9aws.
    let (_, v) = w.doctor(&[]);
    assert_eq!(doctor_check(&v, "path")["status"], "warn", "{v:#}");
    let o = w.run(["setup", "--path-shim"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let link = shim.join("aws");
    assert_eq!(fs::read_link(&link).unwrap(), Path::new(C9AWS));
    assert_eq!(
        fs::metadata(&shim).unwrap().permissions().mode() & 0o777,
        0o700
    );
    // The PATH `c9aws init bash` sets, seen by a non-interactive sh.
    let o = w
        .command("bash")
        .args([
            "--norc",
            "-c",
            &format!("eval \"$('{C9AWS}' init bash)\"; sh -c 'command -v aws; echo \"$PATH\"'"),
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(link.to_str().unwrap()), "{out}");
    let path = lines.next().unwrap().to_string();
    assert!(path.starts_with(&format!("{}:", shim.display())), "{path}");
    // Twice: the directory is on PATH once.
    let o = w
        .command("bash")
        .args([
            "--norc",
            "-c",
            &format!(
                "eval \"$('{C9AWS}' init bash)\"; eval \"$('{C9AWS}' init bash)\"; echo \"$PATH\""
            ),
        ])
        .output()
        .unwrap();
    let twice = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(twice.matches(shim.to_str().unwrap()).count(), 1, "{twice}");
    // A kubectl that runs its exec plugin through PATH, non-interactively.
    let tools = w.root().join("tools");
    fs::create_dir_all(&tools).unwrap();
    let kubectl = tools.join("kubectl");
    write_exe(
        &kubectl,
        "#!/bin/sh\nexec aws --region ap-northeast-1 eks get-token --cluster-name demo --output json\n",
    );
    let o = w.command(&kubectl).env("PATH", &path).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        w.calls().last().unwrap(),
        "--profile c9-fallback --region ap-northeast-1 eks get-token --cluster-name demo --output json"
    );
    let (_, v) = w.doctor(&[("PATH", &path)]);
    assert_eq!(doctor_check(&v, "path")["status"], "ok", "{v:#}");
    // With no other aws on PATH, c9aws skips its own symlink and says so: no loop.
    let o = w
        .command(&kubectl)
        .env("PATH", w.path_of(&[&shim]))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("skipping c9aws itself"),
        "{}",
        stderr(&o)
    );
    // Undo in one command: nothing of c9aws's is left under XDG_DATA_HOME.
    let o = w.run(["setup", "--remove-path-shim"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!w.home().join(".local/share/c9aws").exists());
    assert!(w.run(["setup", "--remove-path-shim"]).status.success());
    // With the directory gone the old PATH reaches the real aws directly.
    let o = w.command(&kubectl).env("PATH", &path).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        w.calls().last().unwrap(),
        "--region ap-northeast-1 eks get-token --cluster-name demo --output json"
    );
}
