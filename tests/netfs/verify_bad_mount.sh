#!/usr/bin/env bash
# `softrwlock verify` can fail: on the GlusterFS mount as set up it must PASS; once the volume
# squashes root (server.root-squash on: what root creates is owned by uid 65534, as with NFS
# root squash) it must FAIL (exit status not 0, the word FAIL in its output), and PASS again
# once root squash is off (exit 0, no FAIL). Only the exit status and the word FAIL are relied
# on, not verify's wording. A real bad mount, not a mock.
#
# Needs the volume of setup.sh mounted at /mnt/srwl-a, and root. Run by run-ci.sh.
# usage: verify_bad_mount.sh [SOFTRWLOCK_CLI]     exit 0 pass, 1 fail
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CLI=${1:-$ROOT/target/release/softrwlock}
VOL=${SRWL_GLUSTER_VOLUME:-srwl}
MNT=${SRWL_MNT_A:-/mnt/srwl-a}
[ -x "$CLI" ] || { echo "verify_bad_mount.sh: FAIL: no $CLI (cargo build --release --bin softrwlock)"; exit 1; }
mountpoint -q "$MNT" || { echo "verify_bad_mount.sh: FAIL: $MNT is not mounted (tests/netfs/setup.sh)"; exit 1; }
dir=$MNT/verify-bad-mount.$$
log=$(mktemp)
# Squashed root (uid 65534) must be able to create here.
mkdir -p "$dir" && chmod 1777 "$dir" || { echo "verify_bad_mount.sh: FAIL: mkdir $dir"; exit 1; }
squash() { gluster volume set "$VOL" server.root-squash "$1" >/dev/null; }
trap 'squash off 2>/dev/null; rm -rf "$dir" "$log"' EXIT

# Waits until a directory made by root is owned by uid $1 (a volume option reaches the brick
# through a graph change, not at once).
owner_becomes() {
    local i probe
    for i in $(seq 1 100); do
        probe=$dir/probe.$i
        mkdir "$probe" 2>/dev/null && { [ "$(stat -c %u "$probe")" = "$1" ] && { rmdir "$probe"; return 0; }; rmdir "$probe"; }
        sleep 0.2
    done
    echo "verify_bad_mount.sh: FAIL: directories made by root are not owned by uid $1 after 20 s"
    return 1
}

run_verify() {  # run_verify WHAT: runs verify, its status in $rc, output in $log
    "$CLI" verify --duration 1 "$dir" >"$log" 2>&1
    rc=$?
    echo "verify_bad_mount.sh: $1: exit $rc, $(grep -c FAIL "$log") line(s) with FAIL; $(tail -1 "$log" | cut -c1-120)"
}

fail() { echo "verify_bad_mount.sh: FAIL: $*"; sed 's/^/    /' "$log" | cut -c1-200; exit 1; }

run_verify "as set up"
[ $rc = 0 ] && ! grep -q FAIL "$log" || fail "verify did not pass on the mount as set up"

squash on || fail "gluster volume set $VOL server.root-squash on"
owner_becomes 65534 || exit 1
run_verify "root squashed"
[ $rc != 0 ] || fail "verify exited 0 on a root-squashed mount"
grep -q FAIL "$log" || fail "verify said no FAIL on a root-squashed mount"

squash off || fail "gluster volume set $VOL server.root-squash off"
owner_becomes 0 || exit 1
run_verify "root squash off again"
[ $rc = 0 ] && ! grep -q FAIL "$log" || fail "verify did not pass once root squash was off"
echo "verify_bad_mount.sh: ok: verify passes on the mount, fails on it with root squash, passes again"
