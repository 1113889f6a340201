#!/usr/bin/env bash
# Runs every test of libsoftrwlock: installs what it needs (Debian packages, as root), then
#   1. header check, cargo fmt, cargo clippy
#   2. the SPIN model check (tests/model/check.sh)
#   3. the GlusterFS campaign: two client mounts, namespaced "hosts", stress, kills (tests/netfs/run-ci.sh)
#      and the filesystem beds: s3fs refused, sshfs working (tests/fsbeds/)
#   4. cargo test
#   5. ctest: C tests, examples (C, C++, Fortran, Python, MPI, shell), installed-package consumers
# and ends with the summaries of cargo test and ctest.
#
#   scripts/test.sh           everything
#   scripts/test.sh --quick   without the GlusterFS campaign
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1

PACKAGES="cmake gcc g++ gfortran make pkg-config mpich libmpich-dev spin strace valgrind glusterfs-server glusterfs-client fuse3 procps util-linux s3fs sshfs openssh-client python3-venv curl"
missing=()
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Wait for another apt/dpkg run (unattended upgrades, a parallel job) instead of failing.
    apt_wait="-o DPkg::Lock::Timeout=600"
    apt-get $apt_wait update -qq >/dev/null && apt-get $apt_wait install -y -qq "${missing[@]}" >/tmp/srwl-apt.log 2>&1 \
      || { echo "apt-get install failed (log: /tmp/srwl-apt.log):"; tail -20 /tmp/srwl-apt.log; exit 1; }
  else
    echo "missing Debian packages: ${missing[*]}"
    echo "install them with: sudo apt-get install ${missing[*]}"
    exit 1
  fi
fi
command -v cargo >/dev/null || { echo "cargo (Rust) is missing: install it from https://rustup.rs"; exit 1; }

failed=()
step() { # step NAME COMMAND...
  local name=$1; shift
  echo
  echo "================ $name ================"
  local t=$SECONDS
  if "$@"; then echo "== $name: ok ($((SECONDS - t)) s)"; else echo "== $name: FAILED ($((SECONDS - t)) s)"; failed+=("$name"); fi
}

header_unchanged() {
  cp include/softrwlock.h /tmp/srwl-header-before.h
  cargo build --release --quiet || return 1
  if ! cmp -s include/softrwlock.h /tmp/srwl-header-before.h; then
    echo "include/softrwlock.h changed when built: regenerate it (cargo build) and commit it"
    diff -u /tmp/srwl-header-before.h include/softrwlock.h | head -40
    return 1
  fi
  if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet -- include/softrwlock.h; then
    echo "include/softrwlock.h differs from the committed one:"; git diff -- include/softrwlock.h | head -40
    return 1
  fi
}
lint() {
  cargo fmt --check || { echo "cargo fmt --check: run cargo fmt"; return 1; }
  cargo clippy --all-targets --quiet -- -D warnings
}

step "header" header_unchanged
step "fmt+clippy" lint
step "model (SPIN)" bash tests/model/check.sh
if [ $QUICK = 0 ]; then
  step "GlusterFS campaign" bash tests/netfs/run-ci.sh
fi
# s3fs must be refused, sshfs must work (each bed sets up and tears down its own servers on
# 127.0.0.1; moto[server] comes from PyPI into a venv; sshfs.sh installs openssh-server itself,
# without enabling the system's sshd).
fsbeds() { local r=0; bash tests/fsbeds/s3fs.sh || r=1; bash tests/fsbeds/sshfs.sh || r=1; return $r; }
step "filesystem beds (s3fs, sshfs)" fsbeds

echo
echo "================ cargo test ================"
cargo test 2>&1 | tee /tmp/srwl-cargo-test.log | grep -v -E '^test .* \.\.\. ok$'
[ "${PIPESTATUS[0]}" = 0 ] || failed+=("cargo test")

echo
echo "================ ctest ================"
BUILD=${SRWL_BUILD_DIR:-$ROOT/build}
if cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/tmp/srwl-cmake.log 2>&1 \
   && cmake --build "$BUILD" -j2 >>/tmp/srwl-cmake.log 2>&1; then
  ctest --test-dir "$BUILD" --output-on-failure -j2 || failed+=("ctest")
else
  tail -40 /tmp/srwl-cmake.log; failed+=("cmake build")
fi

# ctest's own summary stays the last thing printed unless a step failed.
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED steps: ${failed[*]}"
  exit 1
fi
