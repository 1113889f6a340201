"""Tests of the handle-level API of python/softrwlock (standard library unittest; pytest runs
them in scripts/test.sh).

    python3 -m pytest python/tests          or   python3 -m unittest discover -s python/tests

Environment: SOFTRWLOCK_LIB (the library, else the package searches for it: inside the
package, then target/release/), SOFTRWLOCK_C_WORKER (a built counter_worker.c; else the test
compiles it with $CC or cc against include/softrwlock.h, and fails if it cannot).
"""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from contextlib import closing

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
ROOT = os.path.dirname(PYDIR)
sys.path.insert(0, PYDIR)

import softrwlock  # noqa: E402
from softrwlock import Lock, Status  # noqa: E402

# Short intervals; a stale threshold generous enough for a loaded 2-core machine.
FAST = dict(heartbeat_interval=0.5, stale_threshold=10.0, poll_interval=0.02)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = PYDIR + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("SOFTRWLOCK_LIB", softrwlock.library_path())
    return env


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="srwl-py-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def path(self, name="lock"):
        return os.path.join(self.dir, name)


class LibraryTest(unittest.TestCase):
    def test_version_and_strings(self):
        self.assertRegex(softrwlock.version(), r"^\d+\.\d+\.\d+")
        self.assertEqual(softrwlock.status_str(Status.TIMEOUT), "timed out")
        self.assertEqual(softrwlock.status_str(99), "unknown status")
        self.assertTrue(softrwlock.library_path())

    def test_status_values_match_the_header(self):
        header = os.path.join(ROOT, "include", "softrwlock.h")
        if not os.path.exists(header):
            self.fail("include/softrwlock.h not found")
        with open(header) as f:
            header = f.read()
        for s in Status:
            self.assertIn("SRWL_%s = %d," % (s.name, s.value), header)

    def test_status_names(self):
        self.assertEqual(softrwlock.status_name(Status.TIMEOUT), "TIMEOUT")
        self.assertEqual(softrwlock.status_name(Status.ELOST), "ELOST")

    def test_options_for_heartbeat_is_the_librarys_rule(self):
        o = softrwlock.Options.for_heartbeat(0.5)
        self.assertEqual((o.heartbeat_interval, o.stale_threshold, o.poll_interval), (0.5, 1.5, 0.25))
        o = softrwlock.Options.for_heartbeat(10)
        self.assertEqual((o.heartbeat_interval, o.stale_threshold, o.poll_interval), (10.0, 30.0, 1.0))

    def test_options_defaults(self):
        o = softrwlock.Options.defaults()
        self.assertEqual((o.heartbeat_interval, o.stale_threshold, o.poll_interval), (30.0, 90.0, 1.0))
        self.assertGreaterEqual(o.size, 32)

    def test_exception_hierarchy(self):
        e = softrwlock.Timeout(Status.TIMEOUT, "x timed out")
        self.assertIsInstance(e, softrwlock.SoftRWLockError)
        self.assertIsInstance(e, TimeoutError)
        self.assertEqual(e.status, Status.TIMEOUT)
        self.assertEqual(str(e), "x timed out")
        self.assertTrue(issubclass(softrwlock.Invalid, ValueError))
        self.assertTrue(issubclass(softrwlock.IOFailure, OSError))
        self.assertTrue(issubclass(softrwlock.Unsafe, OSError))
        # filelock raises RuntimeError for misuse (upgrade, no hold, fork, closed, lost hold).
        for cls in (softrwlock.StateError, softrwlock.Forked, softrwlock.Lost):
            self.assertTrue(issubclass(cls, RuntimeError), cls)
        self.assertEqual(e.lock_file, None)
        e = softrwlock.Timeout(Status.TIMEOUT, "timed out: x", "/a/x.lock")
        self.assertEqual((e.lock_file, str(e)), ("/a/x.lock", "timed out: x"))
        import pickle
        e2 = pickle.loads(pickle.dumps(e))
        self.assertEqual((type(e2), e2.status, e2.message, e2.lock_file),
                         (softrwlock.Timeout, Status.TIMEOUT, "timed out: x", "/a/x.lock"))
        for cls in (softrwlock.Lost, softrwlock.Unsafe, softrwlock.StateError, softrwlock.Forked,
                    softrwlock.InternalError):
            self.assertTrue(issubclass(cls, softrwlock.SoftRWLockError))


class LockTest(TempDirTest):
    def test_bad_options_name_the_field(self):
        with self.assertRaises(softrwlock.Invalid) as cm:
            Lock(self.path(), heartbeat_interval=10, stale_threshold=5)
        self.assertEqual(cm.exception.status, Status.EINVAL)
        self.assertIn("stale_threshold", cm.exception.message)
        with self.assertRaises(softrwlock.Invalid) as cm:
            Lock(self.path(), poll_interval=0)
        self.assertIn("poll_interval", str(cm.exception))
        with self.assertRaises(TypeError):
            Lock(self.path(), options=softrwlock.Options.defaults(), heartbeat_interval=1)

    def test_derived_options(self):
        with closing(Lock(self.path(), heartbeat_interval=0.2)) as lock:
            self.assertAlmostEqual(lock.options.stale_threshold, 0.6)
            self.assertAlmostEqual(lock.options.poll_interval, 0.1)
        opts = softrwlock.Options.defaults()
        opts.poll_interval = 0.5
        with closing(Lock(self.path(), options=opts)) as lock:
            self.assertEqual(lock.options.poll_interval, 0.5)
            self.assertEqual(lock.options.heartbeat_interval, 30.0)

    def test_bad_paths(self):
        with self.assertRaises(softrwlock.IOFailure) as cm:
            Lock(os.path.join(self.dir, "no", "such", "dir", "x"))
        self.assertEqual(cm.exception.status, Status.EIO)
        self.assertIn("no/such/dir", cm.exception.message)
        with self.assertRaises(softrwlock.Invalid):
            Lock("")
        with self.assertRaises(softrwlock.Invalid):
            Lock(self.dir + "/")

    def test_unsafe_sidecar(self):
        target = os.path.join(self.dir, "elsewhere")
        os.mkdir(target)
        os.symlink(target, self.path("evil") + ".srwl")
        with self.assertRaises(softrwlock.Unsafe) as cm:
            Lock(self.path("evil"))
        self.assertEqual(cm.exception.status, Status.EUNSAFE)
        self.assertTrue(cm.exception.message)

    def test_with_lock_refuses_instead_of_holding_nothing(self):
        # `with Lock(p):` looks like `with FileLock(p):`, which holds the lock: refuse it.
        lock = Lock(self.path(), **FAST)
        self.addCleanup(lock.close)
        with self.assertRaises(TypeError) as cm:
            with lock:
                self.fail("entered a block without a hold")
        self.assertIn("lock.write()", str(cm.exception))
        with closing(Lock(self.path(), **FAST)) as other:  # nothing was held by `lock`
            other.acquire_write(0)
            other.release()

    def test_path_types(self):
        for p in (pathlib.Path(self.path("a")), os.fsencode(self.path("b")), self.path("c")):
            with closing(Lock(p, **FAST)) as lock:
                with lock.write(timeout=5):
                    pass
        self.assertTrue(os.path.isdir(self.path("a") + ".srwl"))
        self.assertFalse(os.path.exists(self.path("a")))  # the lock path itself is never made

    def test_exclusion_and_timeouts(self):
        with closing(Lock(self.path(), **FAST)) as a, closing(Lock(self.path(), **FAST)) as b:
            with a.write():
                self.assertTrue(a.held())
                a.check()
                g1 = a.generation()
                with self.assertRaises(softrwlock.Timeout) as cm:
                    b.acquire_write(timeout=0)
                self.assertEqual(cm.exception.status, Status.TIMEOUT)
                self.assertTrue(cm.exception.message)
                with self.assertRaises(TimeoutError):
                    with b.read(timeout=0.05):
                        self.fail("entered a read hold while another handle writes")
                # Downgrade is refused; nested write levels are fine.
                with self.assertRaises(softrwlock.StateError):
                    a.acquire_read(0)
                with a.write(0):
                    pass
                self.assertTrue(a.held())
            self.assertFalse(a.held())
            with b.write(timeout=5):
                self.assertGreater(b.generation(), g1)
            # Readers share; upgrade is refused.
            with a.read(5), b.read(5):
                self.assertEqual(a.generation(), b.generation())
                with self.assertRaises(softrwlock.StateError):
                    a.acquire_write(0)
                with a.read(0):  # nested read level
                    pass
                self.assertTrue(a.held())

    def test_state_errors_and_close(self):
        lock = Lock(self.path(), **FAST)
        with self.assertRaises(softrwlock.StateError) as cm:
            lock.release()
        self.assertIn("no lock", cm.exception.message)
        with self.assertRaises(softrwlock.StateError):
            lock.check()
        with self.assertRaises(softrwlock.StateError):
            lock.generation()
        with self.assertRaises(softrwlock.Invalid) as cm:
            lock.acquire_read(timeout=-2)
        self.assertIn("timeout", cm.exception.message)
        self.assertFalse(lock.held())
        lock.acquire_write(None)  # None: forever
        other = Lock(self.path(), **FAST)
        with self.assertRaises(softrwlock.Timeout):
            other.acquire_read(0)
        lock.close()  # releases the hold
        self.assertTrue(lock.closed)
        lock.close()  # idempotent
        with self.assertRaises(softrwlock.StateError):
            lock.acquire_read(0)
        self.assertFalse(lock.held())
        other.acquire_read(5)
        del other  # __del__ closes, releasing the hold
        with closing(Lock(self.path(), **FAST)) as third:
            third.acquire_write(5)
        self.assertIn("closed", repr(third))

    def test_release_error_inside_with_block_is_not_masked(self):
        lock = Lock(self.path(), **FAST)
        self.addCleanup(lock.close)
        with self.assertRaises(KeyError):
            with lock.write(5):
                lock.release()  # the block releases itself: the exit's release fails
                raise KeyError("mine")
        with self.assertRaises(softrwlock.StateError):
            with lock.read(5):
                lock.release()

    def test_threads_with_own_handles(self):
        counter = self.path("counter")
        with open(counter, "w") as f:
            f.write("0\n")
        grants, errors = [], []

        def work():
            try:
                with closing(Lock(self.path(), **FAST)) as lock:
                    for _ in range(15):
                        with lock.write(timeout=30):
                            with open(counter, "r+") as f:
                                n = int(f.read())
                                f.seek(0)
                                f.write("%d\n" % (n + 1))
                            grants.append(1)
            except Exception as e:  # reported below
                errors.append(e)

        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])
        with open(counter) as f:
            self.assertEqual(int(f.read()), len(grants))

    @unittest.skipUnless(hasattr(os, "fork"), "needs fork")
    def test_inherited_handle_is_forked(self):
        lock = Lock(self.path(), **FAST)
        self.addCleanup(lock.close)
        lock.acquire_read(5)
        pid = os.fork()
        if pid == 0:  # the child: the inherited handle refuses, a new one works
            code = 0
            try:
                try:
                    lock.acquire_read(0)
                    code = 10
                except softrwlock.Forked:
                    pass
                try:
                    lock.release()
                    code = 11
                except softrwlock.Forked:
                    pass
                with closing(Lock(self.path(), **FAST)) as mine:
                    with mine.read(timeout=5):
                        pass
            except BaseException:
                code = 12
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode")
                         else status >> 8, 0)
        lock.check()  # the parent's hold is untouched
        lock.release()

    def test_lost_hold_after_eviction(self):
        # A holder stopped (SIGSTOP) past its stale threshold is evicted; when it resumes,
        # check() and release() raise Lost.
        proc = subprocess.Popen(
            [sys.executable, __file__, "hold", self.path()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_env(), text=True,
        )
        self.addCleanup(proc.kill)
        self.assertEqual(proc.stdout.readline().strip(), "held")
        proc.send_signal(signal.SIGSTOP)
        try:
            with closing(Lock(self.path(), heartbeat_interval=0.1, stale_threshold=0.5, poll_interval=0.05)) as b:
                t0 = time.monotonic()
                with b.write(timeout=20):
                    waited = time.monotonic() - t0
        finally:
            proc.send_signal(signal.SIGCONT)
        self.assertGreater(waited, 0.4)
        out, _ = proc.communicate("go\n", timeout=30)
        # After the lost hold is released, the handle holds nothing and can be used again.
        self.assertEqual(out.split(), ["check:ELOST", "release:ELOST", "reacquire:OK"])


def _counter_worker_source():
    """counter_worker.c, with the other C test programs."""
    return os.path.join(ROOT, "tests", "c", "counter_worker.c")


class MixedProcessesTest(TempDirTest):
    """Several Python processes and C processes update one counter under one lock path."""

    def c_worker(self):
        exe = os.environ.get("SOFTRWLOCK_C_WORKER")
        if exe:
            return exe
        cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
        header = os.path.join(ROOT, "include", "softrwlock.h")
        if not cc or not os.path.exists(header):
            self.fail("no C compiler (cc, or $CC) or include/softrwlock.h to build the C worker")
        libpath = softrwlock.library_path()
        exe = os.path.join(self.dir, "counter_worker")
        cmd = [cc, "-std=c99", "-D_POSIX_C_SOURCE=200809L", "-o", exe,
               _counter_worker_source(), "-I", os.path.dirname(header)]
        if os.path.isabs(libpath):
            # Linked by its SONAME (libsoftrwlock.so.0): put that name next to the program.
            libdir = os.path.join(self.dir, "lib")
            os.mkdir(libdir)
            os.symlink(libpath, os.path.join(libdir, "libsoftrwlock.so.0"))
            os.symlink(libpath, os.path.join(libdir, "libsoftrwlock.so"))
            cmd += ["-L", libdir, "-Wl,-rpath," + libdir]
        cmd += ["-lsoftrwlock"]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            self.fail("building the C worker failed:\n%s\n%s" % (" ".join(cmd), r.stdout))
        return exe

    def test_python_and_c_processes_share_a_counter(self):
        exe = self.c_worker()
        lock, counter = self.path(), self.path("counter")
        with open(counter, "w") as f:
            f.write("0\n")
        n = 15
        procs = []
        for i in range(6):
            if i % 2:
                cmd = [exe, lock, counter, str(n)]
            else:
                cmd = [sys.executable, __file__, "counter", lock, counter, str(n)]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          env=_env(), text=True))
        grants = 0
        for p in procs:
            out, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, "%s failed:\n%s" % (p.args[0], err))
            grants += int(out.split()[-1])
        self.assertEqual(grants, 6 * n)
        with open(counter) as f:
            self.assertEqual(int(f.read()), grants)
        self.assertFalse(os.path.exists(counter + ".inside"))


def _worker_counter(lock_path, counter, iterations):
    """The Python twin of counter_worker.c."""
    marker = counter + ".inside"
    grants = errors = 0
    with closing(Lock(lock_path, **FAST)) as lock:
        for _ in range(iterations):
            with lock.write(timeout=60):
                try:
                    fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                    os.close(fd)
                except FileExistsError:
                    print("another writer is inside", file=sys.stderr)
                    errors += 1
                    fd = None
                with open(counter, "r+") as f:
                    n = int(f.read())
                    f.seek(0)
                    f.write("%d\n" % (n + 1))
                grants += 1
                if fd is not None:
                    os.unlink(marker)
            with lock.read(timeout=60):
                if os.path.exists(marker):
                    print("a writer is inside during a read hold", file=sys.stderr)
                    errors += 1
    print(grants)
    return 1 if errors else 0


def _worker_hold(lock_path):
    """Takes the write lock, says so, waits for a line on stdin, reports check, release and
    a new acquisition."""
    lock = Lock(lock_path, heartbeat_interval=0.1, stale_threshold=0.5, poll_interval=0.05)
    lock.acquire_write(10)
    print("held", flush=True)
    sys.stdin.readline()
    def reacquire():
        lock.acquire_write(10)
        lock.release()

    for name, call in (("check", lock.check), ("release", lock.release), ("reacquire", reacquire)):
        try:
            call()
            print("%s:OK" % name)
        except softrwlock.SoftRWLockError as e:
            print("%s:%s" % (name, e.status.name))
    lock.close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "counter":
        sys.exit(_worker_counter(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    if len(sys.argv) > 1 and sys.argv[1] == "hold":
        sys.exit(_worker_hold(sys.argv[2]))
    unittest.main()
