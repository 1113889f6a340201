//! The lock handle: one participant in the srwl/2 protocol, usable from several threads.
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
use crate::protocol::{Close, Disk, Entry, Params, Take};
use crate::record::{sanitize_host, Record, Role, Ticket, TicketKind, Token};
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
    /// When our record was written (the heartbeat knows later rewrites).
    written: Instant,
    token: Token,
    /// Where the record is, relative to the sidecar: `R/r.<token>` for a reader, the baton
    /// `Q/b.<gen>.<token>` for a writer.
    dir: Arc<Dir>,
    rel: Name,
    registration: Registration,
    /// A writer's grant; for a reader, the generation of the baton it found in the room.
    generation: u64,
}

struct State {
    mode: Mode,
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
        Backoff {
            next: Duration::from_millis(1).min(max),
            max,
            rng: 0,
        }
    }

    fn sleep(&mut self, wait: &Wait) {
        std::thread::sleep(self.step(wait));
    }

    /// Starts short again: what we wait for has moved (the line ahead shrank, or we took the
    /// baton and now wait for the room to drain), so the end is likely near.
    fn reset(&mut self) {
        self.next = Duration::from_millis(1).min(self.max);
    }

    /// Waits one step, waking early on a change made on this host (then the next step starts
    /// short again: the lock may have moved).
    /// `room`: we hold the baton and wait for the readers inside to leave (else we wait for a
    /// change in the queue). `next`: we are the one writer whose turn comes next (holding the
    /// baton, or first in line while another writer holds it). One process at a time is in
    /// that state, so its step is capped at a quarter of the maximum without loading the file
    /// server: a handoff noticed late is a write grant delayed for everyone behind it.
    /// `place`: our ticket or claim, and whether only writers' claims ahead of it block us (a
    /// reader); see `Disk::wait_for_change`.
    fn wait_on(
        &mut self,
        wait: &Wait,
        disk: &mut Disk,
        room: bool,
        next: bool,
        place: (Option<(u64, Token)>, bool),
    ) {
        if next {
            self.next = self.next.min(self.max / 4);
        }
        let d = self.step(wait);
        if disk.wait_for_change(d, room, place.0, place.1) {
            self.reset();
        }
    }

    /// The next pause: 50-100% of the current step (jitter), doubling up to the maximum.
    fn step(&mut self, wait: &Wait) -> Duration {
        if self.rng == 0 {
            // Seeded at the first sleep: an uncontended acquire never sleeps.
            let mut seed = [0u8; 8];
            fs::random_bytes(&mut seed);
            self.rng = u64::from_ne_bytes(seed) | 1;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        // Sleep between 50% and 100% of the current step.
        let frac = 0.5 + (self.rng % 1000) as f64 / 2000.0;
        let mut d = self.next.mul_f64(frac);
        if let Some(r) = wait.remaining() {
            d = d.min(r);
        }
        self.next = (self.next * 2).min(self.max);
        d
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
        let mut parent_dir = Dir::open_path(&parent_c)
            .map_err(|e| crate::protocol::fs_error("open parent directory", &parent_display, &e))?;
        // An object-store mount (s3fs, ...) cannot keep exclusion: refused before anything is
        // created there. On sshfs, listings reopen their directory (fstype.rs).
        crate::fstype::check_open(&mut parent_dir, &display)?;
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
            path: display,
            opts: *opts,
            side: disk.side.clone(),
            state: Mutex::new(State {
                mode: Mode::Free,
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
        let notify = st.waiters > 0;
        drop(st);
        if notify {
            self.changed.notify_all();
        }
        out
    }

    fn register(
        &self,
        record: Record,
        dir: &Arc<Dir>,
        rel: Name,
        written: Instant,
    ) -> Registration {
        heartbeat::register(
            dir.clone(),
            rel,
            record,
            Duration::from_secs_f64(self.opts.heartbeat_interval),
            written,
        )
    }

    fn refresh_interval(&self) -> Duration {
        Duration::from_secs_f64(self.opts.heartbeat_interval)
    }

    fn acquire_read_disk(&self, disk: &mut Disk, wait: &Wait) -> Result<Hold> {
        // A fresh token for every attempt to enter: a record name is never used twice, so a
        // slow evictor that judged an earlier attempt can never remove a later hold.
        let mut token = Token::random();
        let mut rec = disk.record(Role::Read, token);
        let mut ticket: Option<(Ticket, Record, Instant)> = None;
        let mut backoff = Backoff::new(
            Duration::from_secs_f64(self.opts.poll_interval).min(self.refresh_interval()),
        );
        let mut shut_since: Option<Instant> = None;
        let mut written = Instant::now();
        let outcome = loop {
            let (blocked, max_seq) = {
                let mine = ticket.as_ref().map(|t| t.0.key());
                let q = match disk.list_queue() {
                    Ok(v) => v,
                    Err(e) => retry_or_fail!(self, wait, backoff, "acquire_read", e),
                };
                // A writer holding the baton, or a writer that claimed before us, goes first.
                let blocked = q.baton_held
                    || q.tickets
                        .iter()
                        .any(|t| t.kind == TicketKind::Writer && mine.is_none_or(|m| t.key() < m));
                (blocked, q.max_seq)
            };
            if !blocked {
                written = Instant::now();
                match disk.enter_room(&token, &rec) {
                    Ok(Entry::Entered(gen)) => break Ok(gen),
                    Ok(Entry::Shut) => {
                        token = Token::random();
                        rec = disk.record(Role::Read, token);
                        shut_since.get_or_insert_with(Instant::now);
                    }
                    Err(e) => retry_or_fail!(self, wait, backoff, "acquire_read", e),
                }
            }
            inject::point();
            if wait.expired() {
                break Err(self.timeout_error("acquire_read"));
            }
            // Wait in line: a ticket orders us before every writer that claims after us.
            if let Err(e) = self.keep_place(disk, &mut ticket, TicketKind::Reader, max_seq, token) {
                retry_or_fail!(self, wait, backoff, "acquire_read", e);
            }
            // Evict whatever dead entry blocks us: claims ahead, a baton whose holder died.
            let mut scan = disk.scan_queue(ticket.as_ref().map(|t| t.0.key()), true);
            if scan.is_ok() && !blocked && shut_since.is_some_and(|t| t.elapsed() > self.stale()) {
                // No baton in the room and none held for a long time: a process may have
                // died while creating it.
                scan = disk.recover_orphan_baton();
            }
            if let Err(e) = scan {
                retry_or_fail!(self, wait, backoff, "acquire_read", e);
            }
            let mine = ticket.as_ref().map(|t| t.0.key());
            backoff.wait_on(wait, disk, false, false, (mine, true));
        };
        if let Some((t, _, _)) = &ticket {
            disk.dequeue(t);
        }
        if outcome.is_err() {
            disk.discard_read_record(&token);
        }
        let gen = outcome?;
        let rel = Disk::read_record_path(&token);
        let registration = self.register(disk.record(Role::Read, token), &self.side, rel, written);
        Ok(Hold {
            role: Role::Read,
            written,
            token,
            dir: self.side.clone(),
            rel,
            registration,
            generation: gen,
        })
    }

    fn stale(&self) -> Duration {
        Duration::from_secs_f64(self.opts.stale_threshold)
    }

    /// Takes a place in the queue if we have none, and keeps it fresh: refreshed every half
    /// heartbeat interval, taken again under a new name (same place) if it was evicted while
    /// we were stopped.
    fn keep_place(
        &self,
        disk: &mut Disk,
        place: &mut Option<(Ticket, Record, Instant)>,
        kind: TicketKind,
        max_seq: u64,
        token: Token,
    ) -> Result<()> {
        let role = if kind == TicketKind::Reader {
            Role::Wait
        } else {
            Role::Write
        };
        match place {
            None => {
                let t = Ticket {
                    kind,
                    seq: max_seq.saturating_add(1),
                    token,
                };
                let r = disk.record(role, token);
                disk.enqueue(&t, &r)?;
                *place = Some((t, r, Instant::now()));
            }
            Some((t, r, last)) if last.elapsed() >= self.refresh_interval() / 2 => {
                if disk.refresh_place(t, r)? {
                    *last = Instant::now();
                } else {
                    let t2 = Ticket {
                        token: Token::random(),
                        ..*t
                    };
                    let r2 = disk.record(role, t2.token);
                    *place = None;
                    disk.enqueue(&t2, &r2)?;
                    *place = Some((t2, r2, Instant::now()));
                }
            }
            Some(_) => {}
        }
        Ok(())
    }

    fn acquire_write_disk(&self, disk: &mut Disk, wait: &Wait) -> Result<Hold> {
        // `token` names our claim while we wait (a new one if the claim is evicted) and seeds
        // the hold's nonce; the baton we hold is named by the handle's writer token.
        let mut token = Token::random();
        let baton_token = disk.writer_token();
        let mut backoff = Backoff::new(
            Duration::from_secs_f64(self.opts.poll_interval).min(self.refresh_interval()),
        );
        let mut claim: Option<(Ticket, Record, Instant)> = None;
        // The baton, once taken: its generation and the heartbeat that keeps it fresh while
        // we wait for the readers inside to leave.
        let mut baton: Option<(u64, Registration, Instant)> = None;
        let mut nothing_since: Option<Instant> = None;
        let mut ahead_before: Option<usize> = None;
        let mut first_in_line = false;
        let outcome = loop {
            if let Some((_, reg, _)) = &baton {
                if reg.lost.load(Ordering::SeqCst) {
                    // Taken over while we were stopped: we are back in line.
                    let (_, reg, _) = baton.take().expect("checked");
                    heartbeat::unregister(reg.id);
                    token = Token::random();
                }
            }
            if baton.is_none() {
                let (ahead, max_seq, held) = {
                    let mine = claim.as_ref().map(|c| c.0.key());
                    let q = match disk.list_queue() {
                        Ok(v) => v,
                        Err(e) => retry_or_fail!(self, wait, backoff, "acquire_write", e),
                    };
                    let ahead = match mine {
                        Some(m) => q.tickets.iter().filter(|t| t.key() < m).count(),
                        None => q.tickets.len(),
                    };
                    (ahead, q.max_seq, q.baton_held)
                };
                if ahead_before.is_some_and(|before| ahead < before) {
                    backoff.reset();
                }
                ahead_before = Some(ahead);
                let ahead = ahead > 0;
                first_in_line = !ahead && held;
                if !ahead && !held {
                    let rec = disk.writer_record(&token);
                    let written = Instant::now();
                    match disk.take_baton(&baton_token, &rec) {
                        Ok(Take::Taken(gen)) => {
                            let rel = Disk::baton_path(gen, &baton_token);
                            let reg = self.register(rec, &self.side, rel, written);
                            baton = Some((gen, reg, written));
                            nothing_since = None;
                            backoff.reset();
                            if let Some((t, _, _)) = claim.take() {
                                disk.dequeue(&t);
                            }
                        }
                        Ok(Take::NotThere) => {
                            nothing_since.get_or_insert_with(Instant::now);
                        }
                        Err(e) => retry_or_fail!(self, wait, backoff, "acquire_write", e),
                    }
                }
                if baton.is_none() {
                    if let Err(e) =
                        self.keep_place(disk, &mut claim, TicketKind::Writer, max_seq, token)
                    {
                        retry_or_fail!(self, wait, backoff, "acquire_write", e);
                    }
                    let mut scan = disk.scan_queue(claim.as_ref().map(|c| c.0.key()), false);
                    if scan.is_ok()
                        && !held
                        && nothing_since.is_some_and(|t| t.elapsed() > self.stale())
                    {
                        scan = disk.recover_orphan_baton();
                    }
                    if let Err(e) = scan {
                        retry_or_fail!(self, wait, backoff, "acquire_write", e);
                    }
                }
            }
            if let Some((gen, reg, written)) = &baton {
                // The grant: our own rmdir of the room, refused while anyone is inside. New
                // readers see our baton in the queue (or no baton in the room) and stay out.
                match disk.close_room() {
                    Ok(Close::Granted)
                        if disk.baton_still_ours(
                            *gen,
                            &baton_token,
                            heartbeat::last_written(reg.id).unwrap_or(*written),
                        ) =>
                    {
                        break Ok(*gen)
                    }
                    Ok(Close::Granted) => {
                        // Taken over while we were stopped before our rmdir: the hold we
                        // would report is a zombie's. Nothing of ours is left to give back.
                        if let Some((_, reg, _)) = baton.take() {
                            heartbeat::unregister(reg.id);
                        }
                        break Err(self.lost_error("acquire_write"));
                    }
                    Ok(Close::Occupied) => {
                        if let Err(e) = disk.scan_room() {
                            retry_or_fail!(self, wait, backoff, "acquire_write", e);
                        }
                    }
                    Err(e) => retry_or_fail!(self, wait, backoff, "acquire_write", e),
                }
            }
            inject::point();
            if wait.expired() {
                break Err(self.timeout_error("acquire_write"));
            }
            let closing = baton.is_some();
            let mine = claim.as_ref().map(|c| c.0.key());
            backoff.wait_on(wait, disk, closing, closing || first_in_line, (mine, false));
        };
        if let Some((t, _, _)) = &claim {
            disk.dequeue(t);
        }
        match outcome {
            Ok(gen) => {
                let (_, registration, written) = baton.expect("granted with the baton");
                Ok(Hold {
                    role: Role::Write,
                    written,
                    token: baton_token,
                    dir: self.side.clone(),
                    rel: Disk::baton_path(gen, &baton_token),
                    registration,
                    generation: gen,
                })
            }
            Err(e) => {
                // Never keep the baton past a failed acquire: hand it back to the room.
                if let Some((gen, reg, written)) = baton {
                    let written = heartbeat::unregister(reg.id).unwrap_or(written);
                    let _ = disk.give_back(gen, &baton_token, written);
                }
                Err(e)
            }
        }
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
            (_, Some(h)) if st.mode != Mode::Free => Ok(h.generation),
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
        let written = heartbeat::unregister(hold.registration.id).unwrap_or(hold.written);
        if hold.registration.lost.load(Ordering::SeqCst) {
            return Err(self.lost_error(op));
        }
        let mut disk = self.disk.lock().unwrap_or_else(|p| p.into_inner());
        let released = match hold.role {
            Role::Write => disk.give_back(hold.generation, &hold.token, written),
            _ => disk.release_read(&hold.token, written),
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
