//! Eviction: every participant observes the entries that block it and removes those whose
//! bytes stayed unchanged for the stale threshold (on its own clock); a dead holder's baton is
//! taken over and handed back to the room. Also the confirmation of our own absence.

use std::collections::HashMap;
use std::ffi::CStr;
use std::time::{Duration, Instant};

use super::layout::{INIT, ROOM};
use super::{errno, fs_error, Disk};
use crate::fs::{Dir, Kind, Name};
use crate::record::{parse_transit, Baton, Record, Ticket, TicketKind, Token};
use crate::status::Result;

/// When each observed entry last changed, on this process's monotonic clock. Staleness is
/// only ever judged from our own observations: no clock of another host is compared.
/// What this handle's evictor knows: its observations, its token (the name under which it
/// takes over a dead holder's baton) and when each kind of scan last ran. Scans are throttled
/// to one per stale/8, so that many waiters do not read every record on every poll (eviction
/// waits at most that much longer).
pub(super) struct Evictor {
    observer: Observer,
    token: Token,
    last_room_scan: Option<Instant>,
    last_queue_scan: Option<Instant>,
    last_orphan_scan: Option<Instant>,
}

impl Evictor {
    pub(super) fn new() -> Evictor {
        Evictor {
            observer: Observer::default(),
            token: Token::random(),
            last_room_scan: None,
            last_queue_scan: None,
            last_orphan_scan: None,
        }
    }
}

#[derive(Default)]
struct Observer {
    seen: HashMap<Vec<u8>, Seen>,
}

struct Seen {
    bytes: Vec<u8>,
    since: Instant,
    last: Instant,
}

impl Observer {
    /// Records what `key` looks like now; returns how long it has looked exactly like this.
    pub(super) fn observe(&mut self, key: &[u8], bytes: &[u8], now: Instant) -> Duration {
        match self.seen.get_mut(key) {
            Some(s) if s.bytes == bytes => {
                s.last = now;
                now - s.since
            }
            Some(s) => {
                s.bytes.clear();
                s.bytes.extend_from_slice(bytes);
                s.since = now;
                s.last = now;
                Duration::ZERO
            }
            None => {
                self.seen.insert(
                    key.to_vec(),
                    Seen {
                        bytes: bytes.to_vec(),
                        since: now,
                        last: now,
                    },
                );
                Duration::ZERO
            }
        }
    }

    pub(super) fn forget(&mut self, key: &[u8]) {
        self.seen.remove(key);
    }

    /// Drops what has not been seen for a while (it is gone).
    pub(super) fn prune(&mut self, now: Instant, keep: Duration) {
        if self.seen.len() > 64 {
            self.seen.retain(|_, s| now - s.last < keep);
        }
    }
}

impl Disk {
    pub(super) fn threshold_for(&self, bytes: &[u8]) -> Duration {
        let own = self.params.stale();
        match Record::parse(bytes) {
            Some(r) => own.max(Duration::from_millis(r.lease_ms)),
            None => own,
        }
    }

    /// Removes an entry judged dead, in place: a file by unlink, a directory (a leftover) by
    /// removing what it holds, two levels deep at most. Never a rename of a directory.
    pub(super) fn evict_entry(dir: &Dir, name: &[u8]) {
        let n = Name::from_bytes(&[name]);
        remove_tree(dir, n.as_cstr(), 2);
    }

    /// Reads an entry for observation: its bytes, or a marker describing why it cannot be
    /// read (the marker never changes, so such an entry ages like a dead record). None if the
    /// entry is gone.
    pub(super) fn snapshot(&mut self, dir: &Dir, name: &[u8]) -> Option<Vec<u8>> {
        let n = Name::from_bytes(&[name]);
        let mut buf = Vec::new();
        match dir.read_small(n.as_cstr(), &mut buf) {
            Ok(()) => Some(buf),
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) => None,
            Err(e) => Some(format!("\0unreadable {}", errno(&e)).into_bytes()),
        }
    }

    /// Observes an entry; returns (how long it has been unchanged, its eviction threshold).
    pub(super) fn observe_entry(
        &mut self,
        dir: &Dir,
        name: &[u8],
        key: &[u8],
        now: Instant,
    ) -> Option<(Duration, Duration)> {
        match self.snapshot(dir, name) {
            Some(bytes) => {
                let age = self.evictor.observer.observe(key, &bytes, now);
                Some((age, self.threshold_for(&bytes)))
            }
            None => {
                self.evictor.observer.forget(key);
                None
            }
        }
    }

    /// Scans the room (run by the baton holder while readers keep it from closing): evicts
    /// reader records and leftovers that have not changed for the stale threshold. A resting
    /// baton is never touched.
    pub fn scan_room(&mut self) -> Result<()> {
        let now = Instant::now();
        if Self::throttled(&mut self.evictor.last_room_scan, now, self.params.stale()) {
            return Ok(());
        }
        let room = match self.side.open_dir(ROOM) {
            Ok(r) => r,
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) => return Ok(()),
            Err(e) => return Err(fs_error("open", &self.path(b"R"), &e)),
        };
        let mut names = std::mem::take(&mut self.scratch.names);
        names.clear();
        let listed = room
            .list(&mut self.scratch.list_buf, |n| names.push(n.to_vec()))
            .map_err(|e| fs_error("list", &self.path(b"R"), &e));
        if listed.is_ok() {
            for name in names.iter() {
                if Baton::parse_resting(name).is_some() {
                    continue;
                }
                let key = [b"R/", name.as_slice()].concat();
                if let Some((age, limit)) = self.observe_entry(&room, name, &key, now) {
                    // Reader records are unique names: unlinking one can only ever remove the
                    // record that was judged dead.
                    if age >= limit {
                        Self::evict_entry(&room, name);
                        self.evictor.observer.forget(&key);
                    }
                }
            }
        }
        self.scratch.names = names;
        self.evictor.observer.prune(now, self.params.stale() * 2);
        listed
    }

    /// True if a scan ran less than stale/8 ago; otherwise records that one runs now.
    pub(super) fn throttled(last: &mut Option<Instant>, now: Instant, stale: Duration) -> bool {
        if last.is_some_and(|t| now.duration_since(t) < stale / 8) {
            return true;
        }
        *last = Some(now);
        false
    }

    /// Scans the queue entries ahead of `below` (all if None; a held baton is ahead of
    /// everyone): evicts tickets, claims and leftovers whose bytes have not changed for the
    /// stale threshold, and takes over a baton whose holder's record has not, handing it back
    /// to the room. A waiting reader (`for_reader`) watches only what can block it, the baton
    /// and writers' claims: reader tickets ahead never do, and watching them made every waiter
    /// read every other waiter's ticket (n squared reads on the file server).
    pub fn scan_queue(&mut self, below: Option<(u64, Token)>, for_reader: bool) -> Result<()> {
        let now = Instant::now();
        if Self::throttled(&mut self.evictor.last_queue_scan, now, self.params.stale()) {
            return Ok(());
        }
        let mut names = std::mem::take(&mut self.scratch.names);
        names.clear();
        let listed = self
            .queue
            .list(&mut self.scratch.list_buf, |n| names.push(n.to_vec()))
            .map_err(|e| fs_error("list", &self.path(b"Q"), &e));
        if listed.is_ok() {
            let queue = self.queue.open_dir(c".").ok();
            for name in names.iter() {
                let Some(queue) = &queue else { break };
                let ticket = Ticket::parse(name);
                if let (Some(t), Some(b)) = (ticket, below) {
                    if t.key() >= b {
                        continue;
                    }
                }
                if for_reader
                    && ticket.is_none_or(|t| t.kind == TicketKind::Reader)
                    && Baton::parse_held(name).is_none()
                {
                    continue;
                }
                let key = [b"Q/", name.as_slice()].concat();
                let Some(bytes) = self.snapshot(queue, name) else {
                    self.evictor.observer.forget(&key);
                    continue;
                };
                let age = self.evictor.observer.observe(&key, &bytes, now);
                if age < self.threshold_for(&bytes) {
                    continue;
                }
                self.evictor.observer.forget(&key);
                // Only a regular file can be the baton (snapshot marks anything else as
                // unreadable): a symlink, FIFO or directory under a baton's name is junk.
                let regular = !bytes.starts_with(b"\0unreadable");
                match Baton::parse_held(name) {
                    Some((gen, holder)) if regular && holder != self.evictor.token => {
                        self.take_over(gen, name)
                    }
                    Some(_) if regular => {}
                    _ => Self::evict_entry(queue, name),
                }
            }
        }
        self.scratch.names = names;
        listed
    }

    /// Takes over the baton of a holder judged dead, `rename(Q/b.<gen>.<dead>,
    /// Q/b.<gen>.<us>)` (one evictor wins; the dead holder's later rename or heartbeat finds
    /// its name gone), and hands it back to the room. If the dead holder was closing the room,
    /// its readers are still inside and the baton goes back to them; if it was inside, the
    /// room is made again.
    pub(super) fn take_over(&mut self, gen: u64, name: &[u8]) {
        let from = Name::from_bytes(&[name]);
        let ours = Baton::held_name(gen, &self.evictor.token);
        if self
            .queue
            .rename(from.as_cstr(), &self.queue, ours.as_cstr())
            .is_err()
        {
            return;
        }
        // If this fails the baton stays with us under our name, with the dead holder's bytes:
        // it ages again and someone else takes it over.
        let _ = self.give_back_name(gen, &ours, Instant::now());
    }

    /// A process that died while initialising the lock (between its link and its rename)
    /// leaves the baton in the sidecar as `t.<token>`, a second name of `init`. Waiters that see
    /// no baton anywhere call this now and then: such a file, unchanged for the threshold, is
    /// taken over and put in the room.
    pub fn recover_orphan_baton(&mut self) -> Result<()> {
        let now = Instant::now();
        if Self::throttled(
            &mut self.evictor.last_orphan_scan,
            now,
            self.params.stale() * 2,
        ) {
            return Ok(());
        }
        let init = match self.side.stat(INIT) {
            Ok(st) if st.kind == Kind::File => st,
            _ => return Ok(()),
        };
        let mut names = std::mem::take(&mut self.scratch.names);
        names.clear();
        let listed = self
            .side
            .list(&mut self.scratch.list_buf, |n| {
                if parse_transit(n).is_some() {
                    names.push(n.to_vec())
                }
            })
            .map_err(|e| fs_error("list", &self.display, &e));
        for name in names.iter() {
            let n = Name::from_bytes(&[name]);
            let Ok(st) = self.side.stat(n.as_cstr()) else {
                continue;
            };
            let key = name.clone();
            let side = self.side.clone();
            let observed = self.observe_entry(&side, name, &key, now);
            if st.ino != init.ino || st.dev != init.dev {
                // A loser of the election that died before removing its file.
                if observed.is_some_and(|(age, limit)| age >= limit) {
                    let _ = self.side.unlink(n.as_cstr());
                }
                continue;
            }
            if observed.is_some_and(|(age, limit)| age >= limit) {
                let ours = Baton::held_name(0, &self.evictor.token);
                if self
                    .side
                    .rename(n.as_cstr(), &self.queue, ours.as_cstr())
                    .is_ok()
                {
                    let _ = self.give_back_name(0, &ours, Instant::now());
                }
            }
        }
        self.scratch.names = names;
        listed
    }
}

/// How long a record of ours must stay absent before we conclude that it was evicted. A name
/// lookup is a hint: on GlusterFS a client missed a name it had just renamed into place.
pub const ABSENCE_CONFIRM: Duration = Duration::from_millis(1500);

/// Confirms an absence: each call sleeps a little; true once the absence has lasted.
pub struct Absence {
    since: Option<Instant>,
}

impl Absence {
    pub fn new() -> Absence {
        Absence { since: None }
    }

    pub fn confirmed(&mut self) -> bool {
        let since = *self.since.get_or_insert_with(Instant::now);
        if since.elapsed() >= ABSENCE_CONFIRM {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
        false
    }
}

impl Default for Absence {
    fn default() -> Self {
        Absence::new()
    }
}

/// Removes `name` in `dir` and what it holds, at most `depth` levels down, never following
/// a symlink. Best effort: whatever cannot be removed stays (and is tried again later).
pub fn remove_tree(dir: &Dir, name: &CStr, depth: u32) {
    if dir.unlink(name).is_ok() {
        return;
    }
    if depth > 0 {
        if let Ok(sub) = dir.open_dir(name) {
            let mut buf = Vec::new();
            let mut names = Vec::new();
            let _ = sub.list(&mut buf, |n| names.push(n.to_vec()));
            for n in names.iter().take(1000) {
                let c = Name::from_bytes(&[n]);
                if n.len() < 100 {
                    remove_tree(&sub, c.as_cstr(), depth - 1);
                }
            }
        }
    }
    let _ = dir.rmdir(name);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn observer_measures_unchanged_time() {
        let mut o = Observer::default();
        let t0 = Instant::now();
        assert_eq!(o.observe(b"k", b"a", t0), Duration::ZERO);
        assert_eq!(
            o.observe(b"k", b"a", t0 + Duration::from_secs(5)),
            Duration::from_secs(5)
        );
        assert_eq!(
            o.observe(b"k", b"b", t0 + Duration::from_secs(6)),
            Duration::ZERO
        );
        assert_eq!(
            o.observe(b"k", b"b", t0 + Duration::from_secs(9)),
            Duration::from_secs(3)
        );
    }
}
