//! Waiting: deadlines, backoff between looks, and same-host wakeups (inotify).

use std::time::{Duration, Instant};

use super::layout::ROOM;
use super::{interrupted_error, timeout_error, Disk, Mode};
use crate::fs::{self, Watch, Woken};
use crate::record::{Baton, Ticket, TicketKind, Token};
use crate::status::{Error, Result, Status};

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

    pub fn expired(&self) -> bool {
        matches!(self, Wait::Until(t) if Instant::now() >= *t)
    }

    pub fn remaining(&self) -> Option<Duration> {
        match self {
            Wait::Forever => None,
            Wait::Until(t) => Some(t.saturating_duration_since(Instant::now())),
        }
    }
}

/// What a waiter waits for, which decides which same-host changes wake it.
pub(super) enum Awaiting {
    /// We hold the baton and wait for the readers inside the room to leave.
    RoomToDrain,
    /// We wait for our turn in the queue.
    Turn {
        /// Our ticket or claim's key; None if we have none yet (everyone listed is ahead).
        place: Option<(u64, Token)>,
        /// Only writers' claims ahead block us (a reader): reader tickets never do.
        writers_only: bool,
        /// We are first in line while another writer holds the baton.
        next_in_line: bool,
    },
}

impl Awaiting {
    /// One process at a time is next (draining the room, or first in line behind the holder):
    /// its step is capped at a quarter of the maximum without loading the file server, since
    /// a handoff noticed late is a write grant delayed for everyone behind it.
    fn next(&self) -> bool {
        match self {
            Awaiting::RoomToDrain => true,
            Awaiting::Turn { next_in_line, .. } => *next_in_line,
        }
    }
}

/// Exponential backoff up to the poll interval, with jitter so that many waiters do not hit
/// the file server in step.
pub(super) struct Backoff {
    next: Duration,
    max: Duration,
    rng: u64,
}

impl Backoff {
    pub(super) fn new(max: Duration) -> Backoff {
        Backoff {
            next: Duration::from_millis(1).min(max),
            max,
            rng: 0,
        }
    }

    /// Sleeps one step; true if an interrupt ended it.
    pub(super) fn sleep(&mut self, wait: &Wait, disk: &Disk) -> bool {
        disk.params.interrupt.sleep(self.step(wait))
    }

    /// Starts short again: what we wait for has moved (the line ahead shrank, or we took the
    /// baton and now wait for the room to drain), so the end is likely near.
    pub(super) fn reset(&mut self) {
        self.next = Duration::from_millis(1).min(self.max);
    }

    /// Waits one step, waking early on a change made on this host (then the next step starts
    /// short again: the lock may have moved). SRWL_EINTR if the handle was interrupted.
    pub(super) fn wait_on(
        &mut self,
        mode: Mode,
        wait: &Wait,
        disk: &mut Disk,
        awaiting: &Awaiting,
    ) -> Result<()> {
        if awaiting.next() {
            self.next = self.next.min(self.max / 4);
        }
        let d = self.step(wait);
        match disk.wait_for_change(d, awaiting) {
            Woken::Change => self.reset(),
            Woken::Interrupt => {}
            Woken::Timeout => return Ok(()),
        }
        match disk.params.interrupt.take() {
            true => Err(disk.interrupted(mode)),
            false => Ok(()),
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

/// Same-host wakeups, made at the first wait (None if inotify is not available), and the room
/// inode they watch.
pub(super) struct Waker {
    watch: Option<Watch>,
    /// The queue's watch descriptor in `watch`.
    queue_wd: i32,
    tried: bool,
    watched_room: Option<(u64, u64)>,
}

impl Default for Waker {
    fn default() -> Waker {
        Waker {
            watch: None,
            queue_wd: -1,
            tried: false,
            watched_room: None,
        }
    }
}

impl Disk {
    /// In a wait loop, after a step failed: a transient error (ESTALE) means "not yet": sleeps
    /// a step and returns Ok, so that the caller tries again; past the deadline, or for any
    /// other error, returns the error that ends the wait.
    pub(super) fn retry_after(
        &self,
        e: Error,
        mode: Mode,
        wait: &Wait,
        backoff: &mut Backoff,
    ) -> Result<()> {
        if !e.transient {
            return Err(e);
        }
        if wait.expired() {
            return Err(self.timed_out(mode));
        }
        if backoff.sleep(wait, self) {
            return Err(self.interrupted(mode));
        }
        Ok(())
    }

    /// In a wait loop, before waiting again: the error that ends the wait, if any: SRWL_EINTR
    /// if the handle was interrupted, SRWL_TIMEOUT (naming what kept us out) if the wait
    /// expired.
    pub(super) fn wait_over(
        &mut self,
        mode: Mode,
        wait: &Wait,
        awaiting: &Awaiting,
    ) -> Option<Error> {
        if self.params.interrupt.take() {
            Some(self.interrupted(mode))
        } else if wait.expired() {
            Some(self.timed_out_waiting(mode, awaiting))
        } else {
            None
        }
    }

    /// SRWL_EINTR for an acquire in `mode`, naming the lock.
    pub(super) fn interrupted(&self, mode: Mode) -> Error {
        interrupted_error(mode.acquire_op(), &self.lock_path)
    }

    /// SRWL_TIMEOUT for an acquire in `mode`, naming the lock.
    pub(super) fn timed_out(&self, mode: Mode) -> Error {
        timeout_error(mode.acquire_op(), &self.lock_path)
    }

    /// SRWL_TIMEOUT for an acquire that waited as `awaiting` says, naming what kept it out.
    pub(super) fn timed_out_waiting(&mut self, mode: Mode, awaiting: &Awaiting) -> Error {
        let blocker = match *awaiting {
            Awaiting::RoomToDrain => self.room_blocker(),
            Awaiting::Turn {
                place,
                writers_only,
                ..
            } => self.blocker(place, writers_only),
        };
        let mut e = self.timed_out(mode);
        e.message.push_str(&format!(": waiting for {blocker}"));
        e
    }

    /// Sleeps up to `d`, waking early when a process on this host makes a change that can
    /// unblock us: draining the room, a reader leaving it; in the queue, the last entry ahead
    /// of us leaving (of those the last listing showed: tickets and claims with a key below
    /// our place, or all if we have none; only writers' claims for a reader), or, once
    /// none is ahead, the held baton leaving. Other changes (a claim behind us, or one ahead
    /// while others remain) wake no one: with many waiters on one host, each would otherwise
    /// list the queue at every change. An interrupt (the handle's doorbell, or the caller's
    /// descriptor) ends the sleep at once. Without inotify only interrupts wake it. A wakeup
    /// is only a hint: a missed one costs a poll step.
    fn wait_for_change(&mut self, d: Duration, awaiting: &Awaiting) -> Woken {
        let (room, mine, writers_only) = match *awaiting {
            Awaiting::RoomToDrain => (true, None, false),
            Awaiting::Turn {
                place,
                writers_only,
                ..
            } => (false, place, writers_only),
        };
        if !self.waker.tried {
            self.waker.tried = true;
            self.waker.watch = Watch::new().ok().and_then(|w| {
                self.waker.queue_wd = w.add(&self.queue).ok()?;
                Some(w)
            });
        }
        // The doorbell is made (and published) before the last look at the flag: an interrupt
        // raised after that look rings it.
        let (fds, n) = self.params.interrupt.fds();
        let also = &fds[..n];
        if self.params.interrupt.is_pending() {
            return Woken::Interrupt;
        }
        let Some(watch) = &self.waker.watch else {
            return match fs::poll_readable(None, also, d) {
                fs::Ready::Also => Woken::Interrupt,
                _ => Woken::Timeout,
            };
        };
        if room {
            // The room is a new inode after every write cycle: watch the current one.
            if let Ok(r) = self.side.open_dir(ROOM) {
                if let Ok(st) = r.fstat() {
                    if self.waker.watched_room != Some((st.dev, st.ino)) && watch.add(&r).is_ok() {
                        self.waker.watched_room = Some((st.dev, st.ino));
                    }
                }
            }
        }
        let blocks = |t: &Ticket| {
            mine.is_none_or(|m| t.key() < m) && (!writers_only || t.kind == TicketKind::Writer)
        };
        let mut ahead = self.scratch.tickets.iter().filter(|t| blocks(t)).count();
        let queue_wd = self.waker.queue_wd;
        watch.wait(d, also, |wd, name| {
            if wd != queue_wd {
                return true; // the room
            }
            if Baton::parse_held(name).is_some() {
                return ahead == 0;
            }
            match Ticket::parse(name) {
                Some(t) if blocks(&t) => {
                    ahead = ahead.saturating_sub(1);
                    ahead == 0
                }
                _ => false,
            }
        })
    }
}
