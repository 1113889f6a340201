#!/usr/bin/env bash
# Undo moosefs-setup.sh: unmount the four clients, stop the daemons of the srwl-mfs network
# namespace (only processes inside it), remove the namespace and the veth pair, unmount the
# chunk image and remove the state directory. Idempotent: whatever is already gone is skipped.
set -u
NS=srwl-mfs
VETH_HOST=srwl-mfs-h
STATE=${SRWL_MFS_STATE:-/var/lib/srwl-mfs}
say() { echo "moosefs-teardown.sh: $*"; }

[ "$(id -u)" = 0 ] || { echo "moosefs-teardown.sh: SKIP: this needs root." >&2; exit 77; }

for m in /mnt/srwl-mfs-a /mnt/srwl-mfs-b /mnt/srwl-mfs-nc-a /mnt/srwl-mfs-nc-b; do
    if mountpoint -q "$m" 2>/dev/null || grep -q " $m fuse" /proc/mounts; then
        say "unmounting $m"
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "WARNING: could not unmount $m"
    fi
    rmdir "$m" 2>/dev/null
done

if ip netns list 2>/dev/null | grep -qw "^$NS"; then
    pids=$(ip netns pids "$NS" 2>/dev/null)
    if [ -n "$pids" ]; then
        say "stopping the processes of namespace $NS: $(echo $pids)"
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null
        for _ in $(seq 1 60); do
            [ -z "$(ip netns pids "$NS" 2>/dev/null)" ] && break
            sleep 0.25
        done
        pids=$(ip netns pids "$NS" 2>/dev/null)
        # shellcheck disable=SC2086
        [ -z "$pids" ] || { say "killing $(echo $pids)"; kill -KILL $pids 2>/dev/null; sleep 0.5; }
    fi
    say "deleting network namespace $NS"
    ip netns del "$NS" || say "WARNING: ip netns del $NS failed"
fi
if ip link show "$VETH_HOST" >/dev/null 2>&1; then
    say "deleting veth $VETH_HOST"
    ip link del "$VETH_HOST" || say "WARNING: ip link del $VETH_HOST failed"
fi

if mountpoint -q "$STATE/chunks" 2>/dev/null; then
    say "unmounting the chunk image"
    umount "$STATE/chunks" 2>/dev/null || umount -l "$STATE/chunks" || say "WARNING: could not unmount $STATE/chunks"
fi
if [ -d "$STATE" ] && ! mountpoint -q "$STATE/chunks" 2>/dev/null; then
    say "removing $STATE"
    rm -rf "$STATE"
fi
say "done"
exit 0
