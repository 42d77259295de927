//! `c9aws doctor` and `c9aws exec` through the built binary, in a hermetic
//! temporary HOME with a fake `aws` on PATH, IMDS disabled and checkip on a
//! closed loopback port: nothing leaves the machine.

mod common;
use common::{doctor_check, sandbox, write_exe, CLOUD9_CREDENTIALS};
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

const C9AWS: &str = env!("CARGO_BIN_EXE_c9aws");

/// A stand-in CLI: `--version`, and `sts get-caller-identity` that succeeds
/// or fails as FAKE_STS says.
const FAKE_AWS: &str = r#"#!/bin/sh
if [ "$1" = "--version" ]; then
  echo "aws-cli/1.45.11 Python/3.11.7 Linux/6 botocore/1.43.11"; exit 0
fi
case " $* " in
  *" get-caller-identity "*)
    if [ "$FAKE_STS" = fail ]; then
      echo "An error occurred (InvalidClientTokenId) when calling the GetCallerIdentity operation: The security token included in the request is invalid." >&2
      exit 255
    fi
    echo '{"UserId":"AIDAX","Account":"123456789012","Arn":"arn:aws:iam::123456789012:user/fb"}'
    exit 0;;
esac
exit 0
"#;

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let w = World {
            dir: sandbox(FAKE_AWS),
        };
        fs::create_dir_all(w.home().join(".aws")).unwrap();
        w
    }
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }
    fn cloud9(&self) -> &World {
        fs::write(self.home().join(".aws/credentials"), CLOUD9_CREDENTIALS).unwrap();
        fs::create_dir_all(self.home().join(".c9")).unwrap();
        self
    }
    fn fallback(&self) -> &World {
        fs::write(
            self.home().join(".aws/config"),
            "[profile fb]\naws_access_key_id = AKIAFALLBACKTEST0001\naws_secret_access_key = fbsecretDONOTPRINT\nregion = us-west-2\n",
        )
        .unwrap();
        let c = self.home().join(".config/c9aws");
        fs::create_dir_all(&c).unwrap();
        fs::write(c.join("config"), "fallback_profile = fb\n").unwrap();
        self
    }
    fn cmd(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(C9AWS);
        c.args(args)
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin().display()))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("C9AWS_CHECKIP_URL", "http://127.0.0.1:9/")
            .env("C9AWS_NOTICE", "never");
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.cmd(args, env).output().unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn doctor(w: &World, env: &[(&str, &str)]) -> (i32, serde_json::Value) {
    let o = w.run(&["doctor", "--json"], env);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json printed no JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    });
    (o.status.code().unwrap(), v)
}

fn status<'a>(v: &'a serde_json::Value, name: &str) -> Vec<&'a str> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == name)
        .map(|c| c["status"].as_str().unwrap())
        .collect()
}

/// Whether an ELF executable asks for a dynamic loader (has PT_INTERP).
fn has_interpreter(exe: &str) -> bool {
    let b = fs::read(exe).unwrap();
    assert_eq!(&b[..4], b"\x7fELF");
    assert_eq!(b[4], 2, "64-bit ELF");
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[32..40].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(54), u16_at(56));
    (0..count).any(|i| {
        let o = phoff + i * size;
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) == 3 // PT_INTERP
    })
}

#[test]
fn doctor_says_truly_how_c9aws_is_linked() {
    let w = World::new();
    let (_, v) = doctor(&w, &[]);
    let link = doctor_check(&v, "link");
    let detail = link["summary"].as_str().unwrap_or_default();
    if has_interpreter(C9AWS) {
        assert_eq!(link["status"], "info", "{link}");
        assert!(detail.contains("linked dynamically"), "{link}");
        assert!(
            link["fix"].as_str().unwrap().contains("glibc-static"),
            "{link}"
        );
    } else {
        assert_eq!(link["status"], "ok", "{link}");
        assert_eq!(detail, "c9aws is linked statically", "{link}");
    }
}

#[test]
fn doctor_off_cloud9_is_healthy_and_probes_nothing() {
    let w = World::new();
    fs::write(
        w.home().join(".aws/credentials"),
        "[default]\naws_access_key_id = AKIASTATIC\naws_secret_access_key = x\n",
    )
    .unwrap();
    let (code, v) = doctor(&w, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["healthy"], true);
    assert_eq!(status(&v, "cloud9"), ["info"]);
    assert_eq!(status(&v, "aws-cli"), ["ok"]);
    assert_eq!(status(&v, "recursion"), ["ok"]);
}

#[test]
fn doctor_on_cloud9_without_a_fallback_fails_with_a_fix() {
    let w = World::new();
    w.cloud9();
    let (code, v) = doctor(&w, &[]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(status(&v, "cloud9"), ["ok"]);
    assert_eq!(status(&v, "fallback"), ["fail"]);
    let fb = doctor_check(&v, "fallback");
    assert!(fb["fix"].as_str().unwrap().contains("c9aws setup"), "{fb}");
    // IMDS is disabled here: that is a failure too, with its fix.
    assert_eq!(status(&v, "imds"), ["fail"]);
    // Human output: exit 1 and a fix section.
    let o = w.run(&["doctor"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("To do:"), "{text}");
}

#[test]
fn doctor_reports_a_fallback_that_cannot_sign_without_echoing_secrets() {
    let w = World::new();
    w.cloud9().fallback();
    let (_, v) = doctor(&w, &[("FAKE_STS", "fail")]);
    assert_eq!(status(&v, "fallback"), ["ok"]);
    assert_eq!(status(&v, "fallback-sign"), ["fail"]);
    let s = v.to_string();
    assert!(s.contains("InvalidClientTokenId"), "{s}");
    assert!(
        !s.contains("DONOTPRINT") && !s.contains("doNOTprint"),
        "{s}"
    );

    let (_, v) = doctor(&w, &[]);
    assert_eq!(status(&v, "fallback-sign"), ["ok"]);
    assert!(v.to_string().contains("arn:aws:iam::123456789012:user/fb"));
}

#[test]
fn under_c9aws_active_doctor_never_claims_health() {
    let w = World::new();
    let o = w.run(&["doctor", "--json"], &[("C9AWS_ACTIVE", "1")]);
    // With C9AWS_ACTIVE set every other call passes straight through; doctor
    // still answers, and says that this is what is wrong.
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["healthy"], false);
    let rec = doctor_check(&v, "recursion");
    assert_eq!(rec["status"], "fail", "{rec}");
}

fn exec_env(w: &World, args: &[&str], env: &[(&str, &str)]) -> (Output, Vec<String>) {
    let script = w.bin().join("printenv.sh");
    write_exe(&script, "#!/bin/sh\nenv | grep '^AWS_' | sort\n");
    let mut a = vec!["exec"];
    a.extend_from_slice(args);
    a.push("--");
    let s = script.to_str().unwrap().to_string();
    a.push(&s);
    let o = w.run(&a, env);
    let lines = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.starts_with("AWS_EC2_METADATA_DISABLED="))
        .map(str::to_string)
        .collect();
    (o, lines)
}

#[test]
fn exec_switches_for_a_refused_service() {
    let w = World::new();
    w.cloud9().fallback();
    let (o, env) = exec_env(
        &w,
        &["--service", "iam"],
        // A lone token is no credential (no key id): AMTC is still in play,
        // and an explicit AWS_PROFILE=default is AMTC too.
        &[("AWS_SECURITY_TOKEN", "stale"), ("AWS_PROFILE", "default")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The fallback profile, Cloud9's region kept (the profile says
    // us-west-2), no key or token variables, nothing set empty.
    assert_eq!(
        env,
        [
            "AWS_DEFAULT_PROFILE=fb",
            "AWS_DEFAULT_REGION=ap-northeast-1",
            "AWS_PROFILE=fb",
            "AWS_REGION=ap-northeast-1"
        ]
    );
    // sts: SDK tools assume roles, which AMTC never allows.
    let (_, env) = exec_env(&w, &["--service", "sts"], &[]);
    assert!(env.contains(&"AWS_PROFILE=fb".to_string()), "{env:?}");
    // An allowed service on an unknown route (no IMDS here) keeps AMTC.
    let (o, env) = exec_env(&w, &["--service", "s3"], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(env.is_empty(), "{env:?}");
    // Without --service only a NAT switches; no IMDS, no NAT known.
    let (_, env) = exec_env(&w, &[], &[]);
    assert!(env.is_empty(), "{env:?}");
}

#[test]
fn exec_leaves_the_program_alone_off_cloud9_and_with_other_credentials() {
    let w = World::new();
    w.fallback();
    let (o, env) = exec_env(&w, &["--service", "iam"], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(env.is_empty(), "{env:?}");

    let w = World::new();
    w.cloud9().fallback();
    let (o, env) = exec_env(
        &w,
        &["--service", "iam"],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAUSER"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ],
    );
    assert_eq!(
        env,
        ["AWS_ACCESS_KEY_ID=AKIAUSER", "AWS_SECRET_ACCESS_KEY=s"]
    );
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn exec_without_a_fallback_runs_unchanged_and_says_what_to_do() {
    let w = World::new();
    w.cloud9();
    let (o, env) = exec_env(&w, &["--service", "iam"], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(env.is_empty(), "{env:?}");
    let e = stderr(&o);
    assert!(
        e.contains("would be refused") && e.contains("c9aws setup"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn exec_exit_codes_are_the_programs() {
    let w = World::new();
    let o = w.run(&["exec", "--", "sh", "-c", "exit 7"], &[]);
    assert_eq!(o.status.code(), Some(7));
    let o = w.run(&["exec", "--", "/nonexistent/prog"], &[]);
    assert_eq!(o.status.code(), Some(127));
    assert!(stderr(&o).contains("/nonexistent/prog"), "{}", stderr(&o));
    let o = w.run(&["exec", "--", w.home().to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(126));
}
