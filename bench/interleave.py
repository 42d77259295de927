#!/usr/bin/env python3
"""Start-up cost of short commands, measured interleaved.

hyperfine runs all runs of one command, then the next: on a shared VM the
machine's speed drifts between those blocks by more than the ~1 ms differences
c9aws cares about. Here every round runs each command once, in a shuffled
order, so drift hits all commands alike; medians and spreads come from the same
rounds. Each run is posix_spawn + waitpid, timed with a monotonic clock; the
spawn cost is the same for every command, so differences between commands are
what the commands themselves cost.

Usage: interleave.py [--runs N] [--warmup N] [--json FILE] [--prepare NAME=SH] [--after NAME=SH] NAME=CMD ...
  CMD is split with shlex; a leading VAR=value word sets an environment variable.
  --prepare / --after: a `sh -c` line run (untimed) before / after each run of case NAME: put the
  state the case needs in place (facts aged past their TTL), or wait for what it left running (a
  detached refresher) so that it does not load the next case's run.
"""
import argparse
import json
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import time


def parse(spec):
    name, _, cmd = spec.partition("=")
    words = shlex.split(cmd)
    env = dict(os.environ)
    while words and "=" in words[0] and not words[0].startswith(("/", ".")):
        k, _, v = words.pop(0).partition("=")
        env[k] = v
    path = words[0] if "/" in words[0] else shutil.which(words[0])
    if not path:
        sys.exit(f"interleave: {words[0]}: not found")
    return name, path, words, env


def once(path, argv, env):
    t = time.perf_counter_ns()
    pid = os.posix_spawn(path, argv, env, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
    ])
    _, status = os.waitpid(pid, 0)
    dt = time.perf_counter_ns() - t
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"interleave: {' '.join(argv)} exited {os.waitstatus_to_exitcode(status)}")
    return dt / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--json")
    ap.add_argument("--prepare", action="append", default=[])
    ap.add_argument("--after", action="append", default=[])
    ap.add_argument("cmds", nargs="+")
    a = ap.parse_args()
    cmds = [parse(c) for c in a.cmds]
    hook = lambda specs: dict(x.split("=", 1) for x in specs)
    prepare, after = hook(a.prepare), hook(a.after)
    times = {c[0]: [] for c in cmds}
    order = list(cmds)
    for i in range(a.warmup + a.runs):
        random.shuffle(order)
        for name, path, argv, env in order:
            if name in prepare:
                subprocess.run(["sh", "-c", prepare[name]], env=env, check=True)
            dt = once(path, argv, env)
            if name in after:
                subprocess.run(["sh", "-c", after[name]], env=env, check=True)
            if i >= a.warmup:
                times[name].append(dt)
    base = cmds[0][0]
    med = {n: statistics.median(t) for n, t in times.items()}
    print(f"{'case':<28} {'median ms':>9} {'p10-p90 ms':>13} {'extra ms':>9} {'ratio':>6}")
    for name, *_ in cmds:
        t = sorted(times[name])
        lo, hi = t[len(t) // 10], t[len(t) * 9 // 10]
        extra = "" if name == base else f"{med[name] - med[base]:9.2f}"
        ratio = "" if name == base else f"{med[name] / med[base]:6.2f}"
        print(f"{name:<28} {med[name]:9.2f} {lo:6.2f}-{hi:6.2f} {extra:>9} {ratio:>6}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"runs": a.runs, "baseline": base, "times_ms": times}, f)


if __name__ == "__main__":
    main()
