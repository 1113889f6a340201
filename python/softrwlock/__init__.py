"""Python bindings (ctypes, standard library only) to libsoftrwlock.

libsoftrwlock is a reader/writer lock for processes on many hosts that share a network
filesystem (NFS, Lustre, GPFS, GlusterFS). Install it with ``pip install .`` from the
repository: the wheel carries the library. Two interfaces:

filelock's ``SoftReadWriteLock`` (switch by changing the import)::

    from softrwlock import SoftReadWriteLock, Timeout

    lock = SoftReadWriteLock("/scratch/data.lock", heartbeat_interval=5)
    with lock.write_lock(timeout=30):         # raises Timeout after 30 s
        update_the_data(lock.generation)
    with lock.read_lock():                    # waits forever
        use_the_data()

and the handle-level ``Lock`` (one Lock object is one participant, one C handle)::

    lock = softrwlock.Lock("/scratch/data.lock", heartbeat_interval=5)
    with lock.write(timeout=30):
        update_the_data(lock.generation())
    lock.close()

The library is found, in this order: the environment variable SOFTRWLOCK_LIB (the shared
library, or a directory holding libsoftrwlock.so.0 or libsoftrwlock.so; nothing else is tried
when it is set); the library inside this package (a wheel's _libsoftrwlock*.so, or
libsoftrwlock.so(.0) copied next to this file); the library that `cmake --install` put beside
this package (its _libdir.py names the directory); the repository's target/release/ (when run
from a source tree); ctypes.util.find_library("softrwlock"); then libsoftrwlock.so.0 and
libsoftrwlock.so through the dynamic loader's search path.

Every failing call raises a SoftRWLockError subclass chosen by the status (Timeout, Invalid,
IOFailure, StateError, Forked, Unsafe, Lost, InternalError, Interrupted) carrying ``.status``
(the C value), ``.message`` (srwl_last_error() of the failed call) and ``.lock_file``.

Signals: in the main thread, a blocking acquire wakes for every signal that has a Python
handler (Ctrl-C included): the handler runs at once; if it raises (KeyboardInterrupt), the
exception leaves the acquire within milliseconds and nothing is left on disk (no ticket,
claim, record or hold); if it returns, the acquire goes on with the rest of its timeout. It
works through signal.set_wakeup_fd(): for the duration of the call the module installs its
own descriptor and afterwards puts the previous one back, passing on the signal bytes it
received (so asyncio's own wakeup descriptor still hears of every signal). In other threads
(where Python runs no signal handlers) an acquire is not woken by signals;
``lock.interrupt()`` from any thread ends it with Interrupted.

Handles must not be shared across fork(): a child gets Forked errors and must open its own
Lock. Write holds belong to the thread that took them.
"""

import atexit
import ctypes
import ctypes.util
import enum
import importlib.machinery
import os
import signal
import threading
import time
import weakref

try:  # `except filelock.Timeout` keeps working for code that switched its import only
    from filelock import Timeout as _FilelockTimeout
except ImportError:  # filelock is optional
    _FilelockTimeout = None

__all__ = [
    "Status",
    "Options",
    "Lock",
    "SoftReadWriteLock",
    "AcquireReturnProxy",
    "LeaseCompromise",
    "SoftRWLockError",
    "Timeout",
    "Invalid",
    "IOFailure",
    "StateError",
    "Forked",
    "Unsafe",
    "Lost",
    "InternalError",
    "Interrupted",
    "FOREVER",
    "library",
    "library_path",
    "version",
    "status_str",
    "status_name",
    "last_error",
    "data_begin",
    "data_end",
]

__version__ = "0.1.0"

FOREVER = -1.0
"""The timeout that waits forever."""


class Status(enum.IntEnum):
    """The status codes of the C API (enum srwl_status); the values never change."""

    OK = 0
    TIMEOUT = 1
    EINVAL = 2
    EIO = 3
    ESTATE = 4
    EFORKED = 5
    EUNSAFE = 6
    ELOST = 7
    EINTERNAL = 8
    EINTR = 9


class SoftRWLockError(Exception):
    """A failed libsoftrwlock call: ``status`` (a Status or int), ``message`` (the library's
    description: operation, path, OS error) and ``lock_file`` (the lock's path, or None)."""

    def __init__(self, status, message="", lock_file=None):
        try:
            status = Status(status)
        except ValueError:
            pass
        self.status = status
        self.message = message
        self._lock_file = lock_file
        # Not super().__init__: Timeout may also be a filelock.Timeout, whose __init__ differs.
        BaseException.__init__(self, message or status_str(int(status)))

    def __str__(self):
        return self.args[0] if self.args else ""

    @property
    def lock_file(self):
        """The path of the lock, as given (None if the call had none)."""
        return self._lock_file

    def __reduce__(self):  # picklable across multiprocessing
        return (type(self), (int(self.status), self.message, self._lock_file))


class Timeout(SoftRWLockError, *((_FilelockTimeout,) if _FilelockTimeout else (TimeoutError,))):
    """SRWL_TIMEOUT: the timeout expired before the lock could be taken.

    A TimeoutError, as filelock.Timeout is; when filelock is installed, also a filelock.Timeout.
    """


class Invalid(SoftRWLockError, ValueError):
    """SRWL_EINVAL: an invalid argument (bad timeout, bad option, bad path)."""


class IOFailure(SoftRWLockError, OSError):
    """SRWL_EIO: a filesystem operation failed (the message names it)."""


class StateError(SoftRWLockError, RuntimeError):
    """SRWL_ESTATE: the call does not fit the handle's state (no hold, upgrade, downgrade,
    another thread's write hold, a closed lock). A RuntimeError, as in filelock."""


class Forked(SoftRWLockError, RuntimeError):
    """SRWL_EFORKED: the handle was inherited across fork(); open a new one in the child."""


class Unsafe(SoftRWLockError, OSError):
    """SRWL_EUNSAFE: refused for safety (symlink, wrong file type, foreign owner)."""


class Lost(SoftRWLockError, RuntimeError):
    """SRWL_ELOST: the hold was lost (another process evicted it after this one went silent
    for the stale threshold). The handle holds nothing afterwards."""


class InternalError(SoftRWLockError):
    """SRWL_EINTERNAL: a bug in libsoftrwlock."""


class Interrupted(SoftRWLockError):
    """SRWL_EINTR: the acquire was interrupted by Lock.interrupt() (or srwl_interrupt() on the
    handle); nothing was left on disk. (A signal whose Python handler raises, such as Ctrl-C's
    KeyboardInterrupt, raises that exception instead.)"""


_ERRORS = {
    Status.TIMEOUT: Timeout,
    Status.EINVAL: Invalid,
    Status.EIO: IOFailure,
    Status.ESTATE: StateError,
    Status.EFORKED: Forked,
    Status.EUNSAFE: Unsafe,
    Status.ELOST: Lost,
    Status.EINTERNAL: InternalError,
    Status.EINTR: Interrupted,
}


class Options(ctypes.Structure):
    """struct srwl_options. Make it with Options.defaults() or Options.for_heartbeat()."""

    _fields_ = [
        ("size", ctypes.c_uint32),
        ("heartbeat_interval", ctypes.c_double),
        ("stale_threshold", ctypes.c_double),
        ("poll_interval", ctypes.c_double),
    ]

    @classmethod
    def defaults(cls):
        """The library defaults (srwl_options_init): 30 s, 90 s, 1 s."""
        opts = cls()
        library().srwl_options_init(ctypes.byref(opts))
        return opts

    @classmethod
    def for_heartbeat(cls, heartbeat_interval):
        """Options for a heartbeat interval, the other fields derived by the library
        (srwl_options_init_heartbeat: stale threshold 3 x heartbeat, poll min(1 s, heartbeat/2))."""
        lib = library()
        opts = cls()
        if hasattr(lib, "srwl_options_init_heartbeat"):
            lib.srwl_options_init_heartbeat(ctypes.byref(opts), float(heartbeat_interval))
        else:
            # Fallback for a library without srwl_options_init_heartbeat (drop once it ships).
            lib.srwl_options_init(ctypes.byref(opts))
            opts.heartbeat_interval = float(heartbeat_interval)
            opts.stale_threshold = 3.0 * opts.heartbeat_interval
            opts.poll_interval = min(opts.poll_interval, opts.heartbeat_interval / 2.0)
        return opts

    def __repr__(self):
        return "Options(heartbeat_interval=%r, stale_threshold=%r, poll_interval=%r)" % (
            self.heartbeat_interval,
            self.stale_threshold,
            self.poll_interval,
        )


class _Handle(ctypes.Structure):
    """The opaque struct srwl_lock."""


_HandlePtr = ctypes.POINTER(_Handle)

_lib = None
_lib_path = None
_lib_lock = threading.Lock()
_HERE = os.path.dirname(os.path.abspath(__file__))
_NAMES = ("libsoftrwlock.so.0", "libsoftrwlock.so", "libsoftrwlock.dylib")


def _in_directory(d):
    """The library files in directory d: a wheel's _libsoftrwlock<suffix> or libsoftrwlock.so*."""
    names = ["_libsoftrwlock" + s for s in importlib.machinery.EXTENSION_SUFFIXES] + list(_NAMES)
    return [os.path.join(d, n) for n in names if os.path.isfile(os.path.join(d, n))]


def _candidates():
    """(path, explicit) pairs to try in order; explicit ones are not skipped when missing."""
    env = os.environ.get("SOFTRWLOCK_LIB")
    if env:
        if os.path.isdir(env):
            found = _in_directory(env)
            if not found:
                raise OSError(
                    "SOFTRWLOCK_LIB=%s is a directory without %s" % (env, " or ".join(_NAMES[:2]))
                )
            yield found[0]
        else:
            yield env
        return
    for p in _in_directory(_HERE):
        yield p
    try:
        from softrwlock import _libdir  # written by cmake --install: where it put the library
    except ImportError:
        pass
    else:
        for p in _in_directory(os.path.normpath(os.path.join(_HERE, _libdir.RELATIVE))):
            yield p
    for p in _in_directory(os.path.join(os.path.dirname(os.path.dirname(_HERE)), "target", "release")):
        yield p
    found = ctypes.util.find_library("softrwlock")
    if found:
        yield found
    yield _NAMES[0]
    yield _NAMES[1]


def _declare(lib):
    c_double, c_int, c_char_p = ctypes.c_double, ctypes.c_int, ctypes.c_char_p
    status = c_int  # enum srwl_status: an int in the C ABI
    sigs = {
        "srwl_options_init": (None, [ctypes.POINTER(Options)]),
        "srwl_open": (status, [c_char_p, ctypes.POINTER(Options), ctypes.POINTER(_HandlePtr)]),
        "srwl_acquire_read": (status, [_HandlePtr, c_double]),
        "srwl_acquire_write": (status, [_HandlePtr, c_double]),
        "srwl_release": (status, [_HandlePtr]),
        "srwl_check": (status, [_HandlePtr]),
        "srwl_generation": (status, [_HandlePtr, ctypes.POINTER(ctypes.c_uint64)]),
        "srwl_close": (status, [_HandlePtr]),
        "srwl_status_str": (c_char_p, [c_int]),
        "srwl_last_error": (c_char_p, []),
        "srwl_version": (c_char_p, []),
    }
    # Newer additions to the C ABI, used when the library has them. The return value of
    # srwl_options_init_heartbeat is not read: srwl_open validates the options anyway.
    optional = {
        "srwl_status_name": (c_char_p, [c_int]),
        "srwl_options_init_heartbeat": (None, [ctypes.POINTER(Options), c_double]),
        "srwl_interrupt": (status, [_HandlePtr]),
        "srwl_set_interrupt_fd": (status, [_HandlePtr, c_int]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    for name, (restype, argtypes) in optional.items():
        if hasattr(lib, name):
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes


def library():
    """The loaded ctypes.CDLL (loaded on first use). Raises OSError naming what was tried."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lib_lock:
        if _lib is None:
            errors = []
            for cand in _candidates():
                try:
                    lib = ctypes.CDLL(cand)
                    _declare(lib)
                except (OSError, AttributeError) as e:
                    errors.append("%s: %s" % (cand, e))
                    continue
                _lib_path = cand
                _lib = lib
                break
            else:
                raise OSError(
                    "libsoftrwlock not found (install the package with pip, or set SOFTRWLOCK_LIB "
                    "to libsoftrwlock.so or its directory); tried: " + "; ".join(errors)
                )
    return _lib


def library_path():
    """The path or name the library was loaded from."""
    library()
    return _lib_path


def _decode(b):
    return b.decode("utf-8", "replace") if b is not None else ""


def version():
    """The library version, e.g. "0.1.0"."""
    return _decode(library().srwl_version())


def status_str(status):
    """A description of a status, e.g. "timed out"."""
    return _decode(library().srwl_status_str(int(status)))


def status_name(status):
    """The C name of a status without its SRWL_ prefix, e.g. "TIMEOUT" ("" if unknown)."""
    lib = library()
    if hasattr(lib, "srwl_status_name"):
        name = _decode(lib.srwl_status_name(int(status)))
        return name[5:] if name.startswith("SRWL_") else name
    try:
        return Status(int(status)).name
    except ValueError:
        return ""


def last_error():
    """The message of this thread's last failed libsoftrwlock call ("" if none)."""
    return _decode(library().srwl_last_error())


def _check(st, lock_file=None):
    """Raises the SoftRWLockError subclass for a failed status (right after the C call, in
    the same thread: the message is per thread and per call)."""
    if st != 0:
        raise _ERRORS.get(st, SoftRWLockError)(st, last_error(), lock_file)


def _fspath(path):
    path = os.fspath(path)
    if isinstance(path, str):
        path = os.fsencode(path)
    if not isinstance(path, bytes):
        raise TypeError("path must be str, bytes or os.PathLike, not %s" % type(path).__name__)
    return path


def _timeout(timeout):
    if timeout is None:
        return FOREVER
    if isinstance(timeout, bool):  # a typo for blocking=, never a number of seconds
        raise TypeError("timeout must be a number of seconds, not bool")
    return float(timeout)


class _WakeupPipe:
    """The descriptor this module gives signal.set_wakeup_fd() while the main thread waits in
    an acquire: Python's C-level signal handler writes the signal's number to `w`, and the
    library, polling `r` (srwl_set_interrupt_fd), ends the wait with SRWL_EINTR. One pipe per
    process, made at the first blocking acquire; a fork's child makes its own."""

    pid = None
    r = w = -1

    @classmethod
    def get(cls):
        if cls.pid != os.getpid():
            r, w = os.pipe()  # O_CLOEXEC (PEP 446)
            os.set_blocking(r, False)
            os.set_blocking(w, False)
            cls.pid, cls.r, cls.w = os.getpid(), r, w
        return cls

    @classmethod
    def drain(cls):
        """The signal bytes written since the last drain."""
        got = b""
        while True:
            try:
                chunk = os.read(cls.r, 512)
            except (BlockingIOError, InterruptedError):
                return got
            if not chunk:
                return got
            got += chunk


def _run_signal_handlers():
    """A Python-level call: the interpreter runs pending signal handlers on entering it."""


def _interruptible(lib):
    return (
        hasattr(lib, "srwl_set_interrupt_fd")
        and threading.current_thread() is threading.main_thread()
    )


def _acquire(lock, write, timeout):
    """Every blocking acquisition goes through here. In the main thread, signals with a Python
    handler end the library's wait (SRWL_EINTR, nothing left on disk); their handlers run
    here: an exception (KeyboardInterrupt) propagates, otherwise the acquire goes on with the
    rest of the timeout. Lock.interrupt() ends it with Interrupted in any thread."""
    lib = library()
    fn = lib.srwl_acquire_write if write else lib.srwl_acquire_read
    t = _timeout(timeout)
    deadline = None if t < 0 else time.monotonic() + t
    if t == 0 or not _interruptible(lib):
        while True:
            left = t if deadline is None else max(0.0, deadline - time.monotonic())
            st = fn(lock._h(), left)
            if st == Status.EINTR and not lock._take_interrupt():
                # The main thread's wakeup descriptor on a handle this thread shares: go on.
                time.sleep(0.01)
                continue
            _check(st, lock.path)
            return
    pipe = _WakeupPipe.get()
    while True:
        left = t if deadline is None else max(0.0, deadline - time.monotonic())
        h = lock._h()
        st = old = None
        signals = b""
        try:
            try:
                old = signal.set_wakeup_fd(pipe.w, warn_on_full_buffer=False)
                lib.srwl_set_interrupt_fd(h, pipe.r)
                st = fn(h, left)
            except ValueError:  # not the main interpreter: signals cannot end the wait
                st = fn(h, left)
            finally:
                lib.srwl_set_interrupt_fd(h, -1)
                if old is not None:
                    signal.set_wakeup_fd(old)
                signals = pipe.drain()
                if signals and old is not None and old != -1:
                    try:  # chain: the previous owner (asyncio) hears of every signal too
                        os.write(old, signals)
                    except OSError:
                        pass
            if signals or st == Status.EINTR:
                _run_signal_handlers()  # raises here if a handler raises
        except BaseException:
            if st == Status.OK:  # granted as the signal came: give the hold back
                lib.srwl_release(h)
            raise
        if st == Status.EINTR:
            if lock._take_interrupt() or not signals:
                _check(st, lock.path)
            continue  # the handlers returned: wait on
        _check(st, lock.path)
        return


class _Hold:
    """The context manager returned by Lock.read() / Lock.write(): acquires on enter,
    releases one level on exit (a release error is raised unless the block raised)."""

    __slots__ = ("_lock", "_write", "_timeout")

    def __init__(self, lock, write, timeout):
        self._lock = lock
        self._write = write
        self._timeout = timeout

    def __enter__(self):
        _acquire(self._lock, self._write, self._timeout)
        return self._lock

    def __exit__(self, exc_type, exc, tb):
        try:
            self._lock.release()
        except SoftRWLockError:
            if exc_type is None:
                raise
        return False


# Open handles, closed at interpreter exit so that peers do not wait a stale threshold.
_OPEN = weakref.WeakSet()


@atexit.register
def _close_all():
    for lock in list(_OPEN):
        try:
            lock.close()
        except Exception:
            pass


class Lock:
    """A lock handle on ``path`` (the library keeps its files in ``<path>.srwl/``).

    Options: ``heartbeat_interval`` (seconds between heartbeats, default 30),
    ``stale_threshold`` (seconds after which a silent holder is evicted; default
    3 x heartbeat_interval) and ``poll_interval`` (longest pause between retries; default
    1 s, or heartbeat_interval / 2 if smaller). ``options`` may give an Options struct
    instead.

    Timeouts in seconds: None or -1 waits forever, 0 tries once, > 0 waits at most that long.

    A Lock is not itself a context manager: ``with lock.read():`` / ``with lock.write():``
    hold it, and ``lock.close()`` (or ``contextlib.closing(Lock(path))``) closes the handle.
    """

    def __init__(self, path, heartbeat_interval=None, stale_threshold=None, poll_interval=None,
                 options=None):
        self._handle = None
        self._interrupt_asked = False
        # Held by close() and by the calls a helper thread makes (check, held): the handle
        # must not be freed under them. A blocking acquire never holds it.
        self._close_lock = threading.Lock()
        lib = library()
        self.path = os.fspath(path)
        if options is None:
            if heartbeat_interval is not None:
                options = Options.for_heartbeat(heartbeat_interval)
            else:
                options = Options.defaults()
            if stale_threshold is not None:
                options.stale_threshold = float(stale_threshold)
            if poll_interval is not None:
                options.poll_interval = float(poll_interval)
        elif not (heartbeat_interval is None and stale_threshold is None and poll_interval is None):
            raise TypeError("give either options or the interval keywords, not both")
        if not isinstance(options, Options):
            raise TypeError("options must be a softrwlock.Options")
        self.options = Options.from_buffer_copy(options)  # a copy
        handle = _HandlePtr()
        st = lib.srwl_open(_fspath(path), ctypes.byref(self.options), ctypes.byref(handle))
        _check(st, self.path)
        self._handle = handle
        _OPEN.add(self)

    def __repr__(self):
        return "<softrwlock.Lock %r%s>" % (self.path, "" if self._handle else " closed")

    @property
    def closed(self):
        return self._handle is None

    def _h(self):
        if self._handle is None:
            raise StateError(Status.ESTATE, "the lock %r is closed" % (self.path,), self.path)
        return self._handle

    def acquire_read(self, timeout=FOREVER):
        """Takes the lock for reading (shared). Raises Timeout, StateError (downgrade), ..."""
        _acquire(self, False, timeout)

    def acquire_write(self, timeout=FOREVER):
        """Takes the lock for writing (exclusive). Raises Timeout, StateError (upgrade), ..."""
        _acquire(self, True, timeout)

    def interrupt(self):
        """Ends the acquire blocked on this handle (in any thread), or the next acquire, with
        Interrupted; nothing is left on disk. Thread-safe; callable from a signal handler.
        Do not call it while another thread closes the lock."""
        self._interrupt_asked = True
        # Not under _close_lock: a signal handler may run while this thread holds it.
        _check(library().srwl_interrupt(self._h()), self.path)

    def _take_interrupt(self):
        asked, self._interrupt_asked = self._interrupt_asked, False
        return asked

    def release(self):
        """Releases one level of the hold. Raises StateError (no hold), Lost, ..."""
        _check(library().srwl_release(self._h()), self.path)

    def check(self):
        """Raises Lost if the hold was lost, StateError if there is none; else returns None."""
        with self._close_lock:
            _check(library().srwl_check(self._h()), self.path)

    def held(self):
        """Whether the handle holds a lock that is still alive (never raises)."""
        with self._close_lock:
            if self._handle is None:
                return False
            return library().srwl_check(self._handle) == 0

    def generation(self):
        """The fencing token of the current hold (an int). Raises StateError with no hold."""
        out = ctypes.c_uint64(0)
        with self._close_lock:
            _check(library().srwl_generation(self._h(), ctypes.byref(out)), self.path)
        return out.value

    def read(self, timeout=FOREVER):
        """A context manager holding the read lock: ``with lock.read(timeout=5): ...``"""
        return _Hold(self, False, timeout)

    def write(self, timeout=FOREVER):
        """A context manager holding the write lock: ``with lock.write(timeout=5): ...``"""
        return _Hold(self, True, timeout)

    def close(self):
        """Closes the handle, releasing any hold (all levels). Idempotent. Raises Lost or
        IOFailure if the release failed; the handle is closed either way."""
        with self._close_lock:
            handle, self._handle = self._handle, None
            if handle is not None:
                _OPEN.discard(self)
                _check(library().srwl_close(handle), self.path)

    def __enter__(self):
        # `with Lock(p):` would look like `with FileLock(p):` and hold nothing: refuse it.
        raise TypeError(
            "softrwlock.Lock is a handle, not a held lock: use `with lock.write():` or "
            "`with lock.read():` to hold it (and lock.close() or contextlib.closing(lock) to "
            "close it), or softrwlock.SoftReadWriteLock for filelock's interface"
        )

    def __exit__(self, exc_type, exc, tb):  # never reached: `with` needs it to call __enter__
        return False

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle is not None and _lib is not None:
            self._handle = None
            try:
                _lib.srwl_close(handle)
            except Exception:
                pass


# ---- the user's own data under the lock (README: "Your data under the lock") -------------


def _data_call(name, f):
    """Runs srwl_data_NAME on an fd, a file object (its fileno()) or a path."""
    lib = library()
    if isinstance(f, int):
        fn, arg = getattr(lib, "srwl_data_" + name), f
        fn.argtypes = [ctypes.c_int]
    elif hasattr(f, "fileno"):
        if name == "end" and hasattr(f, "flush"):
            f.flush()  # Python's own buffer first, then the client's
        fn, arg = getattr(lib, "srwl_data_" + name), f.fileno()
        fn.argtypes = [ctypes.c_int]
    else:
        fn, arg = getattr(lib, "srwl_data_%s_path" % name), _fspath(f)
        fn.argtypes = [ctypes.c_char_p]
    fn.restype = ctypes.c_int
    _check(fn(arg))


def data_begin(f):
    """After acquiring, before reading the file `f` (an fd, a file object or a path): drops
    this client's cached pages of it, so that you read what the previous holder wrote on
    another host. Open the file after acquiring (a file object's own read buffer is not
    dropped). Raises a SoftRWLockError subclass (Unsafe for a symlink or a non-regular path)."""
    _data_call("begin", f)


def data_end(f):
    """After writing the file `f` (an fd, a file object: flushed first, or a path), before
    releasing: its bytes reach the file server (fsync), so the next holder sees them."""
    _data_call("end", f)


from softrwlock._filelock_api import (  # noqa: E402  (needs the names above)
    AcquireReturnProxy,
    LeaseCompromise,
    SoftReadWriteLock,
)
