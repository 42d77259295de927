"""The route-table read, direct vs CLI, timed inside the network lab (opt-in: LAB_BENCH=route).

lab.py imports this module only when LAB_BENCH=route, after the network, the servers and the
plumbing checks are up, and runs it instead of the CLI calls. For each chosen Cloud9 scenario, in
its instance namespace, with the lab's c9aws environment (tests/lab/bench.py's bench_env) and the
real CLI: LAB_ROUTE_ROUNDS rounds (default 15), each running, in a shuffled order,

  direct   c9aws explain --json s3 ls, C9AWS_ROUTE_TABLES_READ=direct
  cli      the same, C9AWS_ROUTE_TABLES_READ=cli

with the facts cache removed before each run (a cold call: IMDS, DNS, checkip and the route
table). From each run's C9AWS_DEBUG lines it takes the route-table read's own time
("route tables read in N ms") and checks that the direct run read directly (and the cli run did
not), and that both gave S3 the same verdict. Wall times of the whole cold call are reported too.
Nothing here talks to anything outside the lab's namespaces.
"""
import json
import os
import random
import re
import time

import bench as B
import lab as L

ROUNDS = int(os.environ.get("LAB_ROUTE_ROUNDS") or 15)
READ_MS = re.compile(r"route tables read in (\d+) ms")


def run(lab, pre):
    checks = list(pre)
    if lab.c9aws_problem:
        checks.append((False, "route bench: c9aws not available: %s" % lab.c9aws_problem))
    cli = lab.clis[0]
    real = os.path.join(lab.cli_path[cli], "aws")
    c9 = lab.c9aws
    res = {}  # (scenario, mode) -> {"read": [...], "wall": [...]}
    load0 = B.loadavg()
    scens = [s for s in lab.scens if s.cloud9] if all(ok for ok, _ in checks) else []
    print("\n== route-table read, direct vs cli (LAB_BENCH=route): %d rounds, CLI %s, load average %s"
          % (ROUNDS, cli, load0), flush=True)
    for sc in scens:
        home = L.make_home(lab.work, "route", sc)
        facts = home / ".cache" / "c9aws" / "facts.json"
        env = dict(B.bench_env(lab, sc, home, cli), C9AWS_AWS=real, C9AWS_DEBUG="1")
        verdicts = {}
        bad = {"direct": 0, "cli": 0}
        for i in range(ROUNDS + 1):  # round 0 primes (CLI-version cache), not counted
            modes = ["direct", "cli"]
            random.shuffle(modes)
            for mode in modes:
                facts.unlink(missing_ok=True)
                e = dict(env, C9AWS_ROUTE_TABLES_READ=mode)
                t = time.monotonic()
                r = B.in_ns(sc, e, [c9, "explain", "--json", "s3", "ls"], timeout=120, cwd=str(home))
                wall = (time.monotonic() - t) * 1000
                m = READ_MS.search(r.stderr)
                direct = "read directly in" in r.stderr
                try:
                    verdict = json.loads(r.stdout)["routes"]["s3"]["verdict"]
                except (ValueError, KeyError, TypeError):
                    verdict = None
                ok = r.returncode == 0 and m is not None and direct == (mode == "direct")
                if not ok:
                    bad[mode] += 1
                    if bad[mode] == 1:
                        print("%s %s: exit %d, stderr: %s" % (sc.name, mode, r.returncode,
                                                              r.stderr.strip()[-600:]), flush=True)
                    continue
                verdicts.setdefault(mode, set()).add(verdict)
                if i == 0:
                    continue
                d = res.setdefault((sc.name, mode), {"read": [], "wall": []})
                d["read"].append(float(m.group(1)))
                d["wall"].append(wall)
        for mode in ("direct", "cli"):
            checks.append((bad[mode] == 0, "route bench %s: %s read: every run read as asked (%d bad)"
                           % (sc.name, mode, bad[mode])))
        checks.append((verdicts.get("direct") == verdicts.get("cli") and len(verdicts.get("direct", ())) == 1,
                       "route bench %s: same S3 verdict both ways: %s" % (sc.name, verdicts)))
    load1 = B.loadavg()
    print("\n== route-table read results (ms; inside the instance namespace; CLI %s)" % cli)
    print("%-8s %-7s %-22s %9s %17s %4s" % ("scenario", "read", "", "median", "p10-p90", "n"))
    for (s, mode), d in sorted(res.items()):
        for what in ("read", "wall"):
            st = B.summary(d[what])
            label = "route-table read" if what == "read" else "cold explain s3 ls"
            print("%-8s %-7s %-22s %9.1f %8.1f-%8.1f %4d" % (s, mode, label, st["med"], st["p10"], st["p90"],
                                                           st["n"]))
    print("load average: %s before, %s after" % (load0, load1))
    print("\n== checks")
    npass = sum(1 for ok, _ in checks if ok)
    for ok, text in checks:
        print("%-5s %s" % ("PASS" if ok else "FAIL", text))
    print("%d passed, %d failed" % (npass, len(checks) - npass), flush=True)
    return 0 if npass == len(checks) else 1
