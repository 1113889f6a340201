"""A program written for filelock's SoftReadWriteLock (filelock 3.27 and later).

test_filelock_interface.py runs it as it is against real filelock releases, then with its
first import changed to `from softrwlock import ...`, and requires the same output.

    python3 filelock_program.py DIRECTORY
"""

from filelock import SoftReadWriteLock, Timeout

import multiprocessing
import os
import sys
import time

FAST = dict(heartbeat_interval=0.5, stale_threshold=10.0, poll_interval=0.02)


def count(path, counter, iterations, results):
    """Adds one to the counter file under the write lock, `iterations` times; counts overlaps."""
    lock = SoftReadWriteLock(path, **FAST)
    marker = counter + ".inside"
    overlaps = 0
    for _ in range(iterations):
        with lock.write_lock(timeout=120):
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                overlaps += 1
            with open(counter, "r+") as f:
                n = int(f.read())
                f.seek(0)
                f.write("%d\n" % (n + 1))
            os.unlink(marker)
        with lock.read_lock(timeout=120):
            if os.path.exists(marker):
                overlaps += 1
    lock.close()
    results.put(overlaps)


def main(directory):
    path = os.path.join(directory, "data.lock")
    lock = SoftReadWriteLock(path, **FAST)
    print("singleton:", SoftReadWriteLock(path, **FAST) is lock, SoftReadWriteLock.get_lock(path) is lock)
    try:
        SoftReadWriteLock(path, timeout=5, **FAST)
    except ValueError:
        print("singleton asked with another timeout: ValueError")
    other = SoftReadWriteLock(path, is_singleton=False, **FAST)
    print("is_singleton=False gives another instance:", other is not lock)
    print("attributes:", lock.lock_file == path, lock.timeout == -1, lock.blocking,
          lock.heartbeat_interval, lock.stale_threshold, lock.poll_interval)
    print("stale_threshold defaults to 3 x heartbeat:",
          SoftReadWriteLock(path + "2", heartbeat_interval=2.0).stale_threshold)

    for bad in (dict(heartbeat_interval=0), dict(heartbeat_interval=1.0, stale_threshold=1.0),
                dict(poll_interval=-1.0)):
        try:
            SoftReadWriteLock(os.path.join(directory, "bad.lock"), is_singleton=False, **bad)
            print("accepted", bad)
        except ValueError:
            print("rejected with ValueError:", sorted(bad))

    with lock.write_lock():
        with lock.write_lock(timeout=0):
            print("write lock is reentrant")
        try:
            lock.acquire_read()
        except RuntimeError:
            print("downgrade: RuntimeError")
        try:
            other.acquire_read(blocking=False)
        except Timeout as e:
            print("blocking=False while written: Timeout", isinstance(e, TimeoutError), e.lock_file == path)
        t0 = time.monotonic()
        try:
            with other.write_lock(timeout=0.3):
                print("two writers!")
        except Timeout:
            waited = time.monotonic() - t0
            print("timeout=0.3 while written: Timeout, waited at least 0.3 s:", waited >= 0.29)

    with lock.read_lock():
        with other.read_lock(timeout=5):
            print("two readers share")
        try:
            lock.acquire_write(timeout=0)
        except RuntimeError:
            print("upgrade: RuntimeError")

    with lock.acquire_write(timeout=5) as held:
        print("acquire_write() as a context manager returns the lock:", held is lock)
    lock.acquire_read()
    lock.acquire_read()
    lock.release(force=True)
    try:
        lock.release()
    except RuntimeError:
        print("release without a hold: RuntimeError")

    nested = SoftReadWriteLock(os.path.join(directory, "not", "yet", "there.lock"), **FAST)
    with nested.write_lock(timeout=5):
        print("missing parent directories are created:", os.path.isdir(os.path.join(directory, "not", "yet")))
    nested.close()

    impatient = SoftReadWriteLock(os.path.join(directory, "impatient.lock"), blocking=False, **FAST)
    rival = SoftReadWriteLock(impatient.lock_file, is_singleton=False, **FAST)
    with rival.write_lock():
        try:
            impatient.acquire_read()
        except Timeout:
            print("instance default blocking=False: Timeout")
        try:
            impatient.acquire_read(timeout=0.2, blocking=True)
        except Timeout:
            print("per-call blocking=True overrides it: Timeout after the timeout")

    # Exclusion between processes: a counter updated under the write lock.
    counter = os.path.join(directory, "counter")
    with open(counter, "w") as f:
        f.write("0\n")
    results = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=count, args=(path, counter, 15, results)) for _ in range(4)]
    for w in workers:
        w.start()
    overlaps = sum(results.get(timeout=300) for _ in workers)
    for w in workers:
        w.join(60)
    with lock.read_lock(timeout=60), open(counter) as f:
        print("4 processes x 15 grants: counter =", int(f.read()), "overlaps =", overlaps,
              "exit codes =", [w.exitcode for w in workers])

    lock.close()
    lock.close()
    try:
        lock.acquire_read(timeout=0)
    except RuntimeError:
        print("after close: RuntimeError")
    other.close()
    print("done")


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    main(sys.argv[1])
