#!/bin/sh
# job.sh: a batch job step that shares a data file with other jobs through the
# `softrwlock` command-line tool, which speaks flock(1):
#
#   softrwlock [-s|-x] [-n|-w SECONDS] [-E N] PATH COMMAND [ARGS...]
#   softrwlock [-s|-x] [-n|-w SECONDS] [-E N] PATH -c 'COMMAND STRING'
#
# runs COMMAND while holding the lock on PATH (the tool keeps its files in PATH.srwl/),
# releases it when COMMAND exits, and exits with COMMAND's status (or 1, or -E's N, if the
# lock could not be taken in time).
#
# Usage: job.sh [DATA_FILE] [ROUNDS]
#   Each round increments the counter in DATA_FILE under the write lock, then prints it under
#   the read lock. Run many copies at once (on many hosts over a shared filesystem): the final
#   counter is the total number of rounds.
# Environment: SOFTRWLOCK, the tool (default: `softrwlock` on PATH).
set -eu

SOFTRWLOCK=${SOFTRWLOCK:-softrwlock}
data=${1:-job-example.dat}
rounds=${2:-1}

[ -e "$data" ] || echo 0 > "$data"   # racy only before the first job: the test creates it

i=0
while [ "$i" -lt "$rounds" ]; do
    # Read-modify-write: only safe under the write lock. The tool tells the command its
    # fencing generation (SOFTRWLOCK_GENERATION).
    # A lock that is not granted within 60 s exits 75 (-E): the job says so and fails.
    "$SOFTRWLOCK" -x -w 60 -E 75 "$data" \
        sh -c 'n=$(cat "$1"); echo $((n + 1)) > "$1"' sh "$data" ||
        { echo "job.sh: write failed or lock busy (status $?)" >&2; exit 1; }
    # Readers share the lock (-s).
    "$SOFTRWLOCK" -s -w 60 "$data" \
        sh -c 'echo "$(hostname) pid $$: counter $(cat "$1") (last write grant ${SOFTRWLOCK_GENERATION:-?})"' sh "$data"
    i=$((i + 1))
done
