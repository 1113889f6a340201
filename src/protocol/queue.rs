//! The queue `Q/`: reader tickets `r.<seq>.<token>` and writer claims `w.<seq>.<token>`,
//! ordered by (seq, token); a waiter keeps its place fresh until it is granted.

use std::time::Instant;

use super::{errno, fs_error, Disk};
use crate::record::{Baton, Record, Role, Ticket, TicketKind, Token};
use crate::status::Result;

/// A queue listing (a hint) stops after a getdents64 batch with fewer entries than this: the
/// batch was not cut short by a GlusterFS client (33 entries at most per batch).
const HINT_BATCH: usize = 32;

/// The queue as one listing showed it (a hint).
pub struct QueueView<'a> {
    pub tickets: &'a [Ticket],
    pub max_seq: u64,
    /// Some process holds the baton (`Q/b.*`): a writer is closing the room or inside.
    pub baton_held: bool,
}

/// Our place in line: a reader's ticket or a writer's claim, the record in it, and when we
/// last wrote that record.
pub(super) struct Place {
    pub(super) ticket: Ticket,
    record: Record,
    refreshed: Instant,
}

impl Place {
    pub(super) fn key(&self) -> (u64, Token) {
        self.ticket.key()
    }
}

impl Disk {
    /// Takes a place in the queue if we have none (behind the largest seq seen, `max_seq`),
    /// and keeps it fresh: refreshed three times per place lease, taken again under a new
    /// name (same place) if it was dropped while we were stopped.
    pub(super) fn keep_place(
        &mut self,
        place: &mut Option<Place>,
        kind: TicketKind,
        max_seq: u64,
        token: Token,
    ) -> Result<()> {
        let role = match kind {
            TicketKind::Reader => Role::Wait,
            TicketKind::Writer => Role::Write,
        };
        match place {
            None => {
                let ticket = Ticket {
                    kind,
                    seq: max_seq.saturating_add(1),
                    token,
                };
                let record = self.place_record(role, token);
                self.enqueue(&ticket, &record)?;
                *place = Some(Place {
                    ticket,
                    record,
                    refreshed: Instant::now(),
                });
            }
            Some(p) if p.refreshed.elapsed() >= self.params.place_refresh() => {
                if self.refresh_place(&p.ticket, &mut p.record)? {
                    p.refreshed = Instant::now();
                } else {
                    let ticket = Ticket {
                        token: Token::random(),
                        ..p.ticket
                    };
                    let record = self.place_record(role, ticket.token);
                    *place = None;
                    self.enqueue(&ticket, &record)?;
                    *place = Some(Place {
                        ticket,
                        record,
                        refreshed: Instant::now(),
                    });
                }
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Leaves the queue if we are in it (granted, timed out).
    pub(super) fn leave(&mut self, place: Option<Place>) {
        if let Some(p) = place {
            self.dequeue(&p.ticket);
        }
    }

    /// Lists the queue (a hint): tickets and claims ordered by key, the largest seq seen, and
    /// whether anyone holds the baton.
    pub fn list_queue(&mut self) -> Result<QueueView<'_>> {
        let mut tickets = std::mem::take(&mut self.scratch.tickets);
        tickets.clear();
        let mut max_seq = 0u64;
        let mut baton_held = false;
        let mut held_gen = None;
        // A hint: one batch is enough unless it may have been cut short (through GlusterFS a
        // batch holds at most 33 entries). A missed entry only reorders or delays.
        let r = self.queue.list_until(
            &mut self.scratch.list_buf,
            |name, file| {
                if let Some(t) = Ticket::parse(name) {
                    max_seq = max_seq.max(t.seq);
                    tickets.push(t);
                } else if let Some((gen, _)) = Baton::parse_held(name).filter(|_| file) {
                    baton_held = true;
                    held_gen = held_gen.max(Some(gen));
                }
            },
            |in_batch| in_batch < HINT_BATCH,
        );
        self.scratch.tickets = tickets;
        r.map_err(|e| fs_error("list", &self.path(b"Q"), &e))?;
        // A held baton goes back to the room under the generation in its name: the best guess
        // for our next take (a waiter that guessed from its own last hold would try a name that
        // is long gone, and pay a failed rename and a listing of the room for it).
        if held_gen.is_some() {
            self.baton.gen_guess = held_gen;
        }
        self.scratch.tickets.sort_by_key(|t| t.key());
        Ok(QueueView {
            tickets: &self.scratch.tickets,
            max_seq,
            baton_held,
        })
    }

    /// Publishes a place in the queue: a reader ticket `Q/r.<seq>.<token>` or a writer claim
    /// `Q/w.<seq>.<token>`, a file holding our record.
    pub fn enqueue(&mut self, ticket: &Ticket, rec: &Record) -> Result<()> {
        let name = ticket.name();
        rec.encode(&mut self.scratch.read_buf);
        self.queue
            .create_excl(name.as_cstr(), &self.scratch.read_buf)
            .map_err(|e| fs_error("create", &self.qpath(name.as_bytes()), &e))
    }

    /// Refreshes our ticket or claim; false if it was evicted.
    pub fn refresh_place(&mut self, ticket: &Ticket, rec: &mut Record) -> Result<bool> {
        rec.nonce = rec.nonce.wrapping_add(1);
        rec.encode(&mut self.scratch.read_buf);
        let name = ticket.name();
        match self.queue.rewrite(name.as_cstr(), &self.scratch.read_buf) {
            Ok(()) => Ok(true),
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::EINVAL) => Ok(false),
            Err(e) if errno(&e) == libc::ESTALE => Ok(true),
            Err(e) => Err(fs_error("rewrite", &self.qpath(name.as_bytes()), &e)),
        }
    }

    /// Leaves the queue (granted, timed out). Only our own uniquely named entry is touched.
    pub fn dequeue(&mut self, ticket: &Ticket) {
        let _ = self.queue.unlink(ticket.name().as_cstr());
    }
}
