#!/usr/bin/env bash
# tests/fsbeds/sshfs.sh: libsoftrwlock on sshfs, two mounts as two clients.
#
# Sets up a private sshd on a spare port of 127.0.0.1 (its own host key and client key in a
# 0700 temp dir; no system sshd is enabled or touched), four sshfs mounts of one exported
# directory: a and b with -o cache=no, c and d with the default options. Then checks:
#   1. `softrwlock verify --second-mount b a`: racing creates, renames and links between the
#      two clients never both succeed, exclusion with workers on both mounts, eviction across
#      them, the baton identified by content (sshfs makes inode numbers up): verdict PASS;
#   2. a writer SIGKILLed while holding on c is evicted by a writer on d within 10 s (stale
#      threshold 1 s; before the fix the listings of a kept handle came back empty and it
#      never was), 3 times;
#   3. two clients creating a new lock at once (a and b, 20 rounds): both always get it (the
#      loser of the `init` link got EPERM, which srwl_open took as fatal);
#   4. a file kept open on a and unlinked there (sshfs renames it to .fuse_hidden* in R/) is
#      evicted at once by a writer on b: it gets in within 5 s with a stale threshold of 10 s;
#   5. the stress campaign driver (tests/netfs/stress.py) for 15 s on a and b as two hosts:
#      exclusion (counter = write grants) and both hosts granted.
# Tears everything down on exit (and first, whatever an earlier run left): mounts, sshd, keys.
# Needs root, /dev/fuse, sshfs, openssh-server (sshd), ssh-keygen. Exit 0 pass, 1 fail (a
# missing tool is a failure, not a skip).
#
#   tests/fsbeds/sshfs.sh           run the test
#   tests/fsbeds/sshfs.sh down      tear down only
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
STATE=/tmp/srwl-fsbed-sshfs
MOUNTS="a b c d"

say() { echo "sshfs.sh: $*"; }
fail() { say "FAIL: $*"; exit 1; }

down() {
    for m in $MOUNTS; do
        mountpoint -q "$STATE/$m" 2>/dev/null && { fusermount -u "$STATE/$m" 2>/dev/null || umount -l "$STATE/$m"; }
    done
    if [ -f "$STATE/sshd.pid" ]; then
        pid=$(cat "$STATE/sshd.pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    # /run/sshd (sshd's privilege separation directory) is removed only if this script made it.
    [ -f "$STATE/made-run-sshd" ] && rmdir /run/sshd 2>/dev/null
    rm -rf "$STATE"
}

if [ "${1:-}" = down ]; then down; exit 0; fi
down
trap down EXIT

[ "$(id -u)" = 0 ] || fail "needs root (FUSE mounts, sshd)"
[ -c /dev/fuse ] || fail "/dev/fuse is missing"
if [ ! -x /usr/sbin/sshd ] && command -v apt-get >/dev/null; then
    # Only the sshd binary is wanted: the package's service is neither started (policy-rc.d)
    # nor left enabled. Only this bed's private sshd on 127.0.0.1 ever runs.
    say "installing openssh-server (its system service stays off)"
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq openssh-server >/tmp/srwl-apt-sshd.log 2>&1
    [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
    systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
fi
for t in sshfs ssh-keygen /usr/sbin/sshd; do
    command -v "$t" >/dev/null || fail "$t is missing (apt-get install sshfs openssh-server)"
done
cargo build --release --quiet || fail "cargo build --release failed"
BIN=$ROOT/target/release/softrwlock

mkdir -p "$STATE/export" "$STATE/keys"
chmod 700 "$STATE" "$STATE/keys"
ssh-keygen -q -t ed25519 -N '' -f "$STATE/keys/host" || fail "ssh-keygen"
ssh-keygen -q -t ed25519 -N '' -f "$STATE/keys/client" || fail "ssh-keygen"
cp "$STATE/keys/client.pub" "$STATE/keys/authorized_keys"
chmod 600 "$STATE/keys/authorized_keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$STATE/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $STATE/keys/host
AuthorizedKeysFile $STATE/keys/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
PidFile $STATE/sshd.pid
Subsystem sftp internal-sftp
EOF
if [ ! -d /run/sshd ]; then mkdir -p /run/sshd && chmod 755 /run/sshd && touch "$STATE/made-run-sshd"; fi
/usr/sbin/sshd -f "$STATE/sshd_config" -E "$STATE/sshd.log" || fail "sshd did not start: $(tail -3 "$STATE/sshd.log")"
for _ in $(seq 50); do [ -s "$STATE/sshd.pid" ] && break; sleep 0.1; done
ssh_opts=(-p "$PORT" -o IdentityFile="$STATE/keys/client" -o StrictHostKeyChecking=no
          -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR)
for m in $MOUNTS; do
    mkdir -p "$STATE/$m"
    extra=()
    case $m in a|b) extra=(-o cache=no) ;; esac
    sshfs "${ssh_opts[@]}" "${extra[@]}" "root@127.0.0.1:$STATE/export" "$STATE/$m" \
        || fail "sshfs mount of $STATE/$m failed (sshd log: $(tail -3 "$STATE/sshd.log"))"
done
say "sshd on 127.0.0.1:$PORT; $STATE/a, b: -o cache=no; c, d: default options"
grep " $STATE/a " /proc/self/mountinfo

rc=0
pass() { say "PASS: $*"; }
bad() { say "FAIL: $*"; rc=1; }

# 1. verify through both clients.
out=$(timeout 300 "$BIN" verify --second-mount "$STATE/b" "$STATE/a" 2>&1); st=$?
echo "$out"
if [ $st = 0 ] && grep -q "^host .*, filesystem fuse.sshfs (sshfs, source root@127.0.0.1:$STATE/export" <<<"$out" \
    && [ "$(grep -c '^PASS  racing .*through two mounts (two clients)' <<<"$out")" = 3 ] \
    && grep -q "^PASS  released locks leave the baton at rest in R/ .*the file init names" <<<"$out" \
    && grep -q "^VERDICT: PASS" <<<"$out"; then
    pass "verify --second-mount on sshfs"
else
    bad "verify --second-mount on sshfs (exit $st)"
fi

# 2. A dead holder on c is evicted by a writer on d.
for i in 1 2 3; do
    "$BIN" --write --stale 1 --heartbeat 0.2 "$STATE/c/dead.lock" -- sleep 300 & holder=$!
    for _ in $(seq 100); do ls "$STATE/export/dead.lock.srwl/Q/" 2>/dev/null | grep -q '^b\.' && break; sleep 0.1; done
    sleep 0.5
    kill -9 $holder; wait $holder 2>/dev/null
    t0=$(date +%s%N)
    "$BIN" --write --stale 1 --heartbeat 0.2 --timeout 20 "$STATE/d/dead.lock" -- true; st=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ $st = 0 ] && [ $ms -le 10000 ]; then
        pass "round $i: a writer on d got the lock ${ms} ms after the holder on c was SIGKILLed (stale 1 s)"
    else
        bad "round $i: a writer on d: exit $st after ${ms} ms (bound 10000 ms) after the holder on c was SIGKILLed"
    fi
done

# 3. Two clients create a new lock at once.
fails=0
: >"$STATE/init-errors"
for i in $(seq 1 20); do
    "$BIN" --write --timeout 30 "$STATE/a/init$i.lock" -- true 2>>"$STATE/init-errors" & p1=$!
    "$BIN" --write --timeout 30 "$STATE/b/init$i.lock" -- true 2>>"$STATE/init-errors" & p2=$!
    wait $p1 || fails=$((fails + 1))
    wait $p2 || fails=$((fails + 1))
done
if [ $fails = 0 ]; then
    pass "20 rounds of two clients creating one new lock at once: all 40 got it"
else
    bad "20 rounds of two clients creating one new lock at once: $fails of 40 failed:"; sort "$STATE/init-errors" | uniq -c | head
fi

# 4. .fuse_hidden litter in the room.
"$BIN" --write --stale 1 "$STATE/a/hidden.lock" -- true || bad "cannot initialise hidden.lock"
python3 - "$STATE/a/hidden.lock.srwl/R" <<'EOF' & opener=$!
import os, sys, time
room = sys.argv[1]
fd = os.open(os.path.join(room, "junk"), os.O_CREAT | os.O_WRONLY, 0o600)
os.write(fd, b"litter")
os.unlink(os.path.join(room, "junk"))  # open on this client: sshfs renames it to .fuse_hidden*
print("sshfs.sh: planted, room holds", sorted(os.listdir(room)), flush=True)
time.sleep(30)
EOF
for _ in $(seq 100); do ls -a "$STATE/export/hidden.lock.srwl/R/" | grep -q '^\.fuse_hidden' && break; sleep 0.1; done
if ls -a "$STATE/export/hidden.lock.srwl/R/" | grep -q '^\.fuse_hidden'; then
    t0=$(date +%s%N)
    "$BIN" --write --stale 10 --heartbeat 2 --timeout 30 "$STATE/b/hidden.lock" -- true; st=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ $st = 0 ] && [ $ms -le 5000 ] && ! ls -a "$STATE/export/hidden.lock.srwl/R/" | grep -q '^\.fuse_hidden'; then
        pass "a .fuse_hidden file in R/ (kept open on a) was evicted at once; a writer on b got in after ${ms} ms (stale 10 s)"
    else
        bad "with a .fuse_hidden file in R/: writer on b exit $st after ${ms} ms (bound 5000 ms, stale 10 s); R/ holds: $(ls -a "$STATE/export/hidden.lock.srwl/R/" | tr '\n' ' ')"
    fi
else
    bad "no .fuse_hidden file appeared in R/ (the test could not plant it)"
fi
kill $opener 2>/dev/null; wait $opener 2>/dev/null

# 5. The stress driver, a and b as two hosts.
if bash tests/netfs/build-worker.sh >/dev/null; then
    out=$(SRWL_MNT_A=$STATE/a SRWL_MNT_B=$STATE/b SRWL_NETFS_OUT=$STATE/stress timeout 300 \
        python3 tests/netfs/stress.py --run srwl,w=50,workers=4,duration=15,name=sshfs-cache-no 2>&1); st=$?
    echo "$out" | grep -A7 '^--- '
    # "host A 483 read + 526 write, host B 502 read + 495 write": grants per client.
    grants=$(grep -o 'host A [0-9]* read + [0-9]* write, host B [0-9]* read + [0-9]* write' <<<"$out" | head -1)
    a=$(awk '{print $3 + $6}' <<<"${grants//,/}"); b=$(awk '{print $10 + $13}' <<<"${grants//,/}")
    if [ $st = 0 ] && grep -q -- '--- sshfs-cache-no: PASS' <<<"$out" && [ "${a:-0}" -ge 20 ] && [ "${b:-0}" -ge 20 ]; then
        pass "stress on sshfs (cache=no): exclusion held, $grants"
    else
        bad "stress on sshfs (cache=no): exit $st, ${grants:-no grant counts}"
    fi
else
    bad "tests/netfs/build-worker.sh failed"
fi

[ $rc = 0 ] && say "all passed" || say "FAILED"
exit $rc
