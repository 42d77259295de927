#!/usr/bin/env bash
# c9aws decision overhead inside the network lab (docs/lab.md, tests/lab/bench.py):
# in the instance namespaces of `public` and `s3gw`, with a Cloud9 HOME and the lab's c9aws
# environment: fake aws direct, c9aws warm and off Cloud9 (interleaved rounds, bench/interleave.py),
# c9aws with a cold facts cache and the route-table read of s3api (real CLI, cold) (hyperfine -N).
# Needs root, hyperfine and the lab's deps (tests/lab/install-deps).
# Usage: bench/lab.sh            (LAB_SCENARIOS, LAB_BENCH_RUNS, LAB_BENCH_OUT, C9AWS_BIN are honoured)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${LAB_BENCH_OUT:-/tmp/c9aws-lab-bench}
mkdir -p "$out"
log=$out/lab.log
LAB_BENCH=1 LAB_BENCH_OUT=$out LAB_SCENARIOS=${LAB_SCENARIOS:-public,s3gw} bash tests/lab/run 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
echo
echo "---- table (full log: $log; JSON: $out) ----"
sed -n '/^== bench results/,/^load average:/p' "$log"
tail -n 1 "$log"
exit "$rc"
