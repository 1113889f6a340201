#!/usr/bin/env python3
"""The user's data under the lock: do updates made with plain buffered I/O survive?

Workers on two client mounts of one network filesystem (two "hosts") each add 1 to a counter
in a shared file, under the write lock, with plain buffered I/O (os.open, os.pread, os.pwrite,
os.ftruncate, os.close: the kernel's page and attribute caches and the filesystem client's
caches are in the way). The file's size changes with every update (the counter, a newline and
value % 13 filler bytes), so a size cached before another host's write cuts the read short.
At the end the counter must equal the number of increments; every missing one is a lost
update: a worker read bytes older than the previous holder's write.

Modes (what a worker does around its read and write, inside the hold):
  plain     nothing (the negative control: on GlusterFS it loses updates)
  helpers   the documented pattern: softrwlock.data_begin(fd) after open, before the read;
            softrwlock.data_end(fd) after the write, before close and release
  fadvise   only posix_fadvise(DONTNEED) before the read (what the reader side needs)
  fsync     only fsync before close (what the writer side needs)
  path      the path-based helpers for languages without a descriptor (Fortran, shell):
            softrwlock.data_begin(path) before open, softrwlock.data_end(path) after close
  keep      the descriptor is opened once and kept open across holds, with the helpers
  kept      the descriptor is opened once and kept open across holds, without the helpers
            (the negative control of keep: not judged)

  data-test.py [--check] [--workers N] [--duration S] MNT_A MNT_B MODE [MODE...]

Prints one line per mode: "data-test: MODE on MNT_A|MNT_B: W workers, N increments, final F,
lost L". With --check: the exit status is 1 unless every mode but plain and the single-sided
ones lost 0 (and "plain" lost > 0 when --expect-loss is given), 0 otherwise; 77 when it cannot
run (mounts or library missing). Uses python/softrwlock.py over target/netfs/lib
(build-worker.sh).
"""
import argparse
import json
import mmap
import os
import subprocess
import sys
import time

import softrwlock_here as here


def record(value):
    return f"{value}\n{'.' * (value % 13)}".encode()


def parse(b):
    return int(b.split(b"\n", 1)[0].decode().strip() or "0")


def worker(a):
    s = here.softrwlock()

    lock = s.Lock(a.lock, heartbeat_interval=0.5, stale_threshold=10.0, poll_interval=0.02)
    mode, data, n = a.mode, a.data, 0
    kept = os.open(data, os.O_RDWR) if mode in ("keep", "kept") else None
    until = time.monotonic() + a.duration
    while time.monotonic() < until:
        lock.acquire_write(60.0)
        if mode == "path":
            s.data_begin(data)
        fd = kept if kept is not None else os.open(data, os.O_RDWR)
        if mode in ("helpers", "keep"):
            s.data_begin(fd)
        elif mode == "fadvise":
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        value = parse(os.pread(fd, 64, 0))
        new = record(value + 1)
        os.pwrite(fd, new, 0)
        os.ftruncate(fd, len(new))
        if mode in ("helpers", "keep"):
            s.data_end(fd)
        elif mode == "fsync":
            os.fsync(fd)
        if kept is None:
            os.close(fd)
        if mode == "path":
            s.data_end(data)
        lock.release()
        n += 1
    lock.close()
    print(json.dumps({"increments": n}))


def read_direct(path):
    """The counter as the file server has it: O_DIRECT, after every client cache's timeout
    (GlusterFS: md-cache, quick-read and the kernel's attributes, 1 s each by default)."""
    time.sleep(2.5)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        buf = mmap.mmap(-1, 4096)
        n = os.preadv(fd, [buf], 0)
        return parse(bytes(buf[:n]))
    finally:
        os.close(fd)


def run_mode(mnt_a, mnt_b, mode, workers, duration):
    rel = f"data-test/{os.getpid()}-{mode}-{int(time.time() * 1000)}"
    os.makedirs(os.path.join(mnt_a, rel), exist_ok=True)
    with open(os.path.join(mnt_a, rel, "counter"), "wb") as f:
        f.write(record(0))
        f.flush()
        os.fsync(f.fileno())
    procs = []
    for k in range(workers):
        m = (mnt_a, mnt_b)[k % 2]
        procs.append(subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", "--mode", mode,
             "--duration", str(duration), "--lock", os.path.join(m, rel, "lock"),
             "--data", os.path.join(m, rel, "counter")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    total, errors = 0, []
    for p in procs:
        out, err = p.communicate(timeout=duration + 180)
        try:
            total += json.loads(out.strip().splitlines()[-1])["increments"]
        except (ValueError, IndexError, KeyError):
            errors.append(f"worker exit {p.returncode}: {err.strip()[-300:]}")
    final = read_direct(os.path.join(mnt_a, rel, "counter"))
    return total, final, errors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--lock", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--mode", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--check", action="store_true", help="exit 1 unless the pattern lost 0")
    ap.add_argument("--expect-loss", action="store_true",
                    help="with --check: the plain mode must lose updates (the test can fail)")
    ap.add_argument("mounts_and_modes", nargs="*")
    a = ap.parse_args()
    if a.worker:
        return worker(a)
    if len(a.mounts_and_modes) < 3:
        ap.error("give MNT_A MNT_B MODE [MODE...]")
    mnt_a, mnt_b, *modes = a.mounts_and_modes
    if here.missing("data-test", (mnt_a, mnt_b)):
        return 77
    bad = []
    for mode in modes:
        total, final, errors = run_mode(mnt_a, mnt_b, mode, a.workers, a.duration)
        lost = total - final
        print(f"data-test: {mode} on {mnt_a}|{mnt_b}: {a.workers} workers, {total} increments, "
              f"final {final}, lost {lost}" + (f"; ERRORS: {errors}" if errors else ""), flush=True)
        if errors:
            bad.append(f"{mode}: worker errors")
        elif mode in ("plain", "kept"):
            if mode == "plain" and a.expect_loss and lost <= 0:
                bad.append(f"plain: no update lost ({total} increments): the test cannot see a stale read")
        elif mode in ("helpers", "path", "keep") and lost != 0:
            bad.append(f"{mode}: {lost} of {total} updates lost")
        elif total == 0:
            bad.append(f"{mode}: no increments")
    if a.check and bad:
        print("data-test: FAIL: " + "; ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main() or 0)
