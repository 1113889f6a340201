#!/usr/bin/env bash
# onhost.sh A|B CMD [ARGS...]
#
# Run CMD as a process of simulated "host A" or "host B": in new UTS, PID and mount
# namespaces (unshare --uts --pid --fork --mount-proc), with hostname node-a / node-b,
# and with that host's client mount exported as SRWL_MNT: $SRWL_MNT_A or $SRWL_MNT_B
# (default /mnt/srwl-a and /mnt/srwl-b, the GlusterFS mounts of setup.sh; stress.py sets them
# from --mnt-a/--mnt-b, e.g. to the MooseFS mounts). CMD is pid 1 of its namespace, so
# pids collide across hosts as they do on a real cluster, and when CMD exits every
# process it left in the namespace is killed.
#
# Needs root (unshare of PID/UTS namespaces). Exit 77 if it cannot make the namespaces.
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 A|B CMD [ARGS...]" >&2
    exit 2
fi
case "$1" in
    A|a) H=node-a; M=${SRWL_MNT_A:-/mnt/srwl-a}; L=A ;;
    B|b) H=node-b; M=${SRWL_MNT_B:-/mnt/srwl-b}; L=B ;;
    *) echo "onhost.sh: host must be A or B, not '$1'" >&2; exit 2 ;;
esac
shift
if ! mountpoint -q "$M"; then
    echo "onhost.sh: $M is not mounted: run tests/netfs/setup.sh first" >&2
    exit 77
fi
if ! unshare --uts --pid --fork --mount-proc true 2>/dev/null; then
    echo "onhost.sh: SKIP: unshare --uts --pid --fork --mount-proc does not work here (needs root)." >&2
    exit 77
fi
export SRWL_MNT="$M" SRWL_HOST="$L" SRWL_HOSTNAME="$H"
exec unshare --uts --pid --fork --mount-proc --kill-child \
    /bin/sh -c 'hostname "$SRWL_HOSTNAME" || exit 77; exec "$@"' onhost "$@"
