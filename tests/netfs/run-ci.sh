#!/usr/bin/env bash
# CI-sized network-filesystem campaign for libsoftrwlock (about 5 minutes on 2 cores).
#
#   setup.sh (GlusterFS volume, two client mounts) -> build the C worker -> filelock venvs
#   -> stress.py campaign -> crowded.py -> verify_bad_mount.sh -> verdict.py -> teardown.sh
#
# Campaign: a negative control (no lock: must come out BROKEN, or the oracles are blind);
# libsoftrwlock 90/10 and 50/50 with delay injection off and on; a crash run with >= 100
# SIGKILLs (heartbeat 0.2 s, stale 1.0 s, poll 0.05 s); filelock 4.2.11, filelock 3.32.7
# and flock once each, side by side (measured, never failing the run).
#
# Exit 0: a complete result file of this run (tests/netfs/verdict.py) in which every
# libsoftrwlock scenario passed and the control was caught. 1: a failure, including a campaign
# that stopped early. 77: cannot run here (not root, no FUSE, no GlusterFS packages).
# Env: SRWL_NETFS_OUT (logs, default /tmp/srwl-netfs), SRWL_NETFS_KEEP=1 (no teardown),
#      SRWL_NETFS_SEED (random seed), SRWL_NETFS_SCALE (multiply every duration, default 1).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
OUT=${SRWL_NETFS_OUT:-/tmp/srwl-netfs}
SEED=${SRWL_NETFS_SEED:-$(( $(date +%s) % 100000 ))}
SCALE=${SRWL_NETFS_SCALE:-1}
PY=${SRWL_PYTHON:-python3}
mkdir -p "$OUT" target/netfs
d() { "$PY" -c "print(f'{$1 * $SCALE:g}')"; }   # scaled duration

t0=$(date +%s)
"$HERE/setup.sh"
rc=$?
if [ $rc = 77 ]; then echo "run-ci.sh: SKIP (setup.sh could not run here)"; exit 77; fi
[ $rc = 0 ] || { echo "run-ci.sh: FAILED: setup.sh exited $rc"; exit 1; }
if [ "${SRWL_NETFS_KEEP:-0}" != 1 ]; then
    trap '"$HERE/teardown.sh" >/dev/null 2>&1 || true' EXIT
fi

"$HERE/build-worker.sh" || { echo "run-ci.sh: FAILED: could not build the libsoftrwlock worker"; exit 1; }

comparison=()
venvs=0
if "$HERE/make-venvs.sh"; then
    comparison+=(--run "filelock-4.2.11,w=50,duration=$(d 20)" --run "filelock-3.32.7,w=50,duration=$(d 20)")
else
    venvs=1
    echo "run-ci.sh: no filelock venvs: the filelock comparison cannot run"
fi
# A comparison left out fails the verdict, unless skips are allowed (scripts/test.sh --allow-skips).
venv_check=(--check "filelock comparison venvs (make-venvs.sh)=$venvs")
[ "${SRWL_ALLOW_SKIPS:-0}" = 1 ] && [ $venvs != 0 ] && { echo "run-ci.sh: SKIP: the filelock comparison (allowed)"; venv_check=(); }
comparison+=(--run "flock,w=50,duration=$(d 20)")

JSON=target/netfs/ci-results.json
RUN_ID=ci-$(date +%Y%m%d-%H%M%S)-$$
rm -f "$JSON"     # the verdict must never read an earlier run's results
runs=(
    --run "none,w=50,duration=$(d 5),name=control: no lock 50/50"
    --run "srwl,w=10,duration=$(d 20)"
    --run "srwl,w=50,duration=$(d 20)"
    --run "srwl,w=10,duration=$(d 20),inject=$SEED:2000"
    --run "srwl,w=50,duration=$(d 20),inject=$((SEED + 1)):2000"
    --run "srwl,w=30,duration=$(d 85),kill=100,hb=0.2,stale=1.0,poll=0.05"
)
n_srwl=0
for r in "${runs[@]}"; do case $r in srwl,*) n_srwl=$((n_srwl + 1));; esac; done
"$PY" "$HERE/stress.py" --seed "$SEED" --out "$OUT" --json "$JSON" --run-id "$RUN_ID" \
    "${runs[@]}" "${comparison[@]}"
src=$?
[ $src = 77 ] && { echo "run-ci.sh: SKIP (stress.py could not run)"; exit 77; }

# A crowded room: more readers than three GlusterFS listing batches (33 entries each).
"$PY" "$HERE/crowded.py"
crowded=$?

# `softrwlock verify` passes on the mount and fails on it once the volume squashes root.
cargo build --release --bin softrwlock --quiet && "$HERE/verify_bad_mount.sh" "$ROOT/target/release/softrwlock"
verify_bad=$?

# Verdict: a complete result file of this run with every libsoftrwlock scenario, each passed
# (safety, liveness, waits, both hosts); the no-lock control caught; the other checks passed.
"$PY" "$HERE/verdict.py" --json "$JSON" --run-id "$RUN_ID" --srwl "$n_srwl" --stress-exit "$src" \
    --check "crowded room=$crowded" --check "verify fails on a root-squashed mount=$verify_bad" "${venv_check[@]}" \
    --label netfs --wall "$(( $(date +%s) - t0 ))"
