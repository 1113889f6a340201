/*
 * softrwlock.hpp: a header-only C++11 wrapper over the C API of libsoftrwlock (softrwlock.h).
 *
 *   #include <softrwlock.hpp>
 *
 *   srwl::Lock lock("/scratch/data.lock", srwl::Options(0.5));  // heartbeat 0.5 s
 *   {
 *       srwl::WriteGuard w = lock.write();        // waits forever; throws srwl::Error
 *       update(w.generation());                    // fencing token of this grant
 *   }                                              // released here
 *   {
 *       srwl::ReadGuard r(lock, 10.0, std::nothrow);   // non-throwing, at most 10 s
 *       if (!r) std::cerr << srwl::status_name(r.status()) << ": " << r.message() << "\n";
 *   }
 *
 * Ownership and threads, as in the C API: one srwl::Lock is one participant (one handle).
 * A write hold belongs to the thread that took it: release a WriteGuard in that thread.
 * Guards keep the C handle, not the srwl::Lock object, so moving the Lock does not disturb
 * them, but the handle must outlive its guards: destroying the Lock, close(), or
 * move-assigning another Lock onto it closes the handle (releasing every hold), and a guard
 * left on that handle would then use a freed handle.
 *
 * Timeouts in seconds: -1 waits forever, 0 tries once, > 0 waits at most that long. The
 * throwing calls (acquire_read/acquire_write, read()/write(), the guard constructors)
 * default to -1; try_read()/try_write() default to 0.
 *
 * Errors: every throwing member throws srwl::Error (a std::runtime_error) carrying the
 * status (srwl::Error::status()) and the srwl_last_error() message of the failed call
 * (what()). The try_* members and the std::nothrow guard constructors never throw and return
 * the status instead. Destructors never throw: a failure to release there (for example
 * SRWL_ELOST, the hold was evicted) is ignored; call release() explicitly to see it.
 *
 * Link with -lsoftrwlock (CMake: SoftRWLock::softrwlock or SoftRWLock::softrwlock_static).
 */

#ifndef SOFTRWLOCK_HPP
#define SOFTRWLOCK_HPP

#include <softrwlock.h>

#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace srwl {

/// The status codes of the C API (srwl_status), under a shorter name.
typedef ::srwl_status Status;

/// A static description of a status ("timed out", ...). Never null.
inline const char *status_str(int status) noexcept { return ::srwl_status_str(status); }

/// The name of a status, e.g. "SRWL_TIMEOUT" ("SRWL_UNKNOWN" for values outside the enum).
inline const char *status_name(int status) noexcept {
    const char *name = ::srwl_status_name(status);
    return name != nullptr ? name : "SRWL_UNKNOWN";
}

/// The message of this thread's last failed libsoftrwlock call ("" if none yet).
inline std::string last_error() { return std::string(::srwl_last_error()); }

/// The library's version string at run time, e.g. "0.1.0" (SRWL_VERSION_STRING: at build time).
inline const char *version() noexcept { return ::srwl_version(); }

/// The exception thrown by the throwing members of this wrapper.
class Error : public std::runtime_error {
  public:
    Error(Status status, const std::string &message)
        : std::runtime_error(message.empty() ? std::string(::srwl_status_str(status)) : message),
          status_(status) {}

    /// The status the C call returned (never SRWL_OK).
    Status status() const noexcept { return status_; }
    /// A static description of status(), e.g. "timed out".
    const char *status_str() const noexcept { return ::srwl_status_str(status_); }
    /// The name of status(), e.g. "SRWL_TIMEOUT".
    const char *status_name() const noexcept { return srwl::status_name(status_); }
    /// Whether the failure was a timeout (SRWL_TIMEOUT).
    bool is_timeout() const noexcept { return status_ == SRWL_TIMEOUT; }
    /// Whether the hold was lost (SRWL_ELOST): another process evicted it.
    bool is_lost() const noexcept { return status_ == SRWL_ELOST; }
    /// Whether the acquire was interrupted (SRWL_EINTR): Lock::interrupt() or the interrupt fd.
    bool is_interrupted() const noexcept { return status_ == SRWL_EINTR; }

  private:
    Status status_;
};

namespace detail {
/// Throws srwl::Error for a failed status, with this thread's srwl_last_error() message.
/// Must be called right after the failing C call (the message is per thread and per call).
inline void check(Status st) {
    if (st != SRWL_OK) {
        throw Error(st, last_error());
    }
}
} // namespace detail

/// Options of a lock handle: srwl_options, initialised with srwl_options_init().
///
/// Options() gives the library defaults (heartbeat 30 s, stale threshold 90 s, poll 1 s).
/// Options(h) sets the heartbeat to h seconds and derives the others as documented:
/// stale threshold 3 x h, poll interval min(1 s, h / 2). The setters change one field each;
/// the library validates the combination when a Lock is opened (SRWL_EINVAL names the field).
class Options {
  public:
    Options() noexcept : opts_() { ::srwl_options_init(&opts_); }

    explicit Options(double heartbeat_interval) noexcept : opts_() {
        ::srwl_options_init_heartbeat(&opts_, heartbeat_interval);
    }

    Options &heartbeat_interval(double seconds) noexcept {
        opts_.heartbeat_interval = seconds;
        return *this;
    }
    Options &stale_threshold(double seconds) noexcept {
        opts_.stale_threshold = seconds;
        return *this;
    }
    Options &poll_interval(double seconds) noexcept {
        opts_.poll_interval = seconds;
        return *this;
    }

    double heartbeat_interval() const noexcept { return opts_.heartbeat_interval; }
    double stale_threshold() const noexcept { return opts_.stale_threshold; }
    double poll_interval() const noexcept { return opts_.poll_interval; }

    /// The C struct, for srwl_open().
    const ::srwl_options *c_options() const noexcept { return &opts_; }

  private:
    ::srwl_options opts_;
};

class ReadGuard;
class WriteGuard;

/// A lock handle: opened by the constructor, closed (releasing any hold) by the destructor.
/// Movable, not copyable. A moved-from Lock is empty (valid() is false); calls on an empty
/// Lock fail with SRWL_EINVAL, as the C API does for a NULL handle.
class Lock {
  public:
    /// Opens a handle on `path` (the library uses the sidecar directory `<path>.srwl/`).
    /// Throws srwl::Error (SRWL_EINVAL, SRWL_EUNSAFE, SRWL_EIO).
    explicit Lock(const std::string &path) : handle_(nullptr) { open(path.c_str(), nullptr); }
    Lock(const std::string &path, const Options &options) : handle_(nullptr) {
        open(path.c_str(), options.c_options());
    }
    explicit Lock(const char *path) : handle_(nullptr) { open(path, nullptr); }
    Lock(const char *path, const Options &options) : handle_(nullptr) {
        open(path, options.c_options());
    }

    /// Takes ownership of a handle from srwl_open() (may be null).
    static Lock adopt(::srwl_lock *handle) noexcept { return Lock(handle); }

    ~Lock() { (void)::srwl_close(handle_); }

    Lock(const Lock &) = delete;
    Lock &operator=(const Lock &) = delete;

    Lock(Lock &&other) noexcept : handle_(other.handle_) { other.handle_ = nullptr; }
    Lock &operator=(Lock &&other) noexcept {
        if (this != &other) {
            (void)::srwl_close(handle_);
            handle_ = other.handle_;
            other.handle_ = nullptr;
        }
        return *this;
    }

    /// Whether this object owns a handle.
    bool valid() const noexcept { return handle_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }

    /// The C handle (still owned by this object).
    ::srwl_lock *native_handle() const noexcept { return handle_; }

    /// Gives the C handle up: the caller must srwl_close() it. The Lock becomes empty.
    ::srwl_lock *release_handle() noexcept {
        ::srwl_lock *h = handle_;
        handle_ = nullptr;
        return h;
    }

    /// Closes the handle now (releasing every level of any hold) and reports the result:
    /// throws srwl::Error for SRWL_ELOST or SRWL_EIO. The Lock is empty afterwards, whatever
    /// the result. Closing an empty Lock does nothing.
    void close() {
        ::srwl_lock *h = release_handle();
        detail::check(::srwl_close(h));
    }
    /// As close(), returning the status instead of throwing.
    Status try_close() noexcept { return ::srwl_close(release_handle()); }

    // Throwing calls. timeout in seconds: -1 waits forever, 0 tries once, > 0 waits at most
    // that long. A timeout throws srwl::Error with status SRWL_TIMEOUT (is_timeout()).

    void acquire_read(double timeout = -1) { detail::check(::srwl_acquire_read(handle_, timeout)); }
    void acquire_write(double timeout = -1) { detail::check(::srwl_acquire_write(handle_, timeout)); }
    /// Releases one level of the hold. Throws srwl::Error (SRWL_ESTATE, SRWL_ELOST, ...).
    void release() { detail::check(::srwl_release(handle_)); }
    /// Throws srwl::Error unless the hold is alive (SRWL_ELOST: lost; SRWL_ESTATE: no hold).
    void check() { detail::check(::srwl_check(handle_)); }
    /// Whether the handle holds a lock that is still alive (never throws).
    bool held() noexcept { return ::srwl_check(handle_) == SRWL_OK; }
    /// The fencing token of the current hold (see srwl_generation()).
    std::uint64_t generation() {
        std::uint64_t g = 0;
        detail::check(::srwl_generation(handle_, &g));
        return g;
    }

    /// Interrupts the acquire blocked on this handle, or the next one: it throws srwl::Error
    /// with SRWL_EINTR (is_interrupted()) and leaves nothing on disk. Async-signal-safe and
    /// thread-safe (see srwl_interrupt()).
    Status interrupt() noexcept { return ::srwl_interrupt(handle_); }
    /// While fd >= 0, an acquire returns SRWL_EINTR once fd is readable (srwl_set_interrupt_fd()).
    void set_interrupt_fd(int fd) { detail::check(::srwl_set_interrupt_fd(handle_, fd)); }

    // Non-throwing calls: they return the status; on failure srwl::last_error() has the
    // message (until this thread's next libsoftrwlock call).

    Status try_read(double timeout = 0) noexcept { return ::srwl_acquire_read(handle_, timeout); }
    Status try_write(double timeout = 0) noexcept { return ::srwl_acquire_write(handle_, timeout); }
    Status try_release() noexcept { return ::srwl_release(handle_); }
    Status try_check() noexcept { return ::srwl_check(handle_); }
    Status try_generation(std::uint64_t &out) noexcept { return ::srwl_generation(handle_, &out); }

    // Scoped holds (defined below): the guard releases one level in its destructor.

    /// Takes a read hold, throwing srwl::Error on failure (SRWL_TIMEOUT included).
    inline ReadGuard read(double timeout = -1);
    /// Takes a write hold, throwing srwl::Error on failure (SRWL_TIMEOUT included).
    inline WriteGuard write(double timeout = -1);

  private:
    explicit Lock(::srwl_lock *h) noexcept : handle_(h) {}

    void open(const char *path, const ::srwl_options *opts) {
        ::srwl_lock *h = nullptr;
        detail::check(::srwl_open(path, opts, &h));
        handle_ = h;
    }

    ::srwl_lock *handle_;
};

namespace detail {

/// The common part of ReadGuard and WriteGuard: owns one level of a hold on a C handle.
class GuardBase {
  public:
    /// Whether this guard owns a level of a hold.
    bool owns_lock() const noexcept { return owns_; }
    explicit operator bool() const noexcept { return owns_; }
    /// The status of the acquisition (SRWL_OK if the guard owns the lock).
    Status status() const noexcept { return status_; }
    /// The srwl_last_error() message of a failed non-throwing acquisition ("" otherwise).
    const std::string &message() const noexcept { return message_; }

    /// Releases the level now, throwing srwl::Error if the release fails (SRWL_ELOST: the
    /// hold had been evicted; the guard no longer owns anything either way). Does nothing if
    /// the guard owns nothing.
    void release() {
        if (owns_) {
            owns_ = false;
            detail::check(::srwl_release(handle_));
        }
    }
    /// As release(), returning the status (SRWL_OK if the guard owned nothing).
    Status try_release() noexcept {
        if (!owns_) {
            return SRWL_OK;
        }
        owns_ = false;
        return ::srwl_release(handle_);
    }
    /// Throws srwl::Error unless the hold is still alive.
    void check() const { detail::check(::srwl_check(handle_)); }
    /// The status of srwl_check() on the handle (never throws).
    Status try_check() const noexcept { return ::srwl_check(handle_); }
    /// The fencing token of the hold (see srwl_generation()).
    std::uint64_t generation() const {
        std::uint64_t g = 0;
        detail::check(::srwl_generation(handle_, &g));
        return g;
    }

  protected:
    void throw_if_failed() const {
        if (status_ != SRWL_OK) {
            throw Error(status_, message_);
        }
    }

    GuardBase() noexcept : handle_(nullptr), owns_(false), status_(SRWL_OK), message_() {}
    GuardBase(::srwl_lock *h, Status st)
        : handle_(h), owns_(st == SRWL_OK), status_(st), message_() {
        if (st != SRWL_OK) {
            message_ = last_error();
        }
    }
    ~GuardBase() {
        if (owns_) {
            (void)::srwl_release(handle_);
        }
    }
    GuardBase(GuardBase &&o) noexcept
        : handle_(o.handle_), owns_(o.owns_), status_(o.status_), message_(std::move(o.message_)) {
        o.owns_ = false;
        o.handle_ = nullptr;
    }
    GuardBase &operator=(GuardBase &&o) noexcept {
        if (this != &o) {
            if (owns_) {
                (void)::srwl_release(handle_);
            }
            handle_ = o.handle_;
            owns_ = o.owns_;
            status_ = o.status_;
            message_ = std::move(o.message_);
            o.owns_ = false;
            o.handle_ = nullptr;
        }
        return *this;
    }
    GuardBase(const GuardBase &) = delete;
    GuardBase &operator=(const GuardBase &) = delete;

    ::srwl_lock *handle_;
    bool owns_;
    Status status_;
    std::string message_;
};

} // namespace detail

/// A scoped read hold. Movable, not copyable; releases its level in the destructor.
class ReadGuard : public detail::GuardBase {
  public:
    /// An empty guard (owns nothing).
    ReadGuard() noexcept {}
    /// Takes a read hold on `lock`; throws srwl::Error on failure (SRWL_TIMEOUT included).
    explicit ReadGuard(Lock &lock, double timeout = -1)
        : GuardBase(lock.native_handle(), acquire(lock, timeout)) {
        throw_if_failed();
    }
    /// Tries to take a read hold without throwing: test the guard (operator bool,
    /// owns_lock()) and read status() / message() when it failed.
    ReadGuard(Lock &lock, double timeout, const std::nothrow_t &) noexcept
        : GuardBase(lock.native_handle(), acquire(lock, timeout)) {}

    ReadGuard(ReadGuard &&) = default;
    ReadGuard &operator=(ReadGuard &&) = default;

  private:
    static Status acquire(Lock &lock, double timeout) noexcept {
        return ::srwl_acquire_read(lock.native_handle(), timeout);
    }
};

/// A scoped write hold. Movable, not copyable; releases its level in the destructor, which
/// must run in the thread that took the hold (the library refuses a release from another
/// thread with SRWL_ESTATE).
class WriteGuard : public detail::GuardBase {
  public:
    /// An empty guard (owns nothing).
    WriteGuard() noexcept {}
    /// Takes the write hold on `lock`; throws srwl::Error on failure (SRWL_TIMEOUT included).
    explicit WriteGuard(Lock &lock, double timeout = -1)
        : GuardBase(lock.native_handle(), acquire(lock, timeout)) {
        throw_if_failed();
    }
    /// Tries to take the write hold without throwing: test the guard and read status().
    WriteGuard(Lock &lock, double timeout, const std::nothrow_t &) noexcept
        : GuardBase(lock.native_handle(), acquire(lock, timeout)) {}

    WriteGuard(WriteGuard &&) = default;
    WriteGuard &operator=(WriteGuard &&) = default;

  private:
    static Status acquire(Lock &lock, double timeout) noexcept {
        return ::srwl_acquire_write(lock.native_handle(), timeout);
    }
};

inline ReadGuard Lock::read(double timeout) { return ReadGuard(*this, timeout); }
inline WriteGuard Lock::write(double timeout) { return WriteGuard(*this, timeout); }

// The user's own data under the lock (README "Your data under the lock"): on a network
// filesystem a client may serve old bytes or an old size of a file another host rewrote, and
// may hold a writer's bytes after close() returned. Within a hold:
//
//   srwl::WriteGuard w = lock.write();
//   int fd = open(path, O_RDWR);
//   srwl::data_begin(fd);      // after acquiring, before reading
//   ... read, write ...
//   srwl::data_end(fd);        // after writing, before releasing
//   close(fd);
//
// Each throws srwl::Error (SRWL_EINVAL: not an open descriptor; SRWL_EUNSAFE: the path is a
// symlink or not a regular file; SRWL_EIO: the OS error, with the path). Thread-safe.

/// After acquiring, before reading the file open on `fd`: this client asks the file server.
inline void data_begin(int fd) { detail::check(::srwl_data_begin(fd)); }
/// After writing the file open on `fd` (flush your streams first), before releasing: fsync.
inline void data_end(int fd) { detail::check(::srwl_data_end(fd)); }
/// data_begin() for a file named by its path (opened read-only for the call).
inline void data_begin(const std::string &path) {
    detail::check(::srwl_data_begin_path(path.c_str()));
}
/// data_end() for a file named by its path, whoever on this host wrote it.
inline void data_end(const std::string &path) {
    detail::check(::srwl_data_end_path(path.c_str()));
}

} // namespace srwl

#endif /* SOFTRWLOCK_HPP */
