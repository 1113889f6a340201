#!/usr/bin/env python3
"""Stress worker: Python filelock's SoftReadWriteLock (run with the python of a venv made by
make-venvs.sh: filelock 4.2.11 or 3.32.7).

Uses the public API of both versions: SoftReadWriteLock(path, heartbeat_interval=...,
stale_threshold=..., poll_interval=...), acquire_read(timeout=...) / acquire_write(timeout=...)
(raise filelock.Timeout), release(). For 4.x the on_compromise callback counts lost holds.
Same protocol as the other workers: see worker_common.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import worker_common as wc  # noqa: E402

import filelock  # noqa: E402


class FilelockWorker(wc.Worker):
    impl = "filelock-" + filelock.__version__

    def open(self):
        self.compromised = 0
        kw = dict(heartbeat_interval=self.a.heartbeat, stale_threshold=self.a.stale,
                  poll_interval=self.a.poll, is_singleton=False)
        if int(filelock.__version__.split(".")[0]) >= 4:
            kw["on_compromise"] = self.on_compromise
        self.lock = filelock.SoftReadWriteLock(self.a.lock, **kw)

    def on_compromise(self, info):
        self.compromised += 1
        self.log(f"E {self.now():.6f} on_compromise: {getattr(info, 'reason', info)}")

    def acquire(self, mode, timeout):
        before = self.compromised
        try:
            if mode == "w":
                self.lock.acquire_write(timeout=timeout)
            else:
                self.lock.acquire_read(timeout=timeout)
        except filelock.Timeout:
            raise wc.Timeout() from None
        self.held_from = before

    def release(self):
        self.lock.release()
        if self.compromised > self.held_from:
            raise wc.Lost(f"on_compromise called {self.compromised - self.held_from} time(s)")

    def close(self):
        self.lock.close()


if __name__ == "__main__":
    sys.exit(FilelockWorker(wc.parse_args()).run())
