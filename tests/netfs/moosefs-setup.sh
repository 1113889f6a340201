#!/usr/bin/env bash
# Set up a MooseFS file system on this machine, mounted by four clients, so that two "hosts"
# share a second network filesystem (with client caches unlike GlusterFS's):
#
#   network   : namespace srwl-mfs, joined to this host by a veth pair with link-local
#               addresses the script assigns ($NET.1 here, $NET.2 inside; default NET
#               169.254.77). mfschunkserver refuses a master address in 127.0.0.0/8, so the
#               master and the chunkserver run inside the namespace; nothing ever talks to an
#               address outside this machine.
#   daemons   : mfsmaster and mfschunkserver in the namespace, normal nice level, state under
#               $SRWL_MFS_STATE (default /var/lib/srwl-mfs)
#   chunks    : a 1 GiB sparse ext4 image, loop-mounted (a space limit in mfshdd.cfg would count
#               the whole shared disk, and every write would fail with ENOSPC)
#   root      : goal 1 (one chunkserver), trashtime 0
#   mounts    : /mnt/srwl-mfs-a and /mnt/srwl-mfs-b: default client caches (directory entries
#               cached 1 s); /mnt/srwl-mfs-nc-a and /mnt/srwl-mfs-nc-b: mfsdirentrycacheto=0.
#               Four mfsmount processes, four client sessions: each pair stands for two hosts.
#
# Idempotent: running it again checks and repairs what is missing.
# Exit 0: ready.  Exit 77: cannot run here (one sentence says why).  Other: failed.
set -u

NS=srwl-mfs
VETH_HOST=srwl-mfs-h
VETH_NS=srwl-mfs-n
NET=${SRWL_MFS_NET:-169.254.77}
MASTER=$NET.2
STATE=${SRWL_MFS_STATE:-/var/lib/srwl-mfs}

say() { echo "moosefs-setup.sh: $*"; }
skip() { echo "moosefs-setup.sh: SKIP: $*" >&2; exit 77; }
die() { echo "moosefs-setup.sh: FAILED: $*" >&2; exit 1; }
inns() { ip netns exec "$NS" "$@"; }

[ "$(id -u)" = 0 ] || skip "this needs root (network namespace, loop mount, FUSE mounts)."
[ -c /dev/fuse ] || modprobe fuse 2>/dev/null
[ -c /dev/fuse ] || skip "there is no /dev/fuse, so mfsmount cannot work here."
case "$NET" in
    169.254.*|10.*|192.168.*) ;;
    *) die "SRWL_MFS_NET=$NET is not a link-local or private prefix" ;;
esac

# ---- 1. packages -----------------------------------------------------------------
PKGS="moosefs-master moosefs-chunkserver moosefs-client moosefs-cli e2fsprogs iproute2"
if ! command -v mfsmaster >/dev/null || ! command -v mfschunkserver >/dev/null \
   || ! command -v mfsmount >/dev/null || ! command -v mfscli >/dev/null \
   || ! command -v mkfs.ext4 >/dev/null || ! command -v ip >/dev/null; then
    say "installing $PKGS with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    if ! apt-get install -y $PKGS >/tmp/srwl-mfs-apt.log 2>&1; then
        apt-get update >>/tmp/srwl-mfs-apt.log 2>&1
        # shellcheck disable=SC2086
        apt-get install -y $PKGS >>/tmp/srwl-mfs-apt.log 2>&1 \
            || die "apt-get could not install $PKGS (see /tmp/srwl-mfs-apt.log)"
    fi
fi
for t in mfsmaster mfschunkserver mfsmount mfscli mfssetgoal mfssettrashtime mkfs.ext4 ip losetup; do
    command -v $t >/dev/null || die "$t is missing after installing $PKGS"
done
say "moosefs: $(mfsmaster -v 2>/dev/null | head -1)"

# ---- 2. network namespace and veth pair -------------------------------------------
if ! ip netns list | grep -qw "^$NS"; then
    say "creating network namespace $NS"
    ip netns add "$NS" || skip "ip netns add $NS failed (no network namespaces here?)"
fi
if ! ip link show "$VETH_HOST" >/dev/null 2>&1; then
    say "creating veth pair $VETH_HOST ($NET.1) <-> $VETH_NS ($MASTER, in $NS)"
    inns ip link del "$VETH_NS" 2>/dev/null
    ip link add "$VETH_HOST" type veth peer name "$VETH_NS" || die "ip link add veth failed"
    ip link set "$VETH_NS" netns "$NS" || die "cannot move $VETH_NS into $NS"
fi
ip addr show dev "$VETH_HOST" | grep -q "inet $NET.1/30" || ip addr add "$NET.1/30" dev "$VETH_HOST" \
    || die "cannot assign $NET.1/30 to $VETH_HOST"
ip link set "$VETH_HOST" up || die "cannot bring $VETH_HOST up"
inns ip link set lo up
inns ip addr show dev "$VETH_NS" | grep -q "inet $MASTER/30" || inns ip addr add "$MASTER/30" dev "$VETH_NS" \
    || die "cannot assign $MASTER/30 to $VETH_NS"
inns ip link set "$VETH_NS" up || die "cannot bring $VETH_NS up"
ok=0
for _ in $(seq 1 20); do
    if ping -c1 -W1 "$MASTER" >/dev/null 2>&1 || ip neigh show "$MASTER" | grep -q lladdr; then ok=1; break; fi
    # ping may be missing: a TCP probe to a closed port fails fast once the link is up
    if timeout 1 bash -c "exec 3<>/dev/tcp/$MASTER/9" 2>&1 | grep -q refused; then ok=1; break; fi
    sleep 0.25
done
[ $ok = 1 ] || die "$MASTER in namespace $NS does not answer over $VETH_HOST"
say "network: $NET.1 (host) <-> $MASTER (namespace $NS)"

# ---- 3. state, configuration, chunk storage ----------------------------------------
mkdir -p "$STATE/etc" "$STATE/master" "$STATE/cs" "$STATE/chunks" || die "cannot create $STATE"
chmod 0700 "$STATE"
cat > "$STATE/etc/mfsmaster.cfg" <<EOF
WORKING_USER = root
WORKING_GROUP = root
SYSLOG_IDENT = srwl-mfsmaster
NICE_LEVEL = 0
LOCK_MEMORY = 0
DATA_PATH = $STATE/master
EXPORTS_FILENAME = $STATE/etc/mfsexports.cfg
TOPOLOGY_FILENAME = $STATE/etc/mfstopology.cfg
MATOML_LISTEN_HOST = $MASTER
MATOCS_LISTEN_HOST = $MASTER
MATOCL_LISTEN_HOST = $MASTER
EOF
echo "$NET.0/30 / rw,alldirs,admin,maproot=0:0" > "$STATE/etc/mfsexports.cfg"
: > "$STATE/etc/mfstopology.cfg"
cat > "$STATE/etc/mfschunkserver.cfg" <<EOF
WORKING_USER = root
WORKING_GROUP = root
SYSLOG_IDENT = srwl-mfschunkserver
NICE_LEVEL = 0
LOCK_MEMORY = 0
DATA_PATH = $STATE/cs
HDD_CONF_FILENAME = $STATE/etc/mfshdd.cfg
HDD_LEAVE_SPACE_DEFAULT = 16MiB
MASTER_HOST = $MASTER
BIND_HOST = $MASTER
CSSERV_LISTEN_HOST = $MASTER
EOF
echo "$STATE/chunks/data" > "$STATE/etc/mfshdd.cfg"

if ! mountpoint -q "$STATE/chunks"; then
    if [ ! -f "$STATE/chunks.img" ]; then
        say "making a 1 GiB sparse ext4 image for the chunks"
        truncate -s 1G "$STATE/chunks.img" && mkfs.ext4 -q -F "$STATE/chunks.img" \
            || die "cannot make the ext4 image $STATE/chunks.img"
    fi
    mount -o loop "$STATE/chunks.img" "$STATE/chunks" \
        || skip "cannot loop-mount $STATE/chunks.img (no loop devices here?)"
fi
mkdir -p "$STATE/chunks/data" || die "cannot create $STATE/chunks/data"
say "chunk storage: $(df -h --output=size,avail "$STATE/chunks" | tail -1 | xargs) (size, free) on a loop device"

# ---- 4. daemons in the namespace ---------------------------------------------------
running() { # running NAME: a process NAME lives in our namespace
    local p
    for p in $(ip netns pids "$NS" 2>/dev/null); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ] && return 0
    done
    return 1
}
if running mfsmaster; then
    say "mfsmaster already running in $NS"
else
    [ -f "$STATE/master/metadata.mfs" ] || [ -f "$STATE/master/metadata.mfs.back" ] \
        || cp /var/lib/mfs/metadata.mfs.empty "$STATE/master/metadata.mfs" 2>/dev/null \
        || echo -n "MFSM NEW" > "$STATE/master/metadata.mfs" || die "cannot create empty metadata"
    say "starting mfsmaster in $NS (listening on $MASTER)"
    inns mfsmaster -a -c "$STATE/etc/mfsmaster.cfg" start >"$STATE/master.log" 2>&1 \
        || die "mfsmaster did not start: $(tail -3 "$STATE/master.log")"
fi
if running mfschunkserver; then
    say "mfschunkserver already running in $NS"
else
    say "starting mfschunkserver in $NS"
    inns mfschunkserver -c "$STATE/etc/mfschunkserver.cfg" start >"$STATE/chunkserver.log" 2>&1 \
        || die "mfschunkserver did not start: $(tail -3 "$STATE/chunkserver.log")"
fi
ok=0
for _ in $(seq 1 120); do
    # one chunkserver registered with the master, with its disk
    if mfscli -H "$MASTER" -SCS -s '|' 2>/dev/null | grep -q "$MASTER"; then ok=1; break; fi
    sleep 0.5
done
[ $ok = 1 ] || die "the chunkserver did not register with the master within 60 s ($(tail -3 "$STATE/chunkserver.log"))"
say "chunkserver registered with the master"

# ---- 5. four client mounts ----------------------------------------------------------
mount_one() { # mount_one MOUNTPOINT [MFSMOUNT OPTIONS]
    local m=$1 o=${2:-}
    if mountpoint -q "$m"; then
        if stat "$m/." >/dev/null 2>&1 && ls "$m" >/dev/null 2>&1; then
            say "$m already mounted"
            return 0
        fi
        say "$m is mounted but dead: unmounting it"
        umount -l "$m" 2>/dev/null
    fi
    mkdir -p "$m" || die "cannot create mount point $m"
    say "mfsmount $m -H $MASTER${o:+ -o $o}"
    local i
    for i in 1 2 3 4 5; do
        if mfsmount "$m" -H "$MASTER" ${o:+-o "$o"} >/tmp/srwl-mfs-mount.err 2>&1; then
            for _ in $(seq 1 40); do
                stat "$m/." >/dev/null 2>&1 && ls "$m" >/dev/null 2>&1 && return 0
                sleep 0.25
            done
            umount -l "$m" 2>/dev/null
        fi
        sleep 1
    done
    die "mfsmount $m -H $MASTER failed: $(cat /tmp/srwl-mfs-mount.err 2>/dev/null)"
}
mount_one /mnt/srwl-mfs-a
mount_one /mnt/srwl-mfs-b
mount_one /mnt/srwl-mfs-nc-a mfsdirentrycacheto=0
mount_one /mnt/srwl-mfs-nc-b mfsdirentrycacheto=0
chmod 1777 /mnt/srwl-mfs-a 2>/dev/null
mfssetgoal 1 /mnt/srwl-mfs-a >/dev/null || die "mfssetgoal 1 on the root failed"
mfssettrashtime 0 /mnt/srwl-mfs-a >/dev/null || die "mfssettrashtime 0 on the root failed"
say "root: goal $(mfsgetgoal /mnt/srwl-mfs-a | awk '{print $2}'), trashtime $(mfsgettrashtime /mnt/srwl-mfs-a | awk '{print $2}')"

# ---- 6. verify: distinct clients of one file system ------------------------------------
probe=".srwl-mfs-setup-probe.$$"
echo "hello from A $$" > "/mnt/srwl-mfs-a/$probe" || die "cannot write through /mnt/srwl-mfs-a"
for m in /mnt/srwl-mfs-b /mnt/srwl-mfs-nc-a /mnt/srwl-mfs-nc-b; do
    got=""
    for _ in $(seq 1 20); do
        got=$(cat "$m/$probe" 2>/dev/null) && [ "$got" = "hello from A $$" ] && break
        sleep 0.25
    done
    [ "$got" = "hello from A $$" ] || die "a file written through /mnt/srwl-mfs-a was not readable through $m (got '$got')"
done
say "check: a file written through /mnt/srwl-mfs-a is readable through the other three mounts"
err=$(python3 - "/mnt/srwl-mfs-a/$probe" "/mnt/srwl-mfs-b/$probe.link" <<'EOF'
import errno, os, sys
try:
    os.link(sys.argv[1], sys.argv[2])
    print("LINKED")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
EOF
)
rm -f "/mnt/srwl-mfs-a/$probe" "/mnt/srwl-mfs-b/$probe.link"
[ "$err" = EXDEV ] || die "a hard link from /mnt/srwl-mfs-a to /mnt/srwl-mfs-b gave '$err', expected EXDEV: not two clients"
say "check: hard link across /mnt/srwl-mfs-a and /mnt/srwl-mfs-b fails with EXDEV (two distinct clients)"
say "ready: default caches: A = /mnt/srwl-mfs-a, B = /mnt/srwl-mfs-b; mfsdirentrycacheto=0: A = /mnt/srwl-mfs-nc-a, B = /mnt/srwl-mfs-nc-b"
exit 0
