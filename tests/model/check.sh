#!/usr/bin/env bash
# Exhaustive SPIN checks of the srwl/1 model (see docs/model/README.md).
#
#   tests/model/check.sh            the standard set (~22 s CPU idle; 1.5-3 min on this shared machine)
#   tests/model/check.sh --full     also the larger configurations (several more minutes)
#   JOBS=1 tests/model/check.sh     run one check at a time (default: 2)
#
# A check of the protocol passes only if pan reports "errors: 0" for a full
# (exhaustive, not bitstate) search that was not cut short: no "max search depth
# too small", no out-of-memory, no MEMLIM bound. A check of a known-bad variant
# passes only if pan reports the expected kind of error. Prints one line per
# check and ends with "N passed, N failed"; exits non-zero if any check failed.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
JOBS=${JOBS:-2}
MEMLIM_MB=${MEMLIM_MB:-8000}
FULL=0
case "${1:-}" in
  --full) FULL=1 ;;
  "") ;;
  *) echo "usage: $0 [--full]" >&2; exit 2 ;;
esac

for tool in spin gcc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "missing: $tool (apt-get install -y spin gcc)" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/srwl-model.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# name | model file | spin -D defines | gcc -D defines | pan options | expect
#   expect: pass | assert (assertion violated) | endstate (invalid end state)
# (longest first, so that the JOBS=2 lanes finish together)
L="-DZB=1 -DSB=1"     # LIVE: 1 zombie eviction, 1 stale hint/listing result
CHECKS=(
  "wedge-1cyc-1crash|live.pml|-DNCYCR=1 -DNCYCW=1 -DCB=1 $L|-DSAFETY|-m200000 -w24|pass"
  "wedge-r1w2-0crash|live.pml|-DNCYCR=1 -DNCYCW=2 -DCB=0 $L|-DSAFETY|-m200000 -w24|pass"
  "wedge-r2w1-0crash|live.pml|-DNCYCR=2 -DNCYCW=1 -DCB=0 $L|-DSAFETY|-m200000 -w24|pass"
  "cycles-1cyc-0crash|live.pml|-DNCYCR=1 -DNCYCW=1 -DCB=0 $L|-DNP|-l -m200000 -w24|pass"
  "safety-2r2w|srwl1.pml||-DSAFETY|-E -m3000000 -w22|pass"
  "bug-a-closed-before-record|bug_a_closed_before_record.pml||-DSAFETY|-E -m3000000 -w20|assert"
  "bug-b-evict-rm-closed|bug_b_evict_rm_closed.pml||-DSAFETY|-E -m3000000 -w20|assert"
  "flaw-c-step3-enoent|flaw_c_step3_enoent.pml||-DSAFETY|-E -m3000000 -w20|assert"
  "flaw-d-empty-closed|flaw_d_empty_closed.pml|-DNCYCR=1 -DNCYCW=1 -DCB=1 $L|-DSAFETY|-m200000 -w20|endstate"
)
if [ "$FULL" = 1 ]; then
  CHECKS=(
    "cycles-2cyc-0crash|live.pml|-DNCYCR=2 -DNCYCW=2 -DCB=0 $L|-DNP|-l -m200000 -w26|pass"
    "cycles-1cyc-2crash|live.pml|-DNCYCR=1 -DNCYCW=1 -DCB=2 $L|-DNP|-l -m200000 -w26|pass"
    "wedge-1cyc-2crash|live.pml|-DNCYCR=1 -DNCYCW=1 -DCB=2 $L|-DSAFETY|-m200000 -w25|pass"
    "wedge-1cyc-4crash|live.pml|-DNCYCR=1 -DNCYCW=1 -DCB=4 $L|-DSAFETY|-m200000 -w26|pass"
    "safety-3r2w|srwl1.pml|-DNR=3|-DSAFETY|-E -m3000000 -w26|pass"
    "wedge-2cyc-0crash|live.pml|-DNCYCR=2 -DNCYCW=2 -DCB=0 $L|-DSAFETY|-m200000 -w26|pass"
    "safety-2r3w|srwl1.pml|-DNW=3|-DSAFETY|-E -m3000000 -w25|pass"
    "wedge-2cyc-1crash|live.pml|-DNCYCR=2 -DNCYCW=2 -DCB=1 $L|-DSAFETY|-m200000 -w26|pass"
    "${CHECKS[@]}"
  )
fi

run_check() {  # index spec
  local idx=$1 spec=$2
  local name file sdefs gdefs popts expect
  IFS='|' read -r name file sdefs gdefs popts expect <<<"$spec"
  local dir="$WORK/$idx-$name" res="$WORK/$idx.result"
  mkdir -p "$dir"
  cp "$HERE"/*.pml "$dir"/
  (
    cd "$dir" || exit 1
    # shellcheck disable=SC2086
    if ! spin -a $sdefs "$file" >spin.out 2>&1; then
      echo "FAIL $name: spin -a failed: $(tail -n 3 spin.out | tr '\n' ' ')" >"$res"; exit 0
    fi
    # shellcheck disable=SC2086
    if ! gcc -O2 -w $gdefs -DMEMLIM="$MEMLIM_MB" -o pan pan.c >gcc.out 2>&1; then
      echo "FAIL $name: gcc failed: $(tail -n 3 gcc.out | tr '\n' ' ')" >"$res"; exit 0
    fi
    # shellcheck disable=SC2086
    ./pan $popts >pan.out 2>&1
    local rc=$?
    local errors states depth secs
    errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' pan.out | tail -n 1)
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out | tail -n 1)
    depth=$(sed -n 's/.*depth reached \([0-9]*\),.*/\1/p' pan.out | tail -n 1)
    secs=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' pan.out | tail -n 1)
    local info="states=${states:-?} depth=${depth:-?} time=${secs:-?}s"
    local incomplete=""
    grep -q "max search depth too small" pan.out && incomplete="max search depth too small"
    grep -qi "out of memory" pan.out && incomplete="out of memory"
    grep -q "MEMLIM" pan.out && incomplete="memory limit reached"
    grep -qi "search not completed" pan.out && incomplete="search not completed"
    grep -q "Full statespace search" pan.out || incomplete="${incomplete:-not a full statespace search}"
    case "$expect" in
      pass)
        if [ "$rc" = 0 ] && [ "${errors:-x}" = 0 ] && [ -z "$incomplete" ]; then
          echo "PASS $name: no error, search complete; $info" >"$res"
        else
          local why="errors=${errors:-?}"
          [ -n "$incomplete" ] && why="$why, $incomplete"
          [ "$rc" != 0 ] && why="$why, pan exit $rc"
          local kind
          kind=$(grep -E -o "^pan:[0-9]+: [a-z -]+" pan.out | head -n 1 | sed 's/^pan:[0-9]*: //')
          [ -n "$kind" ] && why="$why, $kind"
          local keep="${TMPDIR:-/tmp}/srwl-model-failed-$name"
          rm -rf "$keep"; cp -r "$dir" "$keep" 2>/dev/null
          echo "FAIL $name: $why; $info (kept: $keep, replay: spin -t -p $sdefs $file)" >"$res"
        fi ;;
      assert|endstate)
        local want="assertion violated"
        [ "$expect" = endstate ] && want="invalid end state"
        if [ "${errors:-0}" != 0 ] && grep -E -q "^pan:[0-9]+: $want" pan.out; then
          echo "PASS $name: error found as required ($want); $info" >"$res"
        else
          echo "FAIL $name: SPIN did not find the required error ($want), errors=${errors:-?}; $info" >"$res"
        fi ;;
    esac
  )
  [ -f "$res" ] || echo "FAIL $name: no result" >"$res"
}

start=$(date +%s)
running=0
for i in "${!CHECKS[@]}"; do
  if [ "$running" -ge "$JOBS" ]; then
    wait -n; running=$((running - 1))
  fi
  run_check "$i" "${CHECKS[$i]}" &
  running=$((running + 1))
done
wait

passed=0; failed=0
for i in "${!CHECKS[@]}"; do
  line=$(cat "$WORK/$i.result")
  echo "$line"
  case "$line" in
    PASS*) passed=$((passed + 1)) ;;
    *) failed=$((failed + 1)) ;;
  esac
done
echo "(wall time $(( $(date +%s) - start ))s, JOBS=$JOBS)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
