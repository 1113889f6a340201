//! The heartbeat: one background thread per process refreshes every record the process
//! holds, so that other processes can tell a live holder from a dead one.
//!
//! A refresh opens the record by name (O_NOFOLLOW), rewrites its nonce in place and closes it;
//! a record is never kept open (on NFS an open file that is unlinked is silly-renamed, and the
//! room would never empty). A record found gone means the hold was lost (evicted): the hold's
//! `lost` flag is raised and the record is never recreated.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::fs::{Dir, Name};
use crate::record::Record;

struct Entry {
    id: u64,
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
    written: Instant,
}

struct Registry {
    entries: Vec<Entry>,
    next_id: u64,
    thread_running: bool,
    /// When the heartbeat thread will wake by itself (it sleeps on WAKE until then). A new
    /// record due later needs no wakeup: registering a hold costs no futex call.
    wakes_at: Option<Instant>,
    /// Releases waiting for a refresh in progress (they sleep on WAKE).
    waiters: usize,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    entries: Vec::new(),
    next_id: 1,
    thread_running: false,
    wakes_at: None,
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

/// Starts refreshing a record written at `written`; starts the heartbeat thread if this
/// process has none.
pub fn register(
    side: Arc<Dir>,
    path: Name,
    record: Record,
    interval: Duration,
    written: Instant,
) -> Registration {
    let lost = Arc::new(AtomicBool::new(false));
    let mut reg = registry();
    let id = reg.next_id;
    reg.next_id += 1;
    reg.entries.push(Entry {
        id,
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
    if !reg.thread_running {
        // The thread blocks every signal (it inherits the mask), so that a signal sent to the
        // process reaches one of the application's threads and its handler.
        let mask = crate::fs::block_all_signals();
        let spawned = std::thread::Builder::new()
            .name("srwl-heartbeat".into())
            .spawn(run);
        crate::fs::restore_signals(&mask);
        // If no thread can be made the holds still work; they are refreshed by no one and
        // will be evicted after the stale threshold, which the holder learns as SRWL_ELOST.
        reg.thread_running = spawned.is_ok();
    } else if reg.wakes_at.is_none_or(|t| t > Instant::now() + interval) {
        WAKE.notify_all();
    }
    Registration { id, lost }
}

/// Stops refreshing a record; returns when its bytes were last written. Waits while a
/// refresh of it is in progress, so that the caller's unlink never meets an open file (NFS
/// silly rename).
pub fn unregister(id: u64) -> Option<Instant> {
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

fn run() {
    let mut buf = Vec::with_capacity(256);
    let mut reg = registry();
    loop {
        if !reg.thread_running {
            return;
        }
        let now = Instant::now();
        let due = reg
            .entries
            .iter()
            .position(|e| !e.refreshing && e.next_due <= now);
        if let Some(i) = due {
            let e = &mut reg.entries[i];
            e.refreshing = true;
            e.record.nonce = e.record.nonce.wrapping_add(1);
            e.record.encode(&mut buf);
            let (id, side, path) = (e.id, e.side.clone(), e.path);
            drop(reg);
            let refresh_started = Instant::now();
            let result = side.rewrite(path.as_cstr(), &buf);
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
            .filter(|e| !e.refreshing)
            .map(|e| e.next_due)
            .min();
        let wait = match next {
            Some(t) => t.saturating_duration_since(now),
            None => Duration::from_secs(3600),
        };
        let wait = wait.max(Duration::from_micros(100));
        reg.wakes_at = Some(now + wait);
        reg = WAKE
            .wait_timeout(reg, wait)
            .unwrap_or_else(|p| p.into_inner())
            .0;
        reg.wakes_at = None;
    }
}

// Fork support: the registry lock is the only library lock that a background thread takes.
thread_local! {
    static FORK_GUARD: RefCell<Option<MutexGuard<'static, Registry>>> = const { RefCell::new(None) };
}

/// atfork prepare: take the registry lock so that no refresh is half-registered at fork.
pub fn fork_prepare() {
    let g = registry();
    FORK_GUARD.with(|f| *f.borrow_mut() = Some(g));
}

/// atfork parent: release the lock.
pub fn fork_parent() {
    FORK_GUARD.with(|f| drop(f.borrow_mut().take()));
}

/// atfork child: the heartbeat thread does not exist here and the parent's holds are not
/// ours: forget them (closing our copies of their descriptors), then release the lock.
pub fn fork_child() {
    FORK_GUARD.with(|f| {
        if let Some(mut g) = f.borrow_mut().take() {
            g.entries.clear();
            g.thread_running = false;
            g.wakes_at = None;
            g.waiters = 0;
        }
    });
}

/// When the record of a registered hold was last written by us.
pub fn last_written(id: u64) -> Option<Instant> {
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
