//! The C ABI: the only `extern "C"` in the crate. Every function NULL-checks its pointers,
//! runs inside a panic boundary (a panic becomes SRWL_EINTERNAL, never an abort of the host
//! program), and leaves a message for srwl_last_error() when it fails.

#![allow(non_camel_case_types)]
// Safety contract of every export, stated once: pointers are NULL or valid for the access the
// function documents, and a handle is one that srwl_open returned and srwl_close has not freed.
#![allow(clippy::missing_safety_doc)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::lock::Lock;
use crate::options::Options;
use crate::protocol::Mode;
use crate::status::{Error, Status};

pub use crate::options::srwl_options;
pub use crate::status::srwl_status;

/// An open lock handle. Opaque: created by srwl_open(), freed by srwl_close().
pub struct srwl_lock {
    _private: [u8; 0],
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(msg: &str) {
    let c = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Runs `f` behind the panic boundary and turns its result into a status.
fn guard(op: &str, f: impl FnOnce() -> Result<(), Error>) -> srwl_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => srwl_status::SRWL_OK,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!("{op}: internal error (please report): {what}"));
            srwl_status::SRWL_EINTERNAL
        }
    }
}

fn null(op: &str, what: &str) -> Error {
    Error::new(Status::SRWL_EINVAL, format!("{op}: {what} is NULL"))
}

unsafe fn handle<'a>(op: &str, lock: *const srwl_lock) -> Result<&'a Lock, Error> {
    if lock.is_null() {
        return Err(null(op, "lock"));
    }
    Ok(&*(lock as *const Lock))
}

/// Reads a caller's options field by field, never past its `size` (the first field): an older,
/// smaller struct gets defaults for the fields it lacks (see `srwl_options.size`).
unsafe fn read_options(opts: *const srwl_options) -> Result<Options, Error> {
    use std::mem::offset_of;
    use std::ptr::addr_of;
    let size = addr_of!((*opts).size).read();
    let field =
        |offset: usize, at: *const f64| Options::caller_has(size, offset).then(|| at.read());
    let heartbeat = field(
        offset_of!(Options, heartbeat_interval),
        addr_of!((*opts).heartbeat_interval),
    );
    let stale = field(
        offset_of!(Options, stale_threshold),
        addr_of!((*opts).stale_threshold),
    );
    let poll = field(
        offset_of!(Options, poll_interval),
        addr_of!((*opts).poll_interval),
    );
    Options::from_caller(size, heartbeat.unwrap_or(f64::NAN), stale, poll)
}

/// Fills `opts` with the defaults: heartbeat_interval 30 s, stale_threshold 90 s (3 x the
/// heartbeat), poll_interval 1 s, and `size` set to sizeof(srwl_options).
/// Takes: a pointer to caller-owned storage (NULL: does nothing). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn srwl_options_init(opts: *mut srwl_options) {
    if opts.is_null() {
        return;
    }
    let _ = catch_unwind(|| opts.write(Options::default()));
}

/// Fills `opts` as srwl_options_init() does, then derives the timing from one heartbeat
/// interval: heartbeat_interval = `heartbeat_interval`, stale_threshold = 3 x it,
/// poll_interval = min(1, it / 2) (seconds). The one place of this rule: the C++, Fortran and
/// Python wrappers and the CLI use it. Nothing is checked here; srwl_open() validates.
/// Takes: a pointer to caller-owned storage (NULL: does nothing). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn srwl_options_init_heartbeat(
    opts: *mut srwl_options,
    heartbeat_interval: f64,
) {
    if opts.is_null() {
        return;
    }
    let _ = catch_unwind(|| opts.write(Options::with_heartbeat(heartbeat_interval)));
}

/// Opens a lock handle on `path` and stores it in `*out`.
///
/// `path`: a NUL-terminated path (bytes, need not be UTF-8) of the lock. The path itself is
/// never created or opened: the library keeps its files in the sidecar directory
/// `<path>.srwl/` (created mode 0700 if missing). `opts`: NULL for defaults, or options
/// initialised with srwl_options_init() and then changed; they are copied.
/// Returns SRWL_OK and a new handle in `*out` (owned by the caller, free it with
/// srwl_close()); on failure `*out` is set to NULL and the status is SRWL_EINVAL (bad path or
/// options), SRWL_EUNSAFE (the sidecar directory is a symlink, not a directory, or owned by
/// another user) or SRWL_EIO (filesystem error). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn srwl_open(
    path: *const c_char,
    opts: *const srwl_options,
    out: *mut *mut srwl_lock,
) -> srwl_status {
    guard("srwl_open", || {
        if out.is_null() {
            return Err(null("srwl_open", "out"));
        }
        *out = std::ptr::null_mut();
        if path.is_null() {
            return Err(null("srwl_open", "path"));
        }
        let opts = if opts.is_null() {
            Options::default()
        } else {
            read_options(opts)?
        };
        let bytes = CStr::from_ptr(path).to_bytes();
        let lock = Lock::open(bytes, &opts)?;
        *out = Box::into_raw(Box::new(lock)) as *mut srwl_lock;
        Ok(())
    })
}

/// Takes the lock for reading (shared with other readers, excluding writers).
///
/// `timeout` in seconds: -1 (or +infinity) waits forever, 0 tries once, > 0 waits at most that
/// long; NaN or any other negative value is SRWL_EINVAL. Returns SRWL_OK, SRWL_TIMEOUT (nothing is left on
/// disk), SRWL_EINTR (interrupted by srwl_interrupt() or the interrupt descriptor: nothing is
/// left on disk), SRWL_ESTATE (this thread holds the write lock: downgrade is not supported),
/// SRWL_ELOST (the current hold was lost), SRWL_EFORKED (handle inherited across fork),
/// SRWL_EUNSAFE or SRWL_EIO. If the handle already holds a read lock, any thread of the
/// process adds a level, which srwl_release() removes. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn srwl_acquire_read(lock: *mut srwl_lock, timeout: f64) -> srwl_status {
    guard("srwl_acquire_read", || {
        handle("srwl_acquire_read", lock)?.acquire(Mode::Read, timeout)
    })
}

/// Takes the lock for writing (exclusive against every other handle, process and host).
///
/// `timeout` as for srwl_acquire_read(). Returns SRWL_OK, SRWL_TIMEOUT (nothing is left on
/// disk), SRWL_EINTR (as for srwl_acquire_read()), SRWL_ESTATE (the handle holds a read lock: upgrade is not supported), SRWL_ELOST,
/// SRWL_EFORKED, SRWL_EUNSAFE or SRWL_EIO. Write holds nest in the owning thread only; another
/// thread of the process that asks for the same handle waits until it is released.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn srwl_acquire_write(lock: *mut srwl_lock, timeout: f64) -> srwl_status {
    guard("srwl_acquire_write", || {
        handle("srwl_acquire_write", lock)?.acquire(Mode::Write, timeout)
    })
}

/// Releases one level of the handle's hold; the last level removes the record on disk.
///
/// Returns SRWL_OK, SRWL_ESTATE (no hold, or a write hold owned by another thread),
/// SRWL_ELOST (the hold had been lost: nothing belonging to the new holder was touched, and
/// the handle now holds nothing), SRWL_EFORKED (inherited handle: nothing on disk is touched)
/// or SRWL_EIO. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn srwl_release(lock: *mut srwl_lock) -> srwl_status {
    guard("srwl_release", || handle("srwl_release", lock)?.release())
}

/// Checks the hold: SRWL_OK while held and alive, SRWL_ELOST once lost (evicted; also checks
/// that the record is still on disk), SRWL_ESTATE if the handle holds nothing,
/// SRWL_EFORKED for an inherited handle. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn srwl_check(lock: *mut srwl_lock) -> srwl_status {
    guard("srwl_check", || handle("srwl_check", lock)?.check())
}

/// Stores the fencing token of the current hold in `*out`: a counter that grows with every
/// write grant on this lock path, across hosts (it is raised by every take of the baton and by
/// every hand-back of an evicted writer's baton, so after an eviction it grows by two). For a
/// write hold it is the value of this grant; for a read hold, the value of the baton the
/// reader found (that of the last write grant before the hold began, or of the hand-back that
/// followed an eviction; 0 if none). Hand it to the resource you protect so that it can refuse writes from a holder that
/// was evicted (an evicted writer's value is always below its successor's). No I/O. Returns
/// SRWL_OK, SRWL_EINVAL (NULL), SRWL_ESTATE (no hold) or SRWL_EFORKED. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn srwl_generation(lock: *mut srwl_lock, out: *mut u64) -> srwl_status {
    guard("srwl_generation", || {
        let l = handle("srwl_generation", lock)?;
        if out.is_null() {
            return Err(null("srwl_generation", "out"));
        }
        *out = l.generation()?;
        Ok(())
    })
}

/// Interrupts the acquire blocked on `lock` (whichever thread waits in it, on the file
/// server or for another thread of the handle), or, if none is in progress, the next acquire
/// of the handle: it returns SRWL_EINTR at once and leaves nothing on disk (no ticket, claim,
/// record or baton: the same cleanup as a timeout). An interrupt is consumed by the one
/// acquire that returns SRWL_EINTR; an acquire already granted when it arrives leaves it
/// pending for the next.
///
/// Async-signal-safe (an atomic store and at most one write() to the handle's eventfd) and
/// thread-safe: call it from a signal handler or another thread. The handle must stay open
/// meanwhile (do not srwl_close it concurrently). Returns SRWL_OK, or SRWL_EINVAL for NULL
/// (then without a message for srwl_last_error(), which would allocate).
#[no_mangle]
pub unsafe extern "C" fn srwl_interrupt(lock: *mut srwl_lock) -> srwl_status {
    // No guard(): its failure path allocates; nothing below can fail but the NULL check.
    catch_unwind(AssertUnwindSafe(|| {
        if lock.is_null() {
            return srwl_status::SRWL_EINVAL;
        }
        (*(lock as *const Lock)).interrupt();
        srwl_status::SRWL_OK
    }))
    .unwrap_or(srwl_status::SRWL_EINTERNAL)
}

/// Makes `fd` the handle's interrupt descriptor: while it is set, an acquire on `lock` returns
/// SRWL_EINTR if `fd` is readable (or hung up) when it starts, or as soon as it becomes
/// readable while the acquire waits, leaving nothing on disk.
/// The library polls `fd` only; it never reads, writes or closes it: drain it yourself, or
/// every later waiting acquire ends at once. For a language runtime whose signal handler can
/// only write a byte to a descriptor (Python's signal.set_wakeup_fd). `fd` = -1 unsets it.
/// Returns SRWL_OK, or SRWL_EINVAL (NULL, or `fd` < -1). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn srwl_set_interrupt_fd(lock: *mut srwl_lock, fd: c_int) -> srwl_status {
    guard("srwl_set_interrupt_fd", || {
        let l = handle("srwl_set_interrupt_fd", lock)?;
        if fd < -1 {
            return Err(Error::new(
                Status::SRWL_EINVAL,
                format!("srwl_set_interrupt_fd: fd = {fd}: must be a descriptor or -1"),
            ));
        }
        l.set_interrupt_fd(fd);
        Ok(())
    })
}

/// Closes and frees a handle. NULL is a no-op (SRWL_OK). If the handle holds a lock it is
/// released first (all levels); the handle is freed whatever the result, which is SRWL_OK,
/// SRWL_ELOST (the hold had been lost) or SRWL_EIO. For a handle inherited across fork nothing
/// on disk is touched (the parent still holds). Do not use the handle afterwards, nor close it
/// while another thread uses it.
#[no_mangle]
pub unsafe extern "C" fn srwl_close(lock: *mut srwl_lock) -> srwl_status {
    guard("srwl_close", || {
        if lock.is_null() {
            return Ok(());
        }
        let l = Box::from_raw(lock as *mut Lock);
        l.close()
    })
}

/// A static, NUL-terminated description of a status code ("unknown status" for values
/// outside the enum). Never NULL; do not free. Thread-safe.
#[no_mangle]
pub extern "C" fn srwl_status_str(status: c_int) -> *const c_char {
    match Status::from_i32(status) {
        Some(s) => s.as_cstr().as_ptr(),
        None => c"unknown status".as_ptr(),
    }
}

/// The name of a status code as the header spells it, e.g. "SRWL_TIMEOUT"; NULL for a value
/// outside the enum. Static; do not free. Thread-safe.
#[no_mangle]
pub extern "C" fn srwl_status_name(status: c_int) -> *const c_char {
    match Status::from_i32(status) {
        Some(s) => s.name().as_ptr(),
        None => std::ptr::null(),
    }
}

/// The message of this thread's last failed call: the operation, the path and the OS error,
/// e.g. "open sidecar directory /scratch/x.srwl: ELOOP (...)". Empty if no call failed yet.
/// Never NULL. The pointer is valid until this thread's next libsoftrwlock call; do not free.
/// Thread-safe (each thread has its own).
#[no_mangle]
pub extern "C" fn srwl_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The library version, e.g. "0.1.0". Static; do not free. Thread-safe.
#[no_mangle]
pub extern "C" fn srwl_version() -> *const c_char {
    static V: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    V.as_ptr()
}

/// Before reading a file under the lock: drops this client's cached pages of the file open
/// on `fd` (posix_fadvise DONTNEED), so that the next read asks the file server and sees what
/// the previous holder wrote on another host. Call it after acquiring, before the first read
/// (also on a descriptor kept open across holds). The descriptor stays the caller's.
/// Returns SRWL_OK, SRWL_EINVAL (not an open descriptor) or SRWL_EIO (e.g. a pipe).
/// Thread-safe. See the README, "Your data under the lock".
#[no_mangle]
pub extern "C" fn srwl_data_begin(fd: c_int) -> srwl_status {
    guard("srwl_data_begin", || crate::data::begin(fd))
}

/// Before releasing the lock after writing a file: fsync of the file open on `fd`, so that
/// its bytes are on the file server for the next holder (a client may hold them after
/// write() and close() returned: GlusterFS write-behind and flush-behind). Flush your own
/// buffers (fflush, Fortran flush) first. The descriptor stays the caller's.
/// Returns SRWL_OK, SRWL_EINVAL (not an open descriptor) or SRWL_EIO (the OS error: the
/// write did not reach the server). Thread-safe.
#[no_mangle]
pub extern "C" fn srwl_data_end(fd: c_int) -> srwl_status {
    guard("srwl_data_end", || crate::data::end(fd))
}

/// srwl_data_begin() for a file named by `path` (NUL-terminated; for callers without a
/// descriptor: Fortran, shell). The file is opened read-only for the call and closed again.
/// Returns SRWL_OK, SRWL_EINVAL (NULL), SRWL_EUNSAFE (a symlink, or not a regular file: refused)
/// or SRWL_EIO (open failed, e.g. ENOENT: the message names the path). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn srwl_data_begin_path(path: *const c_char) -> srwl_status {
    guard("srwl_data_begin_path", || {
        if path.is_null() {
            return Err(null("srwl_data_begin_path", "path"));
        }
        crate::data::begin_path(CStr::from_ptr(path))
    })
}

/// srwl_data_end() for a file named by `path`: fsync of the file, whichever descriptor of this
/// host wrote it (call it after closing or flushing your unit or stream, before releasing).
/// Returns as srwl_data_begin_path(). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn srwl_data_end_path(path: *const c_char) -> srwl_status {
    guard("srwl_data_end_path", || {
        if path.is_null() {
            return Err(null("srwl_data_end_path", "path"));
        }
        crate::data::end_path(CStr::from_ptr(path))
    })
}
