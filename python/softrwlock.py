"""Python bindings (ctypes, standard library only) to libsoftrwlock.

libsoftrwlock is a reader/writer lock for processes on many hosts that share a network
filesystem (NFS, Lustre, GPFS, GlusterFS). Example::

    import softrwlock

    with softrwlock.Lock("/scratch/data.lock", heartbeat_interval=1.0) as lock:
        with lock.write(timeout=30):          # raises softrwlock.Timeout after 30 s
            update_the_data(lock.generation())
        with lock.read():                     # waits forever
            use_the_data()

The library is found, in this order: the environment variable SOFTRWLOCK_LIB (a path to the
shared library); libsoftrwlock.so(.0) next to this module; the repository's
target/release/ (this module's parent directory's); ctypes.util.find_library("softrwlock");
then the names libsoftrwlock.so.0 and libsoftrwlock.so through the dynamic loader's search
path.

Every failing call raises a SoftRWLockError subclass chosen by the status (Timeout, Invalid,
IOFailure, StateError, Forked, Unsafe, Lost, InternalError) carrying ``.status`` (the C
value) and ``.message`` (srwl_last_error() of the failed call).

One Lock object is one participant (one handle). Handles must not be shared across fork():
a child gets Forked errors and must open its own Lock. Write holds belong to the thread that
took them.
"""

import ctypes
import ctypes.util
import enum
import os
import threading

__all__ = [
    "Status",
    "Options",
    "Lock",
    "SoftRWLockError",
    "Timeout",
    "Invalid",
    "IOFailure",
    "StateError",
    "Forked",
    "Unsafe",
    "Lost",
    "InternalError",
    "FOREVER",
    "library",
    "library_path",
    "version",
    "status_str",
    "last_error",
    "data_begin",
    "data_end",
]

FOREVER = -1.0
"""The timeout that waits forever."""


class Status(enum.IntEnum):
    """The status codes of the C API (enum srwl_status)."""

    OK = 0
    TIMEOUT = 1
    EINVAL = 2
    EIO = 3
    ESTATE = 4
    EFORKED = 5
    EUNSAFE = 6
    ELOST = 7
    EINTERNAL = 8


class SoftRWLockError(Exception):
    """A failed libsoftrwlock call: ``status`` (a Status or int) and ``message``."""

    def __init__(self, status, message=""):
        try:
            status = Status(status)
        except ValueError:
            pass
        self.status = status
        self.message = message
        text = message or status_str(int(status))
        super().__init__(text)

    def __reduce__(self):  # picklable across multiprocessing
        return (type(self), (int(self.status), self.message))


class Timeout(SoftRWLockError, TimeoutError):
    """SRWL_TIMEOUT: the timeout expired before the lock could be taken."""


class Invalid(SoftRWLockError, ValueError):
    """SRWL_EINVAL: an invalid argument (bad timeout, bad option, bad path)."""


class IOFailure(SoftRWLockError, OSError):
    """SRWL_EIO: a filesystem operation failed (the message names it)."""


class StateError(SoftRWLockError):
    """SRWL_ESTATE: the call does not fit the handle's state (no hold, upgrade, ...)."""


class Forked(SoftRWLockError):
    """SRWL_EFORKED: the handle was inherited across fork(); open a new Lock."""


class Unsafe(SoftRWLockError):
    """SRWL_EUNSAFE: refused for safety (symlink, wrong file type, foreign owner)."""


class Lost(SoftRWLockError):
    """SRWL_ELOST: the hold was lost (another process evicted it)."""


class InternalError(SoftRWLockError):
    """SRWL_EINTERNAL: a bug in libsoftrwlock."""


_ERRORS = {
    Status.TIMEOUT: Timeout,
    Status.EINVAL: Invalid,
    Status.EIO: IOFailure,
    Status.ESTATE: StateError,
    Status.EFORKED: Forked,
    Status.EUNSAFE: Unsafe,
    Status.ELOST: Lost,
    Status.EINTERNAL: InternalError,
}


class Options(ctypes.Structure):
    """struct srwl_options. Make it with Options.defaults()."""

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


def _candidates():
    env = os.environ.get("SOFTRWLOCK_LIB")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (here, os.path.join(os.path.dirname(here), "target", "release")):
        for name in ("libsoftrwlock.so.0", "libsoftrwlock.so", "libsoftrwlock.dylib"):
            p = os.path.join(d, name)
            if os.path.exists(p):
                yield p
    found = ctypes.util.find_library("softrwlock")
    if found:
        yield found
    yield "libsoftrwlock.so.0"
    yield "libsoftrwlock.so"


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
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def library():
    """The loaded ctypes.CDLL (loaded on first use)."""
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
                    "libsoftrwlock not found (set SOFTRWLOCK_LIB to the path of "
                    "libsoftrwlock.so); tried: " + "; ".join(errors)
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


def last_error():
    """The message of this thread's last failed libsoftrwlock call ("" if none)."""
    return _decode(library().srwl_last_error())


def _check(st):
    """Raises the SoftRWLockError subclass for a failed status (right after the C call, in
    the same thread: the message is per thread and per call)."""
    if st != 0:
        raise _ERRORS.get(st, SoftRWLockError)(st, last_error())


def _fspath(path):
    path = os.fspath(path)
    if isinstance(path, str):
        path = os.fsencode(path)
    if not isinstance(path, bytes):
        raise TypeError("path must be str, bytes or os.PathLike, not %s" % type(path).__name__)
    return path


def _timeout(timeout):
    return FOREVER if timeout is None else float(timeout)


class _Hold:
    """The context manager returned by Lock.read() / Lock.write(): acquires on enter,
    releases one level on exit (a release error is raised unless the block raised)."""

    __slots__ = ("_lock", "_write", "_timeout")

    def __init__(self, lock, write, timeout):
        self._lock = lock
        self._write = write
        self._timeout = timeout

    def __enter__(self):
        if self._write:
            self._lock.acquire_write(self._timeout)
        else:
            self._lock.acquire_read(self._timeout)
        return self._lock

    def __exit__(self, exc_type, exc, tb):
        try:
            self._lock.release()
        except SoftRWLockError:
            if exc_type is None:
                raise
        return False


class Lock:
    """A lock handle on ``path`` (the library keeps its files in ``<path>.srwl/``).

    Options: ``heartbeat_interval`` (seconds between heartbeats, default 30),
    ``stale_threshold`` (seconds after which a silent holder is evicted; default
    3 x heartbeat_interval) and ``poll_interval`` (longest pause between retries; default
    1 s, or heartbeat_interval / 2 if smaller). ``options`` may give an Options struct
    instead.

    Timeouts in seconds: None or -1 waits forever, 0 tries once, > 0 waits at most that long.
    """

    def __init__(self, path, heartbeat_interval=None, stale_threshold=None, poll_interval=None,
                 options=None):
        self._handle = None
        lib = library()
        if options is None:
            options = Options.defaults()
            if heartbeat_interval is not None:
                options.heartbeat_interval = float(heartbeat_interval)
                options.stale_threshold = 3.0 * options.heartbeat_interval
                options.poll_interval = min(1.0, options.heartbeat_interval / 2.0)
            if stale_threshold is not None:
                options.stale_threshold = float(stale_threshold)
            if poll_interval is not None:
                options.poll_interval = float(poll_interval)
        elif not (heartbeat_interval is None and stale_threshold is None and poll_interval is None):
            raise TypeError("give either options or the interval keywords, not both")
        self.path = os.fspath(path)
        if not isinstance(options, Options):
            raise TypeError("options must be a softrwlock.Options")
        self.options = Options.from_buffer_copy(options)  # a copy
        handle = _HandlePtr()
        st = lib.srwl_open(_fspath(path), ctypes.byref(self.options), ctypes.byref(handle))
        _check(st)
        self._handle = handle
        self._pid = os.getpid()

    def __repr__(self):
        return "<softrwlock.Lock %r%s>" % (self.path, "" if self._handle else " closed")

    @property
    def closed(self):
        return self._handle is None

    def _h(self):
        if self._handle is None:
            raise StateError(Status.ESTATE, "the lock %r is closed" % (self.path,))
        return self._handle

    def acquire_read(self, timeout=FOREVER):
        """Takes the lock for reading (shared). Raises Timeout, StateError (downgrade), ..."""
        _check(library().srwl_acquire_read(self._h(), _timeout(timeout)))

    def acquire_write(self, timeout=FOREVER):
        """Takes the lock for writing (exclusive). Raises Timeout, StateError (upgrade), ..."""
        _check(library().srwl_acquire_write(self._h(), _timeout(timeout)))

    def release(self):
        """Releases one level of the hold. Raises StateError (no hold), Lost, ..."""
        _check(library().srwl_release(self._h()))

    def check(self):
        """Raises Lost if the hold was lost, StateError if there is none; else returns None."""
        _check(library().srwl_check(self._h()))

    def held(self):
        """Whether the handle holds a lock that is still alive (never raises)."""
        if self._handle is None:
            return False
        return library().srwl_check(self._handle) == 0

    def generation(self):
        """The fencing token of the current hold (an int). Raises StateError with no hold."""
        out = ctypes.c_uint64(0)
        _check(library().srwl_generation(self._h(), ctypes.byref(out)))
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
        handle, self._handle = self._handle, None
        if handle is not None:
            _check(library().srwl_close(handle))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.close()
        except SoftRWLockError:
            if exc_type is None:
                raise
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
