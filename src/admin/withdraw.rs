//! Withdrawing a waiter that is about to die: its queue entries are removed, a baton it holds
//! is handed back to the room, and a reader record of its own in the room is removed, so that
//! it does not hold back others until its entries go stale.
//!
//! For `softrwlock run` (the CLI): the library's acquire cannot be cancelled, so on a signal
//! the CLI freezes the waiting thread, then calls `Withdrawal::run`, then dies. The frozen
//! thread may be stopped anywhere (inside malloc, say), so `run` allocates nothing: everything
//! is prepared by `Withdrawal::prepare` before the freeze.
//!
//! An entry is ours if its record names this pid on this host and the token of its name.
//! Queue entries order waiters but take no part in exclusion, so even removing the wrong one
//! (another host with the same name and pid) only makes that waiter queue again. A baton is
//! never removed, only handed back as a release does (`mkdir R`, `rename` into
//! `R/baton.<gen>`); handing back the baton of a live process on another host with the same
//! host name and pid would evict that holder, which finds its baton gone at its next heartbeat
//! and reports the hold lost, as after any eviction. Host names must differ between the hosts
//! sharing a lock.

use crate::fs::{Dir, Name};
use crate::protocol::{hand_back_resting, sidecar_of, QUEUE, ROOM};
use crate::record::{
    host_name, parse_reader_record_name, Baton, RecordRef, Role, Ticket, TicketKind, Token,
};

/// At most this many of our entries are dealt with (a waiter has one claim or ticket, and
/// perhaps the baton; more would be leftovers of an earlier process with our pid).
const MAX_OURS: usize = 16;

/// A withdrawal prepared before the freeze: handles, buffers and our identity.
pub struct Withdrawal {
    side: Dir,
    queue: Dir,
    list_buf: Vec<u8>,
    read_buf: Vec<u8>,
    /// Our entries found by the listing, dealt with after it (changing a directory while
    /// listing it can make a network filesystem skip entries).
    ours: Vec<Name>,
    pid: u32,
    host: String,
}

impl Withdrawal {
    /// Opens `<path>.srwl/` and its queue and prepares buffers; None if there is no lock
    /// state to withdraw from.
    pub fn prepare(path: &[u8]) -> Option<Withdrawal> {
        let sidecar = sidecar_of(path, "withdraw").ok()?;
        let side = Dir::open_path(&sidecar.parent)
            .and_then(|p| p.open_dir(&sidecar.name))
            .ok()?;
        let queue = side.open_dir(QUEUE).ok()?;
        Some(Withdrawal {
            side,
            queue,
            list_buf: vec![0; 16384],
            read_buf: Vec::with_capacity(4096),
            ours: Vec::with_capacity(MAX_OURS),
            pid: std::process::id(),
            host: host_name(),
        })
    }

    /// Whether `bytes` is a record of ours with role `role` and token `token`.
    fn is_ours(&self, bytes: &[u8], role: Role, token: &Token) -> bool {
        is_ours(bytes, role, token, self.pid, &self.host)
    }

    /// Removes our reader tickets and writer claims, hands back a baton we hold and removes
    /// our reader records from the room; returns how many entries it dealt with. Allocates
    /// nothing.
    pub fn run(mut self) -> usize {
        let mut ours = std::mem::take(&mut self.ours);
        let mut read_buf = std::mem::take(&mut self.read_buf);
        let mut list_buf = std::mem::take(&mut self.list_buf);
        let _ = self.queue.list(&mut list_buf, |name| {
            // Only names that parse are turned into a Name (fixed size: a long junk name
            // would not fit).
            let (token, role) = if let Some((_, tok)) = Baton::parse_held(name) {
                (tok, Role::Write)
            } else if let Some(t) = Ticket::parse(name) {
                match t.kind {
                    TicketKind::Reader => (t.token, Role::Wait),
                    TicketKind::Writer => (t.token, Role::Write),
                }
            } else {
                return;
            };
            let n = Name::from_bytes(&[name]);
            if ours.len() < MAX_OURS
                && self.queue.read_small(n.as_cstr(), &mut read_buf).is_ok()
                && self.is_ours(&read_buf, role, &token)
            {
                ours.push(n);
            }
        });
        let mut dealt = 0;
        for n in &ours {
            if let Some((gen, _)) = Baton::parse_held(n.as_bytes()) {
                if hand_back_resting(&self.side, &self.queue, n.as_cstr(), gen) {
                    dealt += 1;
                }
            } else if self.queue.unlink(n.as_cstr()).is_ok() {
                dealt += 1;
            }
        }
        // A reader stopped between creating its record in the room and its check (or granted
        // just before the freeze) would keep writers out until evicted: remove the record, as
        // a reader's release does.
        ours.clear();
        if let Ok(room) = self.side.open_dir(ROOM) {
            let _ = room.list(&mut list_buf, |name| {
                let Some(token) = parse_reader_record_name(name) else {
                    return;
                };
                let n = Name::from_bytes(&[name]);
                if ours.len() < MAX_OURS
                    && room.read_small(n.as_cstr(), &mut read_buf).is_ok()
                    && self.is_ours(&read_buf, Role::Read, &token)
                {
                    ours.push(n);
                }
            });
            for n in &ours {
                if room.unlink(n.as_cstr()).is_ok() {
                    dealt += 1;
                }
            }
        }
        dealt
    }
}

/// Whether `bytes` is a valid record with this role and token, of this pid on this host.
fn is_ours(bytes: &[u8], role: Role, token: &Token, pid: u32, host: &str) -> bool {
    RecordRef::parse(bytes).is_some_and(|r| {
        r.role == role && r.token == *token && r.pid == pid && r.host == host.as_bytes()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    #[test]
    fn only_our_own_records_are_ours() {
        let token = Token::random();
        let rec = Record {
            role: Role::Write,
            token,
            pid: 42,
            host: "node-a".into(),
            origin: None,
            lease_ms: 90_000,
            nonce: 7,
        };
        let mut b = Vec::new();
        rec.encode(&mut b);
        assert!(is_ours(&b, Role::Write, &token, 42, "node-a"));
        assert!(!is_ours(&b, Role::Wait, &token, 42, "node-a"));
        assert!(!is_ours(&b, Role::Write, &Token::random(), 42, "node-a"));
        assert!(!is_ours(&b, Role::Write, &token, 43, "node-a"));
        assert!(!is_ours(&b, Role::Write, &token, 42, "node-b"));
        assert!(!is_ours(
            &b[..b.len() - 1],
            Role::Write,
            &token,
            42,
            "node-a"
        ));
    }
}
