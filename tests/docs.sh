#!/usr/bin/env bash
# Checks that the docs stay true: the README opens with the two commands (the first
# one is run), every
# relative link in README.md and docs/*.md points at a file that exists, and the
# CloudFormation template of docs/network-remedies.md passes cfn-lint.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0
bad() { echo "docs: $*" >&2; fail=1; }

# 1. The README's first code block: run the tool offline, run the tests.
first_block=$(awk '/^```/{n++; next} n==1' README.md)
grep -q 'cargo run --release -- explain' <<<"$first_block" || bad "README's first block does not run the tool (cargo run --release -- explain …)"
grep -q 'bash tests/run' <<<"$first_block" || bad "README's first block does not run the tests (bash tests/run)"
# ...and the tool command works as written (debug build: the one the tests just built), offline,
# in a throwaway HOME.
run_line=$(grep -m1 '^cargo run' <<<"$first_block" | sed -e 's/#.*//' -e 's/ --release//' -e 's/^cargo run/cargo run -q/')
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
if ! out=$(RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup} CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} \
    HOME=$scratch AWS_EC2_METADATA_DISABLED=true bash -c "$run_line" 2>&1 </dev/null); then
  bad "README's first command fails: $run_line: $out"
elif ! grep -q '^decision' <<<"$out"; then
  bad "README's first command prints no plan: $run_line: $out"
fi

# 2. Relative links.
for f in README.md docs/*.md; do
  dir=$(dirname "$f")
  while IFS= read -r target; do
    path=${target%%#*}
    [ -z "$path" ] && continue
    [ -e "$dir/$path" ] || bad "$f links to $target, which does not exist"
  done < <(grep -oE '\]\([^)#:]+(#[^)]*)?\)' "$f" | sed -E 's/^\]\((.*)\)$/\1/' | grep -vE '^(https?|mailto):')
done

# 3. The CloudFormation template.
lint=${C9AWS_CFN_LINT:-}
if [ -z "$lint" ]; then
  for c in /opt/cfn-lint/bin/cfn-lint "$(command -v cfn-lint || true)"; do
    [ -n "$c" ] && [ -x "$c" ] && { lint=$c; break; }
  done
fi
if [ -z "$lint" ]; then
  bad "cfn-lint is not installed (tests/prereqs installs it in /opt/cfn-lint)"
else
  "$lint" docs/cloud9-vpc.yaml || bad "cfn-lint found problems in docs/cloud9-vpc.yaml"
fi

[ "$fail" = 0 ] && echo "docs: ok (README commands, links, cloud9-vpc.yaml)"
exit "$fail"
