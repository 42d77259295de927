"""c9aws decision overhead measured inside the network lab (opt-in: LAB_BENCH=1; see bench/lab.sh).

lab.py imports this module only when LAB_BENCH=1, after the network, the servers and the plumbing
checks are up; it then runs this instead of the CLI calls. For each chosen Cloud9 scenario, inside
that scenario's *instance* namespace, with a Cloud9 HOME and the same environment the lab gives
c9aws in its c9aws rows (C9_*, AWS_CA_BUNDLE, C9AWS_FALLBACK_PROFILE, c9aws config with
fallback_profile), it times the cases below. The sub-millisecond ones (1, 2, 5) run interleaved
(bench/interleave.py: every round runs each case once, in shuffled order, so the VM's drift hits
all alike; hyperfine's one-case-at-a-time blocks drift apart by more than what is measured); the
cold ones (3, 4), which need the cache removed before each run, with `hyperfine -N --prepare`:

  1 fake-aws          a /bin/sh `aws` that exits at once, exec'd directly (the baseline)
  2 c9aws warm        c9aws sts get-caller-identity, C9AWS_AWS=fake-aws, facts cache warm
  3 c9aws cold        the same, facts.json removed before each run (IMDS + DNS + checkip probed)
  4 aws s3 (real)     the real CLI: `aws --profile c9-fallback s3api list-buckets` (baseline of 4)
  4 c9aws s3 cold     c9aws s3api list-buckets, C9AWS_AWS=the real CLI, facts.json removed each run:
                      includes the route-table read (a real `aws ec2 ...` run), once per TTL
  5 c9aws off-C9      c9aws sts get-caller-identity with a HOME whose credentials have no Cloud9 header
  6 c9aws stale       c9aws s3api list-buckets (fake aws) right after every TTL has passed: before each run
                      every fact is made 700 s old (within stale_limit), so the call decides on them and
                      starts a detached refresher; after each run the bench waits for that refresher
                      (untimed), so it does not load the next run
  7 c9aws s3api warm  the same call with the facts fresh (what 6 is compared with)
  8 after setup       c9aws s3api list-buckets right after `c9aws setup --use-profile c9-fallback` (untimed,
                      facts.json removed first; setup warms the cache with the real CLI's route-table read);
                      hyperfine -N --prepare, like the cold cases (a real setup per run is too slow to
                      interleave 300 rounds)
  3 and 4b are the cold first reads (no facts.json: IMDS + DNS + checkip; and the route-table read).

JSON goes to <work>/bench/<scenario>-<case>.json (and is copied to $LAB_BENCH_OUT if set, since the
work dir is removed at exit unless LAB_KEEP=1). Nothing here talks to anything outside the lab's
namespaces: every process runs under `ip netns exec <instance namespace>`.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import lab as L

FAKE_AWS = '#!/bin/sh\n[ "$1" = --version ] && echo "aws-cli/1.45.11 Python/3 Linux botocore/1.43.11"; exit 0\n'
HYPERFINE = os.environ.get("LAB_BENCH_HYPERFINE") or "/usr/bin/hyperfine"
RUNS = int(os.environ.get("LAB_BENCH_RUNS") or 30)
WARMUP = int(os.environ.get("LAB_BENCH_WARMUP") or 3)
RUNS_S3 = int(os.environ.get("LAB_BENCH_RUNS_S3") or 5)
RUNS_FAST = int(os.environ.get("LAB_BENCH_RUNS_FAST") or 300)
RUNS_SETUP = int(os.environ.get("LAB_BENCH_RUNS_SETUP") or 10)
AGE_FACTS = """import json, sys, time
p = sys.argv[1]
at = int(time.time()) - 700
def walk(v):
    if isinstance(v, dict):
        for k in v:
            if k == "at" and isinstance(v[k], int):
                v[k] = at
            else:
                walk(v[k])
    elif isinstance(v, list):
        for x in v:
            walk(x)
d = json.load(open(p))
walk(d)
json.dump(d, open(p + ".t", "w"))
import os
os.chmod(p + ".t", 0o600)
os.replace(p + ".t", p)
try:
    os.unlink(p + ".refresh")
except OSError:
    pass
"""
INTERLEAVE = Path(__file__).resolve().parents[2] / "bench" / "interleave.py"


def loadavg():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def bench_env(lab, sc, home, cli):
    """The environment lab.Lab.run_call gives c9aws in the c9aws rows (kept in step by hand)."""
    env = {
        "PATH": lab.cli_path[cli] + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home), "USER": "ec2-user", "LOGNAME": "ec2-user", "LANG": "C.UTF-8", "TERM": "dumb",
        "AWS_CA_BUNDLE": str(lab.work / "ca.pem"), "SSL_CERT_FILE": str(lab.work / "ca.pem"),
        "AWS_EXECUTION_ENV": "c9lab-bench-%s" % sc.name, "C9AWS_FALLBACK_PROFILE": "c9-fallback",
    }
    if sc.cloud9:
        env.update({"C9_PID": L.hashlib.md5(sc.name.encode()).hexdigest(), "C9_USER": "c9lab-user",
                    "C9_PROJECT": "c9lab-" + sc.name})
    return env


def off_cloud9_home(work, sc):
    """Like the lab's nonc9 home: static keys, no Cloud9 header, region in the config, no ~/.c9."""
    home = work / "home" / ("bench-offc9-%s" % sc.name)
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % L.STATIC_KEY)
    (home / ".aws" / "config").write_text(
        "[default]\nregion = %s\n\n[profile c9-fallback]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
        "region = %s\n" % (L.REGION, L.FALLBACK_KEY[0], L.FALLBACK_KEY[1], L.REGION))
    (home / ".config" / "c9aws").mkdir(parents=True)
    (home / ".config" / "c9aws" / "config").write_text("fallback_profile = c9-fallback\n")
    return home


def in_ns(sc, env, argv, timeout=600, cwd=None):
    return subprocess.run(["ip", "netns", "exec", sc.ns] + argv, env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL)


def summary(ms):
    t = sorted(ms)
    k = len(t)
    return {"med": t[k // 2] if k % 2 else (t[k // 2 - 1] + t[k // 2]) / 2,
            "p10": t[k // 10], "p90": t[min(k - 1, k * 9 // 10)], "n": k}


def stats(path):
    """Summary of a hyperfine JSON export (times in seconds), in ms."""
    return summary([x * 1000 for x in json.loads(Path(path).read_text())["results"][0]["times"]])


def run(lab, pre):
    """Called by lab.Lab.run when LAB_BENCH=1. Returns the exit status; prints `N passed, M failed` last."""
    checks = list(pre)
    if lab.c9aws_problem:
        checks.append((False, "bench: c9aws not available: %s" % lab.c9aws_problem))
    if not os.access(HYPERFINE, os.X_OK):
        checks.append((False, "bench: %s not found (LAB_BENCH_HYPERFINE overrides)" % HYPERFINE))
    cli = lab.clis[0]
    out = lab.work / "bench"
    out.mkdir()
    fake = out / "fake-aws"
    fake.write_text(FAKE_AWS)
    fake.chmod(0o755)
    real = str(Path(lab.cli_path[cli]) / "aws")
    # Installed copies, as `cargo install` makes them: the linker's own output file starts ~0.15 ms
    # slower while its pages stay cached as the linker wrote them (docs/performance.md).
    inst = out / "inst"
    inst.mkdir()
    for exe in (Path(lab.c9aws), Path(lab.c9aws).with_name("c9aws-probe")):
        if exe.exists():
            shutil.copy2(exe, inst / exe.name)
    c9 = str(inst / Path(lab.c9aws).name)
    rows = []  # (scenario, case label, stats, baseline label)
    rss = {}
    load0 = loadavg()
    print("\n== bench (LAB_BENCH=1): cases 1, 2, 5 interleaved, %d rounds; cold cases hyperfine -N, runs %d"
          " warmup %d (s3 case: runs %d); load average %s" % (RUNS_FAST, RUNS, WARMUP, RUNS_S3, load0), flush=True)
    scens = [s for s in lab.scens if s.cloud9]
    if not all(ok for ok, _ in checks):
        scens = []  # broken plumbing or tools: do not time anything
    for sc in scens:
        if lab.stopping:
            break
        home = L.make_home(lab.work, "bench", sc)
        offhome = off_cloud9_home(lab.work, sc)
        facts = home / ".cache" / "c9aws" / "facts.json"
        env = bench_env(lab, sc, home, cli)
        env_fake = dict(env, C9AWS_AWS=str(fake))
        env_real = dict(env, C9AWS_AWS=real)
        env_off = dict(env_fake, HOME=str(offhome))

        # Prime: each c9aws form once (CLI-version cache, and the warm facts cache for case 2).
        for what, e, argv in [("c9aws s3api list-buckets (real aws)", env_real, [c9, "s3api", "list-buckets"]),
                              ("c9aws off Cloud9", env_off, [c9, "sts", "get-caller-identity"]),
                              ("c9aws sts (fake aws)", env_fake, [c9, "sts", "get-caller-identity"])]:
            r = in_ns(sc, e, argv, timeout=120, cwd=str(home))
            checks.append((r.returncode == 0, "bench %s: prime %s exits %d%s" % (
                sc.name, what, r.returncode, "" if r.returncode == 0 else ": " + r.stderr.strip()[-300:])))
        try:
            cached = sorted(json.loads(facts.read_text()).keys())
        except (OSError, ValueError) as e:
            cached = ["unreadable: %s" % e]
        print("%s: facts.json after priming: %s" % (sc.name, ", ".join(cached)), flush=True)

        # Peak RSS of one cold c9aws run (fake aws; /usr/bin/time reports the max over the process,
        # which execs the fake /bin/sh aws at the end: that is far smaller than c9aws).
        facts.unlink(missing_ok=True)
        r = in_ns(sc, env_fake, ["/usr/bin/time", "-f", "%M", c9, "sts", "get-caller-identity"], cwd=str(home))
        rss[sc.name] = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "?"
        facts.unlink(missing_ok=True)
        in_ns(sc, env_fake, [c9, "sts", "get-caller-identity"], cwd=str(home))  # warm again
        in_ns(sc, env_real, [c9, "s3api", "list-buckets"], timeout=120, cwd=str(home))  # and its routing (case 7)

        # Cases 6-8 use homes of their own (their facts are aged or rebuilt around each run).
        shome = L.make_home(lab.work, "bench-stale", sc)
        ahome = L.make_home(lab.work, "bench-setup", sc)
        for hm in (shome, ahome):
            r = in_ns(sc, dict(env_real, HOME=str(hm)), [c9, "s3api", "list-buckets"], timeout=120, cwd=str(hm))
            checks.append((r.returncode == 0, "bench %s: prime %s exits %d" % (sc.name, hm.name, r.returncode)))
        sfacts = shome / ".cache" / "c9aws" / "facts.json"
        afacts = ahome / ".cache" / "c9aws" / "facts.json"
        ager = out / "age-facts.py"
        ager.write_text(AGE_FACTS)
        age = "%s %s %s" % (sys.executable, ager, sfacts)
        settle = "sleep 0.05; flock -w 20 %s.lock true" % sfacts
        setup = ("sh -c 'rm -f %s; C9AWS_AWS=%s HOME=%s %s setup --use-profile c9-fallback 2>/dev/null'"
                 % (afacts, real, ahome, c9))
        fast = [("1", "fake-aws direct", "%s sts get-caller-identity" % fake),
                ("2", "c9aws warm", "%s sts get-caller-identity" % c9),
                ("5", "c9aws off Cloud9", "HOME=%s %s sts get-caller-identity" % (offhome, c9)),
                ("6", "c9aws s3api stale (TTLs passed)", "HOME=%s %s s3api list-buckets" % (shome, c9)),
                ("7", "c9aws s3api warm", "%s s3api list-buckets" % c9)]
        hooks = ["--prepare", "6=" + age, "--after", "6=" + settle]
        js = out / ("%s-interleaved.json" % sc.name)
        t = time.time()
        r = in_ns(sc, env_fake, [sys.executable, str(INTERLEAVE), "--runs", str(RUNS_FAST), "--warmup", "20",
                                 "--json", str(js)] + hooks + ["%s=%s" % (cid, cmd) for cid, _, cmd in fast],
                  timeout=3600, cwd=str(home))
        ok = r.returncode == 0 and js.exists()
        checks.append((ok, "bench %s: cases 1, 2, 5, 6, 7 interleaved: exits %d (%.0fs)%s" % (
            sc.name, r.returncode, time.time() - t, "" if ok else ": " + (r.stderr + r.stdout).strip()[-400:])))
        if ok:
            times = json.loads(js.read_text())["times_ms"]
            for cid, label, _ in fast:
                rows.append((sc.name, cid, label, summary(times[cid]), {"1": None, "6": "7", "8": "7"}.get(cid, "1")))

        rm = "/bin/rm -f %s" % facts
        cases = [
            ("3", "c9aws cold", env_fake, "%s sts get-caller-identity" % c9, ["--prepare", rm], RUNS, WARMUP, "1"),
            ("4a", "aws s3api (real, direct)", env_real,
             "%s --profile c9-fallback s3api list-buckets" % real, [], RUNS_S3, 1, None),
            ("4b", "c9aws s3api cold (real aws)", env_real, "%s s3api list-buckets" % c9, ["--prepare", rm],
             RUNS_S3, 1, "4a"),
            ("8", "c9aws s3api after setup", dict(env_fake, HOME=str(ahome)), "%s s3api list-buckets" % c9,
             ["--prepare", setup], RUNS_SETUP, 1, "7"),
        ]
        for cid, label, e, cmd, extra, runs, warm, base in cases:
            if lab.stopping:
                break
            js = out / ("%s-case%s.json" % (sc.name, cid))
            argv = [HYPERFINE, "-N", "--runs", str(runs), "--warmup", str(warm), "--export-json", str(js),
                    "--style", "none", "-n", label] + extra + [cmd]
            t = time.time()
            r = in_ns(sc, e, argv, timeout=1800, cwd=str(home))
            ok = r.returncode == 0 and js.exists()
            checks.append((ok, "bench %s: case %s %s: hyperfine exits %d (%.0fs)%s" % (
                sc.name, cid, label, r.returncode, time.time() - t,
                "" if ok else ": " + (r.stderr + r.stdout).strip()[-400:])))
            if ok:
                rows.append((sc.name, cid, label, stats(js), base))
    load1 = loadavg()

    print("\n== bench results (ms, inside the instance namespace; cases 1, 2, 5 interleaved, the others"
          " hyperfine -N; CLI %s)" % cli)
    print("%-8s %-4s %-30s %9s %17s %10s %4s" % ("scenario", "case", "", "median", "p10-p90", "extra", "n"))
    byid = {(s, c): st for s, c, _, st, _ in rows}
    for s, cid, label, st, base in rows:
        extra = ""
        if base and (s, base) in byid:
            extra = "%+.2f" % (st["med"] - byid[(s, base)]["med"])
        print("%-8s %-4s %-30s %9.2f %8.2f-%8.2f %10s %4d" % (s, cid, label, st["med"], st["p10"], st["p90"],
                                                            extra, st["n"]))
    print("extra: over case 1 (fake aws direct); 6 and 8 over 7 (the same call warm); 4b over 4a (the real CLI direct) = the route-table read,"
          " once per TTL (routing TTL 600 s)")
    for s, v in rss.items():
        print("peak RSS, one cold c9aws sts get-caller-identity in %s: %s KiB" % (s, v))
    print("load average: %s before, %s after" % (load0, load1))
    dest = os.environ.get("LAB_BENCH_OUT")
    if dest:
        Path(dest).mkdir(parents=True, exist_ok=True)
        for f in out.glob("*.json"):
            shutil.copy(f, dest)
        print("JSON copied to %s" % dest)

    print("\n== checks")
    npass = sum(1 for ok, _ in checks if ok)
    for ok, text in checks:
        print("%-5s %s" % ("PASS" if ok else "FAIL", text if text.startswith("bench") else "plumbing " + text))
    print("\nwall time %.1fs; load average now: %s" % (time.time() - lab.t0, loadavg()))
    print("%d passed, %d failed" % (npass, len(checks) - npass), flush=True)
    return 0 if npass == len(checks) else 1
