#!/usr/bin/env python3
"""basic.py: the Python package (python/softrwlock/) in one page.

    pip install .                       # from the repository: the wheel carries the library
    python3 examples/python/basic.py [DATA_FILE]

(or, from a built source tree, PYTHONPATH=python python3 examples/python/basic.py).

Appends a line to a data file under the write lock, reads it back under the read lock, and
shows a timeout raised as softrwlock.Timeout (a TimeoutError) with the library's message.
The first half uses filelock's SoftReadWriteLock interface, the second the handle-level Lock.
"""

import os
import sys

try:
    import softrwlock
except ImportError:  # run from the source tree without PYTHONPATH
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import softrwlock

from softrwlock import SoftReadWriteLock, Timeout


def main(path):
    # filelock's interface. Heartbeat 1 s: a holder that dies is evicted after 3 s.
    lock = SoftReadWriteLock(path + ".lock", heartbeat_interval=1.0)
    with lock.write_lock(timeout=30):
        with open(path, "a") as f:
            f.write("written under write grant %d\n" % lock.generation)
    with lock.read_lock(timeout=30):
        with open(path) as f:
            lines = f.read().splitlines()
        print("%s: %d line(s); last: %s" % (path, len(lines), lines[-1]))

        # Another participant (is_singleton=False: a second instance) cannot write meanwhile.
        other = SoftReadWriteLock(path + ".lock", is_singleton=False, heartbeat_interval=1.0)
        try:
            other.acquire_write(timeout=0.1)
            print("basic.py: a writer got in during a read hold", file=sys.stderr)
            return 1
        except Timeout as e:
            print("as expected: %s (status %s)" % (e.message, e.status.name))
        other.close()
    lock.close()

    # The handle-level API: one Lock is one participant (one C handle).
    handle = softrwlock.Lock(path + ".lock", heartbeat_interval=1.0)
    with handle.write(timeout=30):
        handle.check()  # raises softrwlock.Lost if this hold was evicted meanwhile
        print("handle holds write grant %d" % handle.generation())
    handle.close()

    print("libsoftrwlock %s (%s): ok" % (softrwlock.version(), softrwlock.library_path()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "basic-example-py.dat"))
    except softrwlock.SoftRWLockError as e:
        print("basic.py: %s: %s" % (softrwlock.status_name(e.status), e), file=sys.stderr)
        sys.exit(1)
