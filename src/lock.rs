//! The lock handle: one participant in the srwl/1 protocol, usable from several threads.
//!
//! Holds nest: read levels from any thread of the process, write levels only in the owning
//! thread. Upgrade (write while holding read) and downgrade (read while holding write) are
//! SRWL_ESTATE. Disk work for one handle is done by one thread at a time (`busy`); other
//! threads wait on a condition variable, never on the file server.

use std::cell::Cell;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::fs::{self, Dir, Name};
use crate::heartbeat::{self, Registration};
use crate::options::Options;
use crate::protocol::{Disk, Entry, Grant, Params};
use crate::record::{sanitize_host, Role, Ticket, TicketKind, Token};
use crate::status::{Error, Result, Status};
use crate::{fork, inject};

/// How long to wait: `timeout` seconds as the C API takes it.
#[derive(Clone, Copy, Debug)]
pub enum Wait {
    Forever,
    Until(Instant),
}

impl Wait {
    /// -1 (or +infinity) waits forever, 0 tries once, > 0 waits at most that long; NaN or any
    /// other negative value is EINVAL.
    pub fn from_timeout(timeout: f64) -> Result<Wait> {
        if timeout == -1.0 || timeout == f64::INFINITY {
            Ok(Wait::Forever)
        } else if timeout.is_finite() && timeout >= 0.0 {
            let d = Duration::try_from_secs_f64(timeout.min(1e9)).unwrap_or(Duration::MAX);
            Ok(Instant::now()
                .checked_add(d)
                .map_or(Wait::Forever, Wait::Until))
        } else {
            Err(Error::new(
                Status::SRWL_EINVAL,
                format!("timeout = {timeout}: must be -1 (forever), 0 (try once) or a positive number of seconds"),
            ))
        }
    }

    fn expired(&self) -> bool {
        matches!(self, Wait::Until(t) if Instant::now() >= *t)
    }

    fn remaining(&self) -> Option<Duration> {
        match self {
            Wait::Forever => None,
            Wait::Until(t) => Some(t.saturating_duration_since(Instant::now())),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Free,
    Read { levels: u64 },
    Write { owner: u64, levels: u64 },
}

struct Hold {
    role: Role,
    token: Token,
    /// Where the record is: the sidecar for a reader (`R/r.<token>`), our former claim
    /// directory, now the room, for a writer (`closed/w.<token>`).
    dir: Arc<Dir>,
    rel: Name,
    registration: Registration,
    generation: std::result::Result<u64, Error>,
}

struct State {
    mode: Mode,
    busy: bool,
    hold: Option<Hold>,
}

/// A lock handle (behind the opaque `srwl_lock` of the C API).
pub struct Lock {
    epoch: u64,
    path: String,
    opts: Options,
    side: Arc<Dir>,
    state: Mutex<State>,
    changed: Condvar,
    /// Not dropped in a child of fork: its descriptors may be mid-update by a parent thread
    /// at the fork; the child leaks them rather than risk closing a descriptor it reused.
    disk: std::mem::ManuallyDrop<Mutex<Disk>>,
}

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

/// Exponential backoff up to the poll interval, with jitter so that many waiters do not hit
/// the file server in step.
struct Backoff {
    next: Duration,
    max: Duration,
    rng: u64,
}

impl Backoff {
    fn new(max: Duration) -> Backoff {
        let mut seed = [0u8; 8];
        fs::random_bytes(&mut seed);
        Backoff {
            next: Duration::from_millis(1).min(max),
            max,
            rng: u64::from_ne_bytes(seed) | 1,
        }
    }

    fn sleep(&mut self, wait: &Wait) {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        // Sleep between 50% and 100% of the current step.
        let frac = 0.5 + (self.rng % 1000) as f64 / 2000.0;
        let mut d = self.next.mul_f64(frac);
        if let Some(r) = wait.remaining() {
            d = d.min(r);
        }
        std::thread::sleep(d);
        self.next = (self.next * 2).min(self.max);
    }
}

fn lock_state(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// In a wait loop: a transient error (ESTALE) means "not yet": wait and try again, until the
/// deadline; any other error ends the loop.
macro_rules! retry_or_fail {
    ($self:ident, $wait:ident, $backoff:ident, $op:expr, $e:expr) => {{
        let e: Error = $e;
        if !e.transient {
            break Err(e);
        }
        if $wait.expired() {
            break Err($self.timeout_error($op));
        }
        $backoff.sleep(&$wait);
        continue;
    }};
}

impl Lock {
    /// Opens a handle on `path` (bytes; need not be UTF-8). The lock path itself is never
    /// created: everything lives in `<path>.srwl/`.
    pub fn open(path: &[u8], opts: &Options) -> Result<Lock> {
        opts.validate()?;
        fork::ensure_registered();
        let display = String::from_utf8_lossy(path).into_owned();
        if path.is_empty() {
            return Err(Error::new(
                Status::SRWL_EINVAL,
                "open: the lock path is empty",
            ));
        }
        if path.contains(&0) {
            return Err(Error::new(
                Status::SRWL_EINVAL,
                format!("open {display}: path contains a NUL byte"),
            ));
        }
        if path.ends_with(b"/") {
            return Err(Error::new(
                Status::SRWL_EINVAL,
                format!("open {display}: the lock path names a directory; give a file name (the library uses {display}<name>.srwl/)"),
            ));
        }
        let (parent, base): (&[u8], &[u8]) = match path.iter().rposition(|&c| c == b'/') {
            Some(0) => (b"/", &path[1..]),
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (b".", path),
        };
        if base == b"." || base == b".." {
            return Err(Error::new(
                Status::SRWL_EINVAL,
                format!("open {display}: the lock path must end in a file name"),
            ));
        }
        if base.len() + 5 > 255 {
            return Err(Error::new(
                Status::SRWL_EINVAL,
                format!("open {display}: file name too long for the sidecar name <name>.srwl"),
            ));
        }
        let parent_c = CString::new(parent).expect("checked for NUL");
        let parent_display = OsStr::from_bytes(parent).to_string_lossy().into_owned();
        let parent_dir = Dir::open_path(&parent_c)
            .map_err(|e| crate::protocol::fs_error("open parent directory", &parent_display, &e))?;
        let side_name = CString::new([base, b".srwl"].concat()).expect("checked for NUL");
        let host = hostname::get()
            .map(|h| sanitize_host(h.as_bytes()))
            .unwrap_or_else(|_| "unknown".into());
        let params = Params {
            stale: Duration::from_secs_f64(opts.stale_threshold),
            lease_ms: (opts.stale_threshold * 1000.0).ceil() as u64,
            host,
        };
        let mut tries = 0;
        let disk = loop {
            let params = Params {
                host: params.host.clone(),
                ..params
            };
            match Disk::open(&parent_dir, &side_name, format!("{display}.srwl"), params) {
                // ESTALE: another client just replaced something; it passes within seconds.
                Err(e) if e.transient && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                r => break r?,
            }
        };
        Ok(Lock {
            epoch: fork::epoch(),
            path: display,
            opts: *opts,
            side: disk.side.clone(),
            state: Mutex::new(State {
                mode: Mode::Free,
                busy: false,
                hold: None,
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
        Error::new(
            Status::SRWL_ELOST,
            format!("{op} {}: the hold was lost: another process evicted it after its record went unchanged past the stale threshold ({} s); this process was stopped or starved", self.path, self.opts.stale_threshold),
        )
    }

    fn timeout_error(&self, op: &str) -> Error {
        Error::new(
            Status::SRWL_TIMEOUT,
            format!("{op} {}: timed out", self.path),
        )
    }

    /// Waits (on the condition variable) until this handle is idle or the wait expires.
    fn wait_idle<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        wait: &Wait,
        op: &str,
    ) -> Result<MutexGuard<'a, State>> {
        while st.busy || matches!(st.mode, Mode::Write { owner, .. } if owner != thread_id()) {
            let d = match wait.remaining() {
                None => Duration::from_secs(3600),
                Some(d) if d.is_zero() => return Err(self.timeout_error(op)),
                Some(d) => d,
            };
            st = self
                .changed
                .wait_timeout(st, d)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Ok(st)
    }

    pub fn acquire(&self, role: Role, timeout: f64) -> Result<()> {
        let op = if role == Role::Write {
            "acquire_write"
        } else {
            "acquire_read"
        };
        self.check_fork(op)?;
        let wait = Wait::from_timeout(timeout)?;
        let me = thread_id();
        let mut st = lock_state(&self.state);
        // Nesting and state errors first: they need no waiting.
        match (st.mode, role) {
            (Mode::Read { .. }, Role::Write) => {
                return Err(Error::new(Status::SRWL_ESTATE, format!("{op} {}: this handle holds a read lock; upgrading to write is not supported (release, then acquire write)", self.path)))
            }
            (Mode::Write { owner, .. }, Role::Read) if owner == me => {
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
            match st.mode {
                Mode::Read { levels } if role == Role::Read => {
                    st.mode = Mode::Read { levels: levels + 1 };
                    return Ok(());
                }
                Mode::Write { owner, levels } if owner == me && role == Role::Write => {
                    st.mode = Mode::Write { owner, levels: levels + 1 };
                    return Ok(());
                }
                Mode::Read { .. } if role == Role::Write => {
                    return Err(Error::new(Status::SRWL_ESTATE, format!("{op} {}: this handle holds a read lock; upgrading to write is not supported", self.path)))
                }
                Mode::Free if !st.busy => break,
                _ => st = self.wait_idle(st, &wait, op)?,
            }
        }
        st.busy = true;
        drop(st);

        let result = {
            let mut disk = self.disk.lock().unwrap_or_else(|p| p.into_inner());
            match role {
                Role::Read => self.acquire_read_disk(&mut disk, &wait),
                _ => self.acquire_write_disk(&mut disk, &wait),
            }
        };

        let mut st = lock_state(&self.state);
        st.busy = false;
        let out = match result {
            Ok(hold) => {
                st.mode = match role {
                    Role::Read => Mode::Read { levels: 1 },
                    _ => Mode::Write {
                        owner: me,
                        levels: 1,
                    },
                };
                st.hold = Some(hold);
                Ok(())
            }
            Err(e) => Err(e),
        };
        drop(st);
        self.changed.notify_all();
        out
    }

    /// Starts the heartbeat of a new hold and makes the Hold.
    fn hold(
        &self,
        role: Role,
        token: Token,
        disk: &Disk,
        dir: Arc<Dir>,
        rel: Name,
        generation: Result<u64>,
    ) -> Hold {
        let registration = heartbeat::register(
            dir.clone(),
            rel,
            disk.record(role, token),
            Duration::from_secs_f64(self.opts.heartbeat_interval),
        );
        Hold {
            role,
            token,
            dir,
            rel,
            registration,
            generation,
        }
    }

    fn refresh_interval(&self) -> Duration {
        Duration::from_secs_f64(self.opts.heartbeat_interval)
    }

    fn acquire_read_disk(&self, disk: &mut Disk, wait: &Wait) -> Result<Hold> {
        // A fresh token for every attempt to enter: a record name is never used twice, so a
        // slow evictor that judged an earlier attempt can never remove a later hold.
        let mut token = Token::random();
        let mut rec = disk.record(Role::Read, token);
        let mut ticket: Option<(Ticket, crate::record::Record, Instant)> = None;
        let mut backoff = Backoff::new(
            Duration::from_secs_f64(self.opts.poll_interval).min(self.refresh_interval()),
        );
        let mut attempts = 0u32;
        let outcome = loop {
            let (blocked_by_writer, max_seq, queue_empty) = {
                let mine = ticket.as_ref().map(|t| t.0.key());
                let (tickets, max_seq) = match disk.list_queue() {
                    Ok(v) => v,
                    Err(e) => retry_or_fail!(self, wait, backoff, "acquire_read", e),
                };
                let blocked = tickets
                    .iter()
                    .any(|t| t.kind == TicketKind::Writer && mine.is_none_or(|m| t.key() < m));
                (blocked, max_seq, tickets.is_empty())
            };
            if !blocked_by_writer {
                // Uncontended fast path: an empty queue means go straight in; otherwise look
                // for a writer inside first (a hint) so as not to crowd the room in vain.
                // Now and then the hint is skipped: a client may cache a removed `closed` for a
                // while, and the check inside enter_room is the one that counts.
                let closed = if (queue_empty && attempts == 0) || attempts % 8 == 7 {
                    false
                } else {
                    match disk.closed_hint() {
                        Ok(c) => c,
                        Err(e) => retry_or_fail!(self, wait, backoff, "acquire_read", e),
                    }
                };
                if !closed {
                    match disk.enter_room(&token, &rec) {
                        Ok(Entry::Entered) => break Ok(()),
                        Ok(Entry::Closed) => {
                            token = Token::random();
                            rec = disk.record(Role::Read, token);
                        }
                        Err(e) => retry_or_fail!(self, wait, backoff, "acquire_read", e),
                    }
                }
            }
            attempts += 1;
            inject::point();
            if wait.expired() {
                break Err(self.timeout_error("acquire_read"));
            }
            // Wait in line: a ticket orders us before every writer that claims after us.
            match &mut ticket {
                None => {
                    let t = Ticket {
                        kind: TicketKind::Reader,
                        seq: max_seq.saturating_add(1),
                        token,
                    };
                    let trec = disk.record(Role::Wait, token);
                    if let Err(e) = disk.take_reader_ticket(&t, &trec) {
                        retry_or_fail!(self, wait, backoff, "acquire_read", e);
                    }
                    ticket = Some((t, trec, Instant::now()));
                }
                Some((t, trec, last)) => {
                    if last.elapsed() >= self.refresh_interval() / 2 {
                        match disk.refresh_reader_ticket(t, trec) {
                            Ok(true) => *last = Instant::now(),
                            // Evicted while we were stopped: take the same place in line
                            // again, under a new name.
                            Ok(false) => {
                                let t2 = Ticket {
                                    token: Token::random(),
                                    ..*t
                                };
                                let trec2 = disk.record(Role::Wait, t2.token);
                                if let Err(e) = disk.take_reader_ticket(&t2, &trec2) {
                                    ticket = None;
                                    retry_or_fail!(self, wait, backoff, "acquire_read", e);
                                }
                                ticket = Some((t2, trec2, Instant::now()));
                            }
                            Err(e) => retry_or_fail!(self, wait, backoff, "acquire_read", e),
                        }
                    }
                }
            }
            // Look at everything that can block us: the claims ahead and the writer inside
            // (whose owner may be dead although a live writer waits ahead of us).
            let mut scan = disk.scan_room(true);
            if blocked_by_writer && scan.is_ok() {
                scan = disk.scan_queue(ticket.as_ref().map(|t| t.0.key()));
            }
            if let Err(e) = scan {
                retry_or_fail!(self, wait, backoff, "acquire_read", e);
            }
            backoff.sleep(wait);
        };
        if let Some((t, _, _)) = &ticket {
            disk.remove_reader_ticket(t);
        }
        if outcome.is_err() {
            disk.discard_read_record(&token);
        }
        outcome?;
        Ok(self.hold(
            Role::Read,
            token,
            disk,
            self.side.clone(),
            Disk::read_record_path(&token),
            Ok(0),
        ))
    }

    fn acquire_write_disk(&self, disk: &mut Disk, wait: &Wait) -> Result<Hold> {
        let mut token = Token::random();
        let mut rec = disk.record(Role::Write, token);
        let mut backoff = Backoff::new(
            Duration::from_secs_f64(self.opts.poll_interval).min(self.refresh_interval()),
        );
        let mut claim: Option<(Ticket, Instant)> = None;
        // A claim lost while we were stopped is made again in the same place in line.
        let mut place: Option<u64> = None;
        let outcome = loop {
            let (ahead, max_seq) = {
                let mine = claim.as_ref().map(|c| c.0.key());
                let (tickets, max_seq) = match disk.list_queue() {
                    Ok(v) => v,
                    Err(e) => retry_or_fail!(self, wait, backoff, "acquire_write", e),
                };
                let ahead = match mine {
                    Some(m) => tickets.iter().any(|t| t.key() < m),
                    None => !tickets.is_empty(),
                };
                (ahead, max_seq)
            };
            if claim.is_none() {
                let t = Ticket {
                    kind: TicketKind::Writer,
                    seq: place.unwrap_or(max_seq.saturating_add(1)),
                    token,
                };
                if let Err(e) = disk.make_claim(&t, &rec) {
                    retry_or_fail!(self, wait, backoff, "acquire_write", e);
                }
                claim = Some((t, Instant::now()));
            }
            let (t, last) = claim.as_mut().expect("claimed above");
            if !ahead {
                match disk.try_grant(t) {
                    Ok(Grant::Granted) => break Ok(()),
                    Ok(Grant::Occupied) => {
                        if let Err(e) = disk.scan_room(false) {
                            retry_or_fail!(self, wait, backoff, "acquire_write", e);
                        }
                    }
                    Ok(Grant::ClaimLost) => {
                        place = Some(t.seq);
                        claim = None;
                        token = Token::random();
                        rec = disk.record(Role::Write, token);
                        continue;
                    }
                    Err(e) => retry_or_fail!(self, wait, backoff, "acquire_write", e),
                }
            } else if let Err(e) = disk
                .scan_queue(Some(t.key()))
                .and_then(|()| disk.scan_room(true))
            {
                retry_or_fail!(self, wait, backoff, "acquire_write", e);
            }
            inject::point();
            if wait.expired() {
                break Err(self.timeout_error("acquire_write"));
            }
            if last.elapsed() >= self.refresh_interval() / 2 {
                match disk.refresh_claim(t, &mut rec) {
                    Ok(true) => *last = Instant::now(),
                    Ok(false) => {
                        place = Some(t.seq);
                        claim = None;
                        token = Token::random();
                        rec = disk.record(Role::Write, token);
                        continue;
                    }
                    Err(e) => retry_or_fail!(self, wait, backoff, "acquire_write", e),
                }
            }
            backoff.sleep(wait);
        };
        if let Err(e) = outcome {
            if let Some((t, _)) = &claim {
                disk.remove_claim(t);
                // A rename that reported failure may still have happened: never leave a
                // granted room behind.
                disk.undo_unnoticed_grant(&token);
            }
            return Err(e);
        }
        // Heartbeat first, then the fencing counter, then make sure we still hold: a writer
        // stopped between its grant and its increment may have been evicted meanwhile, and
        // then its increment could outnumber the new holder's. Such a grant is reported lost.
        let room = disk.granted_room();
        let rel = Disk::own_write_record(&token);
        let generation = disk.bump_generation();
        let hold = self.hold(Role::Write, token, disk, room, rel, generation);
        if hold.registration.lost.load(Ordering::SeqCst)
            || !Disk::record_exists(&hold.dir, &hold.rel)
        {
            heartbeat::unregister(hold.registration.id);
            return Err(self.lost_error("acquire_write"));
        }
        Ok(hold)
    }

    pub fn release(&self) -> Result<()> {
        self.check_fork("release")?;
        let me = thread_id();
        let mut st = lock_state(&self.state);
        let lost = st
            .hold
            .as_ref()
            .is_some_and(|h| h.registration.lost.load(Ordering::SeqCst));
        match st.mode {
            Mode::Free => {
                return Err(Error::new(Status::SRWL_ESTATE, format!("release {}: this handle holds no lock", self.path)))
            }
            Mode::Write { owner, .. } if owner != me => {
                return Err(Error::new(Status::SRWL_ESTATE, format!("release {}: the write lock is held by another thread of this process; only the owning thread may release it", self.path)))
            }
            Mode::Read { levels } if levels > 1 && !lost => {
                st.mode = Mode::Read { levels: levels - 1 };
                return Ok(());
            }
            Mode::Write { owner, levels } if levels > 1 && !lost => {
                st.mode = Mode::Write { owner, levels: levels - 1 };
                return Ok(());
            }
            _ => {}
        }
        // Last level (or the hold is lost): give the hold up on disk.
        let hold = st.hold.take().expect("a held mode has a hold");
        st.mode = Mode::Free;
        st.busy = true;
        drop(st);
        let result = self.give_up(hold, "release");
        let mut st = lock_state(&self.state);
        st.busy = false;
        drop(st);
        self.changed.notify_all();
        result
    }

    pub fn check(&self) -> Result<()> {
        self.check_fork("check")?;
        let st = lock_state(&self.state);
        let hold = match (&st.mode, &st.hold) {
            (Mode::Free, _) | (_, None) => {
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
        if !Disk::record_exists(&hold.dir, &hold.rel) {
            hold.registration.lost.store(true, Ordering::SeqCst);
            return Err(self.lost_error("check"));
        }
        Ok(())
    }

    pub fn generation(&self) -> Result<u64> {
        self.check_fork("generation")?;
        let st = lock_state(&self.state);
        match (&st.mode, &st.hold) {
            (Mode::Write { .. }, Some(h)) => h.generation.clone(),
            (Mode::Read { .. }, Some(_)) => {
                let display = format!("{}.srwl", self.path);
                Disk::read_generation(&self.side, &display)
            }
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
            st.mode = Mode::Free;
            st.hold.take()
        };
        match hold {
            Some(hold) => self.give_up(hold, op),
            None => Ok(()),
        }
    }

    /// Ends a hold on disk: stops its heartbeat, then removes its record (unless it was
    /// already lost: then nothing is touched). SRWL_ELOST if the record was gone.
    fn give_up(&self, hold: Hold, op: &str) -> Result<()> {
        heartbeat::unregister(hold.registration.id);
        if hold.registration.lost.load(Ordering::SeqCst) {
            return Err(self.lost_error(op));
        }
        let mut disk = self.disk.lock().unwrap_or_else(|p| p.into_inner());
        let released = match hold.role {
            Role::Write => Disk::release_write(&hold.dir, &hold.token, &disk.display),
            _ => disk.release_read(&hold.token),
        };
        match released {
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
