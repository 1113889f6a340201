#!/usr/bin/env python3
"""Stress worker: fcntl.flock (LOCK_SH / LOCK_EX) on the lock path itself.

Shows what the kernel lock does on the two GlusterFS client mounts. Same protocol as the
other workers: see worker_common.py. The lock file is opened (created if missing) at each
acquire and closed at each release; a timeout is a LOCK_NB retry loop that sleeps --poll
between tries.
"""
import fcntl
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import worker_common as wc  # noqa: E402


class FlockWorker(wc.Worker):
    impl = "flock"

    def open(self):
        self.fd = None

    def acquire(self, mode, timeout):
        fd = os.open(self.a.lock, os.O_RDWR | os.O_CREAT, 0o644)
        op = (fcntl.LOCK_EX if mode == "w" else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, op)
                self.fd = fd
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise wc.Timeout()
                time.sleep(self.a.poll)
            except BaseException:
                os.close(fd)
                raise

    def release(self):
        fd, self.fd = self.fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


if __name__ == "__main__":
    sys.exit(FlockWorker(wc.parse_args()).run())
