#!/usr/bin/env bash
# Builds libsoftrwlock (release) and the demo, then runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "demo: cargo (Rust) is required: https://rustup.rs" >&2; exit 1; }
command -v cc >/dev/null || { echo "demo: a C compiler (cc) is required: apt-get install gcc" >&2; exit 1; }
cargo build --release --lib --quiet
# The library's SONAME is libsoftrwlock.so.0: give the loader that name beside the build.
ln -sf libsoftrwlock.so target/release/libsoftrwlock.so.0
mkdir -p target/demo
cc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude demo/demo.c -o target/demo/demo \
   -Ltarget/release -lsoftrwlock -Wl,-rpath,"$PWD/target/release"
exec target/demo/demo
