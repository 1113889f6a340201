"""Signals and interrupts during a blocking acquire (issue 11).

A real subprocess blocks on a lock this test process holds; it gets a real SIGINT and must end
with KeyboardInterrupt promptly, leaving no ticket, claim, record or hold of its own in the
lock directory. A signal whose handler returns does not end the acquire. Lock.interrupt()
ends a blocked acquire with softrwlock.Interrupted.
"""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
sys.path.insert(0, PYDIR)

import softrwlock  # noqa: E402

FAST = dict(heartbeat_interval=0.5, stale_threshold=10.0, poll_interval=0.02)
# Generous for a loaded 2-core machine; the goal is 0.5 s, and the measured figure is printed.
BOUND = 3.0

WAITER = r"""
import os, signal, sys, time
sys.path.insert(0, sys.argv[1])
import softrwlock
path, how, extra = sys.argv[2], sys.argv[3], sys.argv[4]
FAST = dict(heartbeat_interval=0.5, stale_threshold=10.0, poll_interval=0.02)
seen = []
if extra == "usr1-returns":
    signal.signal(signal.SIGUSR1, lambda s, f: seen.append(time.monotonic()))
if extra == "asyncio-fd":
    import socket
    a, b = socket.socketpair()
    a.setblocking(False); b.setblocking(False)
    signal.set_wakeup_fd(a.fileno())
    signal.signal(signal.SIGUSR1, lambda s, f: seen.append(time.monotonic()))
lock = softrwlock.Lock(path, **FAST)
rw = softrwlock.SoftReadWriteLock(path, **FAST)
print("ready", flush=True)
try:
    if how == "acquire_read":
        lock.acquire_read()
    elif how == "acquire_write":
        lock.acquire_write(timeout=60)
    elif how == "with_read":
        with lock.read():
            pass
    elif how == "with_write":
        with lock.write(timeout=60):
            pass
    elif how == "rw_read_lock":
        with rw.read_lock():
            pass
    elif how == "rw_write_lock":
        with rw.write_lock(timeout=60):
            pass
    elif how == "rw_acquire_write":
        rw.acquire_write()
    print("acquired", len(seen), flush=True)
    if extra == "asyncio-fd":
        print("chained", len(b.recv(64)), flush=True)
except KeyboardInterrupt:
    print("KeyboardInterrupt %.6f" % time.monotonic(), flush=True)
    sys.exit(3)
"""


def listing(side):
    out = {}
    for sub in ("Q", "R"):
        try:
            out[sub] = sorted(os.listdir(os.path.join(side, sub)))
        except FileNotFoundError:
            out[sub] = None
    return out


def start_waiter(path, how, extra="-"):
    env = dict(os.environ)
    env.setdefault("SOFTRWLOCK_LIB", softrwlock.library_path())
    p = subprocess.Popen([sys.executable, "-c", WAITER, PYDIR, path, how, extra], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


def wait_in_line(side, prefix, proc):
    """Until the waiter's ticket (r.) or claim (w.) is in Q, then 0.3 s for it to sleep."""
    end = time.monotonic() + 30
    while time.monotonic() < end:
        if any(n.startswith(prefix) for n in os.listdir(os.path.join(side, "Q"))):
            time.sleep(0.3)
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.005)
    pytest.fail("the waiter never queued (%s)" % listing(side))


@pytest.mark.parametrize("how", ["acquire_read", "acquire_write", "with_read", "with_write",
                                 "rw_read_lock", "rw_write_lock", "rw_acquire_write"])
def test_ctrl_c_ends_a_blocking_acquire(tmp_path, how):
    path = str(tmp_path / "lock")
    side = path + ".srwl"
    holder = softrwlock.Lock(path, **FAST)
    holder.acquire_write(10)
    before = listing(side)
    p = start_waiter(path, how)
    try:
        wait_in_line(side, "w." if "write" in how else "r.", p)
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        exited = time.monotonic() - sent
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 3, (p.returncode, out, err)
    caught = float(out.split("KeyboardInterrupt ")[1].split()[0]) - sent
    print("%s: KeyboardInterrupt %.1f ms after SIGINT (process exit %.1f ms)"
          % (how, caught * 1000, exited * 1000))
    assert caught < BOUND, "KeyboardInterrupt came %.3f s after SIGINT" % caught
    # Nothing of the waiter's is left: the sidecar lists what it listed before it came.
    assert listing(side) == before
    holder.release()
    holder.acquire_write(0)  # no claim of the dead waiter is ahead
    holder.release()
    holder.close()


def test_a_signal_whose_handler_returns_does_not_end_the_acquire(tmp_path):
    path = str(tmp_path / "lock")
    side = path + ".srwl"
    holder = softrwlock.Lock(path, **FAST)
    holder.acquire_write(10)
    p = start_waiter(path, "acquire_read", "usr1-returns")
    try:
        wait_in_line(side, "r.", p)
        for _ in range(3):
            p.send_signal(signal.SIGUSR1)
            time.sleep(0.3)
        assert p.poll() is None, "the waiter ended on a signal whose handler returned"
        holder.release()
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, (out, err)
    assert out.split() == ["acquired", "3"], (out, err)
    holder.close()


def test_a_wakeup_fd_set_before_is_restored_and_hears_the_signals(tmp_path):
    path = str(tmp_path / "lock")
    side = path + ".srwl"
    holder = softrwlock.Lock(path, **FAST)
    holder.acquire_write(10)
    p = start_waiter(path, "acquire_read", "asyncio-fd")
    try:
        wait_in_line(side, "r.", p)
        p.send_signal(signal.SIGUSR1)
        time.sleep(0.3)
        holder.release()
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, (out, err)
    assert out.split() == ["acquired", "1", "chained", "1"], (out, err)
    holder.close()


@pytest.mark.parametrize("in_thread", [False, True])
def test_interrupt_from_another_thread(tmp_path, in_thread):
    path = str(tmp_path / "lock")
    side = path + ".srwl"
    holder = softrwlock.Lock(path, **FAST)
    holder.acquire_write(10)
    before = listing(side)
    waiter = softrwlock.Lock(path, **FAST)
    result = {}

    def wait():
        try:
            waiter.acquire_read(30)
            result["got"] = "acquired"
        except softrwlock.Interrupted as e:
            result["got"] = e
        result["at"] = time.monotonic()

    def interrupt_later():
        end = time.monotonic() + 30
        while not any(n.startswith("r.") for n in os.listdir(os.path.join(side, "Q"))):
            assert time.monotonic() < end
            time.sleep(0.005)
        time.sleep(0.3)
        result["sent"] = time.monotonic()
        waiter.interrupt()

    other = threading.Thread(target=interrupt_later if not in_thread else wait)
    other.start()
    if in_thread:
        interrupt_later()
    else:
        wait()
    other.join()
    got = result["got"]
    assert isinstance(got, softrwlock.Interrupted), got
    assert got.status == softrwlock.Status.EINTR and "interrupted" in got.message
    assert result["at"] - result["sent"] < BOUND
    assert listing(side) == before
    holder.release()
    waiter.acquire_read(5)  # the handle works afterwards
    waiter.release()
    waiter.close()
    holder.close()
