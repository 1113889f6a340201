#!/usr/bin/env bash
# bench/profile.sh [DIR]: the profile pass of libsoftrwlock's uncontended cycles and of its
# waiters (run by `bench/run.sh --profile`, which builds target/bench/srwl_bench first).
# Writes into target/bench/profile/:
#   strace-{r,w}.txt        strace -f -c of N uncontended cycles (time and calls per syscall)
#   trace-{r,w}.txt         strace -f of 3 cycles: the exact sequence of one cycle
#   perfstat-{r,w}.txt      perf stat: task-clock, context switches, migrations
#   perf-{r,w}.txt          perf record -g (cpu-clock) report: where the CPU time goes
#   callgrind-{r,w}.txt     callgrind_annotate: user-space instructions by function
#   waiters-strace.txt      strace -f -c of 16 writers waiting 5 s behind a writer
#   writers-strace.txt      strace -f -c of 4 writers for 5 s
# DIR is the scratch directory for the locks (default /var/tmp/srwl-bench/profile).
set -uo pipefail
cd "$(dirname "$0")/.."
B=target/bench/srwl_bench
[ -x $B ] || { echo "profile.sh: build first (bench/run.sh)" >&2; exit 1; }
D=${1:-/var/tmp/srwl-bench/profile}
P=target/bench/profile
rm -rf "$D" "$P"
mkdir -p "$D" "$P"
N=${SRWL_PROFILE_N:-5000}
say() { echo "profile: $*" >&2; }
uptime > $P/load.txt

for m in r w; do
    say "strace -c, $N $m cycles"
    strace -f -c -o $P/strace-$m.txt $B cycles --mode $m --count $N --lock $D/st$m >/dev/null
    strace -f -tt -T -o $P/trace-$m.txt $B cycles --mode $m --count 3 --lock $D/tr$m >/dev/null
    say "perf stat, $N $m cycles"
    perf stat -e task-clock,context-switches,cpu-migrations,page-faults -o $P/perfstat-$m.txt \
        $B cycles --mode $m --count $N --lock $D/ps$m >>$P/perfstat-$m.txt 2>&1 \
        || echo "perf stat not supported here" >$P/perfstat-$m.txt
    say "perf record, $N $m cycles"
    if perf record -q -g -e cpu-clock -o $D/perf-$m.data $B cycles --mode $m --count $N \
        --lock $D/pr$m >/dev/null 2>&1; then
        perf report -i $D/perf-$m.data --stdio --no-children --percent-limit 1.5 \
            --sort dso,symbol 2>/dev/null | grep -v '^$' | head -150 >$P/perf-$m.txt
    else
        echo "perf record not supported here" >$P/perf-$m.txt
    fi
    say "callgrind, 2000 $m cycles"
    if command -v valgrind >/dev/null; then
        valgrind --tool=callgrind --callgrind-out-file=$D/cg-$m.out $B cycles --mode $m \
            --count 2000 --lock $D/cg$m >/dev/null 2>&1
        callgrind_annotate --inclusive=yes $D/cg-$m.out 2>/dev/null | head -60 >$P/callgrind-$m.txt
        callgrind_annotate $D/cg-$m.out 2>/dev/null | head -45 >$P/callgrind-self-$m.txt
    fi
done
say "strace -c of 16 writers waiting 5 s"
strace -f -c -o $P/waiters-strace.txt $B waiters --procs 16 --seconds 5 --mode w \
    --lock $D/wa --out $D >$P/waiters.json
strace -f -c -o $P/waiters-r-strace.txt $B waiters --procs 16 --seconds 5 --mode r \
    --lock $D/war --out $D >$P/waiters-r.json
say "strace -c of 4 writers for 5 s"
strace -f -c -o $P/writers-strace.txt $B writers --procs 4 --seconds 5 --lock $D/wr \
    --data $D/wr.data --out $D >$P/writers.json
uptime >> $P/load.txt
rm -rf "$D"
say "done: $P/"
ls $P
