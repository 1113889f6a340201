#!/bin/sh
# Checks faultshim.so itself with coreutils (renameat2, linkat, unlinkat, mkdir, openat, read):
# each op fails without acting ("fail"), or acts and reports the error ("after"), blocks ("hang"),
# or answers from an emulated negative cache ("negcache"), only on the
# matching path and only for the selected calls; and, given the CLI, that it reaches the calls of
# a Rust binary too.   usage: shim_selftest.sh <faultshim.so> [<softrwlock CLI>]
set -u
SHIM=$1
D=$(mktemp -d /tmp/faultshim-selftest.XXXXXX)
trap 'rm -rf "$D"' EXIT
cd "$D" || exit 1
bad=0
ok() { echo "ok   $1"; }
no() { echo "FAIL $1"; bad=1; }
shim() { rules=$1; shift; LD_PRELOAD=$SHIM FAULTSHIM=$rules "$@" 2>/dev/null; }

echo x > a
shim "rename:*/a:fail:EIO" mv a b && no "rename fail: mv succeeded" || { [ -e a ] && [ ! -e b ] && ok "rename fail: nothing moved" || no "rename fail: moved"; }
shim "rename:*/a:after:EIO" mv a b && no "rename after: mv succeeded" || { [ ! -e a ] && [ -e b ] && ok "rename after: moved, error reported" || no "rename after: not moved"; }
shim "rename:*/zzz:fail:EIO" mv b a && [ -e a ] && ok "rename: other paths untouched" || no "rename: other path faulted"
shim "link:*/l1:fail:EEXIST" ln a l1 && no "link fail: ln succeeded" || { [ ! -e l1 ] && ok "link fail: no link" || no "link fail: linked"; }
shim "link:*/l1:after:EEXIST" ln a l1 && no "link after: ln succeeded" || { [ -e l1 ] && ok "link after: linked, error reported" || no "link after: no link"; }
shim "unlink:*/l1:fail:EIO" rm -f l1 && no "unlink fail: rm succeeded" || { [ -e l1 ] && ok "unlink fail: still there" || no "unlink fail: removed"; }
shim "unlink:*/l1:after:EIO" rm -f l1 && no "unlink after: rm succeeded" || { [ ! -e l1 ] && ok "unlink after: removed, error reported" || no "unlink after: still there"; }
shim "mkdir:*/m:fail:ENOSPC" mkdir m && no "mkdir fail: succeeded" || { [ ! -e m ] && ok "mkdir fail: no directory" || no "mkdir fail: made"; }
shim "mkdir:*/m:after:ENOSPC" mkdir m && no "mkdir after: succeeded" || { [ -d m ] && ok "mkdir after: made, error reported" || no "mkdir after: not made"; }
shim "rmdir:*/m:fail:EIO" rmdir m && no "rmdir fail: succeeded" || { [ -d m ] && ok "rmdir fail: still there" || no "rmdir fail: removed"; }
shim "read:*/a:fail:EIO" cat a >/dev/null && no "read fail: cat succeeded" || ok "read fail: EIO"
shim "open:*/a:fail:EACCES" cat a >/dev/null && no "open fail: cat succeeded" || ok "open fail: EACCES"
out=$(shim "read:*/a:fail:EIO:n=2" cat a); rc=$?
[ "$rc" != 0 ] && [ "$out" = x ] && ok "read n=2: the first read passes, the second fails" || no "read n=2: rc=$rc out=$out"
LD_PRELOAD=$SHIM FAULTSHIM="mkdir:*/c*:fail:EIO:first=2" FAULTSHIM_LOG=$D/log mkdir c1 c2 c3 2>/dev/null
[ ! -e c1 ] && [ ! -e c2 ] && [ -d c3 ] && [ "$(wc -l <"$D/log")" = 2 ] && ok "first=2 and the log" || no "first=2: $(ls) / $(cat "$D/log")"
t0=$(date +%s%N); shim "mkdir:*/h:hang:0.4" mkdir h; t1=$(date +%s%N)
[ -d h ] && [ $(( (t1 - t0) / 1000000 )) -ge 400 ] && ok "mkdir hang: made after $(( (t1 - t0) / 1000000 )) ms" \
  || no "mkdir hang: $(( (t1 - t0) / 1000000 )) ms, made: $([ -d h ] && echo yes || echo no)"
# negcache (per process, so one python3 process): n absent, then made by another process: still
# absent here; a mkdir of n (EEXIST) drops the entry and n is read.
out=$(LD_PRELOAD=$SHIM FAULTSHIM="open:*/n:negcache:ENOENT" python3 -c '
import os, subprocess
def look():
    try:
        return open("n").read().strip()
    except FileNotFoundError:
        return "absent"
print(look())
subprocess.run(["sh", "-c", "echo y > n"], env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
print(look())
try:
    os.mkdir("n")
except FileExistsError:
    pass
print(look())' 2>&1)
[ "$out" = "$(printf 'absent\nabsent\ny')" ] && ok "negcache: absent until a mkdir" || no "negcache: got [$out]"
if [ -n "${2:-}" ]; then
  LD_PRELOAD=$SHIM FAULTSHIM="link:*/k.srwl/init:after:EEXIST" FAULTSHIM_LOG=$D/cli.log \
    "$2" -x -w 0 k -- true >/dev/null 2>&1
  grep -q "link after EEXIST $D/k.srwl/init" "$D/cli.log" 2>/dev/null \
    && ok "the Rust CLI's linkat is interposed" || no "the Rust CLI's linkat was not interposed"
fi
exit $bad
