//! Warming the facts cache: `setup` and `doctor` leave it warm for the usual
//! calls; `init` on Cloud9 starts a detached warm-up (`c9aws __warm`) only
//! when the facts are missing or past their hard limit, never holds the
//! caller's pipe, and does nothing with `C9AWS_NO_WARM`. Same hermetic world
//! as tests/it/stale.rs (fake IMDS and checkip, a fallback profile, the fake
//! `aws` answering the route-table read).

use crate::fake_aws;
use crate::world::{stderr, World};
use serde_json::Value;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const ROUTING: &str = "ap-northeast-1 vpc-0abc subnet-0def";

fn world() -> World {
    crate::world::public_cloud9("AKIAC9AWSFALLBACK001")
}

fn facts_path(w: &World) -> PathBuf {
    w.home().join(".cache/c9aws/facts.json")
}

fn routing_at(w: &World) -> Option<u64> {
    let v: Value = serde_json::from_slice(&fs::read(facts_path(w)).ok()?).ok()?;
    v["routing"][ROUTING]["at"].as_u64()
}

fn ec2_count(w: &World, word: &str) -> usize {
    w.logged("ec2")
        .lines()
        .filter(|l| l.starts_with(&format!("{word} ")))
        .count()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn setup_leaves_the_cache_warm() {
    let w = world();
    let o = w
        .c9aws(["setup", "--use-profile", "c9-fallback"])
        .env_remove("C9AWS_NO_WARM")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("Facts cache warm"), "{}", stderr(&o));
    assert!(routing_at(&w).is_some(), "{}", stderr(&o));
    // The first call after setup probes nothing.
    let o = w
        .c9aws(["s3", "ls"])
        .env("C9AWS_DEBUG", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("probed in"), "{}", stderr(&o));
    assert_eq!(ec2_count(&w, "end"), 2);
}

#[test]
fn setup_with_no_warm_probes_nothing() {
    let w = world();
    let o = w.run(["setup", "--use-profile", "c9-fallback"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!facts_path(&w).exists());
}

#[test]
fn doctor_leaves_the_cache_warm() {
    let w = world();
    let (_, _report) = w.doctor(&[]);
    assert!(routing_at(&w).is_some());
    let o = w
        .c9aws(["s3", "ls"])
        .env("C9AWS_DEBUG", "1")
        .output()
        .unwrap();
    assert!(!stderr(&o).contains("probed in"), "{}", stderr(&o));
}

#[test]
fn init_warms_in_the_background_only_when_needed() {
    let w = world();
    // C9AWS_NO_WARM: nothing started.
    let o = w.run(["init", "bash"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!facts_path(&w).exists());
    // Cold cache: the warm-up starts, detached; init's pipe closes at once
    // although the route-table read takes 3 s.
    let started = Instant::now();
    let o = w
        .command("sh")
        .args([
            "-c",
            &format!("{} init bash | head -c 10", crate::world::C9AWS),
        ])
        .env_remove("C9AWS_NO_WARM")
        .env(fake_aws::EC2_SLEEP, "3")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(took < Duration::from_millis(2500), "{took:?}");
    assert_eq!(ec2_count(&w, "end"), 0, "waited for the warm-up");
    wait_for("the warm-up's route-table read", || {
        routing_at(&w).is_some()
    });
    let reads = ec2_count(&w, "start");
    assert_eq!(reads, 2);
    // Warm now: another shell's init starts nothing.
    let o = w
        .c9aws(["init", "bash"])
        .env_remove("C9AWS_NO_WARM")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ec2_count(&w, "start"), reads);
    // Off Cloud9 (no ~/.c9): nothing either.
    let w2 = world();
    fs::remove_dir_all(w2.home().join(".c9")).unwrap();
    let o = w2
        .c9aws(["init", "bash"])
        .env_remove("C9AWS_NO_WARM")
        .output()
        .unwrap();
    assert!(o.status.success());
    std::thread::sleep(Duration::from_millis(500));
    assert!(!facts_path(&w2).exists());
}
