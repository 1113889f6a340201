#!/usr/bin/env python3
"""filelock_bench.py: the benchmark scenarios of bench/bench.h for Python filelock's
SoftReadWriteLock (run it with the python of a venv holding filelock 4.2.11 or 3.32.7).

Same command line, same JSON summary line and the same per-process files as the C drivers
(srwl_bench.c, flock_bench.c): see bench/bench.h. The public API used is the same in both
versions: SoftReadWriteLock(path, heartbeat_interval=, stale_threshold=, poll_interval=,
is_singleton=False), acquire_read(timeout=) / acquire_write(timeout=) (raise filelock.Timeout),
release(), close(). Processes are forked from this one after `import filelock`, so no
interpreter start-up is timed.
"""
import json
import mmap
import os
import random
import select
import signal
import sys
import time

import filelock

IMPL = "filelock-" + filelock.__version__
RECLEN = 512


class Opts:
    scenario = None
    lock = []
    data = []
    out = "/tmp"
    write = False
    seconds = 2.0
    count = -1
    procs = 4
    direct = False
    no_acquire = False
    release_all = False  # burst: release together and time it (the scale curve)
    write_pct = 10.0     # mix: percent of operations that are writes
    hb, stale, poll = 0.5, 2.0, 0.1
    hold_ms, think_ms, writer_think_ms = 2.0, 2.0, 20.0
    timeout = 60.0


O = Opts()
now = time.monotonic


def die(msg):
    print("filelock_bench: " + msg, file=sys.stderr)
    sys.exit(2)


def abandon(why):
    """A child failed before the barrier: give up the run (driver.py gave us our own session)."""
    print(f"filelock_bench: {why}: abandoning this run", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.kill(0, signal.SIGTERM)
    sys.exit(2)


def sleep_upto_ms(ms):
    if ms > 0:
        time.sleep(ms / 1000.0 * random.random())


def open_lock(i):
    path = O.lock[i % len(O.lock)]
    return filelock.SoftReadWriteLock(path, heartbeat_interval=O.hb, stale_threshold=O.stale,
                                      poll_interval=O.poll, is_singleton=False)


def acquire(lk, write, timeout):
    """0 granted, 1 timed out, -1 error."""
    try:
        if write:
            lk.acquire_write(timeout=timeout)
        else:
            lk.acquire_read(timeout=timeout)
        return 0
    except filelock.Timeout:
        return 1
    except Exception as e:  # noqa: BLE001 - count every failure, keep going
        print(f"{IMPL}: acquire: {type(e).__name__}: {e}", file=sys.stderr)
        return -1


def release(lk):
    try:
        lk.release()
        return 0
    except Exception as e:  # noqa: BLE001
        print(f"{IMPL}: release: {type(e).__name__}: {e}", file=sys.stderr)
        return -1


def close(lk):
    try:
        lk.close()
    except Exception as e:  # noqa: BLE001
        print(f"{IMPL}: close: {type(e).__name__}: {e}", file=sys.stderr)


def out_open(role, i):
    f = open(os.path.join(O.out, f"{role}.{i}.txt"), "w")
    f.write(f"role {role}\n")
    return f


# ---- the data record: "<seq> <counter> <release_time> <writer>" in 512 bytes -------------
class Data:
    def __init__(self, i):
        path = O.data[i % len(O.data)]
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | (os.O_DIRECT if O.direct else 0), 0o600)
        self.buf = mmap.mmap(-1, 4096)  # page aligned, for O_DIRECT

    def read(self):
        self.buf[:RECLEN] = b"\0" * RECLEN
        n = os.preadv(self.fd, [memoryview(self.buf)[:RECLEN]], 0)
        parts = bytes(self.buf[:n]).split()
        try:
            return [int(parts[0]), int(parts[1]), float(parts[2]), int(parts[3])]
        except (IndexError, ValueError):
            return [0, 0, 0.0, -1]

    def write(self, r):
        s = f"{r[0]} {r[1]} {r[2]:.9f} {r[3]}".encode().ljust(RECLEN - 1) + b"\n"
        self.buf[:RECLEN] = s
        return os.pwritev(self.fd, [memoryview(self.buf)[:RECLEN]], 0) == RECLEN

    def close(self):
        os.close(self.fd)


def data_init():
    d = Data(0)
    d.write([0, 0, 0.0, -1])
    d.close()


# ---- barrier: children block reading a pipe until the parent closes it ----------------------
class Barrier:
    def __init__(self):
        self.go = os.pipe()
        self.ready = os.pipe()

    def child(self):
        os.close(self.go[1])
        os.close(self.ready[0])
        os.write(self.ready[1], b"r")
        os.read(self.go[0], 1)

    def wait_ready(self, n):
        os.close(self.go[0])
        os.close(self.ready[1])
        got = 0
        while got < n:
            if not select.select([self.ready[0]], [], [], 120)[0]:
                abandon("children did not reach the barrier within 120 s")
            try:
                if os.waitpid(-1, os.WNOHANG)[0] > 0:
                    abandon("a child died before the barrier")
            except ChildProcessError:
                pass
            b = os.read(self.ready[0], n - got)
            if not b:
                abandon("a child died before the barrier")
            got += len(b)

    def release(self):
        t = now()
        os.close(self.go[1])
        return t


def fork(fn, *args):
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            random.seed(os.getpid() ^ int(time.time_ns()))
            fn(*args)
        except BaseException as e:  # noqa: BLE001
            print(f"{IMPL}: child: {type(e).__name__}: {e}", file=sys.stderr)
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return pid


def wait_children(pids):
    bad, ru = 0, []
    for p in pids:
        _, st, r = os.wait4(p, 0)
        ru.append(r)
        if not (os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0):
            bad += 1
    return bad, ru


def emit(d):
    print(json.dumps(d, separators=(",", ":")))


# ---- scenarios ----------------------------------------------------------------------------
def sc_cycles():
    lk = open_lock(0)
    n = errors = 0
    t0 = now()
    if O.count >= 0:
        for n in range(O.count):
            if acquire(lk, O.write, -1) != 0 or release(lk) != 0:
                errors += 1
        n = O.count
    else:
        until = t0 + O.seconds
        while now() < until:
            for _ in range(4):
                if acquire(lk, O.write, -1) != 0 or release(lk) != 0:
                    errors += 1
                n += 1
    t = now()
    close(lk)
    emit(dict(impl=IMPL, scenario="cycles", mode="w" if O.write else "r", cycles=n,
              errors=errors, seconds=t - t0, rate=n / (t - t0) if t > t0 else 0.0))


def writer_loop(i, b, seconds, think_ms, mark_odd):
    lk = open_lock(i)
    d = Data(i)
    f = out_open("w", i)
    cycles = errors = violations = timeouts = 0
    b.child()
    until = now() + seconds
    while now() < until:
        sleep_upto_ms(think_ms)
        t_req = now()
        r = acquire(lk, True, until - now() + 5.0)  # bounded: the run must end
        if r != 0:
            if r > 0:
                timeouts += 1  # a wait of at least this long
                f.write(f"waitto {now() - t_req:.9f}\n")
            else:
                errors += 1
            continue
        t_grant = now()
        try:
            rc = d.read()
            if rc[0] & 1:
                violations += 1
            if rc[3] != i and rc[3] >= 0 and rc[2] > 0:
                f.write(f"handoff {t_grant - rc[2]:.9f}\n")
                if len(O.lock) > 1 and rc[3] % len(O.lock) != i % len(O.lock):
                    f.write(f"handoffx {t_grant - rc[2]:.9f}\n")
            f.write(f"wait {t_grant - t_req:.9f}\n")
            rc[0] += 1
            if mark_odd:  # tell readers a writer is inside
                rc[3] = i
                d.write(rc)
            rc[0] += 1
            rc[1] += 1
            rc[3] = i
            rc[2] = now()
            d.write(rc)
            cycles += 1
        except OSError as e:
            errors += 1
            print(f"{IMPL}: data: {e}", file=sys.stderr)
        if release(lk) != 0:
            errors += 1
    close(lk)
    d.close()
    f.write(f"cycles {cycles}\nerrors {errors}\ntimeouts {timeouts}\nviolations {violations}\n")
    f.close()


def reader_loop(i, b, seconds):
    lk = open_lock(i)
    d = Data(i)
    f = out_open("r", i)
    cycles = errors = violations = timeouts = 0
    b.child()
    until = now() + seconds
    while now() < until:
        r = acquire(lk, False, until - now() + 5.0)
        if r != 0:
            if r > 0:
                timeouts += 1
            else:
                errors += 1
            continue
        try:
            if d.read()[0] & 1:
                violations += 1
        except OSError:
            errors += 1
        sleep_upto_ms(O.hold_ms)
        cycles += 1
        if release(lk) != 0:
            errors += 1
        sleep_upto_ms(O.think_ms)
    close(lk)
    d.close()
    f.write(f"cycles {cycles}\nerrors {errors}\ntimeouts {timeouts}\nviolations {violations}\n")
    f.close()


def sc_writers(readers):
    nw, nr = (1, O.procs) if readers else (O.procs, 0)
    n = nw + nr
    data_init()
    b = Barrier()
    pids = []
    for i in range(n):
        if i < nw:
            pids.append(fork(writer_loop, i, b, O.seconds,
                             O.writer_think_ms if readers else 0, bool(readers)))
        else:
            pids.append(fork(reader_loop, i, b, O.seconds))
    b.wait_ready(n)
    t0 = b.release()
    bad, _ = wait_children(pids)
    t1 = now()
    d = Data(0)
    counter = d.read()[1]
    d.close()
    emit(dict(impl=IMPL, scenario="mixed" if readers else "writers", procs=n, writers=nw,
              readers=nr, seconds=t1 - t0, counter=counter, failed_procs=bad))


def mix_loop(i, b, seconds):
    lk = open_lock(i)
    d = Data(i)
    f = out_open("m", i)
    cycles = writes = errors = violations = timeouts = 0
    b.child()
    until = now() + seconds
    while now() < until:
        sleep_upto_ms(O.think_ms)
        w = random.random() * 100 < O.write_pct
        r = acquire(lk, w, until - now() + 5.0)
        if r != 0:
            if r > 0:
                timeouts += 1
            else:
                errors += 1
            continue
        try:
            rc = d.read()
            if rc[0] & 1:
                violations += 1
            if w:  # odd while inside: a reader that sees it was let in beside us
                rc[0] += 1
                rc[3] = i
                d.write(rc)
            sleep_upto_ms(O.hold_ms)
            if w:
                rc[0] += 1
                rc[1] += 1
                rc[2] = now()
                d.write(rc)
                writes += 1
            cycles += 1
        except OSError as e:
            errors += 1
            print(f"{IMPL}: data: {e}", file=sys.stderr)
        if release(lk) != 0:
            errors += 1
    close(lk)
    d.close()
    f.write(f"cycles {cycles}\nwrites {writes}\nerrors {errors}\ntimeouts {timeouts}\n"
            f"violations {violations}\n")
    f.close()


def sc_mix():
    n = O.procs
    data_init()
    b = Barrier()
    pids = [fork(mix_loop, i, b, O.seconds) for i in range(n)]
    b.wait_ready(n)
    t0 = b.release()
    bad, _ = wait_children(pids)
    t1 = now()
    d = Data(0)
    counter = d.read()[1]
    d.close()
    emit(dict(impl=IMPL, scenario="mix", procs=n, write_pct=O.write_pct, seconds=t1 - t0,
              counter=counter, failed_procs=bad))


def sc_burst():
    n = O.procs
    b, rel = Barrier(), Barrier()
    done = os.pipe()  # with --release: one byte from each child once it has released

    def child(i):
        lk = open_lock(i)
        f = out_open("r", i)
        b.child()
        r = 0 if O.no_acquire else acquire(lk, False, O.timeout)
        t = now()
        f.write(f"grant {t:.9f}\ncycles {int(r == 0)}\nerrors {int(r != 0)}\n")
        f.close()
        rel.child()
        if r == 0 and not O.no_acquire:
            release(lk)
        if O.release_all:
            os.write(done[1], b"d")
        close(lk)

    pids = [fork(child, i) for i in range(n)]
    os.close(done[1])
    b.wait_ready(n)
    t0 = b.release()
    rel.wait_ready(n)
    t1 = now()
    if O.release_all:
        # released together: time until the last says it has released (at most O.timeout)
        t2 = rel.release()
        t3, got = t2, 0
        while got < n:
            left = t2 + O.timeout - now()
            if left <= 0 or not select.select([done[0]], [], [], left)[0]:
                break
            k = len(os.read(done[0], 4096))
            if k == 0:
                break
            got += k
            t3 = now()
        for p in pids:  # those still releasing (a timeout)
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_children(pids)
        emit(dict(impl=IMPL, scenario="burst", procs=n, t0=t0, all_hold_seen=t1 - t0,
                  released=got, all_released=(t3 - t2) if got == n else -1.0, failed_procs=0))
        return
    for p in pids:  # only the way in is measured (see bench.h)
        os.kill(p, signal.SIGKILL)
    rel.release()
    wait_children(pids)
    bad = 0
    emit(dict(impl=IMPL, scenario="burst", procs=n, t0=t0, all_hold_seen=t1 - t0,
              failed_procs=bad))


def sc_evict():
    hold_r, hold_w = os.pipe()
    gr_r, gr_w = os.pipe()

    def victim():
        lk = open_lock(0)
        if acquire(lk, True, 10.0) != 0:
            os._exit(4)
        os.write(hold_w, b"h")
        while True:
            signal.pause()

    vpid = fork(victim)
    if os.read(hold_r, 1) != b"h":
        die("the victim did not get the lock")
    b = Barrier()

    def waiter():
        lk = open_lock(1)
        b.child()
        r = acquire(lk, True, 60.0)
        t = now()
        os.write(gr_w, f"{t:.9f} {r}\n".encode())
        if r == 0:
            release(lk)
        close(lk)

    wpid = fork(waiter)
    b.wait_ready(1)
    b.release()
    time.sleep(0.5)
    t_kill = now()
    os.kill(vpid, signal.SIGKILL)
    line = os.read(gr_r, 100).decode().split()
    bad, _ = wait_children([wpid])
    os.waitpid(vpid, 0)
    ok = len(line) == 2 and line[1] == "0"
    emit(dict(impl=IMPL, scenario="evict", hb=O.hb, stale=O.stale,
              grant_after_kill=(float(line[0]) - t_kill) if ok else -1.0, failed_procs=bad))


def sc_waiters():
    n = O.procs
    hold_r, hold_w = os.pipe()
    done_r, done_w = os.pipe()

    def holder():
        os.close(done_w)
        lk = open_lock(0)
        if acquire(lk, True, 10.0) != 0:
            os._exit(4)
        os.write(hold_w, b"h")
        os.read(done_r, 1)
        release(lk)
        close(lk)

    hpid = fork(holder)
    os.close(done_r)
    if os.read(hold_r, 1) != b"h":
        die("the holder did not get the lock")
    b = Barrier()

    def waiter(i):
        os.close(done_w)
        lk = open_lock(i + 1)
        f = out_open("r", i)
        b.child()
        r = acquire(lk, O.write, O.seconds)
        f.write(f"timeouts {int(r == 1)}\nerrors {int(r < 0)}\ncycles {int(r == 0)}\n")
        f.close()
        if r == 0:
            release(lk)
        close(lk)

    pids = [fork(waiter, i) for i in range(n)]
    b.wait_ready(n)
    t0 = b.release()
    bad, ru = wait_children(pids)
    t1 = now()
    os.close(done_w)
    os.waitpid(hpid, 0)
    emit(dict(impl=IMPL, scenario="waiters", mode="w" if O.write else "r", procs=n,
              seconds=t1 - t0, failed_procs=bad,
              cpu=[r.ru_utime + r.ru_stime for r in ru]))


def main(argv):
    if len(argv) < 2:
        die("usage: filelock_bench.py SCENARIO --lock PATH [options] (see bench/bench.h)")
    O.scenario = argv[1]
    O.lock, O.data = [], []
    it = iter(argv[2:])
    for a in it:
        if a == "--direct":
            O.direct = True
            continue
        if a == "--no-acquire":
            O.no_acquire = True
            continue
        if a == "--release":
            O.release_all = True
            continue
        v = next(it, None)
        if v is None:
            die(f"option {a} needs a value")
        if a == "--lock":
            O.lock.append(v)
        elif a == "--data":
            O.data.append(v)
        elif a == "--out":
            O.out = v
        elif a == "--mode":
            O.write = v == "w"
        elif a == "--seconds":
            O.seconds = float(v)
        elif a == "--count":
            O.count = int(v)
        elif a == "--procs":
            O.procs = int(v)
        elif a == "--hb":
            O.hb = float(v)
        elif a == "--stale":
            O.stale = float(v)
        elif a == "--poll":
            O.poll = float(v)
        elif a == "--hold-ms":
            O.hold_ms = float(v)
        elif a == "--think-ms":
            O.think_ms = float(v)
        elif a == "--timeout":
            O.timeout = float(v)
        elif a == "--writer-think-ms":
            O.writer_think_ms = float(v)
        elif a == "--write-pct":
            O.write_pct = float(v)
        else:
            die(f"unknown option {a}")
    if not O.lock:
        die("--lock PATH is required")
    fn = dict(cycles=sc_cycles, writers=lambda: sc_writers(0), mixed=lambda: sc_writers(1),
              burst=sc_burst, mix=sc_mix, evict=sc_evict, waiters=sc_waiters).get(O.scenario)
    if fn is None:
        die(f"unknown scenario {O.scenario}")
    fn()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
