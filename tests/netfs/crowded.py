#!/usr/bin/env python3
"""A crowded room on two clients of a network filesystem.

Through GlusterFS a getdents64 batch holds at most 33 entries, whatever the buffer size; a
listing that stopped after a short batch once let a reader miss what was in the room. This
check fills the room with more readers than three such batches and makes sure that every
decision that rests on a listing of the room still comes out right:

  1. host A: N readers (one handle each, each with its own stale threshold, so that none joins
     another's record through the host share) hold the read lock: the room holds N records;
  2. host B: a new reader is granted (it must find the baton among N + 1 entries);
  3. host B: a writer's try-once acquire times out (readers inside), and a writer waiting
     with a timeout of 2 s times out too and leaves nothing behind (its baton goes back);
  4. host A: the readers release; host B: the writer is granted at once (within 1 s) and its generation
     is larger than the readers';
  5. host A: while the writer holds, a reader's try-once acquire times out;
  6. host B removes host A's reader-record templates (as a tidy-up that guessed wrong would;
     host A's client may still answer a stat of them from its cache): host A's readers still
     get in, each making a new template.

Usage: crowded.py [MNT_A MNT_B]: the two client mounts (default /mnt/srwl-a /mnt/srwl-b, the
GlusterFS test bed of setup.sh; run-moosefs.sh passes the MooseFS ones). Run by run-ci.sh and
run-moosefs.sh. Uses python/softrwlock.py over target/netfs/lib (build-worker.sh).
Exit 0 pass, 1 fail, 77 skip.
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
N = int(os.environ.get("SRWL_CROWD", "100"))
AT_ONCE = 1.0


def fail(msg):
    print(f"crowded.py: FAIL: {msg}")
    sys.exit(1)


def main():
    lib = os.path.join(ROOT, "target/netfs/lib/libsoftrwlock.so.0")
    a, b = sys.argv[1:3] if len(sys.argv) == 3 else ("/mnt/srwl-a", "/mnt/srwl-b")
    if not (os.path.ismount(a) and os.path.ismount(b)) or not os.path.exists(lib):
        print("crowded.py: SKIP: mounts or library missing (run setup.sh and build-worker.sh)")
        return 77
    os.environ["SOFTRWLOCK_LIB"] = lib
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import softrwlock as s

    rel = f"crowded/{os.getpid()}-{int(time.time())}/lock"
    os.makedirs(os.path.dirname(os.path.join(a, rel)), exist_ok=True)
    opts = dict(heartbeat_interval=0.5, stale_threshold=3.0, poll_interval=0.05)

    # 1. N readers on host A (handles in this process: the room holds N records). Each has its
    # own stale threshold (3 s plus i ms): readers of one host join each other's record (the
    # host share) only with the same lease, and this check needs N records in the room.
    readers = [
        s.Lock(os.path.join(a, rel), **dict(opts, stale_threshold=3.0 + i / 1000.0))
        for i in range(N)
    ]
    for r in readers:
        r.acquire_read(5.0)
    room = os.path.join(a, rel + ".srwl/R")
    names = os.listdir(room)
    if sum(n.startswith("r.") for n in names) != N or sum(n.startswith("baton.") for n in names) != 1:
        fail(f"expected {N} reader records and one baton in the room, found {len(names)} entries")

    # 2-3. Host B: another client mount (its own cache and listing batches).
    probe = subprocess.run(
        [sys.executable, "-c", PROBE_B, os.path.join(b, rel), str(N)],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))
    print(probe.stdout, end="")
    if probe.returncode != 0:
        fail(f"host B: {probe.stderr.strip() or probe.stdout.strip()}")

    gens = {r.generation() for r in readers}
    # 4. Readers release; a writer on host B gets in at once.
    for r in readers:
        r.release()
    w = s.Lock(os.path.join(b, rel), **opts)
    t = time.monotonic()
    w.acquire_write(5.0)
    took = time.monotonic() - t
    # "At once": no reader is left, so nothing may hold it back; a second covers a few polls
    # (0.05 s) and the other client's metadata cache, far below the stale threshold (3 s).
    if took > AT_ONCE:
        fail(f"the writer took {took:.3f} s after the readers left (more than {AT_ONCE} s)")
    g = w.generation()
    if not all(g > x for x in gens):
        fail(f"writer generation {g} is not above the readers' {sorted(gens)}")
    # 5. A reader on host A cannot get in beside it.
    try:
        readers[0].acquire_read(0)
        fail("a reader was granted beside the writer")
    except s.Timeout:
        pass
    w.release()
    readers[0].acquire_read(5.0)
    readers[0].release()
    # 6. Templates removed by the other client under live handles.
    side_b = os.path.join(b, rel + ".srwl")
    gone = [n for n in os.listdir(side_b) if n.startswith("h.")]
    if len(gone) != N:
        fail(f"expected {N} reader-record templates in the sidecar, found {len(gone)}")
    for n in gone:
        os.unlink(os.path.join(side_b, n))
    t = time.monotonic()
    for r in readers[:5]:
        r.acquire_read(5.0)
        r.release()
    regained = time.monotonic() - t
    made = [n for n in os.listdir(side_b) if n.startswith("h.")]
    if len(made) != 5 or set(made) & set(gone):
        fail(f"expected 5 new templates after host B removed them all, found {made}")
    for r in readers:
        r.close()
    w.close()
    print(f"crowded.py: ok: {N} readers in the room; a reader on the other client got in among "
          f"{N + 1} entries; writers timed out while they held; a writer got in {took:.3f} s after "
          f"they left; a reader could not get in beside it; with their templates removed by the "
          f"other client, 5 readers got in again in {regained:.3f} s")
    return 0


PROBE_B = r"""
import sys, time, softrwlock as s
path, n = sys.argv[1], int(sys.argv[2])
opts = dict(heartbeat_interval=0.5, stale_threshold=3.0, poll_interval=0.05)
r = s.Lock(path, **opts)
t = time.monotonic()
r.acquire_read(10.0)          # must find the baton among n + 1 entries
took = time.monotonic() - t
r.release()
w = s.Lock(path, **opts)
try:
    w.acquire_write(0)
    sys.exit("a writer was granted while %d readers held" % n)
except s.Timeout:
    pass
try:
    w.acquire_write(2.0)
    sys.exit("a waiting writer was granted while %d readers held" % n)
except s.Timeout:
    pass
r.acquire_read(10.0)          # the timed-out writer gave the baton back
r.release()
print("crowded.py: host B: reader granted in %.3f s among %d entries; writers timed out" % (took, n + 1))
"""

if __name__ == "__main__":
    sys.exit(main())
