//! The lock handle: one participant in the srwl/2 protocol, usable from several threads.
//!
//! This module keeps only the bookkeeping of a handle: nesting, threads, fork and the hold;
//! every step on disk is the protocol's (`protocol::Disk`).
//!
//! Holds nest: read levels from any thread of the process, write levels only in the owning
//! thread. Upgrade (write while holding read) and downgrade (read while holding write) are
//! SRWL_ESTATE. Disk work for one handle is done by one thread at a time (`busy`); other
//! threads wait on a condition variable, never on the file server.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::fork;
use crate::fs::Dir;
use crate::heartbeat;
use crate::options::Options;
use crate::protocol::{self, sidecar_of, Disk, Hold, Mode, Params, Wait};
use crate::record::host_name;
use crate::status::{Error, Result, Status};

/// What this handle holds, and how deeply nested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Holding {
    Free,
    Read { levels: u64 },
    Write { owner: u64, levels: u64 },
}

struct State {
    holding: Holding,
    busy: bool,
    hold: Option<Hold>,
    /// Threads of this process waiting for the handle (on `changed`): only then is a notify
    /// worth its futex call.
    waiters: usize,
}

/// A lock handle (behind the opaque `srwl_lock` of the C API).
pub struct Lock {
    epoch: u64,
    path: String,
    /// Shared with the `Disk`: the one copy of this handle's option values.
    params: Arc<Params>,
    side: Arc<Dir>,
    state: Mutex<State>,
    changed: Condvar,
    /// Not dropped in a child of fork: its descriptors may be mid-update by a parent thread
    /// at the fork; the child leaks them rather than risk closing a descriptor it reused.
    disk: std::mem::ManuallyDrop<Mutex<Disk>>,
}

/// The longest a thread waiting for its handle goes without looking for an interrupt.
const IDLE_SLICE: Duration = Duration::from_millis(100);

fn thread_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! { static ID: Cell<u64> = const { Cell::new(0) }; }
    ID.with(|id| {
        if id.get() == 0 {
            id.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        id.get()
    })
}

fn lock_state(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Lock {
    /// Opens a handle on `path` (bytes; need not be UTF-8). The lock path itself is never
    /// created: everything lives in `<path>.srwl/`.
    pub fn open(path: &[u8], opts: &Options) -> Result<Lock> {
        opts.validate()?;
        fork::ensure_registered();
        let sidecar = sidecar_of(path, "open")?;
        let mut parent_dir = Dir::open_path(&sidecar.parent).map_err(|e| {
            protocol::fs_error("open parent directory", &sidecar.parent_display, &e)
        })?;
        // An object-store mount (s3fs, ...) cannot keep exclusion: refused before anything is
        // created there. On sshfs, listings reopen their directory (fstype.rs).
        crate::fstype::check_open(&mut parent_dir, &sidecar.lock_display)?;
        let params = Arc::new(Params::new(*opts, host_name()));
        let mut tries = 0;
        let disk = loop {
            match Disk::open(&parent_dir, &sidecar, params.clone()) {
                // ESTALE, or a name another client just made not visible here yet: it passes
                // within seconds.
                Err(e) if e.transient && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                r => break r?,
            }
        };
        Ok(Lock {
            epoch: fork::epoch(),
            path: sidecar.lock_display,
            params,
            side: disk.side.clone(),
            state: Mutex::new(State {
                holding: Holding::Free,
                busy: false,
                hold: None,
                waiters: 0,
            }),
            changed: Condvar::new(),
            disk: std::mem::ManuallyDrop::new(Mutex::new(disk)),
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether this handle was inherited across fork.
    pub fn forked(&self) -> bool {
        self.epoch != fork::epoch()
    }

    fn check_fork(&self, op: &str) -> Result<()> {
        if self.forked() {
            Err(Error::new(
                Status::SRWL_EFORKED,
                format!("{op} {}: this handle was inherited across fork(); the parent still owns its holds. Open a new handle in the child", self.path),
            ))
        } else {
            Ok(())
        }
    }

    fn lost_error(&self, op: &str) -> Error {
        protocol::lost_error(op, &self.path, &self.params)
    }

    fn timeout_error(&self, op: &str) -> Error {
        protocol::timeout_error(op, &self.path)
    }

    /// SRWL_EINTR for `op`, if the handle was interrupted (consumes the interrupt).
    fn check_interrupt(&self, op: &str) -> Result<()> {
        if self.params.interrupt.take() {
            Err(protocol::interrupted_error(op, &self.path))
        } else {
            Ok(())
        }
    }

    /// Interrupts the acquire in progress on this handle, or the next one (srwl_interrupt).
    /// Async-signal-safe: an atomic store and at most one write to the handle's eventfd.
    pub fn interrupt(&self) {
        self.params.interrupt.raise();
    }

    /// While `fd` >= 0, a waiting acquire on this handle ends with SRWL_EINTR as soon as `fd`
    /// is readable (never read or closed here); -1 stops it.
    pub fn set_interrupt_fd(&self, fd: i32) {
        self.params.interrupt.set_fd(fd);
    }

    /// Waits (on the condition variable) until this handle is idle, the wait expires or the
    /// handle is interrupted.
    fn wait_idle<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        wait: &Wait,
        op: &str,
    ) -> Result<MutexGuard<'a, State>> {
        while st.busy || matches!(st.holding, Holding::Write { owner, .. } if owner != thread_id())
        {
            self.check_interrupt(op)?;
            // An interrupt cannot notify a condition variable from a signal handler: look at
            // it at least every IDLE_SLICE (only threads sharing one busy handle wait here).
            let d = match wait.remaining() {
                None => IDLE_SLICE,
                Some(d) if d.is_zero() => return Err(self.timeout_error(op)),
                Some(d) => d.min(IDLE_SLICE),
            };
            st.waiters += 1;
            st = self
                .changed
                .wait_timeout(st, d)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            st.waiters -= 1;
        }
        Ok(st)
    }

    /// Acquires (or nests) a hold in `mode`, waiting `timeout` seconds as the C API takes it.
    pub fn acquire(&self, mode: Mode, timeout: f64) -> Result<()> {
        let op = mode.acquire_op();
        self.check_fork(op)?;
        let wait = Wait::from_timeout(timeout)?;
        // An interrupt raised while no acquire was in progress ends this one.
        self.check_interrupt(op)?;
        let me = thread_id();
        let mut st = lock_state(&self.state);
        // Nesting and state errors first: they need no waiting.
        match (st.holding, mode) {
            (Holding::Read { .. }, Mode::Write) => {
                return Err(Error::new(Status::SRWL_ESTATE, format!("{op} {}: this handle holds a read lock; upgrading to write is not supported (release, then acquire write)", self.path)))
            }
            (Holding::Write { owner, .. }, Mode::Read) if owner == me => {
                return Err(Error::new(Status::SRWL_ESTATE, format!("{op} {}: this thread holds the write lock; downgrading to read is not supported (release, then acquire read)", self.path)))
            }
            _ => {}
        }
        loop {
            if let Some(h) = &st.hold {
                if h.registration.lost.load(Ordering::SeqCst) {
                    return Err(self.lost_error(op));
                }
            }
            match st.holding {
                Holding::Read { levels } if mode == Mode::Read => {
                    st.holding = Holding::Read { levels: levels + 1 };
                    return Ok(());
                }
                Holding::Write { owner, levels } if owner == me && mode == Mode::Write => {
                    st.holding = Holding::Write { owner, levels: levels + 1 };
                    return Ok(());
                }
                Holding::Read { .. } if mode == Mode::Write => {
                    return Err(Error::new(Status::SRWL_ESTATE, format!("{op} {}: this handle holds a read lock; upgrading to write is not supported", self.path)))
                }
                Holding::Free if !st.busy => break,
                _ => st = self.wait_idle(st, &wait, op)?,
            }
        }
        st.busy = true;
        drop(st);

        let result = {
            let mut disk = self.disk.lock().unwrap_or_else(|p| p.into_inner());
            match mode {
                Mode::Read => disk.acquire_read(&wait),
                Mode::Write => disk.acquire_write(&wait),
            }
        };

        let mut st = lock_state(&self.state);
        st.busy = false;
        let out = match result {
            Ok(hold) => {
                st.holding = match mode {
                    Mode::Read => Holding::Read { levels: 1 },
                    Mode::Write => Holding::Write {
                        owner: me,
                        levels: 1,
                    },
                };
                st.hold = Some(hold);
                Ok(())
            }
            Err(e) => Err(e),
        };
        let notify = st.waiters > 0;
        drop(st);
        if notify {
            self.changed.notify_all();
        }
        out
    }

    pub fn release(&self) -> Result<()> {
        self.check_fork("release")?;
        let me = thread_id();
        let mut st = lock_state(&self.state);
        let lost = st
            .hold
            .as_ref()
            .is_some_and(|h| h.registration.lost.load(Ordering::SeqCst));
        match st.holding {
            Holding::Free => {
                return Err(Error::new(Status::SRWL_ESTATE, format!("release {}: this handle holds no lock", self.path)))
            }
            Holding::Write { owner, .. } if owner != me => {
                return Err(Error::new(Status::SRWL_ESTATE, format!("release {}: the write lock is held by another thread of this process; only the owning thread may release it", self.path)))
            }
            Holding::Read { levels } if levels > 1 && !lost => {
                st.holding = Holding::Read { levels: levels - 1 };
                return Ok(());
            }
            Holding::Write { owner, levels } if levels > 1 && !lost => {
                st.holding = Holding::Write { owner, levels: levels - 1 };
                return Ok(());
            }
            _ => {}
        }
        // Last level (or the hold is lost): give the hold up on disk.
        let hold = st.hold.take().expect("a held mode has a hold");
        st.holding = Holding::Free;
        st.busy = true;
        drop(st);
        let result = self.give_up(hold, "release");
        let mut st = lock_state(&self.state);
        st.busy = false;
        let notify = st.waiters > 0;
        drop(st);
        if notify {
            self.changed.notify_all();
        }
        result
    }

    pub fn check(&self) -> Result<()> {
        self.check_fork("check")?;
        let st = lock_state(&self.state);
        let hold = match (&st.holding, &st.hold) {
            (Holding::Free, _) | (_, None) => {
                return Err(Error::new(
                    Status::SRWL_ESTATE,
                    format!("check {}: this handle holds no lock", self.path),
                ))
            }
            (_, Some(h)) => h,
        };
        if hold.registration.lost.load(Ordering::SeqCst) {
            return Err(self.lost_error("check"));
        }
        if !Disk::record_exists(&self.side, &hold.rel) {
            hold.registration.lost.store(true, Ordering::SeqCst);
            return Err(self.lost_error("check"));
        }
        Ok(())
    }

    pub fn generation(&self) -> Result<u64> {
        self.check_fork("generation")?;
        let st = lock_state(&self.state);
        match (&st.holding, &st.hold) {
            (_, Some(h)) if st.holding != Holding::Free => Ok(h.generation),
            _ => Err(Error::new(
                Status::SRWL_ESTATE,
                format!("generation {}: this handle holds no lock", self.path),
            )),
        }
    }

    /// Closes the handle: releases a hold first (unless forked: then nothing on disk is touched).
    pub fn close(self) -> Result<()> {
        self.release_all("close")
    }

    /// Gives up every level of the hold at once, whichever thread owns it.
    fn release_all(&self, op: &str) -> Result<()> {
        if self.forked() {
            return Ok(());
        }
        let hold = {
            let mut st = lock_state(&self.state);
            st.holding = Holding::Free;
            st.hold.take()
        };
        match hold {
            Some(hold) => self.give_up(hold, op),
            None => Ok(()),
        }
    }

    /// Ends a hold on disk: stops its heartbeat, then removes its record (unless it was
    /// already lost: then nothing on the file server is touched, only what this host keeps of
    /// a host share). SRWL_ELOST if the record was gone.
    fn give_up(&self, hold: Hold, op: &str) -> Result<()> {
        let written = heartbeat::unregister(hold.registration.id).unwrap_or(hold.written);
        let mut disk = self.disk.lock().unwrap_or_else(|p| p.into_inner());
        if hold.registration.lost.load(Ordering::SeqCst) {
            disk.abandon(&hold);
            return Err(self.lost_error(op));
        }
        match disk.release(&hold, written) {
            Ok(true) => Ok(()),
            Ok(false) => Err(self.lost_error(op)),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Lock {
    /// Dropping a handle that holds the lock releases it, as srwl_close does. A handle
    /// inherited across fork touches nothing on disk (the parent still holds).
    fn drop(&mut self) {
        let _ = self.release_all("drop");
        if !self.forked() {
            self.params.interrupt.close();
            // SAFETY: dropped once, here; the field is never used again.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.disk) };
        }
    }
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
