#!/usr/bin/env bash
# Undo setup.sh: unmount the six clients, stop and delete both volumes (srwl and the
# default-options srwl-d), stop glusterd, remove the bricks. Idempotent: whatever is already
# gone is skipped.
set -u
VOL=srwl
BRICK=${SRWL_BRICK:-/srv/srwl-brick}
MNT_A=${SRWL_MNT_A:-/mnt/srwl-a}
MNT_B=${SRWL_MNT_B:-/mnt/srwl-b}
DVOL=srwl-d
DBRICK=$BRICK-d
say() { echo "teardown.sh: $*"; }
gl() { timeout 60 gluster --mode=script "$@"; }

[ "$(id -u)" = 0 ] || { echo "teardown.sh: SKIP: this needs root." >&2; exit 77; }

for m in "$MNT_A" "$MNT_B" /mnt/srwl-d-a /mnt/srwl-d-b /mnt/srwl-dq-a /mnt/srwl-dq-b; do
    if mountpoint -q "$m" 2>/dev/null || grep -q " $m fuse" /proc/mounts; then
        say "unmounting $m"
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "WARNING: could not unmount $m"
    fi
    rmdir "$m" 2>/dev/null
done

if command -v gluster >/dev/null && gl volume list >/dev/null 2>&1; then
    for v in "$VOL" "$DVOL"; do
        if gl volume info "$v" >/dev/null 2>&1; then
            if gl volume info "$v" | grep -q '^Status: Started'; then
                say "stopping volume $v"
                gl volume stop "$v" force >/dev/null || say "WARNING: volume stop $v failed"
            fi
            say "deleting volume $v"
            gl volume delete "$v" >/dev/null || say "WARNING: volume delete $v failed"
        fi
    done
fi

stop_pids() {  # stop the given pids: TERM, wait up to 10 s, then KILL
    local p
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null
    for _ in $(seq 1 40); do
        local alive=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && return 0
        sleep 0.25
    done
    kill -KILL "$@" 2>/dev/null
}
# glusterd, and the brick processes (glusterfsd) it started for these volumes only
gd=$(pgrep -x glusterd)
if [ -n "$gd" ]; then
    say "stopping glusterd (pid $gd)"
    # shellcheck disable=SC2086
    stop_pids $gd
fi
bp=$(pgrep -f "glusterfsd .*--volfile-id ($VOL|$DVOL)\." )
if [ -n "$bp" ]; then
    say "stopping leftover brick process(es) $bp"
    # shellcheck disable=SC2086
    stop_pids $bp
fi

for b in "$BRICK" "$DBRICK"; do
    if [ -d "$b" ]; then
        say "removing brick $b"
        rm -rf "$b"
    fi
done
say "done"
exit 0
