#!/usr/bin/env bash
# Overhead of c9aws over exec'ing `aws` directly, measured with hyperfine.
# Method (docs/performance.md): the `aws` is a fake that exits at once, so the
# difference between `c9aws ARGS` and `fake-aws ARGS` is what c9aws adds to a
# call. Each case runs in a throwaway HOME; the CLI-version cache is warmed first.
# Usage: bench/overhead.sh [--quick]   (needs hyperfine and GNU time)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=300; warmup=30
[ "${1:-}" = "--quick" ] && { runs=60; warmup=10; }
command -v hyperfine >/dev/null || { echo "bench: hyperfine is not installed (apt-get install hyperfine)" >&2; exit 2; }
cargo build --release -q
bin=$PWD/target/release/c9aws
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/home" "$work/c9home/.aws" "$work/c9home/.c9"
cat > "$work/bin/aws" <<'SH'
#!/bin/sh
[ "$1" = "--version" ] && echo "aws-cli/1.45.11 Python/3.11.7 Linux/6 botocore/1.43.11"
exit 0
SH
chmod +x "$work/bin/aws"
cat > "$work/c9home/.aws/credentials" <<'INI'
# Do not modify this file, if this file is modified it will not be updated. If the file is deleted, it will be recreated on Sat Nov 28 2026.
# 0000000000000000000000000000000000000000000000000000000000000000 #

[default]
aws_access_key_id = ASIABENCHMARKKEY0000
aws_secret_access_key = benchmark-secret
aws_session_token = benchmark-token
region = ap-northeast-1
INI
export PATH="$work/bin:$PATH"
# This machine is not the lab: IMDS and checkip must not be asked (the AMTC case
# then caches "no IMDS" and its warm path reads the cache, as on an instance).
export AWS_EC2_METADATA_DISABLED=true C9AWS_CHECKIP_URL=http://127.0.0.1:9/
for h in home c9home; do HOME=$work/$h "$bin" sts get-caller-identity; done
json=$work/result.json
hyperfine -N --runs "$runs" --warmup "$warmup" --export-json "$json" \
  -n "aws (direct)" "$work/bin/aws sts get-caller-identity" \
  -n "c9aws off Cloud9" "env HOME=$work/home $bin sts get-caller-identity" \
  -n "c9aws AMTC (warm)" "env HOME=$work/c9home $bin sts get-caller-identity" \
  -n "c9aws local-only" "env HOME=$work/c9home $bin configure list" \
  -n "env (baseline for env)" "env HOME=$work/home $work/bin/aws sts get-caller-identity" \
  >/dev/null
python3 - "$json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
med = lambda n: sorted(r[n]["times"])[len(r[n]["times"]) // 2] * 1000
def spread(n):
    t = sorted(r[n]["times"]); k = len(t)
    return (t[k // 10] * 1000, t[k * 9 // 10] * 1000)
base = med("env (baseline for env)")
print(f"{'case':<22} {'median ms':>9} {'p10-p90 ms':>13} {'extra ms':>9}")
for n in ["aws (direct)", "env (baseline for env)", "c9aws off Cloud9", "c9aws AMTC (warm)", "c9aws local-only"]:
    lo, hi = spread(n)
    extra = "" if n.startswith(("aws", "env")) else f"{med(n) - base:9.2f}"
    print(f"{n:<22} {med(n):9.2f} {lo:6.2f}-{hi:6.2f} {extra:>9}")
PY
if [ -x /usr/bin/time ]; then
  rss=$(HOME=$work/c9home /usr/bin/time -f '%M' "$bin" explain --json s3 ls s3://bucket/key 2>&1 >/dev/null | tail -1)
  echo "peak RSS of c9aws explain (KiB): $rss"
fi
