"""softrwlock.SoftReadWriteLock is filelock's SoftReadWriteLock: programs written for real
filelock releases give the same output when their import names softrwlock instead."""

import multiprocessing
import os
import signal
import time

import pytest

import softrwlock
from conftest import FILELOCK_NEW, FILELOCK_OLD, HERE, PYDIR, run_python
from softrwlock import SoftReadWriteLock, Timeout

FAST = dict(heartbeat_interval=0.5, stale_threshold=10.0, poll_interval=0.02)


def switched(program, tmp_path, old_import, new_import):
    """A copy of `program` whose import of filelock names softrwlock instead (nothing else)."""
    with open(os.path.join(HERE, program)) as f:
        text = f.read()
    assert text.count(old_import + "\n") == 1, "the program's import line changed"
    out = tmp_path / ("switched_" + program)
    out.write_text(text.replace(old_import + "\n", new_import + "\n"))
    return str(out)


def run_both(program, filelock_dir, tmp_path, old_import):
    real_dir, ours_dir = tmp_path / "real", tmp_path / "ours"
    real_dir.mkdir()
    ours_dir.mkdir()
    real = run_python([os.path.join(HERE, program), str(real_dir)], [filelock_dir])
    assert real.returncode == 0, "with filelock:\n" + real.stdout + real.stderr
    ours_program = switched(program, tmp_path, old_import,
                            old_import.replace("from filelock import", "from softrwlock import"))
    ours = run_python([ours_program, str(ours_dir)], [PYDIR])  # filelock is not importable here
    assert ours.returncode == 0, "with softrwlock:\n" + ours.stdout + ours.stderr
    return real.stdout, ours.stdout


@pytest.mark.parametrize("version", [FILELOCK_OLD, FILELOCK_NEW])
def test_a_filelock_program_runs_unchanged(version, filelock_old, filelock_new, tmp_path):
    fl = filelock_old if version == FILELOCK_OLD else filelock_new
    real, ours = run_both("filelock_program.py", fl, tmp_path,
                          "from filelock import SoftReadWriteLock, Timeout")
    assert ours == real
    assert "4 processes x 15 grants: counter = 60 overlaps = 0 exit codes = [0, 0, 0, 0]" in ours
    assert ours.rstrip().endswith("done")


def test_a_filelock_fencing_program_runs_unchanged(filelock_new, tmp_path):
    # generation, compromise and on_compromise (filelock 3.33+), with a real eviction.
    real, ours = run_both("filelock_fencing_program.py", filelock_new, tmp_path,
                          "from filelock import SoftReadWriteLock")
    assert ours == real
    assert "child: ('told', True, 1, 'evicted', True)" in ours
    assert "evictor holds with a greater generation: True" in ours


def test_except_filelock_timeout_catches_ours(filelock_new, tmp_path):
    # Code that switched `SoftReadWriteLock`'s import but still catches filelock.Timeout.
    prog = tmp_path / "p.py"
    prog.write_text(
        "import filelock, softrwlock, sys\n"
        "p = sys.argv[1]\n"
        "a = softrwlock.SoftReadWriteLock(p)\n"
        "b = softrwlock.SoftReadWriteLock(p, is_singleton=False)\n"
        "with a.write_lock():\n"
        "    try:\n"
        "        b.acquire_read(blocking=False)\n"
        "    except filelock.Timeout as e:\n"
        "        print('caught', type(e).__module__, e.lock_file == p, isinstance(e, TimeoutError))\n"
    )
    r = run_python([str(prog), str(tmp_path / "x.lock")], [PYDIR, filelock_new])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "caught softrwlock True True\n"


@pytest.fixture
def lock_path(tmp_path):
    return str(tmp_path / "data.lock")


def _hold_write_then_release(path, held, releasing, after):
    lock = SoftReadWriteLock(path, **FAST)
    with lock.write_lock(timeout=30):
        held.set()
        time.sleep(after)
        releasing.set()


def test_timeout_semantics(lock_path):
    ctx = multiprocessing.get_context("fork")
    held, releasing = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_write_then_release, args=(lock_path, held, releasing, 1.5))
    holder.start()
    try:
        assert held.wait(30)
        lock = SoftReadWriteLock(lock_path, **FAST)
        t0 = time.monotonic()
        with pytest.raises(Timeout) as info:
            lock.acquire_read(blocking=False)
        assert time.monotonic() - t0 < 5.0  # one try, no wait (generous on a loaded machine)
        assert info.value.lock_file == lock_path and isinstance(info.value, TimeoutError)
        assert info.value.status == softrwlock.Status.TIMEOUT
        assert lock_path in str(info.value)  # the library's message names the lock
        t0 = time.monotonic()
        with pytest.raises(Timeout):
            lock.acquire_write(timeout=0.3)
        assert time.monotonic() - t0 >= 0.29
        with pytest.raises(ValueError):  # negative other than -1, as in filelock
            lock.acquire_read(timeout=-2)
        with pytest.raises(TypeError):
            lock.acquire_read(timeout=True)
        with pytest.raises(TypeError):
            lock.acquire_read(blocking=1)
        with lock.read_lock(timeout=-1):  # waits for the holder's release
            assert releasing.is_set()
            assert isinstance(lock.generation, int)
        assert lock.generation is None
    finally:
        holder.join(30)
    assert holder.exitcode == 0


def test_blocking_false_default_and_override(lock_path):
    lock = SoftReadWriteLock(lock_path, blocking=False, **FAST)
    rival = SoftReadWriteLock(lock_path, is_singleton=False, **FAST)
    with rival.read_lock():
        with lock.read_lock():  # readers share even when not blocking
            pass
        with pytest.raises(Timeout):
            lock.acquire_write()
        with pytest.raises(Timeout):
            lock.acquire_write(timeout=0.1, blocking=True)
    with lock.write_lock():
        assert lock.generation >= 1


def test_generation_fences(lock_path):
    a = SoftReadWriteLock(lock_path, **FAST)
    b = SoftReadWriteLock(lock_path, is_singleton=False, **FAST)
    seen = []
    for lock in (a, b, a):
        with lock.write_lock(timeout=10):
            seen.append(lock.generation)
    assert seen == sorted(seen) and len(set(seen)) == 3
    with a.read_lock(timeout=10), b.read_lock(timeout=10):
        assert a.generation == b.generation == seen[-1]


def test_fork_child_gets_a_new_instance(lock_path):
    lock = SoftReadWriteLock(lock_path, **FAST)
    lock.acquire_read()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            lock.release()  # a no-op in the child, as in filelock
            try:
                lock.acquire_read(timeout=0)
                code = 10
            except RuntimeError:
                pass
            mine = SoftReadWriteLock(lock_path, **FAST)
            if mine is lock:
                code = 11
            with mine.read_lock(timeout=10):
                pass
        except BaseException:
            code = 12
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert lock.generation is not None  # the parent still holds
    lock.release()


def _hold_until_told(path, held, go):
    lock = SoftReadWriteLock(path, heartbeat_interval=0.1, stale_threshold=0.6, poll_interval=0.05)
    lock.acquire_write(timeout=30)
    held.set()
    go.wait(120)
    try:
        lock.release()
    except softrwlock.Lost as e:  # not reported before: release tells
        os._exit(0 if isinstance(e, RuntimeError) and e.lock_file == path else 2)
    os._exit(1)


def test_release_of_a_lost_hold_tells(lock_path):
    # A deviation from filelock, which stays silent: without on_compromise, the evicted holder
    # learns at release.
    ctx = multiprocessing.get_context("fork")
    held, go = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold_until_told, args=(lock_path, held, go))
    child.start()
    try:
        assert held.wait(30)
        os.kill(child.pid, signal.SIGSTOP)
        evictor = SoftReadWriteLock(lock_path, heartbeat_interval=0.1, stale_threshold=0.6,
                                    poll_interval=0.05)
        with evictor.write_lock(timeout=60):
            os.kill(child.pid, signal.SIGCONT)
            go.set()
            child.join(60)
            assert evictor.compromise is None
    finally:
        if child.exitcode is None:
            os.kill(child.pid, signal.SIGCONT)
            go.set()
            child.join(60)
    assert child.exitcode == 0


def test_every_blocking_acquire_goes_through_one_helper(lock_path, monkeypatch):
    # Interruption (Ctrl-C) will be added there: no acquisition may bypass it.
    calls = []
    real = softrwlock._acquire

    def spy(lock, write, timeout):
        calls.append((write, timeout))
        return real(lock, write, timeout)

    monkeypatch.setattr(softrwlock, "_acquire", spy)
    lock = SoftReadWriteLock(lock_path, **FAST)
    with lock.read_lock(timeout=5):
        pass
    with lock.write_lock(blocking=False):
        pass
    handle = softrwlock.Lock(lock_path, **FAST)
    handle.acquire_read(5)
    handle.release()
    with handle.write(5):
        pass
    handle.close()
    assert calls == [(False, 5), (True, 0.0), (False, 5), (True, 5)]


def test_a_holder_that_exits_without_release_frees_the_lock(lock_path):
    # As filelock releases its holds at exit: the peers must not wait out the stale threshold.
    holder = run_python(["-c",
                         "import sys, softrwlock\n"
                         "lock = softrwlock.SoftReadWriteLock(sys.argv[1], heartbeat_interval=10)\n"
                         "lock.acquire_write(timeout=10)\n"
                         "handle = softrwlock.Lock(sys.argv[1] + '2', heartbeat_interval=10)\n"
                         "handle.acquire_read(10)\n"
                         "print('held', lock.generation)\n",  # exits holding both
                         lock_path], [PYDIR])
    assert holder.returncode == 0 and holder.stdout == "held 1\n", holder.stderr
    lock = SoftReadWriteLock(lock_path, heartbeat_interval=10)  # stale threshold 30 s
    with lock.write_lock(timeout=15):
        assert lock.generation == 2
    with SoftReadWriteLock(lock_path + "2", heartbeat_interval=10).write_lock(timeout=15):
        pass


def _hold_with_callback(path, held, go, results):
    calls = []

    def on_compromise(c):
        calls.append(c)
        raise KeyError("a callback that fails")  # printed; must not stop the watcher

    lock = SoftReadWriteLock(path, heartbeat_interval=0.1, stale_threshold=0.6, poll_interval=0.05,
                             on_compromise=on_compromise)
    other = SoftReadWriteLock(path + "2", heartbeat_interval=0.1, stale_threshold=0.6,
                              poll_interval=0.05, on_compromise=on_compromise)
    lock.acquire_write(timeout=30)
    other.acquire_write(timeout=30)
    held.set()
    go.wait(120)
    seen_first = lock.compromise  # the program asks before the watcher reports
    deadline = time.monotonic() + 60
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    lock.release()  # reported: silent
    other.release()
    results.put((seen_first is not None, sorted(c.lock_file for c in calls)))


def test_on_compromise_is_called_for_each_lost_hold(tmp_path):
    # Even when the program read `compromise` first, and when a callback raised.
    path = str(tmp_path / "a.lock")
    ctx = multiprocessing.get_context("fork")
    held, go, results = ctx.Event(), ctx.Event(), ctx.Queue()
    child = ctx.Process(target=_hold_with_callback, args=(path, held, go, results))
    child.start()
    try:
        assert held.wait(30)
        os.kill(child.pid, signal.SIGSTOP)
        kw = dict(heartbeat_interval=0.1, stale_threshold=0.6, poll_interval=0.05)
        a, b = SoftReadWriteLock(path, **kw), SoftReadWriteLock(path + "2", **kw)
        with a.write_lock(timeout=60), b.write_lock(timeout=60):
            os.kill(child.pid, signal.SIGCONT)
            go.set()
            assert results.get(timeout=120) == (True, [path, path + "2"])
    finally:
        if child.exitcode is None:
            os.kill(child.pid, signal.SIGCONT)
            go.set()
        child.join(60)
    assert child.exitcode == 0
