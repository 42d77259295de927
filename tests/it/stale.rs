//! Stale-while-revalidate: facts past their TTL but within `stale_limit`
//! times it serve the call at once, and a detached refresher (`c9aws
//! __refresh`, its own session, no pipe of the caller) probes them again for
//! the next call; past the hard limit the call probes in the foreground; a
//! refresher killed midway or failing leaves the old facts, and only `doctor`
//! says it failed. Hermetic: a fake IMDS of an instance with a public IP, a
//! fake checkip agreeing with it, a fallback profile (so S3 needs the
//! route-table read, answered by the fake `aws` after `EC2_SLEEP` seconds),
//! every AWS host on 127.0.0.1.

use crate::fake_aws;
use crate::world::{doctor_check, stderr, World, C9AWS};
use serde_json::Value;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const ROUTING: &str = "ap-northeast-1 vpc-0abc subnet-0def";

fn world() -> World {
    crate::world::public_cloud9("AKIAC9AWSFALLBACK001").with_env("C9AWS_DEBUG", "1")
}

fn facts_path(w: &World) -> PathBuf {
    w.home().join(".cache/c9aws/facts.json")
}

fn facts(w: &World) -> Value {
    serde_json::from_slice(&fs::read(facts_path(w)).unwrap()).expect("facts.json stays valid JSON")
}

fn routing_at(w: &World) -> Option<u64> {
    facts(w)["routing"][ROUTING]["at"].as_u64()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Every entry of the cache made `secs` older.
fn age(w: &World, secs: u64) {
    fn walk(v: &mut Value, secs: u64) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    match (k.as_str(), x.as_u64()) {
                        ("at", Some(at)) => *x = Value::from(at - secs),
                        _ => walk(x, secs),
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, secs)),
            _ => {}
        }
    }
    let mut doc = facts(w);
    walk(&mut doc, secs);
    fs::write(facts_path(w), serde_json::to_vec(&doc).unwrap()).unwrap();
}

/// The route-table read's log lines (`start|end|fail OP …`).
fn ec2_log(w: &World) -> Vec<String> {
    w.logged("ec2").lines().map(str::to_string).collect()
}

fn count(w: &World, word: &str) -> usize {
    ec2_log(w)
        .iter()
        .filter(|l| l.starts_with(&format!("{word} ")))
        .count()
}

/// Waits (at most 20 s) until `done` holds.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until every refresher that read the route table has exited (and
/// so released the probe lock).
fn wait_refreshers_gone(w: &World) {
    for line in ec2_log(w).iter().filter(|l| l.starts_with("start ")) {
        let pid = line.split(' ').nth(2).unwrap().to_string();
        wait_for("the refresher's exit", || {
            match fs::read_to_string(format!("/proc/{pid}/stat")) {
                Ok(st) => st.contains(") Z "),
                Err(_) => true,
            }
        });
    }
}

/// A cold call: everything probed in the foreground, the route table read.
fn warmed() -> World {
    let w = world();
    let o = w.run(["s3", "ls"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(count(&w, "end"), 2, "{:?}", ec2_log(&w));
    assert!(routing_at(&w).is_some(), "{}", facts(&w));
    fs::remove_file(w.log("ec2")).unwrap();
    w
}

fn own_sid() -> String {
    let st = fs::read_to_string("/proc/self/stat").unwrap();
    let after = &st[st.rfind(')').unwrap() + 2..];
    after.split(' ').nth(3).unwrap().to_string()
}

#[test]
fn stale_facts_serve_at_once_and_a_detached_refresher_renews_them() {
    let w = warmed();
    // Past every TTL but the instance's (10 min + 100 s), within 3 × each.
    age(&w, 700);
    let before = routing_at(&w).unwrap();
    // The CLI's signal dispositions when started directly.
    assert!(w
        .command(w.bin().join("aws"))
        .arg("x")
        .status()
        .unwrap()
        .success());
    let direct_sig = w.logged("sig");
    let started = Instant::now();
    let child = w
        .c9aws(["s3", "ls"])
        .env(fake_aws::EC2_SLEEP, "3")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let caller = child.id();
    let o = child.wait_with_output().unwrap();
    let took = started.elapsed();
    // It returned before the slow read ended: it did not wait for it.
    let at_return = ec2_log(&w);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !at_return.iter().any(|l| l.starts_with("end ")),
        "returned after the refresh: {at_return:?} ({took:?})"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(stderr(&o).contains("a refresher started"), "{}", stderr(&o));
    assert_eq!(w.calls().last().map(String::as_str), Some("s3 ls"));
    // Starting the refresher started no thread: the CLI exec'd after it
    // inherits what a direct start gets.
    assert_eq!(w.logged("sig"), direct_sig, "see design.md, Why exec");
    // Not the caller's child (the CLI it exec'd would inherit it as a zombie):
    // the grandchild of a double fork.
    wait_for("the refresher's read", || count(&w, "start") >= 1);
    let start = ec2_log(&w)
        .into_iter()
        .find(|l| l.starts_with("start "))
        .unwrap();
    let refresher = start.split(' ').nth(2).unwrap();
    let stat = fs::read_to_string(format!("/proc/{refresher}/stat")).unwrap();
    let ppid: u32 = stat[stat.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(ppid, caller, "{stat}");
    // The refresher reads the route table later, and saves it for the next call.
    wait_for("the refresher's route-table read", || count(&w, "end") == 2);
    wait_for("the refreshed cache", || {
        routing_at(&w).is_some_and(|at| at > before)
    });
    assert!(routing_at(&w).unwrap() + 60 > unix_now());
    // Its own session: not the caller's (not this test's either).
    let start = ec2_log(&w)
        .into_iter()
        .find(|l| l.starts_with("start "))
        .unwrap();
    let sid = start.split(' ').nth(3).unwrap().to_string();
    assert_ne!(sid, own_sid(), "{start}");
    // Once only: the next call is warm and starts nothing.
    let o = w.run(["s3", "ls"]);
    assert!(!stderr(&o).contains("refresher"), "{}", stderr(&o));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(&w, "start"), 2, "{:?}", ec2_log(&w));
}

#[test]
fn pipelines_and_command_substitution_do_not_wait_for_the_refresher() {
    let w = warmed();
    for line in [
        format!("{C9AWS} s3 ls | head -1"),
        format!("x=$({C9AWS} s3 ls); printf '%s' \"$x\""),
    ] {
        age(&w, 700);
        let starts = count(&w, "start");
        let mut c = w.command("sh");
        c.args(["-c", &line])
            .env(fake_aws::EC2_SLEEP, "3")
            .env(fake_aws::OUT, "a-bucket\n");
        let o = c.output().unwrap();
        let ends = count(&w, "end");
        assert!(o.status.success(), "{line}: {}", stderr(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "a-bucket",
            "{line}"
        );
        assert_eq!(
            ends,
            starts,
            "{line}: waited for the refresher {:?}",
            ec2_log(&w)
        );
        wait_for("the refresher", || count(&w, "end") == starts + 2);
        wait_refreshers_gone(&w);
    }
}

#[test]
fn facts_past_the_hard_limit_are_probed_in_the_foreground() {
    let w = warmed();
    // Past 3 × the route tables' TTL (30 min).
    age(&w, 2000);
    let o = w
        .c9aws(["s3", "ls"])
        .env(fake_aws::EC2_SLEEP, "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // The call itself read the route table, before it ran.
    assert_eq!(count(&w, "end"), 2, "{:?}", ec2_log(&w));
    assert!(
        !stderr(&o).contains("a refresher started"),
        "{}",
        stderr(&o)
    );
    assert!(routing_at(&w).unwrap() + 60 > unix_now());
    // stale_limit = 1: nothing serves past its TTL.
    w.c9aws_config("stale_limit = 1\n");
    age(&w, 700);
    let o = w.run(["s3", "ls"]);
    assert_eq!(count(&w, "end"), 4, "{:?}", ec2_log(&w));
    assert!(
        !stderr(&o).contains("a refresher started"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_refresher_killed_midway_leaves_the_old_facts_valid() {
    let w = warmed();
    age(&w, 700);
    let old = routing_at(&w).unwrap();
    let o = w
        .c9aws(["s3", "ls"])
        .env(fake_aws::EC2_SLEEP, "5")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    wait_for("the refresher's read", || count(&w, "start") == 2);
    let start = ec2_log(&w)
        .into_iter()
        .find(|l| l.starts_with("start "))
        .unwrap();
    let refresher: i32 = start.split(' ').nth(2).unwrap().parse().unwrap();
    let cmdline = fs::read(format!("/proc/{refresher}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("__refresh"),
        "{start}"
    );
    // SAFETY: a signal to the refresher this test started.
    assert_eq!(unsafe { libc::kill(refresher, libc::SIGKILL) }, 0);
    wait_for("the refresher's end", || {
        !std::path::Path::new(&format!("/proc/{refresher}")).exists()
            || fs::read_to_string(format!("/proc/{refresher}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    });
    // The cache is whole, with the old facts; the next call uses them and
    // starts another refresher (the dead one's lock went with it).
    assert_eq!(routing_at(&w), Some(old));
    let o = w.c9aws(["s3", "ls"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("a refresher started"), "{}", stderr(&o));
    wait_for("the second refresher", || {
        routing_at(&w).is_some_and(|at| at > old)
    });
}

#[test]
fn a_failing_refresh_keeps_the_old_facts_and_only_doctor_says_so() {
    let w = warmed();
    age(&w, 700);
    let old = routing_at(&w).unwrap();
    let o = w
        .c9aws(["s3", "ls"])
        .env(fake_aws::EC2_FAIL, "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let status = w.home().join(".cache/c9aws/facts.json.refresh");
    wait_for("the refresh's outcome", || status.exists());
    // (The first failure ends the other read at once.)
    assert!(count(&w, "fail") >= 1, "{:?}", ec2_log(&w));
    let starts = count(&w, "start");
    // The old routing stays (and the failure is remembered, so not re-read).
    assert_eq!(routing_at(&w), Some(old));
    let o = w.c9aws(["explain", "--json", "s3", "ls"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        !e.contains("UnauthorizedOperation") && !e.contains("route table of"),
        "{e}"
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_ne!(v["routes"]["s3"]["verdict"], "unknown", "{v}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(&w, "start"), starts, "not retried: {:?}", ec2_log(&w));
    // doctor says it (read before its own foreground probe).
    let (_, report) = w.doctor(&[]);
    let c = doctor_check(&report, "refresh");
    assert_eq!(c["status"], "warn", "{c}");
    assert!(
        c["evidence"][0]
            .as_str()
            .unwrap()
            .contains("UnauthorizedOperation"),
        "{c}"
    );
    // Its foreground probe learnt everything: the failure is forgotten.
    assert!(!status.exists());
}
