#!/usr/bin/env bash
# Exhaustive SPIN checks of the srwl/2 model (see docs/model/README.md).
#
#   tests/model/check.sh            the standard set (about 2 min on this 2-core machine, 115 s of CPU)
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
#   A known-bad variant (bug_*.pml) that passes fails the check: it shows that the check can
#   find that kind of error at all.
# (longest first, so that the JOBS=2 lanes finish together)
CHECKS=(
  "safety-2r2w|srwl2.pml||-DSAFETY|-E -m8000000 -w23|pass"
  "wedge-1cyc-2crash|live.pml|-DNCYC=1 -DCB=2 -DZB=1|-DSAFETY|-m500000 -w24|pass"
  "share-safety-2r1w|srwl2.pml|-DSHARE -DNW=1|-DSAFETY|-E -m8000000 -w24|pass"
  "wedge-1cyc-1crash|live.pml|-DNCYC=1 -DCB=1 -DZB=1|-DSAFETY|-m500000 -w24|pass"
  "share-wedge-2cyc-2r1w|live.pml|-DSHARE -DNCYC=2 -DCB=0 -DZB=1 -DNW=1|-DSAFETY|-m500000 -w24|pass"
  "bug-share-lateunmark|bug_share_lateunmark.pml|-DNW=1|-DSAFETY|-E -m8000000 -w23|assert"
  "wedge-init-faults-1r2w|live.pml|-DNR=1 -DINIT -DFB=1 -DCB=1 -DZB=1|-DSAFETY|-m500000 -w24|pass"
  "wedge-2evictors-faults-1r2w|live.pml|-DNR=1 -DNE=2 -DFB=1 -DCB=1 -DZB=1|-DSAFETY|-m500000 -w24|pass"
  "safety-init-faults-1r2w|srwl2.pml|-DNR=1 -DINIT -DFB=2|-DSAFETY|-E -m8000000 -w23|pass"
  "wedge-faults-1r2w|live.pml|-DNR=1 -DFB=2 -DCB=1 -DZB=1|-DSAFETY|-m500000 -w24|pass"
  "bug-c-check-without-own-record|bug_c_check_without_own_record.pml||-DSAFETY|-E -m3000000 -w22|assert"
  "bug-b-enoent-is-grant|bug_b_enoent_is_grant.pml||-DSAFETY|-E -m3000000 -w22|assert"
  "bug-init-unlinks-baton|bug_init_unlinks_baton.pml|-DNR=1 -DFB=1|-DSAFETY|-m500000 -w24|endstate"
  "bug-a-baton-before-record|bug_a_baton_before_record.pml||-DSAFETY|-E -m3000000 -w20|assert"
  "bug-d-grant-without-rmdir|bug_d_grant_without_rmdir.pml||-DSAFETY|-E -m3000000 -w20|assert"
  "bug-unlink-unreadable-baton|bug_unlink_unreadable_baton.pml||-DSAFETY|-m500000 -w24|endstate"
  "bug-no-takeover|bug_no_takeover.pml||-DSAFETY|-m500000 -w24|endstate"
  "bug-strand-evictor-baton|bug_strand_evictor_baton.pml|-DNR=1 -DFB=1|-DSAFETY|-m500000 -w24|endstate"
  "bug-samename-handback|bug_samename_handback.pml||-DSAFETY|-E -m8000000 -w23|assert"
  "share-wedge-1cyc-2crash-2r1w|live.pml|-DSHARE -DNCYC=1 -DCB=2 -DZB=1 -DNW=1|-DSAFETY|-m500000 -w24|pass"
  "bug-share-norecheck|bug_share_norecheck.pml|-DNW=1|-DSAFETY|-E -m8000000 -w23|assert"
  "bug-share-nomark|bug_share_nomark.pml|-DNCYC=1 -DCB=1 -DZB=0 -DNW=1|-DSAFETY|-m500000 -w24|assert"
  "bug-share-nowindow|bug_share_nowindow.pml|-DNW=1|-DSAFETY|-E -m8000000 -w23|assert"
  "bug-share-dropjoin|bug_share_dropjoin.pml|-DNCYC=2 -DCB=0 -DZB=1 -DNW=1|-DSAFETY|-m500000 -w24|endstate"
  "bug-share-sweep|bug_share_sweep.pml|-DNCYC=2 -DCB=0 -DZB=0 -DNW=1|-DSAFETY|-m500000 -w24|endstate"
  "bug-share-sweepx|bug_share_sweepx.pml|-DNCYC=2 -DCB=0 -DZB=0 -DNW=1|-DSAFETY|-m500000 -w24|endstate"
)
if [ "$FULL" = 1 ]; then
  CHECKS=(
    "wedge-2cyc-1crash|live.pml|-DNCYC=2 -DCB=1 -DZB=1|-DSAFETY|-m1000000 -w27|pass"
    "safety-3r2w|srwl2.pml|-DNR=3|-DSAFETY|-E -m5000000 -w26|pass"
    "wedge-1cyc-3crash|live.pml|-DNCYC=1 -DCB=3 -DZB=1|-DSAFETY|-m500000 -w26|pass"
    "safety-faults-2r2w|srwl2.pml|-DFB=1|-DSAFETY|-E -m12000000 -w25|pass"
    "safety-init-2evictors-1r2w|srwl2.pml|-DNR=1 -DINIT -DFB=1 -DNE=2|-DSAFETY|-E -m8000000 -w24|pass"
    "share-wedge-1cyc-1crash-3r1w|live.pml|-DSHARE -DNR=3 -DNW=1 -DNCYC=1 -DCB=1 -DZB=0|-DSAFETY -DCOLLAPSE|-m500000 -w26|pass"
    "share-safety-faults-2r1w|srwl2.pml|-DSHARE -DNW=1 -DFB=1|-DSAFETY|-E -m8000000 -w25|pass"
    "share-wedge-2cyc-1crash-2r1w|live.pml|-DSHARE -DNW=1 -DNCYC=2 -DCB=1 -DZB=1|-DSAFETY -DCOLLAPSE|-m500000 -w26|pass"
    "share-wedge-1cyc-2crash-2r2w|live.pml|-DSHARE -DNCYC=1 -DCB=2 -DZB=1|-DSAFETY -DCOLLAPSE|-m500000 -w26|pass"
    "share-safety-sweeps-2r1w|srwl2.pml|-DSHARE -DSWEEP -DSWEEPX -DNW=1|-DSAFETY|-E -m8000000 -w25|pass"
    "share-wedge-sweeps-fixsweep-2cyc-2r1w|live.pml|-DSHARE -DSWEEP -DSWEEPX -DFIX_SWEEP -DNCYC=2 -DCB=0 -DZB=1 -DNW=1|-DSAFETY -DCOLLAPSE|-m500000 -w26|pass"
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
