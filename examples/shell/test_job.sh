#!/bin/sh
# test_job.sh SOFTRWLOCK_TOOL [SCRATCH_DIR]: runs 4 copies of job.sh at once, 5 rounds each,
# and checks that the counter is 20 (no update lost under the tool's write lock).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export SOFTRWLOCK="$1"
dir=$(mktemp -d "${2:-${TMPDIR:-/tmp}}/srwl-shell-XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo 0 > "$dir/data"
pids=
for j in 1 2 3 4; do
    sh "$here/job.sh" "$dir/data" 5 > "$dir/out.$j" 2>&1 &
    pids="$pids $!"
done
fail=0
for p in $pids; do
    wait "$p" || fail=1
done
cat "$dir"/out.*
n=$(cat "$dir/data")
if [ "$fail" -ne 0 ] || [ "$n" -ne 20 ]; then
    echo "test_job.sh: FAILED (counter $n, want 20; job failure: $fail)" >&2
    exit 1
fi
echo "test_job.sh: counter $n: ok"
