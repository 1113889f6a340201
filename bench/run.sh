#!/usr/bin/env bash
# bench/run.sh: build everything in release mode, benchmark libsoftrwlock against Python
# filelock 4.2.11 and 3.32.7 (SoftReadWriteLock) and flock(2), print the tables and write them
# into BENCHMARKS.md (with a plot, bench/handoff.png).
#
#   bench/run.sh            full run (about 10 min): local filesystem, then two GlusterFS client
#                           mounts (tests/netfs/setup.sh, called when that part starts; torn down
#                           afterwards only if this run set them up and nobody else uses them)
#   bench/run.sh --quick    a minute or two, local filesystem only; writes
#                           target/bench/BENCHMARKS-quick.md, leaves BENCHMARKS.md alone
#   bench/run.sh --no-netfs full run without GlusterFS
#   bench/run.sh --netfs-only  GlusterFS part only; keeps the local section of the last full run
#   bench/run.sh --profile  only the profile pass (strace -c, perf stat, perf record,
#                           callgrind of uncontended cycles) into target/bench/profile/
#
# Environment: SRWL_BENCH_DIR (local directory, default /var/tmp/srwl-bench),
# SRWL_BENCH_VENVS (where the venvs go, default /tmp: srwl-bench-venv-<version>),
# SRWL_BENCH_ONLY (comma-separated implementation names, for debugging),
# SRWL_BENCH_NO_CARGO=1 (reuse the library copy of the last run in target/bench/lib).
# Needs: cargo, cc, python3 with venv and pip (a registry or wheel cache), strace; for
# GlusterFS root and /dev/fuse. Exits 0 when the benchmark ran (it reports numbers, it does
# not assert them).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
QUICK=0 NETFS=1 PROFILE=0 NETFS_ONLY=0
for a in "$@"; do
    case $a in
        --quick) QUICK=1; NETFS=0 ;;
        --no-netfs) NETFS=0 ;;
        --netfs-only) NETFS_ONLY=1 ;;
        --profile) PROFILE=1 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "bench/run.sh: unknown option $a" >&2; exit 2 ;;
    esac
done
CMD="bench/run.sh${*:+ $*}"
LOCAL=${SRWL_BENCH_DIR:-/var/tmp/srwl-bench}
VENVS=${SRWL_BENCH_VENVS:-/tmp}
say() { echo "bench: $*" >&2; }

# ---- 1. build (release) --------------------------------------------------------------------
mkdir -p target/bench/lib
if [ "${SRWL_BENCH_NO_CARGO:-0}" = 1 ] && [ -f target/bench/lib/libsoftrwlock.so ]; then
    say "SRWL_BENCH_NO_CARGO=1: reusing the library copied by the last run"
else
    say "cargo build --release --lib"
    cargo build --release --lib --quiet || { say "the library does not build: nothing to benchmark"; exit 1; }
    # A private copy of the library: other builds may replace target/release/ during the run.
    cp -f target/release/libsoftrwlock.so target/bench/lib/libsoftrwlock.so
fi
soname=$(objdump -p target/bench/lib/libsoftrwlock.so 2>/dev/null | awk '$1=="SONAME"{print $2}')
[ -n "$soname" ] && ln -sfn libsoftrwlock.so "target/bench/lib/$soname"
CFLAGS="-O2 -g -Wall -Wextra -Werror"
cc $CFLAGS -I include bench/srwl_bench.c -L target/bench/lib -lsoftrwlock \
    -Wl,-rpath,"$ROOT/target/bench/lib" -o target/bench/srwl_bench
cc $CFLAGS bench/flock_bench.c -o target/bench/flock_bench
cc $CFLAGS bench/fs_floor.c -o target/bench/fs_floor
say "built target/bench/srwl_bench (libsoftrwlock ${soname:-?}) and target/bench/flock_bench"

# ---- 2. virtual environments -----------------------------------------------------------------
venv() {  # venv DIR PACKAGE==VERSION [IMPORT-CHECK]
    local dir=$1 pkg=$2 check=$3
    if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "$check" 2>/dev/null; then return 0; fi
    say "creating $dir with $pkg"
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$pkg"
    "$dir/bin/python" -c "$check"
}
for ver in 4.2.11 3.32.7; do
    venv "$VENVS/srwl-bench-venv-$ver" "filelock==$ver" \
        "import filelock, sys; sys.exit(filelock.__version__ != '$ver')"
done
PLOTPY=""
if venv "$VENVS/srwl-bench-venv-plot" matplotlib "import matplotlib" >/dev/null 2>&1; then
    PLOTPY="$VENVS/srwl-bench-venv-plot/bin/python"
else
    say "matplotlib could not be installed: no plot"
fi

# ---- profile pass only -------------------------------------------------------------------------
if [ $PROFILE = 1 ]; then
    exec bench/profile.sh "$LOCAL/profile"
fi

# ---- 3. local filesystem ------------------------------------------------------------------------
rm -rf "$LOCAL"
mkdir -p "$LOCAL"
RESULTS=target/bench/results.json
[ $QUICK = 1 ] && RESULTS=target/bench/results-quick.json
args=(--local-dir "$LOCAL" --venvs "$VENVS" --json "$RESULTS" --md target/bench/tables.md
      --command "$CMD")
[ $QUICK = 1 ] && args+=(--quick)
[ -n "${SRWL_BENCH_ONLY:-}" ] && args+=(--only "$SRWL_BENCH_ONLY")
if [ $NETFS_ONLY = 0 ]; then
    say "local directory $LOCAL ($(df --output=fstype "$LOCAL" | tail -1)); results in target/bench/"
    python3 bench/driver.py "${args[@]}" >/dev/null
fi
rm -rf "$LOCAL"

# ---- 4. GlusterFS ------------------------------------------------------------------------------
# The volume and the mounts of tests/netfs are shared with whoever else runs tests/netfs on this
# machine, so they are set up only now, right before they are used. We work in a directory of our
# own; we tear them down afterwards only if this run set them up and, by then, no other process
# uses them and they are still the mounts we made.
MNT_A=/mnt/srwl-a MNT_B=/mnt/srwl-b
NETFS_DIRS="" NETFS_NOTE="" TEARDOWN=0 OURS=""
others() {  # pids using either mount (only while it is a mount: else fuser -m means "/")
    local m
    for m in "$MNT_A" "$MNT_B"; do
        mountpoint -q "$m" 2>/dev/null && fuser -m "$m" 2>/dev/null
    done | tr -s ' \t' '\n' | grep -v '^$' | sort -u || true
}
clients() { { pgrep -f "glusterfs --process-name fuse .*($MNT_A|$MNT_B)\$" || true; } | sort | tr '\n' ' '; }
cleanup() {
    # our directory, through the mount; or, if the mount vanished under us, the directory that
    # a lock implementation may have recreated on the filesystem below the mount point
    rm -rf "$MNT_A/srwl-bench.$$" "$MNT_B/srwl-bench.$$" 2>/dev/null
    if [ $TEARDOWN = 1 ]; then
        busy=$(others | tr '\n' ' ')
        if [ -n "$busy" ]; then
            say "not tearing GlusterFS down: processes $busy use it"
        elif [ "$(clients)" != "$OURS" ]; then
            say "not tearing GlusterFS down: the mounts were remade by someone else meanwhile"
        else
            say "tests/netfs/teardown.sh"
            tests/netfs/teardown.sh >/tmp/srwl-bench-teardown.log 2>&1 || say "teardown failed (see /tmp/srwl-bench-teardown.log)"
        fi
    fi
}
trap cleanup EXIT
if [ $NETFS = 1 ] || [ $NETFS_ONLY = 1 ]; then
    was_mounted=0
    mountpoint -q $MNT_A 2>/dev/null && mountpoint -q $MNT_B 2>/dev/null && was_mounted=1
    rc=0; tests/netfs/setup.sh >/tmp/srwl-bench-setup.log 2>&1 || rc=$?
    if [ $rc = 0 ]; then
        OURS=$(clients)
        [ $was_mounted = 0 ] && TEARDOWN=1
        [ $was_mounted = 1 ] && say "GlusterFS mounts were already there (someone else's): using them, leaving them mounted"
        sub="srwl-bench.$$"
        NETFS_DIRS="$MNT_A/$sub,$MNT_B/$sub"
    else
        say "tests/netfs/setup.sh exited $rc: no GlusterFS numbers ($(tail -1 /tmp/srwl-bench-setup.log))"
    fi
fi
if [ -n "$NETFS_DIRS" ]; then
    # Wait (up to SRWL_BENCH_NETFS_WAIT s, default 300) for other users of the volume to finish,
    # so that the numbers are not theirs too. The driver itself re-checks the mounts between
    # implementations and drops numbers taken while a mount vanished.
    waited=0 limit=${SRWL_BENCH_NETFS_WAIT:-300}
    while [ -n "$(others)" ] && [ $waited -lt $limit ]; do
        [ $waited = 0 ] && say "GlusterFS is in use by $(others | tr '\n' ' '): waiting up to $limit s"
        sleep 5; waited=$((waited + 5))
    done
    if [ -n "$(others)" ]; then
        NETFS_NOTE="other processes ($(others | wc -l)) used the GlusterFS volume during this run: its numbers include their load"
        say "$NETFS_NOTE"
    fi
    same=(); [ $NETFS_ONLY = 0 ] && same=(--same-run)
    python3 bench/driver.py "${args[@]}" --netfs-only "${same[@]}" --netfs "$NETFS_DIRS" \
        --netfs-note "$NETFS_NOTE" >/dev/null
fi
cat target/bench/tables.md

# ---- 5. plot and BENCHMARKS.md -----------------------------------------------------------------
PNG=target/bench/handoff.png
if [ -n "$PLOTPY" ]; then
    "$PLOTPY" bench/plot.py "$RESULTS" "$PNG" || say "plot failed"
fi
if [ $QUICK = 1 ]; then
    python3 bench/report.py target/bench/tables.md target/bench/BENCHMARKS-quick.md "$PNG"
    say "wrote target/bench/BENCHMARKS-quick.md (BENCHMARKS.md is written by full runs only)"
else
    [ -f "$PNG" ] && cp "$PNG" bench/handoff.png
    python3 bench/report.py target/bench/tables.md BENCHMARKS.md bench/handoff.png
    say "wrote BENCHMARKS.md and bench/handoff.png"
fi
