#!/usr/bin/env bash
# Set up a loopback GlusterFS volume mounted twice, so that two "hosts" share one
# network filesystem on this machine:
#
#   brick   : $SRWL_BRICK            (default /srv/srwl-brick)
#   volume  : srwl (single brick, named by $(hostname); never a non-loopback address)
#   mounts  : /mnt/srwl-a  (host A)  and  /mnt/srwl-b  (host B): two FUSE clients
#
# Data-caching translators are switched off (write-behind, flush-behind, io-cache,
# quick-read, read-ahead, open-behind) so that file data is coherent at open(); the
# metadata caches (md-cache, stat-prefetch) stay on, as they are on real clusters.
#
# SRWL_NETFS_MOUNT_OPTS adds client mount options for experiments, e.g.
# "direct-io-mode=enable" (no kernel page cache on either client); it applies only to mounts
# made by this run, so run teardown.sh first to change it.
#
# Idempotent: running it again checks and repairs what is missing.
# Exit 0: ready.  Exit 77: cannot run here (one sentence says why).  Other: failed.
set -u

VOL=srwl
BRICK=${SRWL_BRICK:-/srv/srwl-brick}
MNT_A=${SRWL_MNT_A:-/mnt/srwl-a}
MNT_B=${SRWL_MNT_B:-/mnt/srwl-b}
HOST=$(hostname)

say() { echo "setup.sh: $*"; }
skip() { echo "setup.sh: SKIP: $*" >&2; exit 77; }
die() { echo "setup.sh: FAILED: $*" >&2; exit 1; }
gl() { timeout 60 gluster --mode=script "$@"; }

[ "$(id -u)" = 0 ] || skip "this needs root (it starts glusterd and mounts FUSE filesystems)."
[ -c /dev/fuse ] || modprobe fuse 2>/dev/null
[ -c /dev/fuse ] || skip "there is no /dev/fuse, so GlusterFS client mounts cannot work here."
command -v unshare >/dev/null || skip "unshare (util-linux) is missing."
command -v python3 >/dev/null || skip "python3 is missing."

# ---- 1. packages -----------------------------------------------------------------
if ! command -v glusterd >/dev/null || ! command -v gluster >/dev/null || ! [ -x /sbin/mount.glusterfs ]; then
    say "installing glusterfs-server glusterfs-client with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y glusterfs-server glusterfs-client >/tmp/srwl-netfs-apt.log 2>&1; then
        apt-get update >>/tmp/srwl-netfs-apt.log 2>&1
        apt-get install -y glusterfs-server glusterfs-client >>/tmp/srwl-netfs-apt.log 2>&1 \
            || skip "apt-get could not install glusterfs-server/glusterfs-client (see /tmp/srwl-netfs-apt.log)."
    fi
fi
command -v glusterd >/dev/null || skip "glusterd is not installed and could not be installed."
say "glusterfs: $(gluster --version 2>/dev/null | head -1)"

# ---- 2. glusterd -------------------------------------------------------------------
if gl volume list >/dev/null 2>&1; then
    say "glusterd already running (pid $(pgrep -x glusterd | head -1))"
else
    say "starting glusterd"
    glusterd -p /var/run/glusterd.pid || die "glusterd did not start (see /var/log/glusterfs/glusterd.log)"
    ok=0
    for _ in $(seq 1 60); do
        if gl volume list >/dev/null 2>&1; then ok=1; break; fi
        sleep 0.5
    done
    [ $ok = 1 ] || die "glusterd started but 'gluster volume list' did not answer within 30 s"
    say "glusterd is answering"
fi

# ---- 3. volume ---------------------------------------------------------------------
if gl volume info "$VOL" >/dev/null 2>&1; then
    say "volume $VOL exists"
else
    say "creating brick directory $BRICK and volume $VOL on $HOST:$BRICK"
    mkdir -p "$BRICK" || die "cannot create brick directory $BRICK"
    gl volume create "$VOL" "$HOST:$BRICK" force || die "gluster volume create $VOL failed"
fi

for opt in performance.write-behind performance.flush-behind performance.io-cache \
           performance.quick-read performance.read-ahead performance.open-behind; do
    cur=$(gl volume get "$VOL" "$opt" 2>/dev/null | awk -v o="$opt" '$1==o {print $2}')
    if [ "$cur" != off ]; then
        say "volume set $VOL $opt off (was ${cur:-?})"
        gl volume set "$VOL" "$opt" off >/dev/null || die "gluster volume set $VOL $opt off failed"
    fi
done
say "data caches off; metadata caching: md-cache=$(gl volume get "$VOL" performance.stat-prefetch 2>/dev/null | awk '$1=="performance.stat-prefetch"{print $2}')"

if gl volume info "$VOL" | grep -q '^Status: Started'; then
    say "volume $VOL already started"
else
    say "starting volume $VOL"
    gl volume start "$VOL" force >/dev/null || die "gluster volume start $VOL failed"
fi

# ---- 4. two client mounts ----------------------------------------------------------
mount_one() {
    local m=$1
    if mountpoint -q "$m"; then
        if stat "$m/." >/dev/null 2>&1 && ls "$m" >/dev/null 2>&1; then
            say "$m already mounted"
            return 0
        fi
        say "$m is mounted but dead (transport endpoint?): unmounting it"
        umount -l "$m" 2>/dev/null
    fi
    mkdir -p "$m" || die "cannot create mount point $m"
    say "mount -t glusterfs ${SRWL_NETFS_MOUNT_OPTS:+-o $SRWL_NETFS_MOUNT_OPTS }$HOST:/$VOL $m"
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        if mount -t glusterfs ${SRWL_NETFS_MOUNT_OPTS:+-o "$SRWL_NETFS_MOUNT_OPTS"} "$HOST:/$VOL" "$m" 2>/tmp/srwl-netfs-mount.err; then
            # the FUSE client may need a moment before the first operation works
            for _ in $(seq 1 40); do
                stat "$m/." >/dev/null 2>&1 && ls "$m" >/dev/null 2>&1 && return 0
                sleep 0.25
            done
            umount -l "$m" 2>/dev/null
        fi
        sleep 1
    done
    die "mount -t glusterfs $HOST:/$VOL $m failed: $(cat /tmp/srwl-netfs-mount.err 2>/dev/null)"
}
mount_one "$MNT_A"
mount_one "$MNT_B"
chmod 1777 "$MNT_A" 2>/dev/null

# ---- 5. verify: two clients of one volume -------------------------------------------
probe=".srwl-setup-probe.$$"
echo "hello from A $$" > "$MNT_A/$probe" || die "cannot write through $MNT_A"
got=""
for _ in $(seq 1 20); do
    got=$(cat "$MNT_B/$probe" 2>/dev/null) && [ "$got" = "hello from A $$" ] && break
    sleep 0.25
done
[ "$got" = "hello from A $$" ] || die "a file written through $MNT_A was not readable through $MNT_B (got '$got')"
say "check: file written through $MNT_A is readable through $MNT_B"
err=$(python3 - "$MNT_A/$probe" "$MNT_B/$probe.link" <<'EOF'
import errno, os, sys
try:
    os.link(sys.argv[1], sys.argv[2])
    print("LINKED")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
EOF
)
rm -f "$MNT_A/$probe" "$MNT_B/$probe.link"
[ "$err" = EXDEV ] || die "a hard link from $MNT_A to $MNT_B gave '$err', expected EXDEV: the mounts are not two distinct clients"
say "check: hard link across $MNT_A and $MNT_B fails with EXDEV (two distinct clients)"
say "ready: volume $VOL, host A = $MNT_A, host B = $MNT_B"
exit 0
