#!/usr/bin/env python3
"""A grant on one client right after another client's write cycle (issue 13).

Every write grant removes the room `R` and its release makes a new one. A client that looked
at `R` shortly before may still resolve the name to the removed directory: mfsmount gives
directories a kernel entry timeout (mfsdirentrycacheto, 1 s by default). The library asks for
the name afresh before it opens the room again (fs.rs: `refresh_name`); without that, the
grant below waited for the cache to expire (0.9-1 s per round on MooseFS's default mounts).

Each round, through one lock seen by two client mounts A and B:
  1. B takes and drops a read hold (B's kernel now caches `R`);
  2. A takes and drops a write hold (a new `R`);
  3. at once, B takes a write hold (then, in the next round, a read hold) and the time to the
     grant is measured.

Then, with --busy: 4 readers on A take and drop read holds in a loop while a writer on B takes
8 write holds, 0.1 s apart. A reader's record is its template's inode, and the writer waiting
for the room reads those records (eviction). When the template was kept open and rewritten at
every read acquire, mfsmount kept its chunk locked and each such read waited up to seconds: the
writer's median wait was 2.7 s (BENCHMARKS.md, 1 writer + 24 readers). The template is now
written once (room.rs: `Template`).

  handoff.py [--rounds N] [--limit S] [--busy] [--busy-limit S] MNT_A MNT_B

Exit 0 when the median time to B's grant is under --limit (default 0.4 s: well above the
tens of milliseconds the grant takes, well below the cache's second) and, with --busy, the
writer's median wait under --busy-limit (default 0.2 s: 5 ms now, 0.46-0.82 s with the
template rewritten at every acquire), 1 otherwise, 77 when the mounts or the library are
missing. Uses python/softrwlock over target/netfs/lib (build-worker.sh).
"""
import argparse
import os
import shutil
import statistics
import sys
import time

import softrwlock_here as here


def busy_reader(path, stop, opts):
    import softrwlock as s
    lock = s.Lock(path, **opts)
    while not stop.is_set():
        lock.acquire_read(30.0)
        time.sleep(0.002)
        lock.release()
    lock.close()


def busy(s, path_a, path_b, opts):
    """The writer's waits on B while 4 readers on A keep taking read holds."""
    import multiprocessing as mp

    stop = mp.Event()
    readers = [mp.Process(target=busy_reader, args=(path_a, stop, opts)) for _ in range(4)]
    for r in readers:
        r.start()
    waits = []
    try:
        time.sleep(1.0)
        lock = s.Lock(path_b, **opts)
        for _ in range(8):
            time.sleep(0.1)
            t = time.monotonic()
            try:
                lock.acquire_write(10.0)
            except s.Timeout:
                waits.append(10.0)
                continue
            waits.append(time.monotonic() - t)
            time.sleep(0.002)
            lock.release()
        lock.close()
    finally:
        stop.set()
        for r in readers:
            r.join(60)
    return waits


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--limit", type=float, default=0.4)
    ap.add_argument("--busy", action="store_true")
    ap.add_argument("--busy-limit", type=float, default=0.2)
    ap.add_argument("mnt_a")
    ap.add_argument("mnt_b")
    a = ap.parse_args()
    if here.missing("handoff.py", (a.mnt_a, a.mnt_b)):
        return 77
    s = here.softrwlock()

    sub = f"handoff-{os.getpid()}"
    os.mkdir(os.path.join(a.mnt_a, sub), 0o700)
    try:
        time.sleep(1.5)  # the directory is visible through B (its own name cache expired)
        opts = dict(heartbeat_interval=0.5, stale_threshold=10.0, poll_interval=0.05)
        lock_a = s.Lock(os.path.join(a.mnt_a, sub, "h.lock"), **opts)
        lock_b = s.Lock(os.path.join(a.mnt_b, sub, "h.lock"), **opts)
        times = {"write": [], "read": []}
        for i in range(a.rounds):
            mode = "write" if i % 2 == 0 else "read"
            lock_b.acquire_read(10.0)
            lock_b.release()
            lock_a.acquire_write(10.0)
            lock_a.release()
            t = time.monotonic()
            (lock_b.acquire_write if mode == "write" else lock_b.acquire_read)(10.0)
            times[mode].append(time.monotonic() - t)
            lock_b.release()
        lock_a.close()
        lock_b.close()
        if a.busy:
            waits = busy(s, os.path.join(a.mnt_a, sub, "busy.lock"),
                         os.path.join(a.mnt_b, sub, "busy.lock"), opts)
    finally:
        shutil.rmtree(os.path.join(a.mnt_a, sub), ignore_errors=True)
    every = times["write"] + times["read"]
    median = statistics.median(every)
    for mode, ts in times.items():
        print(f"handoff.py: {mode} grant on B after A's write cycle: median "
              f"{statistics.median(ts) * 1000:.1f} ms, max {max(ts) * 1000:.1f} ms "
              f"({len(ts)} rounds)")
    failed = median >= a.limit
    if failed:
        print(f"handoff.py: FAIL: median {median * 1000:.1f} ms, limit {a.limit * 1000:.0f} ms")
    if a.busy:
        wm = statistics.median(waits)
        print(f"handoff.py: writer on B among 4 busy readers on A: median wait {wm * 1000:.1f} "
              f"ms, max {max(waits) * 1000:.1f} ms ({len(waits)} writes)")
        if wm >= a.busy_limit:
            print(f"handoff.py: FAIL: the writer's median wait {wm * 1000:.1f} ms, limit "
                  f"{a.busy_limit * 1000:.0f} ms")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
