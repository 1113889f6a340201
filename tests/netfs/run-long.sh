#!/usr/bin/env bash
# Long network-filesystem campaign for libsoftrwlock (about 35 minutes on 2 cores).
# Same machinery as run-ci.sh, longer and wider:
#   90/10 and 50/50 for 4 min each; 99/1 with 16 workers (the MPI-like mix) for 3 min;
#   delay injection 90/10 and 50/50, 3 min each; a 7 min crash run (>= 600 SIGKILLs) and a
#   3 min crash run with delay injection (>= 200); filelock 4.2.11, 3.32.7 and flock 2 min each.
# Exit codes and env as run-ci.sh (SRWL_NETFS_SCALE shortens it, e.g. 0.1 for a rehearsal).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
OUT=${SRWL_NETFS_OUT:-/tmp/srwl-netfs}
SEED=${SRWL_NETFS_SEED:-$(( $(date +%s) % 100000 ))}
SCALE=${SRWL_NETFS_SCALE:-1}
PY=${SRWL_PYTHON:-python3}
mkdir -p "$OUT" target/netfs
d() { "$PY" -c "print(f'{$1 * $SCALE:g}')"; }
k() { "$PY" -c "print(max(1, int($1 * $SCALE)))"; }

t0=$(date +%s)
"$HERE/setup.sh"
rc=$?
if [ $rc = 77 ]; then echo "run-long.sh: SKIP (setup.sh could not run here)"; exit 77; fi
[ $rc = 0 ] || { echo "run-long.sh: FAILED: setup.sh exited $rc"; exit 1; }
if [ "${SRWL_NETFS_KEEP:-0}" != 1 ]; then
    trap '"$HERE/teardown.sh" >/dev/null 2>&1 || true' EXIT
fi
"$HERE/build-worker.sh" || { echo "run-long.sh: FAILED: could not build the libsoftrwlock worker"; exit 1; }
comparison=()
venvs=0
if "$HERE/make-venvs.sh"; then
    comparison+=(--run "filelock-4.2.11,w=50,duration=$(d 120)" --run "filelock-3.32.7,w=50,duration=$(d 120)")
else
    venvs=1
fi
venv_check=(--check "filelock comparison venvs (make-venvs.sh)=$venvs")
[ "${SRWL_ALLOW_SKIPS:-0}" = 1 ] && [ $venvs != 0 ] && { echo "run-long.sh: SKIP: the filelock comparison (allowed)"; venv_check=(); }
comparison+=(--run "flock,w=50,duration=$(d 120)")

JSON=target/netfs/long-results.json
RUN_ID=long-$(date +%Y%m%d-%H%M%S)-$$
rm -f "$JSON"     # the verdict must never read an earlier run's results
runs=(
    --run "none,w=50,duration=$(d 10),name=control: no lock 50/50"
    --run "srwl,w=10,duration=$(d 240)"
    --run "srwl,w=50,duration=$(d 240)"
    --run "srwl,w=1,workers=16,duration=$(d 180)"
    --run "srwl,w=10,duration=$(d 180),inject=$SEED:2000"
    --run "srwl,w=50,duration=$(d 180),inject=$((SEED + 1)):5000"
    --run "srwl,w=30,duration=$(d 420),kill=$(k 600),hb=0.2,stale=1.0,poll=0.05"
    --run "srwl,w=30,duration=$(d 180),kill=$(k 200),hb=0.2,stale=1.0,poll=0.05,inject=$((SEED + 2)):2000"
)
n_srwl=0
for r in "${runs[@]}"; do case $r in srwl,*) n_srwl=$((n_srwl + 1));; esac; done
"$PY" "$HERE/stress.py" --seed "$SEED" --out "$OUT" --json "$JSON" --run-id "$RUN_ID" \
    "${runs[@]}" "${comparison[@]}"
src=$?
[ $src = 77 ] && { echo "run-long.sh: SKIP (stress.py could not run)"; exit 77; }
"$PY" "$HERE/verdict.py" --json "$JSON" --run-id "$RUN_ID" --srwl "$n_srwl" --stress-exit "$src" \
    "${venv_check[@]}" --label netfs-long --wall "$(( $(date +%s) - t0 ))"
