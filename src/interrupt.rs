//! Interrupting a blocked acquire (srwl_interrupt, srwl_set_interrupt_fd).
//!
//! Each handle has one `Interrupt`: a pending flag, a doorbell (an eventfd made at the
//! handle's first wait, so that an uncontended handle keeps its descriptor count) and the
//! caller's interrupt descriptor. `raise` is async-signal-safe: an atomic store and one write.
//! A waiter stores its doorbell before it looks at the flag, and `raise` sets the flag before
//! it looks for the doorbell, so either the waiter sees the flag or `raise` rings a doorbell
//! the waiter polls (both sequentially consistent): no interrupt is lost.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use crate::fs::{self, Ready};

pub struct Interrupt {
    pending: AtomicBool,
    /// The eventfd, -1 until the handle first waits (or if none could be made: then a waiter
    /// sees the flag at its next look, within one poll step).
    doorbell: AtomicI32,
    /// The caller's descriptor (srwl_set_interrupt_fd), -1 if none: readable means interrupt.
    user_fd: AtomicI32,
}

impl Default for Interrupt {
    fn default() -> Interrupt {
        Interrupt {
            pending: AtomicBool::new(false),
            doorbell: AtomicI32::new(-1),
            user_fd: AtomicI32::new(-1),
        }
    }
}

impl Interrupt {
    /// Interrupts the acquire in progress, or the next one. Async-signal-safe, thread-safe.
    pub fn raise(&self) {
        self.pending.store(true, Ordering::SeqCst);
        let bell = self.doorbell.load(Ordering::SeqCst);
        if bell >= 0 {
            fs::ring_raw(bell);
        }
    }

    /// Whether an interrupt waits to be taken (not consuming it; the caller's descriptor is
    /// polled by the waits themselves).
    pub fn is_pending(&self) -> bool {
        self.pending.load(Ordering::SeqCst)
    }

    pub fn set_fd(&self, fd: RawFd) {
        self.user_fd.store(fd.max(-1), Ordering::SeqCst);
    }

    /// Consumes a pending interrupt: true if there was one (the acquire that saw it returns
    /// SRWL_EINTR). Also true if the caller's descriptor is readable, which stays the caller's
    /// to drain.
    pub fn take(&self) -> bool {
        if self.pending.swap(false, Ordering::SeqCst) {
            let bell = self.doorbell.load(Ordering::SeqCst);
            if bell >= 0 {
                fs::silence_raw(bell);
            }
            return true;
        }
        let fd = self.user_fd.load(Ordering::SeqCst);
        fd >= 0 && fs::poll_readable(None, &[fd], Duration::ZERO) == Ready::Also
    }

    /// The descriptors a waiter polls besides its own: the doorbell (made now if the handle
    /// has none yet) and the caller's descriptor. Call `take` after this and before waiting.
    pub fn fds(&self) -> ([RawFd; 2], usize) {
        let mut bell = self.doorbell.load(Ordering::SeqCst);
        if bell < 0 {
            if let Ok(made) = fs::Doorbell::new() {
                let made = made.into_raw();
                // Two threads of the handle may wait at once (one on disk, one for the handle).
                bell = match self.doorbell.compare_exchange(
                    -1,
                    made,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                ) {
                    Ok(_) => made,
                    Err(other) => {
                        fs::close_raw(made);
                        other
                    }
                };
            }
        }
        let user = self.user_fd.load(Ordering::SeqCst);
        let mut fds = [-1; 2];
        let mut n = 0;
        for fd in [bell, user] {
            if fd >= 0 {
                fds[n] = fd;
                n += 1;
            }
        }
        (fds, n)
    }

    /// Sleeps up to `d`, waking early for an interrupt: true if interrupted (consumed).
    pub fn sleep(&self, d: Duration) -> bool {
        let (fds, n) = self.fds();
        if self.take() {
            return true;
        }
        if n == 0 {
            std::thread::sleep(d);
        } else {
            fs::poll_readable(None, &fds[..n], d);
        }
        self.take()
    }

    /// Closes the doorbell (the handle is being freed: no one can raise any more).
    pub fn close(&self) {
        let bell = self.doorbell.swap(-1, Ordering::SeqCst);
        if bell >= 0 {
            fs::close_raw(bell);
        }
    }
}
