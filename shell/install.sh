#!/bin/sh
# c9aws installer: downloads the prebuilt release archive for this machine,
# checks its SHA-256 against the release's SHA256SUMS before unpacking anything,
# and puts c9aws and its helper c9aws-probe side by side in ~/.local/bin.
# Never needs root. Safe to run again (same version: same files; newer: upgrade).
#
#   curl -fsSL https://github.com/c9aws/c9aws/releases/latest/download/install.sh | sh
#   sh install.sh [--from URL|DIR] [--version X.Y.Z] [--prefix DIR] [--quiet]
#
#   --from URL|DIR  a mirror or an offline copy: a URL or a folder holding
#                   SHA256SUMS and c9aws-<version>-<target>.tar.gz
#                   (default: the project's GitHub releases, see RELEASES below;
#                   environment: C9AWS_INSTALL_FROM)
#   --version V     that release instead of the latest (ignored with --from)
#   --prefix DIR    install into DIR/bin, DIR/share/man/man1, DIR/share/c9aws
#                   (default: ~/.local; environment: C9AWS_PREFIX)
#
# Nothing is half installed: files are unpacked and checked in a temporary folder,
# copied beside their destination and renamed into place (rename is atomic); a
# checksum mismatch or any failure before that leaves the previous install as it was.
set -eu

# Where releases are published (GitHub releases layout: .../latest/download/FILE
# and .../download/vX.Y.Z/FILE). Overridable: --from, C9AWS_INSTALL_FROM.
RELEASES=https://github.com/c9aws/c9aws/releases

from=${C9AWS_INSTALL_FROM:-}
version=
prefix=${C9AWS_PREFIX:-}
quiet=0

say() { [ "$quiet" = 1 ] || printf '%s\n' "$@"; }
die() { printf 'c9aws install: error: %s\n' "$*" >&2; exit 1; }
usage() {
  if [ -f "$0" ]; then sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
  else echo "usage: sh install.sh [--from URL|DIR] [--version X.Y.Z] [--prefix DIR] [--quiet]"
  fi
}

while [ $# -gt 0 ]; do
  case $1 in
    --from) [ $# -ge 2 ] || die "--from needs a URL or a folder"; from=$2; shift 2 ;;
    --from=*) from=${1#--from=}; shift ;;
    --version) [ $# -ge 2 ] || die "--version needs a version"; version=${2#v}; shift 2 ;;
    --version=*) version=${1#--version=}; version=${version#v}; shift ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    -q|--quiet) quiet=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

if [ -z "$prefix" ]; then
  [ -n "${HOME:-}" ] || die "HOME is not set: name the folder with --prefix DIR"
  prefix=$HOME/.local
fi

# ---------------------------------------------------------------- this machine
os=$(uname -s)
arch=$(uname -m)
case "$os/$arch" in
  Linux/x86_64|Linux/amd64) target=x86_64-unknown-linux-gnu ;;
  *) die "no prebuilt c9aws for $os/$arch; build it from source instead: cargo install --locked --path . (in a clone)" ;;
esac

if [ -z "$from" ]; then
  if [ -n "$version" ]; then from=$RELEASES/download/v$version/
  else from=$RELEASES/latest/download/
  fi
fi

# ---------------------------------------------------------------- tools
# fetch SOURCE-NAME DEST: from a URL (curl or wget) or from a folder.
case $from in
  http://*|https://*) kind=url ;;
  file://*) kind=dir; from=${from#file://} ;;
  *) kind=dir ;;
esac
if [ "$kind" = dir ]; then
  [ -d "$from" ] || die "--from $from: no such folder"
elif command -v curl >/dev/null 2>&1; then fetcher=curl
elif command -v wget >/dev/null 2>&1; then fetcher=wget
else die "neither curl nor wget is installed; download the archive and SHA256SUMS yourself and use --from DIR"
fi
fetch() {
  if [ "$kind" = dir ]; then
    [ -f "$from/$1" ] || die "$from/$1: no such file"
    cp "$from/$1" "$2"
  else
    url=${from%/}/$1
    if [ "$fetcher" = curl ]; then
      curl -fsSL --retry 2 --connect-timeout 20 -o "$2" "$url" || die "cannot download $url"
    else
      wget -q -O "$2" "$url" || die "cannot download $url"
    fi
  fi
}
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  else die "no sha256sum, shasum or openssl to check the download with"
  fi
}

# ---------------------------------------------------------------- download and check
tmp=$(mktemp -d "${TMPDIR:-/tmp}/c9aws-install.XXXXXX") || die "cannot create a temporary folder"
bindir=$prefix/bin
mandir=$prefix/share/man/man1
sharedir=$prefix/share/c9aws
staged=
cleanup() {
  rm -rf "$tmp"
  for f in $staged; do rm -f "$f"; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

say "c9aws install: from $from ($target)"
fetch SHA256SUMS "$tmp/SHA256SUMS"
# The archive for this machine, and its checksum, as SHA256SUMS lists them.
line=$(grep -E "^[0-9a-f]{64} [ *]c9aws-[0-9][^ ]*-$target\\.tar\\.gz\$" "$tmp/SHA256SUMS" | tail -n 1) || true
[ -n "$line" ] || die "SHA256SUMS at $from lists no c9aws archive for $target"
want=$(printf '%s\n' "$line" | cut -d' ' -f1)
archive=$(printf '%s\n' "$line" | sed 's/^[0-9a-f]* [ *]//')
fetch "$archive" "$tmp/$archive"
got=$(sha256 "$tmp/$archive")
if [ "$got" != "$want" ]; then
  die "checksum mismatch for $archive: SHA256SUMS says $want, the download is $got; nothing was installed (a previous install, if any, is unchanged)"
fi

top=${archive%.tar.gz}
mkdir "$tmp/x"
gzip -dc "$tmp/$archive" | (cd "$tmp/x" && tar -xf -) || die "cannot unpack $archive"
src=$tmp/x/$top
for f in c9aws c9aws-probe; do
  [ -f "$src/$f" ] || die "$archive has no $top/$f"
done
# It runs here (right architecture, a kernel it supports) before anything is replaced.
# (stdin from /dev/null: with `curl … | sh` stdin is this script.)
"$src/c9aws" init bash </dev/null >/dev/null 2>&1 || die "the c9aws of $archive does not run on this machine ($(uname -srm))"

# ---------------------------------------------------------------- install
mkdir -p "$bindir" "$mandir" "$sharedir/shell" || die "cannot create the folders under $prefix"
# Copy each file next to its destination (same file system), then rename.
stage() { # stage SRC DEST MODE
  tmpf=$(dirname "$2")/.$(basename "$2").new.$$
  staged="$staged $tmpf"
  if ! cp "$1" "$tmpf" || ! chmod "$3" "$tmpf"; then die "cannot write $tmpf"; fi
}
stage "$src/c9aws-probe" "$bindir/c9aws-probe" 755
stage "$src/c9aws" "$bindir/c9aws" 755
[ -f "$src/c9aws.1" ] && stage "$src/c9aws.1" "$mandir/c9aws.1" 644
for f in "$src"/shell/*; do
  [ -f "$f" ] && stage "$f" "$sharedir/shell/$(basename "$f")" 644
done
for f in README.md LICENSE-MIT LICENSE-APACHE BUILDINFO; do
  [ -f "$src/$f" ] && stage "$src/$f" "$sharedir/$f" 644
done

# The helper first, then c9aws: a c9aws never runs without the helper it was built with
# for longer than one rename. If renaming c9aws fails, the old helper is put back.
old_probe=
if [ -f "$bindir/c9aws-probe" ]; then
  old_probe=$bindir/.c9aws-probe.old.$$
  staged="$staged $old_probe"
  ln -f "$bindir/c9aws-probe" "$old_probe" 2>/dev/null || cp -p "$bindir/c9aws-probe" "$old_probe" || old_probe=
fi
mv -f "$bindir/.c9aws-probe.new.$$" "$bindir/c9aws-probe" || die "cannot install $bindir/c9aws-probe"
if ! mv -f "$bindir/.c9aws.new.$$" "$bindir/c9aws"; then
  [ -n "$old_probe" ] && mv -f "$old_probe" "$bindir/c9aws-probe"
  die "cannot install $bindir/c9aws (the previous install is unchanged)"
fi
# The man page and the shell files, the same way.
for tmpf in $staged; do
  case $tmpf in
    *.new.$$)
      if [ -f "$tmpf" ]; then
        name=$(basename "$tmpf" ".new.$$")
        mv -f "$tmpf" "$(dirname "$tmpf")/${name#.}" || die "cannot install $(dirname "$tmpf")/${name#.}"
      fi ;;
  esac
done

say "c9aws install: installed $top into $bindir (c9aws, c9aws-probe)"
case ":${PATH:-}:" in
  *":$bindir:"*) ;;
  *) say "" "$bindir is not on your PATH; add it (bash):" \
         "  echo 'export PATH=\"$bindir:\$PATH\"' >> ~/.bashrc && export PATH=\"$bindir:\$PATH\"" ;;
esac
say "" "Next steps:" \
    "  echo 'eval \"\$(c9aws init bash)\"' >> ~/.bashrc && eval \"\$(c9aws init bash)\"   # aws now runs through c9aws" \
    "  c9aws setup --instance-role   # a fallback profile (or: c9aws setup, interactive)" \
    "  c9aws doctor                  # checks everything, with a fix for whatever fails" \
    "Manual: man -l $mandir/c9aws.1"
