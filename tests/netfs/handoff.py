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

  handoff.py [--rounds N] [--limit S] MNT_A MNT_B

Exit 0 when the median time to B's grant is under --limit (default 0.4 s: well above the
tens of milliseconds the grant takes, well below the cache's second), 1 otherwise, 77 when
the mounts or the library are missing. Uses python/softrwlock over target/netfs/lib
(build-worker.sh).
"""
import argparse
import os
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(ROOT, "target/netfs/lib/libsoftrwlock.so.0")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--limit", type=float, default=0.4)
    ap.add_argument("mnt_a")
    ap.add_argument("mnt_b")
    a = ap.parse_args()
    for m in (a.mnt_a, a.mnt_b):
        if not os.path.ismount(m):
            print(f"handoff.py: SKIP: {m} is not a mount point")
            return 77
    if not os.path.exists(LIB):
        print(f"handoff.py: SKIP: {LIB} is missing (run tests/netfs/build-worker.sh)")
        return 77
    os.environ["SOFTRWLOCK_LIB"] = LIB
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import softrwlock as s

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
    finally:
        shutil.rmtree(os.path.join(a.mnt_a, sub), ignore_errors=True)
    every = times["write"] + times["read"]
    median = statistics.median(every)
    for mode, ts in times.items():
        print(f"handoff.py: {mode} grant on B after A's write cycle: median "
              f"{statistics.median(ts) * 1000:.1f} ms, max {max(ts) * 1000:.1f} ms "
              f"({len(ts)} rounds)")
    if median >= a.limit:
        print(f"handoff.py: FAIL: median {median * 1000:.1f} ms, limit {a.limit * 1000:.0f} ms")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
