#!/usr/bin/env bash
# Set up two loopback GlusterFS volumes, each mounted twice, so that two "hosts" share one
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
#   brick   : $SRWL_BRICK-d          (default /srv/srwl-brick-d)
#   volume  : srwl-d, GlusterFS's default options (write-behind, flush-behind, open-behind,
#             quick-read on, as users run it)
#   mounts  : /mnt/srwl-d-a (host A) and /mnt/srwl-d-b (host B); and /mnt/srwl-dq-a and
#             /mnt/srwl-dq-b: the same volume through clients mounted with
#             -o xlator-option=srwl-d-quick-read.max-file-size=0 (no quick-read copies)
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
# the default-options volume
DVOL=srwl-d
DBRICK=$BRICK-d
DMNT_A=/mnt/srwl-d-a
DMNT_B=/mnt/srwl-d-b
QMNT_A=/mnt/srwl-dq-a
QMNT_B=/mnt/srwl-dq-b
QOPT="xlator-option=$DVOL-quick-read.max-file-size=0"
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

if gl volume info "$DVOL" >/dev/null 2>&1; then
    say "volume $DVOL exists"
else
    say "creating brick directory $DBRICK and volume $DVOL on $HOST:$DBRICK (default options)"
    mkdir -p "$DBRICK" || die "cannot create brick directory $DBRICK"
    gl volume create "$DVOL" "$HOST:$DBRICK" force || die "gluster volume create $DVOL failed"
fi
dopts=""
for opt in performance.write-behind performance.flush-behind performance.open-behind performance.quick-read; do
    cur=$(gl volume get "$DVOL" "$opt" 2>/dev/null | awk -v o="$opt" '$1==o {print $2}')
    if [ "$cur" != on ]; then  # an earlier experiment changed it: back to GlusterFS's default
        say "volume reset $DVOL $opt (was ${cur:-?})"
        gl volume reset "$DVOL" "$opt" >/dev/null || die "gluster volume reset $DVOL $opt failed"
        cur=$(gl volume get "$DVOL" "$opt" 2>/dev/null | awk -v o="$opt" '$1==o {print $2}')
    fi
    if [ "$cur" != on ]; then  # another GlusterFS release with other defaults: the test wants it on
        say "volume set $DVOL $opt on (off by default in this GlusterFS release)"
        gl volume set "$DVOL" "$opt" on >/dev/null || die "gluster volume set $DVOL $opt on failed"
    fi
    dopts="$dopts ${opt#performance.}=on"
done
say "volume $DVOL:$dopts"

for v in "$VOL" "$DVOL"; do
    if gl volume info "$v" | grep -q '^Status: Started'; then
        say "volume $v already started"
    else
        say "starting volume $v"
        gl volume start "$v" force >/dev/null || die "gluster volume start $v failed"
    fi
done

# ---- 4. two client mounts ----------------------------------------------------------
mount_one() { # mount_one MOUNTPOINT [VOLUME [OPTIONS]]
    local m=$1 vol=${2:-$VOL} o=${3-${SRWL_NETFS_MOUNT_OPTS:-}}
    if mountpoint -q "$m"; then
        if stat "$m/." >/dev/null 2>&1 && ls "$m" >/dev/null 2>&1; then
            say "$m already mounted"
            return 0
        fi
        say "$m is mounted but dead (transport endpoint?): unmounting it"
        umount -l "$m" 2>/dev/null
    fi
    mkdir -p "$m" || die "cannot create mount point $m"
    say "mount -t glusterfs ${o:+-o $o }$HOST:/$vol $m"
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        if mount -t glusterfs ${o:+-o "$o"} "$HOST:/$vol" "$m" 2>/tmp/srwl-netfs-mount.err; then
            # the FUSE client may need a moment before the first operation works
            for _ in $(seq 1 40); do
                stat "$m/." >/dev/null 2>&1 && ls "$m" >/dev/null 2>&1 && return 0
                sleep 0.25
            done
            umount -l "$m" 2>/dev/null
        fi
        sleep 1
    done
    die "mount -t glusterfs $HOST:/$vol $m failed: $(cat /tmp/srwl-netfs-mount.err 2>/dev/null)"
}
mount_one "$MNT_A"
mount_one "$MNT_B"
mount_one "$DMNT_A" "$DVOL"
mount_one "$DMNT_B" "$DVOL"
# The same volume through clients that keep no quick-read copies (README: "Your data under the
# lock": no call on a client can drop them).
mount_one "$QMNT_A" "$DVOL" "$QOPT"
mount_one "$QMNT_B" "$DVOL" "$QOPT"
chmod 1777 "$MNT_A" "$DMNT_A" 2>/dev/null

# ---- 5. verify: two clients of one volume -------------------------------------------
check_pair() { # check_pair MNT_A MNT_B
    local a=$1 b=$2 probe=".srwl-setup-probe.$$" got="" err
    echo "hello from A $$" > "$a/$probe" || die "cannot write through $a"
    for _ in $(seq 1 20); do
        got=$(cat "$b/$probe" 2>/dev/null) && [ "$got" = "hello from A $$" ] && break
        sleep 0.25
    done
    [ "$got" = "hello from A $$" ] || die "a file written through $a was not readable through $b (got '$got')"
    say "check: file written through $a is readable through $b"
    err=$(python3 - "$a/$probe" "$b/$probe.link" <<'EOF'
import errno, os, sys
try:
    os.link(sys.argv[1], sys.argv[2])
    print("LINKED")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
EOF
)
    rm -f "$a/$probe" "$b/$probe.link"
    [ "$err" = EXDEV ] || die "a hard link from $a to $b gave '$err', expected EXDEV: the mounts are not two distinct clients"
    say "check: hard link across $a and $b fails with EXDEV (two distinct clients)"
}
check_pair "$MNT_A" "$MNT_B"
check_pair "$DMNT_A" "$DMNT_B"
check_pair "$QMNT_A" "$QMNT_B"
say "ready: volume $VOL, host A = $MNT_A, host B = $MNT_B; volume $DVOL (default options), host A = $DMNT_A, host B = $DMNT_B; the same through clients without quick-read copies ($QOPT): $QMNT_A, $QMNT_B"
exit 0
