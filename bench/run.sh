#!/usr/bin/env bash
# bench/run.sh: build everything in release mode, benchmark libsoftrwlock against Python
# filelock 4.2.11 and 3.32.7 (SoftReadWriteLock) and flock(2), print the tables and write them
# into BENCHMARKS.md (with plots, bench/handoff.png and bench/scale.png).
#
#   bench/run.sh            full run (about 10 min + the scale curves): local filesystem, then two GlusterFS client
#                           mounts (tests/netfs/setup.sh, called when that part starts; torn down
#                           afterwards only if this run set them up and nobody else uses them);
#                           every scenario, then the scale curve, on each
#   bench/run.sh --quick    a few minutes, local filesystem only; writes
#                           target/bench/BENCHMARKS-quick.md, leaves BENCHMARKS.md alone
#   bench/run.sh --no-netfs full run without GlusterFS
#   bench/run.sh --netfs-only  GlusterFS part only; keeps the local section of the last full run
#   bench/run.sh --moosefs MNT_A,MNT_B   also (or, with --netfs-only, only: no GlusterFS then)
#                           a MooseFS section, every scenario and the scale curve, through two
#                           mfsmount clients of one file system (tests/netfs/moosefs-setup.sh
#                           makes /mnt/srwl-mfs-a,/mnt/srwl-mfs-b); never sets up or tears down
#   bench/run.sh --scale [--gluster MNT_A,MNT_B] [--moosefs MNT_A,MNT_B] [--no-local]
#                           the scale curve only (readers released together: 16 to 4096 locally,
#                           16 to 1024 on each network filesystem whose two client mounts are
#                           given); rewrites only the scale block of BENCHMARKS.md
#   bench/run.sh --profile  only the profile pass (strace -c, perf stat, perf record,
#                           callgrind of uncontended cycles) into target/bench/profile/
#
# Environment: SRWL_BENCH_DIR (local directory, default /var/tmp/srwl-bench),
# SRWL_BENCH_VENVS (where the venvs go, default /tmp: srwl-bench-venv-<version>),
# SRWL_BENCH_ONLY (comma-separated implementation names, for debugging),
# SRWL_BENCH_NO_CARGO=1 (reuse the library copy of the last run in target/bench/lib).
# Needs: cargo, cc, python3 with venv and pip (a registry or wheel cache), strace, perf; for
# GlusterFS root and /dev/fuse. Exits 0 when the benchmark ran (it reports numbers, it does
# not assert them).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
QUICK=0 NETFS=1 PROFILE=0 NETFS_ONLY=0 SCALE=0 NO_LOCAL=0 GLUSTER_MNTS="" MFS_MNTS=""
mounts_arg() {  # mounts_arg OPTION VALUE: two existing mount points, comma-separated
    local a b
    IFS=, read -r a b <<<"$2"
    if [ -z "$a" ] || [ -z "$b" ] || ! mountpoint -q "$a" || ! mountpoint -q "$b"; then
        echo "bench/run.sh: $1 needs two client mount points, MNT_A,MNT_B (got '$2')" >&2
        exit 2
    fi
}
args_in=("$@")
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1; NETFS=0 ;;
        --no-netfs) NETFS=0 ;;
        --netfs-only) NETFS_ONLY=1 ;;
        --profile) PROFILE=1 ;;
        --scale) SCALE=1 ;;
        --no-local) NO_LOCAL=1 ;;
        --gluster) mounts_arg "$1" "${2:-}"; GLUSTER_MNTS=$2; shift ;;
        --moosefs) mounts_arg "$1" "${2:-}"; MFS_MNTS=$2; shift ;;
        -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
        *) echo "bench/run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
set -- "${args_in[@]}"
# With --moosefs and --netfs-only, only MooseFS runs; --scale never sets GlusterFS up itself.
[ $NETFS_ONLY = 1 ] && [ -n "$MFS_MNTS" ] && NETFS=0 NETFS_ONLY=2
[ $SCALE = 1 ] && NETFS=0
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
args=(--venvs "$VENVS" --json "$RESULTS" --md target/bench/tables.md
      --scale-md target/bench/scale.md --command "$CMD")
[ $QUICK = 1 ] && args+=(--quick)
[ -n "${SRWL_BENCH_ONLY:-}" ] && args+=(--only "$SRWL_BENCH_ONLY")
# the scale curve follows the scenarios on each filesystem; with --scale it is all that runs
if [ $SCALE = 1 ]; then phase=(--scale-only); else phase=(--scale); fi
RAN_LOCAL=0
if [ $NETFS_ONLY = 0 ] && [ $NO_LOCAL = 0 ]; then
    say "local directory $LOCAL ($(df --output=fstype "$LOCAL" | tail -1)); results in target/bench/"
    # thousands of processes on 2 cores: below everything else on the machine
    nice -n 10 python3 bench/driver.py "${args[@]}" "${phase[@]}" --local-dir "$LOCAL" >/dev/null
    RAN_LOCAL=1
fi
rm -rf "$LOCAL"

# ---- 4. GlusterFS ------------------------------------------------------------------------------
# The volume and the mounts of tests/netfs are shared with whoever else runs tests/netfs on this
# machine, so they are set up only now, right before they are used. We work in a directory of our
# own; we tear them down afterwards only if this run set them up and, by then, no other process
# uses them and they are still the mounts we made. With --gluster MNT_A,MNT_B (and with --scale)
# the given mounts are used as they are: nothing is set up or torn down.
MNT_A=/mnt/srwl-a MNT_B=/mnt/srwl-b
[ -n "$GLUSTER_MNTS" ] && IFS=, read -r MNT_A MNT_B <<<"$GLUSTER_MNTS"
NETFS_DIRS="" NETFS_NOTE="" TEARDOWN=0 OURS="" CLEAN=()
sub="srwl-bench.$$"
others() {  # pids using either mount (only while it is a mount: else fuser -m means "/")
    local m
    for m in "$@"; do
        mountpoint -q "$m" 2>/dev/null && fuser -m "$m" 2>/dev/null
    done | tr -s ' \t' '\n' | grep -v '^$' | sort -u || true
}
clients() { { pgrep -f "glusterfs --process-name fuse .*($MNT_A|$MNT_B)\$" || true; } | sort | tr '\n' ' '; }
cleanup() {
    # our directories, through the mounts; or, if a mount vanished under us, the directory that
    # a lock implementation may have recreated on the filesystem below the mount point
    local d
    for d in "${CLEAN[@]}"; do rm -rf "$d" 2>/dev/null; done
    if [ $TEARDOWN = 1 ]; then
        busy=$(others "$MNT_A" "$MNT_B" | tr '\n' ' ')
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
if [ -n "$GLUSTER_MNTS" ] && { [ $SCALE = 1 ] || [ $NETFS = 1 ] || [ $NETFS_ONLY = 1 ]; }; then
    NETFS_DIRS="$MNT_A/$sub,$MNT_B/$sub"
elif [ $NETFS = 1 ] || [ $NETFS_ONLY = 1 ]; then
    was_mounted=0
    mountpoint -q $MNT_A 2>/dev/null && mountpoint -q $MNT_B 2>/dev/null && was_mounted=1
    rc=0; tests/netfs/setup.sh >/tmp/srwl-bench-setup.log 2>&1 || rc=$?
    if [ $rc = 0 ]; then
        OURS=$(clients)
        [ $was_mounted = 0 ] && TEARDOWN=1
        [ $was_mounted = 1 ] && say "GlusterFS mounts were already there (someone else's): using them, leaving them mounted"
        NETFS_DIRS="$MNT_A/$sub,$MNT_B/$sub"
    else
        say "tests/netfs/setup.sh exited $rc: no GlusterFS numbers ($(tail -1 /tmp/srwl-bench-setup.log))"
    fi
fi
# netfs_phase NAME DIR_A,DIR_B MNT_A MNT_B: one network filesystem's part of the run
netfs_phase() {
    local name=$1 dirs=$2 note="" waited=0 limit=${SRWL_BENCH_NETFS_WAIT:-300}
    CLEAN+=("${dirs%%,*}" "${dirs##*,}")
    # Wait (up to SRWL_BENCH_NETFS_WAIT s, default 300) for other users of the filesystem to
    # finish, so that the numbers are not theirs too. The driver itself re-checks the mounts
    # between implementations and drops numbers taken while a mount vanished.
    while [ -n "$(others "$3" "$4")" ] && [ $waited -lt "$limit" ]; do
        [ $waited = 0 ] && say "$name is in use by $(others "$3" "$4" | tr '\n' ' '): waiting up to $limit s"
        sleep 5; waited=$((waited + 5))
    done
    if [ -n "$(others "$3" "$4")" ]; then
        note="other processes ($(others "$3" "$4" | wc -l)) used the $name mounts during this run: its numbers include their load"
        say "$note"
    fi
    local same=()
    [ $RAN_LOCAL = 1 ] && same=(--same-run)
    [ $SCALE = 1 ] && same=()
    nice -n 10 python3 bench/driver.py "${args[@]}" "${phase[@]}" --netfs-only "${same[@]}" \
        --netfs "$dirs" --netfs-name "$name" --netfs-note "$note" >/dev/null
    RAN_LOCAL=1  # a later phase belongs to this run too
}
[ -n "$NETFS_DIRS" ] && netfs_phase glusterfs "$NETFS_DIRS" "$MNT_A" "$MNT_B"

# ---- 4b. MooseFS (only when its two client mounts are given) -----------------------------------
if [ -n "$MFS_MNTS" ] && [ $QUICK = 0 ]; then
    IFS=, read -r MFS_A MFS_B <<<"$MFS_MNTS"
    netfs_phase moosefs "$MFS_A/$sub,$MFS_B/$sub" "$MFS_A" "$MFS_B"
fi
[ $SCALE = 0 ] && cat target/bench/tables.md
cat target/bench/scale.md

# ---- 5. plots and BENCHMARKS.md ----------------------------------------------------------------
PNG=target/bench/handoff.png SPNG=target/bench/scale.png
if [ -n "$PLOTPY" ]; then
    [ $SCALE = 0 ] && { "$PLOTPY" bench/plot.py "$RESULTS" "$PNG" || say "plot failed"; }
    "$PLOTPY" bench/plot.py --scale "$RESULTS" "$SPNG" || say "scale plot failed"
fi
if [ $QUICK = 1 ]; then
    python3 bench/report.py target/bench/tables.md target/bench/BENCHMARKS-quick.md "$PNG"
    python3 bench/report.py --block scale target/bench/scale.md target/bench/BENCHMARKS-quick.md "$SPNG"
    say "wrote target/bench/BENCHMARKS-quick.md (BENCHMARKS.md is written by full runs only)"
else
    if [ $SCALE = 0 ]; then
        [ -f "$PNG" ] && cp "$PNG" bench/handoff.png
        python3 bench/report.py target/bench/tables.md BENCHMARKS.md bench/handoff.png
    fi
    [ -f "$SPNG" ] && cp "$SPNG" bench/scale.png
    python3 bench/report.py --block scale target/bench/scale.md BENCHMARKS.md bench/scale.png
    if [ $SCALE = 0 ]; then say "wrote BENCHMARKS.md, bench/handoff.png and bench/scale.png"
    else say "wrote the scale block of BENCHMARKS.md and bench/scale.png"; fi
fi
