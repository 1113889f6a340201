"""The checks that the Python test programs of tests/netfs run before they start: both client
mounts present, the library that build-worker.sh copied present; then the repository's Python
module over that library.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(ROOT, "target/netfs/lib/libsoftrwlock.so.0")


def missing(tag, mounts):
    """Why the program cannot run here (and says so, as a SKIP line), or None."""
    for m in mounts:
        if not os.path.ismount(m):
            print(f"{tag}: SKIP: {m} is not mounted")
            return m
    if not os.path.exists(LIB):
        print(f"{tag}: SKIP: {LIB} is missing (run tests/netfs/build-worker.sh)")
        return LIB
    return None


def softrwlock():
    """python/softrwlock, loading target/netfs/lib's library."""
    os.environ["SOFTRWLOCK_LIB"] = LIB
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import softrwlock as s

    return s
