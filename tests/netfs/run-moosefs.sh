#!/usr/bin/env bash
# The libsoftrwlock campaign on MooseFS (about 4 minutes on 2 cores), and the user's data on it.
#
#   moosefs-setup.sh (master and chunkserver in a network namespace, four mfsmount clients)
#   -> build the C worker -> for both client cache settings (default: directory entries cached
#   1 s; mfsdirentrycacheto=0): the no-lock control, libsoftrwlock 90/10 and 50/50 with delay
#   injection off and on, a crash run with SIGKILLs, the crowded room -> the data test
#   (data-test.py, data-probe.py) -> moosefs-teardown.sh
#
# Last line: "moosefs: N passed, M failed". Exit 0: all passed. 1: a failure. 77: cannot run
# here (not root, no FUSE, no network namespaces).
# Env: SRWL_NETFS_OUT (logs, default /tmp/srwl-netfs), SRWL_NETFS_KEEP=1 (no teardown),
#      SRWL_NETFS_SEED, SRWL_NETFS_SCALE (multiply every duration, default 1).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
OUT=${SRWL_NETFS_OUT:-/tmp/srwl-netfs}/moosefs
SEED=${SRWL_NETFS_SEED:-$(( $(date +%s) % 100000 ))}
SCALE=${SRWL_NETFS_SCALE:-1}
PY=${SRWL_PYTHON:-python3}
mkdir -p "$OUT" target/netfs
d() { "$PY" -c "print(f'{$1 * $SCALE:g}')"; }   # scaled duration
k() { "$PY" -c "print(max(1, int($1 * $SCALE)))"; }   # scaled kill count

t0=$(date +%s)
"$HERE/moosefs-setup.sh"
rc=$?
if [ $rc = 77 ]; then echo "run-moosefs.sh: SKIP (moosefs-setup.sh could not run here)"; exit 77; fi
[ $rc = 0 ] || { echo "run-moosefs.sh: FAILED: moosefs-setup.sh exited $rc"; echo "moosefs: 0 passed, 1 failed"; exit 1; }
if [ "${SRWL_NETFS_KEEP:-0}" != 1 ]; then
    trap '"$HERE/moosefs-teardown.sh" >/dev/null 2>&1 || true' EXIT
fi
"$HERE/build-worker.sh" || { echo "run-moosefs.sh: FAILED: could not build the libsoftrwlock worker"; echo "moosefs: 0 passed, 1 failed"; exit 1; }

# The longest wait a scenario without kills may see, and the workers' acquire timeout (a
# timeout fails such a scenario too). GlusterFS's campaign allows 6 s and 10 s. MooseFS's waits
# have a long tail: after the fixes of issue 13 (the room's name refreshed, the template written
# once) the campaign's longest wait without kills was 0.40 s (17:24), but two other runs of
# 2026-12-05 had waits of 10.3 s (not diagnosed; docs/RELIABILITY.md, 3b). Still judged: a
# wedge, or a waiter starved for 30 s, fails.
MAXWAIT=30
passed=0 failed=0
check() { # check LABEL COMMAND...: one verdict line per check
    local label=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "run-moosefs.sh: ok   $label"
    else failed=$((failed + 1)); echo "run-moosefs.sh: FAIL $label (exit $?)"; fi
}
campaign() { # campaign LABEL MNT_A MNT_B SEED
    local label=$1 a=$2 b=$3 seed=$4 json="target/netfs/moosefs-$1.json" src out
    rm -f "$json"
    "$PY" "$HERE/stress.py" --seed "$seed" --out "$OUT" --json "$json" --mnt-a "$a" --mnt-b "$b" \
        --run "none,w=50,duration=$(d 4),name=control: no lock 50/50" \
        --run "srwl,w=10,duration=$(d 12),timeout=$MAXWAIT,maxwait=$MAXWAIT" \
        --run "srwl,w=50,duration=$(d 12),timeout=$MAXWAIT,maxwait=$MAXWAIT" \
        --run "srwl,w=10,duration=$(d 8),inject=$seed:2000,timeout=$MAXWAIT,maxwait=$MAXWAIT" \
        --run "srwl,w=50,duration=$(d 8),inject=$((seed + 1)):2000,timeout=$MAXWAIT,maxwait=$MAXWAIT" \
        --run "srwl,w=30,duration=$(d 35),kill=$(k 20),hb=0.2,stale=1.0,poll=0.05"
    src=$?
    out=$("$PY" "$HERE/campaign_verdict.py" "$json" "$label" "$src")
    echo "$out" | grep -v '^counts:' | sed 's/^/run-moosefs.sh: /'
    set -- $(echo "$out" | awk '$1=="counts:"{print $2, $3}')
    passed=$((passed + ${1:-0})); failed=$((failed + ${2:-1}))
}

campaign "default caches" /mnt/srwl-mfs-a /mnt/srwl-mfs-b "$SEED"
check "crowded room, default caches" "$PY" "$HERE/crowded.py" /mnt/srwl-mfs-a /mnt/srwl-mfs-b
check "a grant on B right after A's write cycle does not wait for B's name cache; a writer among busy readers" \
    "$PY" "$HERE/handoff.py" --busy /mnt/srwl-mfs-a /mnt/srwl-mfs-b
campaign "mfsdirentrycacheto=0" /mnt/srwl-mfs-nc-a /mnt/srwl-mfs-nc-b "$((SEED + 7))"
check "crowded room, mfsdirentrycacheto=0" "$PY" "$HERE/crowded.py" /mnt/srwl-mfs-nc-a /mnt/srwl-mfs-nc-b

# The user's data: plain buffered I/O under the lock, with the documented pattern (0 lost) and
# without it (measured: coherent on MooseFS, so not judged); the probe: data_begin never stale.
check "data under the lock: the documented pattern loses no update" \
    "$PY" "$HERE/data-test.py" --check --workers 6 --duration "$(d 8)" /mnt/srwl-mfs-nc-a /mnt/srwl-mfs-nc-b plain helpers
check "data probe: data_begin reads the other client's last write" \
    "$PY" "$HERE/data-probe.py" --rounds 4 /mnt/srwl-mfs-a /mnt/srwl-mfs-b plain begin

echo "run-moosefs.sh: wall time $(( $(date +%s) - t0 )) s; seed $SEED; logs under $OUT"
echo "moosefs: $passed passed, $failed failed"
[ $failed = 0 ]
