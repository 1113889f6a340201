//! The heartbeat: one background thread per filesystem (per `st_dev` of a lock's sidecar)
//! refreshes every record the process holds there, so that other processes can tell a live
//! holder from a dead one. Never a thread per acquisition; but a refresh that hangs on one
//! filesystem (a dead NFS server on a hard mount) does not stop the heartbeats of locks on
//! others, whose live holds would otherwise be evicted.
//!
//! A refresh opens the record by name (O_NOFOLLOW), rewrites its nonce in place and closes it;
//! a record is never kept open (on NFS an open file that is unlinked is silly-renamed, and the
//! room would never empty). A record found gone means the hold was lost (evicted): the hold's
//! `lost` flag is raised and the record is never recreated.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::fs::{BootInstant, Dir, Name};
use crate::record::Record;

struct Entry {
    id: u64,
    /// The filesystem of the record: which heartbeat thread refreshes it.
    dev: u64,
    side: Arc<Dir>,
    /// Path of the record relative to the sidecar directory.
    path: Name,
    record: Record,
    interval: Duration,
    next_due: Instant,
    lost: Arc<AtomicBool>,
    /// A refresh of this entry is in progress outside the registry lock.
    refreshing: bool,
    /// Since when the record has been found missing (a lookup is a hint: it must last).
    missing_since: Option<Instant>,
    /// When the record's bytes were last written by us (made, or refreshed). No observer can
    /// have judged them unchanged for the stale threshold before that much time has passed.
    written: BootInstant,
}

/// The heartbeat thread of one filesystem.
struct Worker {
    dev: u64,
    /// When the thread will wake by itself (it sleeps on WAKE until then). A new record due
    /// later needs no wakeup: registering a hold costs no futex call.
    wakes_at: Option<Instant>,
    /// How long it sleeps with nothing to refresh: the shortest heartbeat interval of the
    /// handles opened on this filesystem, so that their first holds need no wakeup either (a
    /// crowd of thousands of processes acquiring at once would otherwise wake as many threads).
    idle: Duration,
    refresh: &'static Refresh,
}

/// What a fork must know of a heartbeat thread's refresh. Made once per filesystem and process
/// (leaked: the atfork handlers keep guards of it).
struct Refresh {
    /// Held around each refresh's open, write and close (outside the registry lock);
    /// `fork_prepare` takes it, so that no child is born holding a descriptor on a record (on
    /// NFS the parent's unlink of that record would become a silly rename, and the room could
    /// not be emptied).
    lock: Mutex<()>,
    /// The descriptor the refresh has open, or -1: a refresh that hangs (a dead file server)
    /// holds `lock` too long for a fork to wait, and the child closes this one instead.
    fd: AtomicI32,
}

/// How long a fork waits for the refreshes in progress before it goes on without them.
const FORK_WAIT: Duration = Duration::from_secs(1);

struct Registry {
    entries: Vec<Entry>,
    next_id: u64,
    /// One per filesystem that has had a record registered, each with its thread.
    workers: Vec<Worker>,
    /// Refresh locks of the workers (kept across fork, whose child has no threads: reused).
    spare_refresh: Vec<&'static Refresh>,
    /// Releases waiting for a refresh in progress (they sleep on WAKE).
    waiters: usize,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    entries: Vec::new(),
    next_id: 1,
    workers: Vec::new(),
    spare_refresh: Vec::new(),
    waiters: 0,
});
static WAKE: Condvar = Condvar::new();

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// A registered hold: its id and the flag the heartbeat raises when the hold is lost.
pub struct Registration {
    pub id: u64,
    pub lost: Arc<AtomicBool>,
}

/// Starts refreshing a record written at `written` on the filesystem `dev` (the `st_dev` of
/// the sidecar); starts that filesystem's heartbeat thread if this process has none.
pub fn register(
    side: Arc<Dir>,
    dev: u64,
    path: Name,
    record: Record,
    interval: Duration,
    written: BootInstant,
) -> Registration {
    let lost = Arc::new(AtomicBool::new(false));
    let mut reg = registry();
    let id = reg.next_id;
    reg.next_id += 1;
    reg.entries.push(Entry {
        id,
        dev,
        side,
        path,
        record,
        interval,
        next_due: Instant::now() + interval,
        lost: lost.clone(),
        refreshing: false,
        missing_since: None,
        written,
    });
    match reg.workers.iter().find(|w| w.dev == dev) {
        None => start_worker(&mut reg, dev, interval),
        Some(w) if w.wakes_at.is_none_or(|t| t > Instant::now() + interval) => {
            WAKE.notify_all();
        }
        Some(_) => {}
    }
    Registration { id, lost }
}

/// Starts the heartbeat thread of filesystem `dev` if this process has none: at srwl_open, so
/// that the first hold costs no thread creation (a job's ranks open early and acquire at once).
/// `interval` is the opened handle's heartbeat interval.
pub fn start(dev: u64, interval: Duration) {
    let mut reg = registry();
    match reg.workers.iter_mut().find(|w| w.dev == dev) {
        Some(w) if interval < w.idle => {
            w.idle = interval;
            // It may sleep longer now than a first hold of this handle can wait.
            WAKE.notify_all();
        }
        Some(_) => {}
        None => start_worker(&mut reg, dev, interval),
    }
}

fn start_worker(reg: &mut MutexGuard<'static, Registry>, dev: u64, idle: Duration) {
    let refresh = reg.spare_refresh.pop().unwrap_or_else(|| {
        Box::leak(Box::new(Refresh {
            lock: Mutex::new(()),
            fd: AtomicI32::new(-1),
        }))
    });
    // The thread blocks every signal (it inherits the mask), so that a signal sent to the
    // process reaches one of the application's threads and its handler.
    let mask = crate::fs::block_all_signals();
    let spawned = std::thread::Builder::new()
        .name("srwl-heartbeat".into())
        .spawn(move || run(dev, refresh));
    crate::fs::restore_signals(&mask);
    // If no thread can be made the holds still work; they are refreshed by no one and will
    // be evicted after the stale threshold, which the holder learns as SRWL_ELOST.
    if spawned.is_ok() {
        reg.workers.push(Worker {
            dev,
            wakes_at: None,
            idle,
            refresh,
        });
    } else {
        reg.spare_refresh.push(refresh);
    }
}

/// Stops refreshing a record; returns when its bytes were last written. Waits while a
/// refresh of it is in progress, so that the caller's unlink never meets an open file (NFS
/// silly rename).
pub fn unregister(id: u64) -> Option<BootInstant> {
    let mut reg = registry();
    loop {
        match reg.entries.iter().position(|e| e.id == id) {
            None => return None,
            Some(i) if !reg.entries[i].refreshing => {
                return Some(reg.entries.swap_remove(i).written);
            }
            Some(_) => {
                reg.waiters += 1;
                reg = WAKE
                    .wait_timeout(reg, Duration::from_millis(10))
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
                reg.waiters -= 1;
            }
        }
    }
}

/// The heartbeat thread of the filesystem `dev`.
fn run(dev: u64, refresh: &'static Refresh) {
    let mut buf = Vec::with_capacity(256);
    let mut reg = registry();
    loop {
        let Some(me) = reg.workers.iter().position(|w| w.dev == dev) else {
            return;
        };
        let now = Instant::now();
        let due = reg
            .entries
            .iter()
            .position(|e| e.dev == dev && !e.refreshing && e.next_due <= now);
        if let Some(i) = due {
            let e = &mut reg.entries[i];
            e.refreshing = true;
            e.record.nonce = e.record.nonce.wrapping_add(1);
            e.record.encode(&mut buf);
            let (id, side, path) = (e.id, e.side.clone(), e.path);
            drop(reg);
            let refresh_started = BootInstant::now();
            let result = {
                let _refreshing = refresh.lock.lock().unwrap_or_else(|p| p.into_inner());
                side.rewrite_tracked(path.as_cstr(), &buf, &refresh.fd)
            };
            reg = registry();
            if let Some(e) = reg.entries.iter_mut().find(|e| e.id == id) {
                e.refreshing = false;
                match result {
                    Ok(()) => {
                        e.missing_since = None;
                        e.written = refresh_started;
                        e.next_due = Instant::now() + e.interval;
                    }
                    Err(err)
                        if matches!(
                            err.raw_os_error(),
                            Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::EINVAL)
                        ) =>
                    {
                        // Gone, or replaced by something that is not our file: evicted, once
                        // the absence has lasted (a client's lookup may miss a name briefly).
                        let now = Instant::now();
                        let since = *e.missing_since.get_or_insert(now);
                        if now - since >= crate::protocol::ABSENCE_CONFIRM {
                            e.lost.store(true, Ordering::SeqCst);
                            e.next_due = now + Duration::from_secs(86_400);
                        } else {
                            e.next_due = now + Duration::from_millis(100);
                        }
                    }
                    // ESTALE, EIO, ...: the file server had a moment; try again soon.
                    Err(_) => e.next_due = Instant::now() + e.interval / 4,
                }
            }
            if reg.waiters > 0 {
                WAKE.notify_all();
            }
            continue;
        }
        let next = reg
            .entries
            .iter()
            .filter(|e| e.dev == dev && !e.refreshing)
            .map(|e| e.next_due)
            .min();
        let wait = match next {
            Some(t) => t.saturating_duration_since(now),
            None => reg.workers[me].idle,
        };
        let wait = wait.max(Duration::from_micros(100));
        reg.workers[me].wakes_at = Some(now + wait);
        reg = WAKE
            .wait_timeout(reg, wait)
            .unwrap_or_else(|p| p.into_inner())
            .0;
        if let Some(w) = reg.workers.iter_mut().find(|w| w.dev == dev) {
            w.wakes_at = None;
        }
    }
}

// Fork support: the registry lock and the workers' refresh locks are the only library locks
// that a background thread takes.
thread_local! {
    static FORK_GUARD: RefCell<Option<MutexGuard<'static, Registry>>> = const { RefCell::new(None) };
    static FORK_REFRESH: RefCell<Vec<MutexGuard<'static, ()>>> = const { RefCell::new(Vec::new()) };
    /// Refreshes still in progress at the fork (not waited for): the child closes their
    /// descriptors, and never reuses their locks (held by a thread the child does not have).
    static FORK_BUSY: RefCell<Vec<&'static Refresh>> = const { RefCell::new(Vec::new()) };
}

/// atfork prepare: take the registry lock so that no refresh is half-registered at fork, then
/// wait for the refreshes in progress (one open, pwrite, close per filesystem), at most
/// `FORK_WAIT` in all: one that hangs on a dead file server is left running, and the child
/// closes its descriptor (`fork_child`). A heartbeat thread never waits for the registry lock
/// while it holds its refresh lock.
pub fn fork_prepare() {
    let g = registry();
    let slots: Vec<&'static Refresh> = g.workers.iter().map(|w| w.refresh).collect();
    FORK_GUARD.with(|f| *f.borrow_mut() = Some(g));
    let deadline = Instant::now() + FORK_WAIT;
    let mut held = Vec::with_capacity(slots.len());
    let mut busy = Vec::new();
    for slot in slots {
        loop {
            match slot.lock.try_lock() {
                Ok(guard) => {
                    held.push(guard);
                    break;
                }
                Err(std::sync::TryLockError::Poisoned(p)) => {
                    held.push(p.into_inner());
                    break;
                }
                Err(std::sync::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(std::sync::TryLockError::WouldBlock) => {
                    busy.push(slot);
                    break;
                }
            }
        }
    }
    FORK_REFRESH.with(|f| *f.borrow_mut() = held);
    FORK_BUSY.with(|f| *f.borrow_mut() = busy);
}

/// atfork parent: release the locks.
pub fn fork_parent() {
    FORK_REFRESH.with(|f| f.borrow_mut().clear());
    FORK_BUSY.with(|f| f.borrow_mut().clear());
    FORK_GUARD.with(|f| drop(f.borrow_mut().take()));
}

/// atfork child: the heartbeat threads do not exist here and the parent's holds are not
/// ours: forget them (closing our copies of their descriptors, and of the records a refresh
/// still had open), then release the locks.
pub fn fork_child() {
    FORK_REFRESH.with(|f| f.borrow_mut().clear());
    let busy = FORK_BUSY.with(|f| std::mem::take(&mut *f.borrow_mut()));
    for slot in busy.iter() {
        let fd = slot.fd.load(Ordering::SeqCst);
        if fd >= 0 {
            crate::fs::close_inherited(fd);
        }
    }
    FORK_GUARD.with(|f| {
        if let Some(mut g) = f.borrow_mut().take() {
            g.entries.clear();
            let workers = std::mem::take(&mut g.workers);
            g.spare_refresh.extend(
                workers
                    .into_iter()
                    .map(|w| w.refresh)
                    .filter(|r| !busy.iter().any(|b| std::ptr::eq(*b, *r))),
            );
            g.waiters = 0;
        }
    });
}

/// When the record of a registered hold was last written by us.
pub fn last_written(id: u64) -> Option<BootInstant> {
    registry()
        .entries
        .iter()
        .find(|e| e.id == id)
        .map(|e| e.written)
}

/// Number of records this process is refreshing (for tests and diagnostics).
pub fn active_count() -> usize {
    registry().entries.len()
}
