#!/usr/bin/env python3
"""basic.py: the Python bindings (python/softrwlock.py) in one page.

    PYTHONPATH=python python3 examples/python/basic.py [DATA_FILE]

Appends a line to a data file under the write lock, reads it back under the read lock, and
shows a timeout raised as softrwlock.Timeout (a TimeoutError) with the library's message.
"""

import os
import sys

try:
    import softrwlock
except ImportError:  # run from the source tree without PYTHONPATH
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import softrwlock


def main(path):
    # Heartbeat 1 s: a holder that dies is evicted after 3 s (stale threshold 3 x heartbeat).
    with softrwlock.Lock(path, heartbeat_interval=1.0) as lock:
        with lock.write(timeout=30):
            with open(path, "a") as f:
                f.write("written under write grant %d\n" % lock.generation())
            lock.check()  # raises softrwlock.Lost if this hold was evicted meanwhile

        with lock.read(timeout=30):
            with open(path) as f:
                lines = f.read().splitlines()
            print("%s: %d line(s); last: %s" % (path, len(lines), lines[-1]))

        # A second handle (another participant) cannot write while this one reads.
        with lock.read(), softrwlock.Lock(path, heartbeat_interval=1.0) as other:
            try:
                other.acquire_write(timeout=0.1)
                print("basic.py: a writer got in during a read hold", file=sys.stderr)
                return 1
            except softrwlock.Timeout as e:
                print("as expected: %s (status %s)" % (e.message, e.status.name))

    print("libsoftrwlock %s (%s): ok" % (softrwlock.version(), softrwlock.library_path()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "basic-example-py.dat"))
    except softrwlock.SoftRWLockError as e:
        print("basic.py: %s: %s" % (e.status.name if hasattr(e.status, "name") else e.status, e),
              file=sys.stderr)
        sys.exit(1)
