//! Eviction: every participant observes the entries that block it and removes those whose
//! bytes stayed unchanged for the stale threshold (on its own clock); a dead holder's baton is
//! taken over and handed back to the room. Also the confirmation of our own absence.

use std::collections::HashMap;
use std::ffi::CStr;
use std::time::{Duration, Instant};

use super::layout::INIT;
use super::{errno, fs_error, Disk};
use crate::fs::{BootInstant, Dir, Kind, Name};
use crate::liveness::{self, Liveness, Origin};
use crate::record::{parse_transit, Baton, Record, Ticket, TicketKind, Token};
use crate::status::Result;

/// What `snapshot` records for an entry that is not a regular file.
const NOT_A_FILE: &str = "\0not a regular file";

/// When each observed entry last changed, on this process's monotonic clock. Staleness is
/// only ever judged from our own observations: no clock of another host is compared.
/// What this handle's evictor knows: its observations, its token (the name under which it
/// takes over a dead holder's baton) and when each kind of scan last ran. Scans are throttled
/// (holders' records to one look per stale/8, places in line to one per place lease/5), so
/// that many waiters do not read every record on every poll (eviction waits at most that much
/// longer).
pub(super) struct Evictor {
    observer: Observer,
    token: Token,
    last_room_scan: Option<Instant>,
    last_queue_scan: Option<Instant>,
    last_place_scan: Option<Instant>,
    last_orphan_scan: Option<Instant>,
    /// The process behind each ticket and claim we have read (pid and origin; None if its
    /// record did not say): a record is read once for this, its process never changes.
    processes: HashMap<Token, Option<(u32, Origin)>>,
}

impl Evictor {
    pub(super) fn new() -> Evictor {
        Evictor {
            observer: Observer::default(),
            token: Token::random(),
            last_room_scan: None,
            last_queue_scan: None,
            last_place_scan: None,
            last_orphan_scan: None,
            processes: HashMap::new(),
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
    /// How long an entry with these bytes may stay unchanged: the longer of our own limit
    /// (the stale threshold for holds, the place lease for tickets and claims) and the lease
    /// its record announces.
    pub(super) fn threshold_for(&self, bytes: &[u8]) -> Duration {
        self.limit_for(bytes, self.params.stale())
    }

    fn limit_for(&self, bytes: &[u8], own: Duration) -> Duration {
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

    /// Reads an entry for observation: its bytes; for a regular file whose bytes cannot be
    /// read, a stamp of its metadata (a live holder's heartbeat changes it: an entry we cannot
    /// read is no evidence that its owner is dead); for anything that is not a regular file, a
    /// marker saying so (it never changes, so such junk ages like a dead record). None if the
    /// entry is gone, or if not even its metadata could be had: what cannot be observed is
    /// never judged.
    pub(super) fn snapshot(&mut self, dir: &Dir, name: &[u8]) -> Option<Vec<u8>> {
        let n = Name::from_bytes(&[name]);
        let mut buf = Vec::new();
        match dir.look(n.as_cstr(), &mut buf) {
            Ok(_) => Some(buf),
            Err(e)
                if matches!(
                    errno(&e),
                    libc::EINVAL | libc::ELOOP | libc::ENXIO | libc::EISDIR
                ) =>
            {
                Some(format!("{NOT_A_FILE} {}", errno(&e)).into_bytes())
            }
            Err(_) => None,
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
        if Self::throttled(
            &mut self.evictor.last_room_scan,
            now,
            self.params.stale() / 8,
        ) {
            return Ok(());
        }
        let room = match self.open_room_dir() {
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
            let init = self.side.stat(INIT).ok();
            for name in names.iter() {
                if Baton::parse_resting(name).is_some() && self.is_baton(&room, name, &init) {
                    continue;
                }
                if fuse_hidden(name) {
                    Self::evict_entry(&room, name);
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

    /// Whether `name` in `dir` may be the baton: a regular file with the inode of `init` (the
    /// baton is init's second name), or, where inode numbers are invented (sshfs), with the
    /// bytes of `init`. Anything else under a baton's name (a directory, a FIFO, a stray file)
    /// is junk and evicted like any other. When a stat or read fails, it may be.
    fn is_baton(&self, dir: &Dir, name: &[u8], init: &Option<crate::fs::Stat>) -> bool {
        let Some(init) = init else { return true };
        let n = Name::from_bytes(&[name]);
        match dir.stat(n.as_cstr()) {
            Ok(st) if st.kind != Kind::File => false,
            Ok(st) if st.dev == init.dev && st.ino == init.ino => true,
            Ok(_) => {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                match (
                    self.side.read_small(INIT, &mut a),
                    dir.read_small(n.as_cstr(), &mut b),
                ) {
                    (Ok(()), Ok(())) => a == b,
                    _ => true,
                }
            }
            Err(_) => true,
        }
    }

    /// True if a scan ran less than `every` ago; otherwise records that one runs now.
    pub(super) fn throttled(last: &mut Option<Instant>, now: Instant, every: Duration) -> bool {
        if last.is_some_and(|t| now.duration_since(t) < every) {
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
    ///
    /// Tickets and claims are looked at more often than holds (their lease is shorter), and
    /// those of processes that died on this host are dropped at once (`drop_dead_places`).
    pub fn scan_queue(&mut self, below: Option<(u64, Token)>, for_reader: bool) -> Result<()> {
        self.drop_dead_places(below, for_reader);
        let now = Instant::now();
        let every_place = self.params.place_lease() / 5;
        let places = !Self::throttled(&mut self.evictor.last_place_scan, now, every_place);
        let holds = !Self::throttled(
            &mut self.evictor.last_queue_scan,
            now,
            self.params.stale() / 8,
        );
        if !places && !holds {
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
                if fuse_hidden(name) {
                    Self::evict_entry(queue, name);
                    continue;
                }
                if ticket.is_none() && !holds {
                    continue;
                }
                if let Some((gen, holder)) = Baton::parse_held(name) {
                    if holder == self.evictor.token {
                        // Ours, and not in a hand-back (that runs under the same `&mut self`):
                        // a takeover whose rename reported an error but happened, or whose
                        // hand-back failed. Nobody else will take it over for a threshold.
                        let n = Name::from_bytes(&[name]);
                        let _ = self.give_back_name(gen.saturating_add(1), &n, BootInstant::now());
                        continue;
                    }
                }
                let key = [b"Q/", name.as_slice()].concat();
                let Some(bytes) = self.snapshot(queue, name) else {
                    self.evictor.observer.forget(&key);
                    continue;
                };
                let age = self.evictor.observer.observe(&key, &bytes, now);
                let limit = match ticket {
                    Some(_) => self.limit_for(&bytes, self.params.place_lease()),
                    None => self.threshold_for(&bytes),
                };
                if age < limit {
                    continue;
                }
                self.evictor.observer.forget(&key);
                // Only a regular file can be the baton (snapshot marks anything else): a
                // symlink, FIFO or directory under a baton's name is junk. A held baton is never
                // unlinked, only taken over (renamed), even when its bytes could not be read.
                let regular = !bytes.starts_with(NOT_A_FILE.as_bytes());
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

    /// What keeps a waiter out, for the message of its timeout: the held baton if a writer
    /// holds it, else the first ticket or claim ahead of `below` that blocks us (only writers'
    /// claims for a reader), or, while we hold the baton, what is still in the room. Names
    /// the entry, its process and host, whether that process is known to be gone, and how
    /// long we have seen its bytes unchanged. One listing and one read: it runs once, at the
    /// timeout.
    pub(super) fn blocker(&mut self, below: Option<(u64, Token)>, writers_only: bool) -> String {
        let mut names = Vec::new();
        let mut buf = Vec::new();
        if self
            .queue
            .list(&mut buf, |n| names.push(n.to_vec()))
            .is_err()
        {
            return "the queue could not be listed".into();
        }
        let held = names.iter().find(|n| Baton::parse_held(n).is_some());
        let mut ahead: Vec<(Ticket, &Vec<u8>)> = names
            .iter()
            .filter_map(|n| Some((Ticket::parse(n)?, n)))
            .filter(|(t, _)| below.is_none_or(|b| t.key() < b))
            .filter(|(t, _)| !writers_only || t.kind == TicketKind::Writer)
            .collect();
        ahead.sort_by_key(|(t, _)| t.key());
        let (what, name) = match (held, ahead.first()) {
            (Some(n), _) => ("the write lock's baton, held by", n.clone()),
            (None, Some((t, n))) if t.kind == TicketKind::Writer => {
                ("a waiting writer's claim of", (*n).clone())
            }
            (None, Some((_, n))) => ("a waiting reader's ticket of", (*n).clone()),
            (None, None) => return self.room_blocker(),
        };
        let more = ahead.len().saturating_sub(usize::from(held.is_none()));
        let mut out = format!("{what} {}", self.describe_entry(&name));
        if more > 0 {
            out.push_str(&format!(", and {more} more waiting ahead"));
        }
        out
    }

    /// What is in the room besides the resting baton (we hold the baton and wait for it to
    /// empty), or that the baton was nowhere to be seen.
    pub(super) fn room_blocker(&mut self) -> String {
        let Ok(room) = self.open_room_dir() else {
            return "no baton was seen in the room or the queue".into();
        };
        let mut names = Vec::new();
        let mut buf = Vec::new();
        let _ = room.list(&mut buf, |n| names.push(n.to_vec()));
        let inside: Vec<&Vec<u8>> = names
            .iter()
            .filter(|n| Baton::parse_resting(n).is_none())
            .collect();
        match inside.first() {
            None if names.is_empty() => "no baton was seen in the room or the queue".into(),
            None => "nothing (the baton rests in the room: the lock was just freed)".into(),
            Some(first) => {
                let first = (*first).clone();
                let desc = self.describe_in(&room, b"R/", &first);
                format!(
                    "{} entr{} still in the room, the first {desc}",
                    inside.len(),
                    if inside.len() == 1 { "y" } else { "ies" }
                )
            }
        }
    }

    /// `Q/<name> (pid P on HOST[, gone], unchanged for X s)` for an entry of the queue.
    fn describe_entry(&mut self, name: &[u8]) -> String {
        let queue = self.queue.open_dir(c".");
        match queue {
            Ok(q) => self.describe_in(&q, b"Q/", name),
            Err(_) => format!("Q/{}", String::from_utf8_lossy(name)),
        }
    }

    fn describe_in(&mut self, dir: &Dir, prefix: &[u8], name: &[u8]) -> String {
        let key = [prefix, name].concat();
        let shown = String::from_utf8_lossy(&key).into_owned();
        let mut buf = Vec::new();
        let who = match dir.read_small(Name::from_bytes(&[name]).as_cstr(), &mut buf) {
            Ok(()) => match Record::parse(&buf) {
                Some(r) => {
                    let gone = match liveness::check(r.origin.as_ref(), r.pid) {
                        Liveness::Gone => ", no longer running",
                        _ => "",
                    };
                    format!("pid {} on {}{gone}", r.pid, r.host)
                }
                None => "a malformed record".into(),
            },
            Err(e) => format!("unreadable: {}", crate::fs::describe(&e)),
        };
        let unchanged = self
            .evictor
            .observer
            .seen
            .get(&key)
            .map(|s| format!(", unchanged for {:.1} s", s.since.elapsed().as_secs_f64()))
            .unwrap_or_default();
        format!("{shown} ({who}{unchanged})")
    }

    /// Drops the tickets and claims ahead of `below` (for a reader, writers' claims only)
    /// whose process died on this host: same kernel and pid namespace, by the origin in its
    /// record, and no process with that pid and start time now. At once, instead of after
    /// the place lease: a job killed while it waits (scancel, the OOM killer) would otherwise
    /// hold up everyone behind it. Works on the last listing of the queue; an entry's record is
    /// read once, to learn its process. A place in line is a hint: a wrong verdict could only
    /// cost a live waiter its place (it takes it again), never exclusion.
    fn drop_dead_places(&mut self, below: Option<(u64, Token)>, for_reader: bool) {
        let tickets = std::mem::take(&mut self.scratch.tickets);
        let mut buf = std::mem::take(&mut self.scratch.read_buf);
        for t in tickets.iter() {
            if below.is_some_and(|b| t.key() >= b) || (for_reader && t.kind == TicketKind::Reader) {
                continue;
            }
            let name = t.name();
            let process = match self.evictor.processes.get(&t.token) {
                Some(p) => *p,
                None => {
                    let p = match self.queue.read_small(name.as_cstr(), &mut buf) {
                        Ok(()) => Record::parse(&buf).and_then(|r| Some((r.pid, r.origin?))),
                        Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) => continue,
                        Err(_) => None,
                    };
                    self.evictor.processes.insert(t.token, p);
                    p
                }
            };
            let Some((pid, origin)) = process else {
                continue;
            };
            if liveness::check(Some(&origin), pid) == Liveness::Gone {
                let _ = self.queue.unlink(name.as_cstr());
                self.evictor.processes.remove(&t.token);
                self.evictor
                    .observer
                    .forget(&[b"Q/", name.as_bytes()].concat());
            }
        }
        if self.evictor.processes.len() > 2 * tickets.len() + 16 {
            let listed: std::collections::HashSet<Token> =
                tickets.iter().map(|t| t.token).collect();
            self.evictor.processes.retain(|t, _| listed.contains(t));
        }
        self.scratch.tickets = tickets;
        self.scratch.read_buf = buf;
    }

    /// Takes over the baton of a holder judged dead, `rename(Q/b.<gen>.<dead>,
    /// Q/b.<gen>.<us>)` (one evictor wins; the dead holder's later rename or heartbeat finds
    /// its name gone), and hands it back to the room. If the dead holder was closing the room,
    /// its readers are still inside and the baton goes back to them; if it was inside, the
    /// room is made again.
    ///
    /// The baton goes back as `R/baton.<gen + 1>`: `R/baton.<gen>` is then made only by the
    /// holder's own give-back, so an evicted holder that releases finds no baton under the name
    /// it would give it back under and is told SRWL_ELOST. The generation stays monotonic (the
    /// next take is `gen + 2`), so fencing is unchanged.
    pub(super) fn take_over(&mut self, gen: u64, name: &[u8]) {
        let from = Name::from_bytes(&[name]);
        let ours = Baton::held_name(gen, &self.evictor.token);
        if self
            .queue
            .rename(from.as_cstr(), &self.queue, ours.as_cstr())
            .is_err()
            // A rename can report an error and have happened: then the baton is ours.
            && self.queue.stat(ours.as_cstr()).is_err()
        {
            return;
        }
        // If this fails the baton stays with us under our name; our next queue scan hands it
        // back (`scan_queue`).
        let _ = self.give_back_name(gen.saturating_add(1), &ours, BootInstant::now());
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
            self.params.stale() / 4,
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
                    let _ = self.give_back_name(0, &ours, BootInstant::now());
                }
            }
        }
        self.scratch.names = names;
        listed
    }
}

/// A name that the high-level libfuse (sshfs) gives a file unlinked while a process on that
/// client still had it open: a record or ticket its owner already removed (a release), which
/// the client failed to delete at the last close (its release raced with the rename). Nothing
/// live is ever renamed so (the protocol never unlinks or renames over a live entry), so it is
/// evicted at once instead of after the stale threshold, which kept the room shut that long.
fn fuse_hidden(name: &[u8]) -> bool {
    name.starts_with(b".fuse_hidden")
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
