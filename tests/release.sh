#!/usr/bin/env bash
# tests/release.sh [WORK]: the release as a new user meets it.
#  1. tools/release builds dist/ (archive, install.sh, SHA256SUMS); tools/check-elf checks
#     every ELF in the archive (c9aws static, no dynamic one above GLIBC_2.17);
#  2. dist/ is served on a loopback HTTP server (own port, stops by itself after 10 min,
#     and is always stopped on exit); install.sh --from http://127.0.0.1:PORT/ installs
#     into an empty HOME, under plain sh;
#  3. the installed c9aws runs: doctor --json (its own check: helper beside it, static),
#     explain --json s3 ls;
#  4. a second install is a no-op; an install from a folder (--from DIR) works; as root,
#     an install as user nobody works (it never needs root);
#  5. an install of a corrupted archive fails with the checksum error, leaves the previous
#     install byte for byte, working, and no temporary file behind.
# The install stays in WORK (default: a temporary folder) for the lab: tests/run passes
# target/release-test and runs the lab with WORK/home/.local/bin/c9aws.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
work=${1:-}
own=0
if [ -z "$work" ]; then work=$(mktemp -d); own=1; fi
server=
stop_server() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; server=; }
nobody_home=
cleanup() { stop_server; [ -n "$nobody_home" ] && rm -rf "$nobody_home"; [ "$own" = 1 ] && rm -rf "$work"; }
trap cleanup EXIT
rm -rf "$work"; mkdir -p "$work"; work=$(cd "$work" && pwd)
fail=0
ok() { echo "release: ok: $*"; }
bad() { echo "release: FAIL: $*" >&2; fail=1; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# ---------------------------------------------------------------- 1. build and check
t0=$(date +%s%N)
if ! tools/release; then echo "release: FAIL: tools/release failed" >&2; exit 1; fi
echo "release: tools/release took $(( $(ms "$t0") / 1000 )) s"
archive=$(ls dist/c9aws-*-x86_64-unknown-linux-gnu.tar.gz)
name=$(basename "$archive" .tar.gz)
version=${name#c9aws-}; version=${version%-x86_64-unknown-linux-gnu}
echo "release: $archive: $(stat -c %s "$archive") bytes"
if tools/check-elf --max-glibc 2.17 --static c9aws "$archive"; then ok "check-elf"; else bad "check-elf"; fi
listing=$(tar -tvzf "$archive")
for f in c9aws c9aws-probe c9aws.1 README.md LICENSE-MIT LICENSE-APACHE BUILDINFO \
         shell/c9aws.bash shell/c9aws.zsh shell/c9aws.fish; do
  grep -q " $name/$f\$" <<<"$listing" || bad "the archive has no $name/$f"
done
if awk '$2 != "0/0" {exit 1}' <<<"$listing"; then ok "archive: every entry owned by 0/0"; else bad "archive entries not owned by 0/0"; fi
(cd dist && sha256sum -c --quiet SHA256SUMS) && ok "SHA256SUMS matches dist/" || bad "SHA256SUMS does not match dist/"
if command -v shellcheck >/dev/null; then
  shellcheck -s sh shell/install.sh && ok "shellcheck -s sh shell/install.sh" || bad "shellcheck shell/install.sh"
else
  bad "shellcheck is missing (bash tests/prereqs installs it)"
fi

# ---------------------------------------------------------------- 2. serve and install
mkdir -p "$work/mirror" "$work/home" "$work/tmp"
cp dist/SHA256SUMS dist/install.sh "$archive" "$work/mirror/"
# A loopback server of its own: port chosen by the kernel, written to a file; it
# exits by itself after 600 s in case this script is killed before its trap runs.
timeout 620 python3 - "$work/mirror" "$work/port" >"$work/server.log" 2>&1 <<'PY' &
import functools, http.server, os, sys, threading, time
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
threading.Thread(target=lambda: (time.sleep(600), srv.shutdown()), daemon=True).start()
srv.serve_forever()
PY
server=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/server.log" >&2; echo "release: FAIL: the loopback server did not start" >&2; exit 1; }
url=http://127.0.0.1:$(cat "$work/port")/
home=$work/home
bindir=$home/.local/bin
aws_dir=$(dirname "$(command -v aws 2>/dev/null || echo /usr/bin/aws)")
# As a new user: empty HOME, a plain PATH (the AWS CLI's folder for doctor), POSIX sh.
user_env=(env -i HOME="$home" TMPDIR="$work/tmp" PATH="$aws_dir:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8
          AWS_EC2_METADATA_DISABLED=true)
t0=$(date +%s%N)
if "${user_env[@]}" sh shell/install.sh --from "$url" >"$work/install.out" 2>&1; then
  ok "install.sh --from $url in $(ms "$t0") ms"
else
  bad "install.sh --from $url failed:"; cat "$work/install.out" >&2
fi
sed 's/^/  | /' "$work/install.out"
grep -q 'c9aws doctor' "$work/install.out" && grep -q 'c9aws setup' "$work/install.out" \
  && grep -q 'c9aws init' "$work/install.out" && ok "install.sh prints the next steps" \
  || bad "install.sh does not print the next steps (c9aws init, setup, doctor)"
for f in c9aws c9aws-probe; do
  [ -x "$bindir/$f" ] || bad "$bindir/$f is not installed"
done
[ -f "$home/.local/share/man/man1/c9aws.1" ] || bad "the man page is not installed"

# ---------------------------------------------------------------- 3. the installed c9aws
doctor_check='
import json, sys
bindir, version = sys.argv[1], sys.argv[2]
d = json.load(sys.stdin)
checks = {c["name"]: c for c in d["checks"]}
assert d["c9aws_version"] == version, d["c9aws_version"]
c = checks["c9aws"]
assert c["status"] == "ok" and bindir + "/c9aws-probe" in c["summary"], c
assert checks["link"]["summary"] == "c9aws is linked statically", checks["link"]
for name, c in checks.items():
    print("  | doctor: %-10s %-4s %s" % (name, c["status"], c["summary"]))'
check_installed() { # check_installed WHEN
  local out
  out=$("${user_env[@]}" PATH="$bindir:$aws_dir:/usr/local/bin:/usr/bin:/bin" c9aws doctor --json 2>"$work/doctor.err")
  if python3 -c "$doctor_check" "$bindir" "$version" <<<"$out"; then ok "$1: installed c9aws doctor --json"
  else bad "$1: installed c9aws doctor --json: $out $(cat "$work/doctor.err")"; fi
  out=$("${user_env[@]}" "$bindir/c9aws" explain --json s3 ls 2>"$work/explain.err")
  if python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["command"] == "s3" and d["services"] == ["s3"], d
assert d["decision"]["action"] == "passthrough", d["decision"]
print("  | explain: %s %s -> %s" % (d["command"], d["operation"], d["decision"]["reason"]))' <<<"$out"; then
    ok "$1: installed c9aws explain --json s3 ls"
  else bad "$1: installed c9aws explain --json s3 ls: $out $(cat "$work/explain.err")"; fi
}
check_installed "first install"
sums() { (cd "$home/.local" && find . -type f | sort | xargs sha256sum); }
sums >"$work/sums.1"
leftovers() { find "$home/.local" "$work/tmp" -mindepth 1 \( -name '.*.new.*' -o -name '.*.old.*' -o -name 'c9aws-install.*' \) ; }

# ---------------------------------------------------------------- 4. again; from a folder
if "${user_env[@]}" sh shell/install.sh --from "$url" --quiet >"$work/install2.out" 2>&1; then
  sums >"$work/sums.2"
  cmp -s "$work/sums.1" "$work/sums.2" && ok "a second install leaves the same files" \
    || bad "a second install changed the files: $(diff "$work/sums.1" "$work/sums.2")"
else
  bad "a second install failed: $(cat "$work/install2.out")"
fi
if "${user_env[@]}" sh shell/install.sh --from "$work/mirror" --prefix "$work/offline" --quiet >"$work/install3.out" 2>&1 \
   && [ -x "$work/offline/bin/c9aws" ] && [ -x "$work/offline/bin/c9aws-probe" ]; then
  ok "install.sh --from DIR --prefix DIR"
else
  bad "install.sh --from DIR --prefix DIR: $(cat "$work/install3.out")"
fi

# Never needs root: as root, the same install as user nobody into a HOME of its own.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
  # (its own folder under /tmp: WORK may sit below a folder nobody cannot enter, like /root)
  nb=$(mktemp -d /tmp/c9aws-nobody.XXXXXX); nobody_home=$nb
  mkdir -p "$nb/tmp"; cp shell/install.sh "$nb/"; chown -R nobody "$nb"
  if (cd "$nb" && env -i HOME="$nb" TMPDIR="$nb/tmp" PATH=/usr/bin:/bin setpriv --reuid=nobody --regid="$(id -g nobody)" \
        --clear-groups sh "$nb/install.sh" --from "$url" --quiet) >"$work/install-nobody.out" 2>&1 \
     && [ -x "$nb/.local/bin/c9aws" ] && [ "$(stat -c %U "$nb/.local/bin/c9aws")" = nobody ]; then
    ok "install.sh as user nobody (no root)"
  else
    bad "install.sh as user nobody: $(cat "$work/install-nobody.out")"
  fi
fi

# ---------------------------------------------------------------- 5. a corrupted archive
mkdir -p "$work/bad"
cp "$work/mirror/"* "$work/bad/"
python3 - "$work/bad/$name.tar.gz" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xFF          # one flipped byte in the middle
open(p, "wb").write(bytes(b))
PY
ln -s "$work/bad" "$work/mirror/bad"   # served by the same server, at /bad/
if "${user_env[@]}" sh shell/install.sh --from "${url}bad/" >"$work/install-bad.out" 2>&1; then
  bad "an install of a corrupted archive succeeded"
else
  grep -q 'checksum mismatch' "$work/install-bad.out" && ok "corrupted archive refused: $(grep -m1 'checksum mismatch' "$work/install-bad.out")" \
    || bad "a corrupted archive failed without the checksum error: $(cat "$work/install-bad.out")"
fi
sums >"$work/sums.3"
cmp -s "$work/sums.1" "$work/sums.3" && ok "after the refused install, the previous install is unchanged" \
  || bad "the refused install changed files: $(diff "$work/sums.1" "$work/sums.3")"
[ -z "$(leftovers)" ] && ok "no temporary file left behind" || bad "left behind: $(leftovers)"
check_installed "after the refused install"

stop_server
[ "$fail" = 0 ] && echo "release: ok (installed in $bindir)"
exit "$fail"
