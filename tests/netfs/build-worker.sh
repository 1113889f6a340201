#!/usr/bin/env bash
# Build target/netfs/srwl_worker against target/release/libsoftrwlock.so.
# `cargo build --release --lib` runs first unless SRWL_NO_CARGO=1.
# The workers run against a private copy of the library in target/netfs/lib (named by its
# SONAME, libsoftrwlock.so.0 on 0.x), so that a build during a campaign cannot swap the library
# under workers that are started later (the kill scenario starts replacements).
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
if [ "${SRWL_NO_CARGO:-0}" != 1 ]; then
    cargo build --release --lib --quiet
fi
[ -f target/release/libsoftrwlock.so ] || { echo "build-worker.sh: target/release/libsoftrwlock.so is missing" >&2; exit 1; }
mkdir -p target/netfs/lib
soname=$(objdump -p target/release/libsoftrwlock.so 2>/dev/null | awk '$1=="SONAME"{print $2}')
soname=${soname:-libsoftrwlock.so.0}
cp -f target/release/libsoftrwlock.so "target/netfs/lib/$soname.tmp"
mv -f "target/netfs/lib/$soname.tmp" "target/netfs/lib/$soname"
ln -sfn "$soname" target/netfs/lib/libsoftrwlock.so
cc -O2 -Wall -Wextra -Werror -I include tests/netfs/srwl_worker.c \
   -L target/netfs/lib -lsoftrwlock \
   -Wl,-rpath,"$ROOT/target/netfs/lib" \
   -o target/netfs/srwl_worker
echo "build-worker.sh: built target/netfs/srwl_worker (libsoftrwlock $(target/netfs/srwl_worker 2>&1 | head -0; echo "${soname:-no soname}"))"
