#!/usr/bin/env python3
"""Negative control: a stress worker that takes NO lock (acquire and release do nothing).

Run by stress.py as implementation "none" to show that the oracles do catch what a broken
lock does on these mounts: it must show exclusion violations and lost updates. If it ever
comes out clean, the oracle (not the lock) is broken. Same protocol as worker_common.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import worker_common as wc  # noqa: E402


class NoLockWorker(wc.Worker):
    impl = "none"

    def open(self):
        pass

    def acquire(self, mode, timeout):
        pass

    def release(self):
        pass


if __name__ == "__main__":
    sys.exit(NoLockWorker(wc.parse_args()).run())
