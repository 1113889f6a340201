#!/usr/bin/env python3
"""Probe what one GlusterFS client sees of another's changes (no lock involved).

  python3 tests/netfs/probe-coherence.py [ROUNDS]     (after setup.sh)

1. page cache: client A rewrites a small file in place; client B opens and reads it, buffered,
   after posix_fadvise(DONTNEED), and with O_DIRECT; counts reads that returned old bytes
   (B only reading, and B also writing every other round); then how long B's buffered
   open+read keeps returning the old bytes when B polls.
2. replaced directory: A renames a prepared directory onto an empty directory R; B opens R by
   name and through a parent directory handle until it sees the new one; counts ESTALE.
Results in docs/RELIABILITY-netfs-notes.md (finding 1).
"""
import errno
import mmap
import os
import sys
import time

A = os.environ.get("SRWL_MNT_A", "/mnt/srwl-a")
B = os.environ.get("SRWL_MNT_B", "/mnt/srwl-b")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
BUF = mmap.mmap(-1, 4096)


def rd_buffered(p):
    fd = os.open(p, os.O_RDONLY)
    try:
        return os.pread(fd, 64, 0)
    finally:
        os.close(fd)


def rd_fadvise(p):
    fd = os.open(p, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return os.pread(fd, 64, 0)
    finally:
        os.close(fd)


def rd_direct(p):
    fd = os.open(p, os.O_RDONLY | os.O_DIRECT)
    try:
        n = os.preadv(fd, [BUF], 0)
        return bytes(BUF[:n])
    finally:
        os.close(fd)


def write_at(p, data):
    fd = os.open(p, os.O_WRONLY)
    try:
        os.pwrite(fd, data, 0)
    finally:
        os.close(fd)


def page_cache():
    name = f"probe-cache.{os.getpid()}"
    pa, pb = os.path.join(A, name), os.path.join(B, name)
    with open(pa, "w") as f:
        f.write("%020d\n" % 0)
    time.sleep(1.5)
    i = 0
    for b_writes in (False, True):
        for label, rd in (("buffered", rd_buffered), ("fadvise(DONTNEED)", rd_fadvise), ("O_DIRECT", rd_direct)):
            stale = 0
            for _ in range(N):
                i += 1
                want = ("%020d\n" % i).encode()
                write_at(pa, want)
                if rd(pb) != want:
                    stale += 1
                if b_writes and i % 2 == 0:
                    write_at(pb, want)
            print(f"page cache: B {'reads and writes' if b_writes else 'only reads'}, {label}: "
                  f"{stale}/{N} reads returned old bytes")
    ages = []
    for _ in range(5):
        i += 1
        want = ("%020d\n" % i).encode()
        write_at(pa, want)
        t0 = time.monotonic()
        while rd_buffered(pb) != want and time.monotonic() - t0 < 20:
            time.sleep(0.05)
        ages.append(round(time.monotonic() - t0, 2) if rd_buffered(pb) == want else ">20")
    print(f"page cache: seconds until B's polling buffered reads saw A's rewrite: {ages}")
    os.unlink(pa)


def replaced_dir():
    top = f"probe-dir.{os.getpid()}"
    ta, tb = os.path.join(A, top), os.path.join(B, top)
    os.makedirs(os.path.join(ta, "R"))
    time.sleep(1.5)
    pfd = os.open(tb, os.O_RDONLY | os.O_DIRECTORY)
    for how in ("by name", "through a parent handle"):
        res = []
        rounds = max(10, N // 5)
        for i in range(rounds):
            def open_r():
                if how == "by name":
                    return os.open(os.path.join(tb, "R"), os.O_RDONLY | os.O_DIRECTORY)
                return os.open("R", os.O_RDONLY | os.O_DIRECTORY, dir_fd=pfd)
            fd = open_r()
            os.listdir(fd)
            os.close(fd)
            w = os.path.join(ta, f"W.{how[0]}{i}")
            os.mkdir(w)
            os.mkdir(os.path.join(w, "closed"))
            os.rename(w, os.path.join(ta, "R"))
            t0 = time.monotonic()
            n_estale = 0
            while time.monotonic() - t0 < 20:
                try:
                    fd = open_r()
                    names = os.listdir(fd)
                    os.close(fd)
                    if "closed" in names:
                        break
                except OSError as e:
                    if e.errno != errno.ESTALE:
                        raise
                    n_estale += 1
                time.sleep(0.01)
            res.append((time.monotonic() - t0, n_estale))
            os.rmdir(os.path.join(ta, "R", "closed"))
        ts = sorted(r[0] for r in res)
        print(f"replaced directory, B opens R {how}: {rounds} rounds, median {ts[len(ts) // 2]:.3f} s, "
              f"max {ts[-1]:.3f} s to see the new R; rounds with ESTALE first: {sum(1 for r in res if r[1])}")
    os.close(pfd)
    os.rmdir(os.path.join(ta, "R"))
    os.rmdir(ta)


if __name__ == "__main__":
    for m in (A, B):
        if not os.path.ismount(m):
            print(f"probe-coherence.py: SKIP: {m} is not mounted (run tests/netfs/setup.sh)", file=sys.stderr)
            sys.exit(77)
    page_cache()
    replaced_dir()
