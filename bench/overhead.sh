#!/usr/bin/env bash
# Overhead of c9aws over exec'ing `aws` directly (docs/performance.md has the method).
# The `aws` is a fake that exits at once, so the difference between `c9aws ARGS` and
# `fake-aws ARGS` is what c9aws adds to a call. c9aws is installed the way `cargo install`
# does it (a copy of the release binary). Every case runs once per round, rounds shuffled
# (bench/interleave.py), so the VM's drift hits all cases alike. Two floor rows put the
# figures in context: a 3-line Rust program that only execs the fake aws (what any plain,
# dynamically linked Rust wrapper costs here), and the same in C, linked statically (what
# one more execve costs on this machine at the least).
# Usage: bench/overhead.sh [--quick]   (needs python3, rustc, cc; GNU time for the RSS line)
# BENCH_BASELINE=DIR (a directory holding another build's c9aws and c9aws-probe) adds its
# off-Cloud9 and AMTC-warm rows to the same interleaved run: a before/after comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=600; warmup=30
[ "${1:-}" = "--quick" ] && { runs=150; warmup=10; }
cargo build --release -q
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/inst" "$work/home" "$work/c9home/.aws"
install -m 0755 target/release/c9aws target/release/c9aws-probe "$work/inst/"
bin=$work/inst/c9aws
cat > "$work/bin/aws" <<'SH'
#!/bin/sh
[ "$1" = "--version" ] && echo "aws-cli/1.45.11 Python/3.11.7 Linux/6 botocore/1.43.11"
exit 0
SH
chmod +x "$work/bin/aws"
cat > "$work/floor.rs" <<RS
use std::os::unix::process::CommandExt;
fn main() {
    let e = std::process::Command::new("$work/bin/aws").args(std::env::args_os().skip(1)).exec();
    eprintln!("{e}");
    std::process::exit(127);
}
RS
rustc -O -C panic=abort -C strip=symbols -C link-arg=-no-pie "$work/floor.rs" -o "$work/inst/floor"
cat > "$work/floor.c" <<C
#include <unistd.h>
int main(int argc, char **argv) { argv[0] = "$work/bin/aws"; execv(argv[0], argv); return 127; }
C
cfloor=()
if cc -O2 -static "$work/floor.c" -o "$work/inst/cfloor" 2>/dev/null; then
  cfloor=("floor: C exec wrapper, static=$work/inst/cfloor sts get-caller-identity")
fi
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
baseline=()
if [ -n "${BENCH_BASELINE:-}" ]; then
  mkdir -p "$work/base"
  install -m 0755 "$BENCH_BASELINE/c9aws" "$BENCH_BASELINE/c9aws-probe" "$work/base/"
  for h in home c9home; do HOME=$work/$h "$work/base/c9aws" sts get-caller-identity; done
  baseline=("baseline off Cloud9=HOME=$work/home $work/base/c9aws sts get-caller-identity"
            "baseline AMTC (warm)=HOME=$work/c9home $work/base/c9aws sts get-caller-identity")
fi
# A pyenv shim would put its own directories (and a real aws) first on PATH.
py=$(python3 -c 'import sys; print(sys.executable)')
H=$work/home C=$work/c9home
"$py" bench/interleave.py --runs "$runs" --warmup "$warmup" --json "$work/result.json" \
  "aws (direct)=$work/bin/aws sts get-caller-identity" \
  "floor: Rust exec wrapper=$work/inst/floor sts get-caller-identity" \
  ${cfloor[@]+"${cfloor[@]}"} \
  "c9aws off Cloud9=HOME=$H $bin sts get-caller-identity" \
  "c9aws AMTC (warm)=HOME=$C $bin sts get-caller-identity" \
  "c9aws local-only=HOME=$C $bin configure list" \
  "c9aws nested passthrough=HOME=$C C9AWS_ACTIVE=1 $bin sts get-caller-identity" \
  ${baseline[@]+"${baseline[@]}"}
[ -n "${BENCH_JSON:-}" ] && cp "$work/result.json" "$BENCH_JSON"
if [ -x /usr/bin/time ]; then
  rss=$(HOME=$C /usr/bin/time -f '%M' "$bin" explain --json s3 ls s3://bucket/key 2>&1 >/dev/null | tail -1)
  echo "peak RSS of c9aws explain, warm (KiB): $rss"
fi
ls -l "$bin" | awk '{print "binary size (bytes): " $5}'
if command -v readelf >/dev/null; then
  if readelf -l "$bin" | grep -q INTERP; then echo "c9aws linked: dynamically"; else echo "c9aws linked: statically"; fi
fi
