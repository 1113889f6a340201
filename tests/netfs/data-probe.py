#!/usr/bin/env python3
"""One reader, one writer, two clients: does the reader see the writer's last bytes?

Each round: host B reads the file (its client caches what it can), host A rewrites it with
new bytes of a new size and calls softrwlock.data_end(fd) (fsync), then host B opens the file
and reads it again, with softrwlock.data_begin(fd) first (mode "begin") or without it
(mode "plain"). The round is stale when B's second read differs from what A wrote. Rounds are
1.2 s apart, so that each starts with the client caches' 1 s timeouts run out, as a lock
handoff some time later would.

Unlike data-test.py (many workers, lost updates counted), this asks each cache separately and
the same way every round: the kernel's page cache (old bytes), the kernel's and the
filesystem client's attribute caches (old size: the read is cut short), GlusterFS quick-read
(old bytes of a small file).

  data-probe.py [--rounds N] [--check-plain-stale] MNT_A MNT_B MODE [MODE...]

Prints "data-probe: MODE on MNT_A|MNT_B: stale in S of N rounds". Exit 1 if mode "begin" was
stale in any round, or (with --check-plain-stale) if mode "plain" never was; 77 when the
mounts or the library are missing.
"""
import argparse
import os
import sys
import time

import softrwlock_here as here


def content(i):
    return (f"round {i}\n" + "x" * (i % 7)).encode()


def probe(s, mnt_a, mnt_b, mode, rounds):
    rel = f"data-probe/{os.getpid()}-{mode}-{int(time.time() * 1000)}"
    os.makedirs(os.path.join(mnt_a, rel))
    pa, pb = os.path.join(mnt_a, rel, "f"), os.path.join(mnt_b, rel, "f")
    fd = os.open(pa, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, content(0))
    s.data_end(fd)
    os.close(fd)

    def read_b():
        fd = os.open(pb, os.O_RDONLY)
        try:
            if mode == "begin":
                s.data_begin(fd)
            return os.pread(fd, 4096, 0)
        finally:
            os.close(fd)

    stale = []
    for i in range(1, rounds + 1):
        time.sleep(1.2)
        read_b()
        fd = os.open(pa, os.O_RDWR)
        os.pwrite(fd, content(i), 0)
        os.ftruncate(fd, len(content(i)))
        s.data_end(fd)
        os.close(fd)
        got = read_b()
        if got != content(i):
            stale.append((i, got))
    return stale


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--check-plain-stale", action="store_true")
    ap.add_argument("mnt_a")
    ap.add_argument("mnt_b")
    ap.add_argument("modes", nargs="+", choices=["plain", "begin"])
    a = ap.parse_args()
    if here.missing("data-probe", (a.mnt_a, a.mnt_b)):
        return 77
    s = here.softrwlock()

    bad = []
    for mode in a.modes:
        stale = probe(s, a.mnt_a, a.mnt_b, mode, a.rounds)
        first = f"; first: round {stale[0][0]} read {stale[0][1]!r}" if stale else ""
        print(f"data-probe: {mode} on {a.mnt_a}|{a.mnt_b}: stale in {len(stale)} of {a.rounds} rounds{first}",
              flush=True)
        if mode == "begin" and stale:
            bad.append(f"with data_begin, stale in {len(stale)} of {a.rounds} rounds")
        if mode == "plain" and a.check_plain_stale and not stale:
            bad.append("without data_begin, never stale: the probe cannot see a stale cache here")
    if bad:
        print("data-probe: FAIL: " + "; ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
