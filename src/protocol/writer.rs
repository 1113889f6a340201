//! The writer's acquire: wait in line with a claim until no one is ahead and the baton rests
//! in the room; take it; close the room (the grant: our own rmdir, refused while readers are
//! inside), evicting dead readers meanwhile. A failed acquire never keeps the baton.

use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::fs::BootInstant;

use super::baton::{Close, Take};
use super::queue::Place;
use super::waiting::{Awaiting, Backoff, Wait};
use super::{lost_error, Disk, Hold, Mode};
use crate::heartbeat::{self, Registration};
use crate::inject;
use crate::record::{Record, Role, TicketKind, Token};
use crate::status::Result;

/// The baton while this acquire holds it: its generation and the heartbeat that keeps it
/// fresh while we wait for the readers inside to leave.
struct TakenBaton {
    gen: u64,
    registration: Registration,
    written: BootInstant,
}

/// One write acquire in progress.
struct Writer {
    /// Names our claim while we wait (a new one if the claim is evicted) and seeds the hold's
    /// nonce; the baton we hold is named by the handle's writer token.
    token: Token,
    claim: Option<Place>,
    baton: Option<TakenBaton>,
    backoff: Backoff,
    /// Since when the baton has been nowhere we looked (not in the room, not held).
    nothing_since: Option<Instant>,
    /// How many were ahead of us at the last look (a shorter line resets the backoff).
    ahead_before: Option<usize>,
    /// No one is ahead of us and another writer holds the baton: we are next.
    first_in_line: bool,
}

/// Where one step of the writer left us.
enum Progress {
    Granted(u64),
    NotYet,
}

impl Disk {
    /// Acquires the write hold, waiting as `wait` allows.
    pub fn acquire_write(&mut self, wait: &Wait) -> Result<Hold> {
        let mut w = Writer {
            token: Token::random(),
            claim: None,
            baton: None,
            backoff: Backoff::new(self.params.poll_max()),
            nothing_since: None,
            ahead_before: None,
            first_in_line: false,
        };
        let outcome = loop {
            match self.write_step(&mut w) {
                Ok(Progress::Granted(gen)) => break Ok(gen),
                Ok(Progress::NotYet) => {}
                Err(e) => match self.retry_after(e, Mode::Write, wait, &mut w.backoff) {
                    Ok(()) => continue,
                    Err(e) => break Err(e),
                },
            }
            inject::point();
            let awaiting = match w.baton {
                Some(_) => Awaiting::RoomToDrain,
                None => Awaiting::Turn {
                    place: w.claim.as_ref().map(Place::key),
                    writers_only: false,
                    next_in_line: w.first_in_line,
                },
            };
            if let Some(e) = self.wait_over(Mode::Write, wait, &awaiting) {
                break Err(e);
            }
            if let Err(e) = w.backoff.wait_on(Mode::Write, wait, self, &awaiting) {
                break Err(e);
            }
        };
        self.leave(w.claim.take());
        let baton_token = self.baton.token;
        match (outcome, w.baton) {
            (Ok(gen), Some(b)) => Ok(Hold {
                mode: Mode::Write,
                written: b.written,
                token: baton_token,
                rel: Disk::baton_path(gen, &baton_token),
                registration: b.registration,
                generation: gen,
                share: None,
            }),
            (Ok(_), None) => unreachable!("granted with the baton"),
            (Err(e), baton) => {
                // Never keep the baton past a failed acquire: hand it back to the room.
                if let Some(b) = baton {
                    let written = heartbeat::unregister(b.registration.id).unwrap_or(b.written);
                    let _ = self.give_back(b.gen, &baton_token, written);
                }
                Err(e)
            }
        }
    }

    /// One look: without the baton, at the queue (taking the baton if it is our turn, else
    /// keeping our claim and evicting what blocks us); with it, at the room.
    fn write_step(&mut self, w: &mut Writer) -> Result<Progress> {
        if let Some(b) = w
            .baton
            .take_if(|b| b.registration.lost.load(Ordering::SeqCst))
        {
            // Taken over while we were stopped: we are back in line.
            heartbeat::unregister(b.registration.id);
            w.token = Token::random();
        }
        if w.baton.is_none() {
            self.wait_for_baton(w)?;
        }
        match &w.baton {
            Some(_) => self.close_for_grant(w),
            None => Ok(Progress::NotYet),
        }
    }

    /// Looks at the queue; takes the baton if no one is ahead and no one holds it; otherwise
    /// keeps our claim and evicts dead entries ahead of it.
    fn wait_for_baton(&mut self, w: &mut Writer) -> Result<()> {
        let mine = w.claim.as_ref().map(Place::key);
        let q = self.list_queue()?;
        let ahead = match mine {
            Some(m) => q.tickets.iter().filter(|t| t.key() < m).count(),
            None => q.tickets.len(),
        };
        let (max_seq, held) = (q.max_seq, q.baton_held);
        if w.ahead_before.is_some_and(|before| ahead < before) {
            w.backoff.reset();
        }
        w.ahead_before = Some(ahead);
        w.first_in_line = ahead == 0 && held;
        if ahead == 0 && !held {
            let baton_token = self.baton.token;
            let rec = self.writer_record(&w.token);
            let written = BootInstant::now();
            match self.take_baton(&baton_token, &rec)? {
                Take::Taken(gen) => {
                    let rel = Disk::baton_path(gen, &baton_token);
                    let registration = self.register(rec, rel, written);
                    w.baton = Some(TakenBaton {
                        gen,
                        registration,
                        written,
                    });
                    w.nothing_since = None;
                    w.backoff.reset();
                    self.leave(w.claim.take());
                    return Ok(());
                }
                Take::NotThere => {
                    w.nothing_since.get_or_insert_with(Instant::now);
                }
            }
        }
        self.keep_place(&mut w.claim, TicketKind::Writer, max_seq, w.token)?;
        self.scan_queue(w.claim.as_ref().map(Place::key), false)?;
        if !held
            && w.nothing_since
                .is_some_and(|t| t.elapsed() > self.params.stale())
        {
            self.recover_orphan_baton()?;
        }
        Ok(())
    }

    /// Holding the baton: the grant is our own rmdir of the room, refused while anyone is
    /// inside. New readers see our baton in the queue (or no baton in the room) and stay out.
    fn close_for_grant(&mut self, w: &mut Writer) -> Result<Progress> {
        let b = w.baton.as_ref().expect("called with the baton");
        match self.close_room()? {
            Close::Granted => {
                let written = heartbeat::last_written(b.registration.id).unwrap_or(b.written);
                if self.baton_still_ours(b.gen, &self.baton.token, written) {
                    return Ok(Progress::Granted(b.gen));
                }
                // Taken over while we were stopped before our rmdir: the hold we would report
                // is a zombie's. Nothing of ours is left to give back.
                if let Some(b) = w.baton.take() {
                    heartbeat::unregister(b.registration.id);
                }
                Err(lost_error(
                    Mode::Write.acquire_op(),
                    &self.lock_path,
                    &self.params,
                ))
            }
            Close::Occupied => {
                self.scan_room()?;
                Ok(Progress::NotYet)
            }
        }
    }

    /// The record of a write hold: the handle's writer token, and a first nonce from the
    /// hold's own random token, so that the first heartbeat of a hold always changes the
    /// baton's bytes, even when the take wrote nothing.
    fn writer_record(&self, hold: &Token) -> Record {
        Record {
            nonce: super::nonce_of(hold),
            ..self.record(Role::Write, self.baton.token)
        }
    }
}
