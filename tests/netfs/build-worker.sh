#!/usr/bin/env bash
# Build target/netfs/srwl_worker against target/release/libsoftrwlock.so.
# `cargo build --release --lib` runs first unless SRWL_NO_CARGO=1.
# The library's SONAME is libsoftrwlock.so.<major> (libsoftrwlock.so.0 on 0.x) and cargo
# makes no such file, so a symlink under target/netfs/lib provides it at run time.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
if [ "${SRWL_NO_CARGO:-0}" != 1 ]; then
    cargo build --release --lib --quiet
fi
[ -f target/release/libsoftrwlock.so ] || { echo "build-worker.sh: target/release/libsoftrwlock.so is missing" >&2; exit 1; }
mkdir -p target/netfs/lib
soname=$(objdump -p target/release/libsoftrwlock.so 2>/dev/null | awk '$1=="SONAME"{print $2}')
[ -n "$soname" ] && ln -sfn "$ROOT/target/release/libsoftrwlock.so" "target/netfs/lib/$soname"
cc -O2 -Wall -Wextra -Werror -I include tests/netfs/srwl_worker.c \
   -L target/release -lsoftrwlock \
   -Wl,-rpath,"$ROOT/target/netfs/lib" -Wl,-rpath,"$ROOT/target/release" \
   -o target/netfs/srwl_worker
echo "build-worker.sh: built target/netfs/srwl_worker (libsoftrwlock $(target/netfs/srwl_worker 2>&1 | head -0; echo "${soname:-no soname}"))"
