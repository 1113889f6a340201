"""Shared loop of the Python stress workers (filelock_worker.py, flock_worker.py).

The C worker (srwl_worker.c) implements the same protocol; keep the two in step.

Protocol (same for every implementation)
----------------------------------------
Command line:
  --wid ID          worker id, unique in a run (letters and digits; grant ids are ID:n)
  --lock PATH       lock path; relative paths are taken under $SRWL_MNT
  --data PATH       data file next to the lock; relative under $SRWL_MNT
  --log PATH        local event log (appended; one line per event, see below)
  --until T         stop starting operations at CLOCK_MONOTONIC time T (seconds)
  --write-pct P     percentage of operations that are writes (0..100)
  --hold-ms M       sleep up to M ms (uniform) inside each critical section
  --think-ms M      sleep up to M ms between operations
  --timeout S       acquire timeout in seconds
  --heartbeat S --stale S --poll S   lock intervals
  --seed N          random seed
  --buffered-io     read and write the data file through the page cache instead of O_DIRECT
                    (only to show how a buffered oracle misleads on GlusterFS; Python workers)
Output: one JSON line on stdout at exit with the counts
  grants_read, grants_write (completed write critical sections), write_grants (all write
  grants), violations, errors, timeouts, lost, odd_seen, repaired, max_wait_read,
  max_wait_write, ops, error_samples.

Data file record (fixed width, rewritten in place at offset 0):
  "<seq> <counter> <gid> <pid>@<hostname> <gen>"  padded with spaces to 511 bytes, then "\n",
  read and written with O_DIRECT (see direct_read below for why).
  seq odd = a writer is inside. gid = grant id "<wid>:<n>" of the last writer. gen = the
  fencing token of that writer's grant (srwl_generation; 0 where the lock has none). The
  C worker checks that the token of its grant exceeds the one in the record it read.

Event log lines (t = CLOCK_MONOTONIC seconds):
  S t pid host         worker started
  A r|w t              acquire started
  G r|w gid t          granted
  T r|w t              acquire timed out
  E t what             error (free text after t)
  O r|w gid lastgid t  saw an odd seq written by lastgid (classified by the driver)
  K gid seq counter lastgid t   writer read the record (logged BEFORE it writes anything)
  V t what             violation detected inside the worker
  N t what             fencing token did not grow (C worker only)
  D gid t              writer's final (even) record written
  R t                  release started
  L t                  hold was lost (release said so)
  F t                  release finished
  X t                  worker exits normally
"""

import argparse
import json
import mmap
import os
import random
import socket
import sys
import time

RECLEN = 511   # record bytes before the newline: records are exactly 512 bytes

# All data-file I/O uses O_DIRECT with page-aligned 512-byte buffers. On GlusterFS FUSE
# mounts the kernel page cache of one client can keep serving old bytes of a file that the
# other client rewrote in place (measured: minutes later, after the run had ended), so a
# buffered read is no oracle. O_DIRECT reads and writes go to the glusterfs client process,
# and with the data-caching translators off, to the brick.
_BUF = mmap.mmap(-1, 4096)
BUFFERED = False
O_DIRECT = os.O_DIRECT


def direct_read(fd):
    if BUFFERED:
        return os.pread(fd, 4096, 0)
    n = os.preadv(fd, [memoryview(_BUF)[:4096]], 0)
    return bytes(_BUF[:n])


def direct_write(fd, rec):
    assert len(rec) == RECLEN + 1
    if BUFFERED:
        if os.pwrite(fd, rec, 0) != len(rec):
            raise OSError("short write")
        return
    _BUF[:len(rec)] = rec
    n = os.pwritev(fd, [memoryview(_BUF)[:len(rec)]], 0)
    if n != len(rec):
        raise OSError(f"short write {n} of {len(rec)}")


def read_data(path):
    fd = os.open(path, os.O_RDONLY | (0 if BUFFERED else O_DIRECT))
    try:
        return direct_read(fd)
    finally:
        os.close(fd)


def parse_args(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--wid", required=True)
    p.add_argument("--lock", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--until", type=float, required=True)
    p.add_argument("--write-pct", type=float, default=10.0)
    p.add_argument("--hold-ms", type=float, default=5.0)
    p.add_argument("--think-ms", type=float, default=5.0)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--heartbeat", type=float, default=0.5)
    p.add_argument("--stale", type=float, default=3.0)
    p.add_argument("--poll", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--buffered-io", action="store_true")
    a = p.parse_args(argv)
    global BUFFERED
    BUFFERED = a.buffered_io
    mnt = os.environ.get("SRWL_MNT", "")
    if not os.path.isabs(a.lock):
        a.lock = os.path.join(mnt, a.lock)
    if not os.path.isabs(a.data):
        a.data = os.path.join(mnt, a.data)
    return a


def format_record(seq, counter, gid, pid, host, gen=0):
    s = f"{seq} {counter} {gid} {pid}@{host} {gen}"
    return (s.ljust(RECLEN)[:RECLEN] + "\n").encode()


def parse_record(b):
    f = b.decode(errors="replace").split()
    if len(f) < 3:
        raise ValueError(f"bad data record {b[:100]!r}")
    return int(f[0]), int(f[1]), f[2]


class Timeout(Exception):
    pass


class Lost(Exception):
    pass


class Worker:
    """Subclass and implement acquire(mode, timeout) -> None (raise Timeout) and release()
    (raise Lost if the hold was lost). Any other exception counts as an error."""

    impl = "?"

    def __init__(self, args):
        self.a = args
        self.rng = random.Random(args.seed)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.logfd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.c = dict(grants_read=0, grants_write=0, write_grants=0, violations=0, errors=0,
                      timeouts=0, lost=0, odd_seen=0, repaired=0, max_wait_read=0.0,
                      max_wait_write=0.0, ops=0)
        self.error_samples = []
        self.n = 0

    def log(self, line):
        os.write(self.logfd, (line + "\n").encode())

    def now(self):
        return time.monotonic()

    def err(self, what):
        self.c["errors"] += 1
        what = what.replace("\n", " ")[:300]
        if len(self.error_samples) < 5:
            self.error_samples.append(what)
        self.log(f"E {self.now():.6f} {what}")

    def violation(self, what):
        self.c["violations"] += 1
        if len(self.error_samples) < 5:
            self.error_samples.append("VIOLATION " + what)
        self.log(f"V {self.now():.6f} {what}")

    def hold_sleep(self):
        if self.a.hold_ms > 0:
            time.sleep(self.rng.uniform(0, self.a.hold_ms) / 1000.0)

    def read_record(self):
        return read_data(self.a.data)

    def reader_cs(self, gid):
        b1 = self.read_record()
        seq, counter, last = parse_record(b1)
        if seq % 2:
            self.c["odd_seen"] += 1
            self.log(f"O r {gid} {last} {self.now():.6f}")
        self.hold_sleep()
        b2 = self.read_record()
        if b2 != b1:
            self.violation(f"record changed under read lock {gid}: {b1[:60]!r} -> {b2[:60]!r}")

    def writer_cs(self, gid):
        fd = os.open(self.a.data, os.O_RDWR | (0 if BUFFERED else O_DIRECT))
        try:
            b = direct_read(fd)
            seq, counter, last = parse_record(b)
            self.log(f"K {gid} {seq} {counter} {last} {self.now():.6f}")
            if seq % 2:
                self.c["odd_seen"] += 1
                self.c["repaired"] += 1
                self.log(f"O w {gid} {last} {self.now():.6f}")
                seq += 1
            mine = format_record(seq + 1, counter, gid, self.pid, self.host)
            direct_write(fd, mine)
            self.hold_sleep()
            again = self.read_record()
            if again != mine:
                self.violation(f"record changed under write lock {gid}: wrote {mine[:60]!r} found {again[:60]!r}")
            direct_write(fd, format_record(seq + 2, counter + 1, gid, self.pid, self.host))
        finally:
            os.close(fd)
        self.log(f"D {gid} {self.now():.6f}")
        self.c["grants_write"] += 1

    def run(self):
        a = self.a
        self.log(f"S {self.now():.6f} {self.pid} {self.host} {self.impl}")
        try:
            self.open()
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            self.err(f"open: {type(e).__name__}: {e}")
            self.finish()
            return 1
        while self.now() < a.until:
            mode = "w" if self.rng.uniform(0, 100) < a.write_pct else "r"
            self.c["ops"] += 1
            t0 = self.now()
            self.log(f"A {mode} {t0:.6f}")
            try:
                self.acquire(mode, a.timeout)
            except Timeout:
                self.c["timeouts"] += 1
                self.log(f"T {mode} {self.now():.6f}")
                continue
            except Exception as e:  # noqa: BLE001
                self.err(f"acquire {mode}: {type(e).__name__}: {e}")
                time.sleep(0.05)
                continue
            t1 = self.now()
            self.n += 1
            gid = f"{a.wid}:{self.n}"
            key = "max_wait_write" if mode == "w" else "max_wait_read"
            self.c[key] = max(self.c[key], t1 - t0)
            self.log(f"G {mode} {gid} {t1:.6f}")
            try:
                if mode == "w":
                    self.c["write_grants"] += 1
                    self.writer_cs(gid)
                else:
                    self.c["grants_read"] += 1
                    self.reader_cs(gid)
            except Exception as e:  # noqa: BLE001
                self.err(f"critical section {gid}: {type(e).__name__}: {e}")
            self.log(f"R {self.now():.6f}")
            try:
                self.release()
            except Lost as e:
                self.c["lost"] += 1
                self.log(f"L {self.now():.6f} {e}")
            except Exception as e:  # noqa: BLE001
                self.err(f"release {gid}: {type(e).__name__}: {e}")
            self.log(f"F {self.now():.6f}")
            if a.think_ms > 0:
                time.sleep(self.rng.uniform(0, a.think_ms) / 1000.0)
        try:
            self.close()
        except Exception as e:  # noqa: BLE001
            self.err(f"close: {type(e).__name__}: {e}")
        self.finish()
        return 0

    def finish(self):
        self.log(f"X {self.now():.6f}")
        out = dict(self.c)
        out.update(wid=self.a.wid, impl=self.impl, pid=self.pid, host=self.host,
                   error_samples=self.error_samples)
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()

    # to implement
    def open(self):
        raise NotImplementedError

    def acquire(self, mode, timeout):
        raise NotImplementedError

    def release(self):
        raise NotImplementedError

    def close(self):
        pass
