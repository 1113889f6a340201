"""A program written for filelock's SoftReadWriteLock fencing interface (filelock 3.33 and
later: `generation`, `compromise`, `on_compromise`).

test_filelock_interface.py runs it against real filelock, then with its first import changed
to `from softrwlock import ...`, and requires the same output.

    python3 filelock_fencing_program.py DIRECTORY

A child process takes the write lock and is stopped (SIGSTOP) past the stale threshold; the
parent evicts it and takes the lock with a greater generation; the child, resumed, is told
through on_compromise.
"""

from filelock import SoftReadWriteLock

import multiprocessing
import os
import signal
import sys
import threading

FAST = dict(heartbeat_interval=0.2, stale_threshold=1.0, poll_interval=0.05)


def holder(path, to_parent, from_parent):
    lost = threading.Event()
    seen = []

    def on_compromise(compromise):
        seen.append(compromise)
        lost.set()

    lock = SoftReadWriteLock(path, on_compromise=on_compromise, **FAST)
    lock.acquire_write(timeout=30)
    to_parent.put(("held", lock.generation))
    from_parent.get(timeout=120)  # the parent has stopped, evicted and resumed this process
    told = lost.wait(60)
    compromise = lock.compromise
    to_parent.put(("told", told, len(seen), seen[0].reason if seen else None,
                   compromise is not None and compromise.lock_file == path))
    lock.release()  # the loss was reported: releasing gives nothing back
    to_parent.put(("released", lock.generation))


def main(directory):
    path = os.path.join(directory, "fenced.lock")
    lock = SoftReadWriteLock(path, **FAST)
    print("no hold: generation", lock.generation, "compromise", lock.compromise)
    with lock.write_lock(timeout=10):
        first = lock.generation
        print("write hold: generation is an int:", isinstance(first, int))
    with lock.write_lock(timeout=10):
        second = lock.generation
        print("the next write hold has a greater generation:", second > first)
    with lock.read_lock(timeout=10):
        print("read hold: generation is an int:", isinstance(lock.generation, int),
              "compromise", lock.compromise)
    print("released: generation", lock.generation)

    to_parent, from_parent = multiprocessing.Queue(), multiprocessing.Queue()
    child = multiprocessing.Process(target=holder, args=(path, to_parent, from_parent))
    child.start()
    what, child_generation = to_parent.get(timeout=60)
    os.kill(child.pid, signal.SIGSTOP)
    try:
        with lock.write_lock(timeout=60):  # waits out the stopped holder's stale threshold
            print("evictor holds with a greater generation:", lock.generation > child_generation)
            os.kill(child.pid, signal.SIGCONT)
            from_parent.put("go")
            print("child:", to_parent.get(timeout=120))
            print("child:", to_parent.get(timeout=120))
            print("evictor still holds:", lock.compromise is None)
    finally:
        os.kill(child.pid, signal.SIGCONT)
    child.join(60)
    print("child exit code:", child.exitcode)
    lock.close()


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    main(sys.argv[1])
