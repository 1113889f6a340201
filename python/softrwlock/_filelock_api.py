"""filelock's SoftReadWriteLock interface on libsoftrwlock.

A program written for ``filelock.SoftReadWriteLock`` (filelock 3.27 to 4.x) runs on
libsoftrwlock when its import changes::

    from softrwlock import SoftReadWriteLock, Timeout   # was: from filelock import ...

Same constructor (``lock_file, timeout=-1, *, blocking=True, is_singleton=True,
heartbeat_interval=30.0, stale_threshold=None, poll_interval=0.25, on_compromise=None``),
same methods and properties (``read_lock``/``write_lock``, ``acquire_read``/``acquire_write``
returning a proxy usable with ``with``, ``release(force=)``, ``close``, ``get_lock``,
``generation``, ``compromise``), same exceptions (Timeout is a TimeoutError, and a
filelock.Timeout when filelock is installed; misuse is a RuntimeError; bad intervals a
ValueError). Deviations (the lock's files are not filelock's, so the two never share a lock
path):

- releasing a hold that was lost (evicted) raises softrwlock.Lost, a RuntimeError, unless
  ``on_compromise`` or ``compromise`` already reported the loss (filelock never raises there:
  a program that does not ask would never learn that it lost the lock);
- another thread asking for the write lock this instance holds waits (up to its timeout)
  instead of getting RuntimeError at once;
- any thread may release a level of a read hold (filelock: only a thread that took one);
- ``LeaseCompromise.token`` is the lost hold's generation as a string ("" when unknown),
  there being no token;
- the lock's files live in ``<lock_file>.srwl/`` (filelock: ``<lock_file>.rw/`` or
  ``.state``/``.write``/``.readers``); both make the lock file's missing parent directories.
"""

import math
import numbers
import os
import threading
import traceback
import weakref
from contextlib import contextmanager
from dataclasses import dataclass

import softrwlock as _srwl


@dataclass(frozen=True)
class LeaseCompromise:
    """How a hold was lost (filelock.LeaseCompromise's fields): ``reason`` is "evicted"."""

    lock_file: str
    token: str
    reason: str
    error: Exception = None


class AcquireReturnProxy:
    """Returned by acquire_read()/acquire_write(): ``with lock.acquire_write():`` releases on exit."""

    def __init__(self, lock):
        self.lock = lock

    def __enter__(self):
        return self.lock

    def __exit__(self, exc_type, exc, tb):
        self.lock.release()


def _seconds(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("%s must be a number of seconds, not %s" % (name, type(value).__name__))
    return float(value)


def _check_blocking(blocking):
    if not isinstance(blocking, bool):
        raise TypeError("blocking must be a bool, not %s" % type(blocking).__name__)


def _canonical(path):
    # As filelock 4 keys its singletons: the directory resolved, the last component kept.
    path = os.path.abspath(os.fspath(path))
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


class _Watcher:
    """One thread per process, started by the first hold of a lock with on_compromise: asks
    the library every min(heartbeat_interval) whether each such hold is still alive."""

    def __init__(self):
        self._cond = threading.Condition()
        self._locks = weakref.WeakSet()
        self._thread = None

    def add(self, lock):
        with self._cond:
            self._locks.add(lock)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="softrwlock-compromise",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self):
        while True:
            with self._cond:
                locks = list(self._locks)
                if not locks:
                    self._cond.wait()
                    continue
                self._cond.wait(min(lk.heartbeat_interval for lk in locks))
                locks = list(self._locks)
            for lk in locks:
                lk._watch()


_WATCHER = _Watcher()


class _SoftRWMeta(type):
    """Singletons per canonical path (is_singleton=True), as filelock's metaclass."""

    def __call__(cls, lock_file, timeout=-1, *, blocking=True, is_singleton=True,
                 heartbeat_interval=30.0, stale_threshold=None, poll_interval=0.25,
                 on_compromise=None):
        _check_blocking(blocking)
        timeout = _seconds("timeout", timeout)
        kwargs = dict(blocking=blocking, is_singleton=is_singleton,
                      heartbeat_interval=heartbeat_interval, stale_threshold=stale_threshold,
                      poll_interval=poll_interval, on_compromise=on_compromise)
        if not is_singleton:
            return super().__call__(lock_file, timeout, **kwargs)
        key = _canonical(lock_file)
        with cls._instances_lock:
            instance = cls._instances.get(key)
            if instance is None:
                instance = super().__call__(lock_file, timeout, **kwargs)
                cls._instances[key] = instance
            elif _same_timeout(instance.timeout) != _same_timeout(timeout) or instance.blocking != blocking:
                raise ValueError(
                    "Singleton lock created with timeout=%s, blocking=%s, cannot be changed to "
                    "timeout=%s, blocking=%s" % (instance.timeout, instance.blocking, timeout, blocking)
                )
            elif on_compromise is not None and instance._on_compromise != on_compromise:
                raise ValueError(
                    "Singleton lock created with a different on_compromise callback for %s" % (lock_file,)
                )
            return instance


def _same_timeout(t):
    return "nan" if math.isnan(t) else (-1.0 if t == math.inf else t)


class SoftReadWriteLock(metaclass=_SoftRWMeta):
    """A reader/writer lock for processes on many hosts, with filelock's interface.

    :param lock_file: path of the lock; libsoftrwlock keeps its files in ``<lock_file>.srwl/``
    :param timeout: default wait in seconds; ``-1`` waits forever
    :param blocking: default; if ``False``, raise :class:`Timeout` at once on contention
    :param is_singleton: if ``True``, one instance per canonical path in this process
    :param heartbeat_interval: seconds between heartbeats; default 30
    :param stale_threshold: seconds a silent holder keeps the lock; default 3 x heartbeat
    :param poll_interval: longest pause between retries while waiting; default 0.25
    :param on_compromise: called with a :class:`LeaseCompromise` (from a helper thread) when
        the hold is found lost
    """

    _instances = weakref.WeakValueDictionary()
    _instances_lock = threading.RLock()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._instances = weakref.WeakValueDictionary()
        cls._instances_lock = threading.RLock()

    def __init__(self, lock_file, timeout=-1, *, blocking=True, is_singleton=True,
                 heartbeat_interval=30.0, stale_threshold=None, poll_interval=0.25,
                 on_compromise=None):
        heartbeat_interval = _seconds("heartbeat_interval", heartbeat_interval)
        opts = _srwl.Options.for_heartbeat(heartbeat_interval)
        if stale_threshold is not None:
            opts.stale_threshold = _seconds("stale_threshold", stale_threshold)
        opts.poll_interval = _seconds("poll_interval", poll_interval)
        self.lock_file = os.fspath(lock_file)
        # As filelock: the lock's missing parent directories are made (mode 0777 & ~umask).
        parent = os.path.dirname(os.path.abspath(self.lock_file))
        os.makedirs(parent, exist_ok=True)
        self.timeout = timeout
        self.blocking = blocking
        self._handle = _srwl.Lock(lock_file, options=opts)  # validates: Invalid is a ValueError
        self.heartbeat_interval = self._handle.options.heartbeat_interval
        self.stale_threshold = self._handle.options.stale_threshold
        self.poll_interval = self._handle.options.poll_interval
        self._on_compromise = on_compromise
        self._compromise = None  # the loss of the current (or last) hold, once seen
        self._told = None  # the loss on_compromise was called with
        self._creator_pid = os.getpid()

    def __repr__(self):
        return "<softrwlock.SoftReadWriteLock %r>" % (self.lock_file,)

    @classmethod
    def get_lock(cls, lock_file, timeout=-1, *, blocking=True):
        """The singleton instance for *lock_file* (ValueError if it exists with other
        timeout or blocking values)."""
        return cls(lock_file, timeout, blocking=blocking)

    def _forked(self):
        return os.getpid() != self._creator_pid

    @property
    def generation(self):
        """The fencing token of the current hold (an int), or None when nothing is held.

        It grows with every write grant on this lock path, across hosts; for a read hold it is
        the last write grant's. Hand it to the resource you protect so that it can refuse a
        holder that was evicted (its value is below its successor's).
        """
        if self._forked() or self._handle.closed:
            return None
        try:
            return self._handle.generation()
        except _srwl.StateError:
            return None

    @property
    def compromise(self):
        """How the current hold was lost (a LeaseCompromise), or None while it stands."""
        if self._compromise is None and not self._forked() and not self._handle.closed:
            try:
                self._handle.check()
            except _srwl.Lost as e:
                self._compromise = LeaseCompromise(self.lock_file, self._token(), "evicted", e)
            except _srwl.SoftRWLockError:
                pass
        return self._compromise

    def _token(self):
        try:
            return str(self._handle.generation())
        except _srwl.SoftRWLockError:
            return ""

    def _watch(self):
        # From the watcher thread: report each lost hold once (also when `compromise` saw it
        # first); a callback that raises is printed and does not stop the watcher.
        compromise = self.compromise
        if compromise is not None and self._told is not compromise and self._on_compromise:
            self._told = compromise
            try:
                self._on_compromise(compromise)
            except Exception:
                traceback.print_exc()

    def _acquire(self, write, timeout, blocking):
        if self._forked():
            raise _srwl.Forked(_srwl.Status.EFORKED,
                               "SoftReadWriteLock on %s was invalidated by fork(); construct a new "
                               "instance" % self.lock_file, self.lock_file)
        timeout = self.timeout if timeout is None else _seconds("timeout", timeout)
        blocking = self.blocking if blocking is None else blocking
        _check_blocking(blocking)
        if self._handle.closed:
            raise _srwl.StateError(_srwl.Status.ESTATE,
                                   "SoftReadWriteLock on %s has been closed" % self.lock_file,
                                   self.lock_file)
        fresh = self.generation is None  # no I/O, unlike check()
        _srwl._acquire(self._handle, write, timeout if blocking else 0.0)
        if fresh:
            self._compromise = None
            if self._on_compromise is not None:
                _WATCHER.add(self)
        return AcquireReturnProxy(lock=self)

    def acquire_read(self, timeout=None, *, blocking=None):
        """Takes a shared read lock (reentrant: a held read lock gains a level).

        :param timeout: seconds to wait, ``-1`` forever, ``None`` the instance default
        :param blocking: ``False`` tries once; ``None`` the instance default
        :returns: a proxy whose ``with`` block releases the lock
        :raises Timeout: if the lock could not be taken in time
        :raises RuntimeError: downgrade (a write lock is held), closed, or inherited by fork
        """
        return self._acquire(False, timeout, blocking)

    def acquire_write(self, timeout=None, *, blocking=None):
        """Takes the exclusive write lock (reentrant in the thread that holds it).

        Parameters and errors as :meth:`acquire_read`; upgrading a read lock is a RuntimeError.
        """
        return self._acquire(True, timeout, blocking)

    @contextmanager
    def read_lock(self, timeout=None, *, blocking=None):
        """``with lock.read_lock(timeout=5):`` holds a read lock for the block."""
        self.acquire_read(timeout, blocking=blocking)
        try:
            yield
        finally:
            self.release()

    @contextmanager
    def write_lock(self, timeout=None, *, blocking=None):
        """``with lock.write_lock(timeout=5):`` holds the write lock for the block."""
        self.acquire_write(timeout, blocking=blocking)
        try:
            yield
        finally:
            self.release()

    def release(self, *, force=False):
        """Releases one level of the hold (all of them with ``force=True``).

        :raises RuntimeError: nothing held (unless ``force``); softrwlock.Lost (a RuntimeError)
            if the hold had been lost and neither on_compromise nor ``compromise`` reported it.
            A no-op in a child process that inherited the instance.
        """
        if self._forked():
            return
        if not force:
            try:
                self._handle.release()
            except _srwl.Lost as e:
                # Told once: through on_compromise or `compromise` if it was, else here.
                if self._compromise is None:
                    self._compromise = LeaseCompromise(self.lock_file, "", "evicted", e)
                    raise
            return
        if self._handle.closed:
            return
        while True:
            try:
                self._handle.release()
            except (_srwl.StateError, _srwl.Lost):
                return

    def close(self):
        """Releases any hold and closes the instance; later acquires raise RuntimeError.
        Idempotent; a no-op in a child process that inherited the instance."""
        if self._forked():
            return
        try:
            self._handle.close()
        except _srwl.Lost:
            pass


def _forget_instances_in_child():
    # The parent's instances are invalid in a child: a new construction makes a new one.
    SoftReadWriteLock._instances = weakref.WeakValueDictionary()
    SoftReadWriteLock._instances_lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_instances_in_child)
    os.register_at_fork(after_in_child=_WATCHER.__init__)  # its thread and lock stayed behind
