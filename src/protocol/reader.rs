//! The reader's acquire: look at the queue; if no writer holds the baton or claimed before us,
//! enter the room; otherwise take a ticket (which orders us before every writer that claims
//! after us), evict what blocks us if it is dead, and wait.

use std::time::Instant;

use crate::fs::BootInstant;

use super::queue::Place;
use super::room::Entry;
use super::share::{Door, Shared};
use super::waiting::{Awaiting, Backoff, Wait};
use super::{Disk, Hold, Mode};
use crate::inject;
use crate::record::{Record, Role, TicketKind, Token};
use crate::status::Result;

/// One read acquire in progress.
struct Reader {
    /// A fresh token for every attempt to enter: a record name is never used twice, so a
    /// slow evictor that judged an earlier attempt can never remove a later hold.
    token: Token,
    record: Record,
    ticket: Option<Place>,
    backoff: Backoff,
    /// Since when we have found the room without a baton while no writer was ahead.
    shut_since: Option<Instant>,
    /// When our record was last written into the room.
    written: BootInstant,
    /// Whether the last look at the queue showed a writer ahead of us (or holding the baton).
    blocked: bool,
    /// The largest seq in the last look at the queue: a new ticket goes behind it.
    max_seq: u64,
    /// The host share's entry we hold through, if any (then `token` and `record` are the
    /// entry's).
    share: Option<u64>,
}

impl Reader {
    /// A reader waits for its turn: only writers' claims ahead of its ticket block it.
    fn awaiting(&self) -> Awaiting {
        Awaiting::Turn {
            place: self.ticket.as_ref().map(Place::key),
            writers_only: true,
            next_in_line: false,
        }
    }
}

impl Disk {
    /// Acquires a read hold, waiting as `wait` allows.
    pub fn acquire_read(&mut self, wait: &Wait) -> Result<Hold> {
        let token = Token::random();
        let mut r = Reader {
            token,
            record: self.record(Role::Read, token),
            ticket: None,
            backoff: Backoff::new(self.params.poll_max()),
            shut_since: None,
            written: BootInstant::now(),
            blocked: false,
            max_seq: 0,
            share: None,
        };
        let outcome = loop {
            let entered = match self.try_enter(&mut r, wait) {
                Ok(entered) => entered,
                Err(e) => match self.retry_after(e, Mode::Read, wait, &mut r.backoff) {
                    Ok(()) => continue,
                    Err(e) => break Err(e),
                },
            };
            if let Some(gen) = entered {
                break Ok(gen);
            }
            inject::point();
            if let Some(e) = self.wait_over(Mode::Read, wait, &r.awaiting()) {
                break Err(e);
            }
            if let Err(e) = self.keep_in_line(&mut r) {
                match self.retry_after(e, Mode::Read, wait, &mut r.backoff) {
                    Ok(()) => continue,
                    Err(e) => break Err(e),
                }
            }
            let awaiting = r.awaiting();
            if let Err(e) = r.backoff.wait_on(Mode::Read, wait, self, &awaiting) {
                break Err(e);
            }
        };
        self.leave(r.ticket.take());
        if outcome.is_err() {
            self.discard_read_record(&r.token);
        }
        let generation = outcome?;
        let rel = Disk::read_record_path(&r.token);
        let registration = self.register(r.record.clone(), rel, r.written);
        Ok(Hold {
            mode: Mode::Read,
            written: r.written,
            token: r.token,
            rel,
            registration,
            generation,
            share: r.share,
        })
    }

    /// Looks at the queue and, unless a writer goes first, tries to enter the room (through
    /// the host share: share.rs). The generation of the baton in the room if we entered.
    fn try_enter(&mut self, r: &mut Reader, wait: &Wait) -> Result<Option<u64>> {
        let mine = r.ticket.as_ref().map(Place::key);
        // At the host share's door first: readers arriving while another enters for this host
        // sleep until it leaves, and look at the queue after (see share.rs).
        let door = self.approach_door(wait);
        let q = match self.list_queue() {
            Ok(q) => q,
            Err(e) => {
                self.leave_door(matches!(door, Door::Held(..)));
                return Err(e);
            }
        };
        // A writer holding the baton, or a writer that claimed before us, goes first.
        r.blocked = q.baton_held
            || q.tickets
                .iter()
                .any(|t| t.kind == TicketKind::Writer && mine.is_none_or(|m| t.key() < m));
        r.max_seq = q.max_seq;
        if r.blocked {
            self.leave_door(matches!(door, Door::Held(..)));
            return Ok(None);
        }
        r.written = BootInstant::now();
        match self.enter_shared(&r.token, &r.record, wait, door)? {
            Shared::Held {
                e,
                gen,
                token,
                record,
                written,
            } => {
                (r.token, r.record, r.written, r.share) = (token, record, written, Some(e));
                Ok(Some(gen))
            }
            Shared::Alone(Entry::Entered(gen)) => Ok(Some(gen)),
            Shared::Alone(Entry::Shut) => {
                r.token = Token::random();
                r.record = self.record(Role::Read, r.token);
                r.shut_since.get_or_insert_with(Instant::now);
                Ok(None)
            }
        }
    }

    /// Waits in line: keeps our ticket, and evicts whatever dead entry blocks us (claims
    /// ahead, a baton whose holder died).
    fn keep_in_line(&mut self, r: &mut Reader) -> Result<()> {
        self.keep_place(&mut r.ticket, TicketKind::Reader, r.max_seq, r.token)?;
        self.scan_queue(r.ticket.as_ref().map(Place::key), true)?;
        if !r.blocked
            && r.shut_since
                .is_some_and(|t| t.elapsed() > self.params.stale())
        {
            // No baton in the room and none held for a long time: a process may have
            // died while creating it.
            self.recover_orphan_baton()?;
        }
        Ok(())
    }
}
