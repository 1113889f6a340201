//! The host share: the readers of one host that hold at the same time hold through one record
//! in the room. The first enters the room (room.rs); the others join its entry through a local
//! file and kernel locks; the last to leave removes the record. So the file-server work of a
//! read acquire does not grow with the number of readers, and a crowd of N readers on a host
//! costs the room one record, not N (issue 13).
//!
//! The local files are in `/dev/shm/softrwlock-<euid>/`, named after the sidecar directory's
//! `<dev>-<ino>` and our time namespace: the share file, whose header names the current entry and carries its record,
//! with one-byte OFD locks: the door (byte 0, held by the one process entering the room) and
//! the holders of entry `e` (byte `HOLDERS + e`, a shared lock per holder); and one empty
//! marker `<dev>-<ino>.<e>` per open entry. Locks go with their process, so a death never
//! leaves the share locked.
//!
//! Why a join is safe: the entry's record was made at or after `entered` and seen beside the
//! baton by its maker's listing (room.rs). No observer evicts it before it has seen it unchanged
//! for its lease, and joins end `window` after `entered`, well before that: while the record is
//! in the room no writer's rmdir succeeds, so a joiner's hold is as good as its maker's. A
//! joiner takes the holders lock before it looks for the entry's marker; a closer removes the
//! marker while it holds that lock exclusively (no holder left, none can come), and only then
//! removes the record. A removed marker never comes back (each entry has its own number), so a
//! closer delayed anywhere cannot make a closed entry look open.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::room::Entry;
use super::{Disk, Mode};
use crate::fs::{self, BootInstant, Dir, RangeLock};
use crate::record::{Record, Role, Token};
use crate::status::Result;

/// Where the share files live: a local tmpfs, one directory per user.
const SHARE_ROOT: &std::ffi::CStr = c"/dev/shm";
const MAGIC: &[u8; 8] = b"srwlhs1\n";
/// Header: magic, entry, generation, entered (ns of CLOCK_BOOTTIME), record length, checksum,
/// crowd; the record's bytes follow.
const HEADER: usize = 64;
const RECORD_MAX: usize = 512;
/// Until when (ns of CLOCK_BOOTTIME) an entry is published for others to join: set by a reader
/// that found the door taken (others arrive at the same moment) or the room crowded. Written
/// alone, not checksummed.
const CROWD_AT: u64 = 48;
/// A room whose entry listing went through this many names is crowded: from then on a
/// reader's entry would list more than one getdents batch on GlusterFS (33 names), and the
/// host's readers share one record. Below it every reader has its own record, as `softrwlock
/// status` shows them.
const CROWD: usize = 32;
/// The door: held (exclusive) by the process entering the room for this host.
const DOOR: u64 = 0;
/// Entry `e`'s holders lock is the byte at `HOLDERS + e`.
const HOLDERS: u64 = 1 << 32;
/// Joins end this long after the entry was made at most (and at half its lease).
const WINDOW_MAX: Duration = Duration::from_secs(2);
/// How long a reader waits at the door without seeing the share file written (an entry
/// published, a holder leaving the door) before it enters the room alone: a stopped process
/// holding the door delays the host's readers by this much, never more.
const DOOR_PATIENCE: Duration = Duration::from_secs(1);
/// A reader waiting for the door sleeps on the share file's door word (a futex that each holder
/// of the door bumps when it leaves); these bound each sleep, for an interrupt to be seen.
const DOOR_STEP_MIN: Duration = Duration::from_millis(1);
const DOOR_STEP_MAX: Duration = Duration::from_millis(100);
/// The door word's offset: in the share file's first page, after the header and its record.
const DOOR_WORD: usize = 4092;

/// This handle's host share, opened at srwl_open.
#[derive(Default)]
pub(super) enum Shares {
    #[default]
    Untried,
    /// No usable share directory here: every read enters the room alone.
    Off,
    On(Share),
}

pub(super) struct Share {
    /// The handle's own open file description of the share file: it owns our locks.
    fd: OwnedFd,
    /// This user's share directory, where the entry markers are.
    dir: Dir,
    /// `<dev>-<ino>-<time namespace>` of the sidecar: the share file's name, and its markers'
    /// prefix.
    stem: String,
    /// The last entry this handle made, unless this handle closed it: its record may still be
    /// in the room as a name of our template's inode, so the template is retired before the
    /// next entry (a rewrite would otherwise refresh that record).
    made_open: Option<u64>,
    /// The door word, mapped from the share file.
    door: fs::SharedWord,
}

/// Where a reader stands at the host share's door (`approach_door`).
pub(super) enum Door {
    /// No host share: every reader enters the room itself.
    None,
    /// Counted among the door's waiters, holding the door; the header as read just before it
    /// was taken, and the crowd mark.
    Held(Option<Header>, u64),
    /// Counted among the door's waiters, not holding the door: an entry could be joined, or
    /// another process held the door and we slept until it left (or a step passed).
    Outside,
}

/// The outcome of a read acquire's entry through the host share.
pub(super) enum Shared {
    /// Holding through entry `e`'s record (made by us or joined).
    Held {
        e: u64,
        gen: u64,
        token: Token,
        record: Record,
        written: BootInstant,
    },
    /// Entered the room alone, with our own record: no share here (or none could be made).
    Alone(Entry),
}

pub(super) struct Header {
    e: u64,
    gen: u64,
    entered: u64,
    record: Option<Record>,
}

/// FNV-1a over the header's fixed part, the record and the sidecar's path: detects a torn
/// header, and one written for another sidecar that had the same st_dev and st_ino (a lock
/// removed and another made in its place). Nothing here is secret.
fn checksum(fixed: &[u8], record: &[u8], side: &[u8]) -> u64 {
    fixed
        .iter()
        .chain(record)
        .chain(side)
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

fn word(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Parses a header (bounded: at most HEADER + RECORD_MAX bytes were read). None if it is not
/// one of ours, torn or damaged.
fn parse_header(b: &[u8], side: &[u8]) -> Option<Header> {
    if b.len() < HEADER || &b[..8] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(b[32..36].try_into().ok()?) as usize;
    if len > RECORD_MAX || b.len() < HEADER + len {
        return None;
    }
    let record = &b[HEADER..HEADER + len];
    if word(b, 40) != checksum(&b[..40], record, side) {
        return None;
    }
    Some(Header {
        e: word(b, 8),
        gen: word(b, 16),
        entered: word(b, 24),
        record: Record::parse(record),
    })
}

fn encode_header(e: u64, gen: u64, entered: u64, record: &[u8], side: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&e.to_le_bytes());
    out.extend_from_slice(&gen.to_le_bytes());
    out.extend_from_slice(&entered.to_le_bytes());
    out.extend_from_slice(&(record.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    let sum = checksum(&out[..40], record, side);
    out.extend_from_slice(&sum.to_le_bytes());
    out.extend_from_slice(&[0; HEADER - 48]);
    out.extend_from_slice(record);
}

/// Opens this user's share directory and the share file of the sidecar `side`. None where
/// there is no usable one (no /dev/shm, a symlink or someone else's directory there).
fn open_share(side: &Dir) -> Option<Share> {
    let uid = fs::geteuid();
    let root = Dir::open_path(SHARE_ROOT).ok()?;
    let name = CString::new(format!("softrwlock-{uid}")).ok()?;
    let _ = root.mkdir(&name);
    let dir = root.open_dir(&name).ok()?;
    let st = dir.fstat().ok()?;
    if st.uid != uid || st.mode & 0o077 != 0 {
        return None;
    }
    let me = side.fstat().ok()?;
    let stem = format!("{:x}-{:x}-{:x}", me.dev, me.ino, time_namespace());
    let fd = dir
        .open_local_rw(&CString::new(stem.as_str()).ok()?, uid)
        .ok()?;
    let door = fs::SharedWord::map(fd.as_raw_fd(), DOOR_WORD).ok()?;
    Some(Share {
        fd,
        dir,
        stem,
        made_open: None,
        door,
    })
}

/// The inode of our time namespace (0 where the kernel has none): processes in two time
/// namespaces read different CLOCK_BOOTTIMEs, and the join window is measured on it, so they
/// never share a file.
fn time_namespace() -> u64 {
    fs::read_link(c"/proc/self/ns/time")
        .ok()
        .and_then(|l| {
            let digits: String = l
                .iter()
                .filter(|c| c.is_ascii_digit())
                .map(|&c| c as char)
                .collect();
            digits.parse().ok()
        })
        .unwrap_or(0)
}

/// An entry number that no live entry has, but for a chance of 2^-32.
fn random_entry() -> u64 {
    let mut b = [0u8; 4];
    fs::random_bytes(&mut b);
    u64::from(u32::from_le_bytes(b)) + 1
}

impl Share {
    /// The name of entry `e`'s marker: present while the entry is open.
    fn marker(&self, e: u64) -> CString {
        CString::new(format!("{}.{e:x}", self.stem)).expect("no NUL")
    }
}

impl Disk {
    /// Opens this handle's share (at srwl_open).
    pub(super) fn open_share(&mut self) {
        self.share();
    }

    /// This handle's share, opened at first use; None if there is none here.
    fn share(&mut self) -> Option<&mut Share> {
        if let Shares::Untried = self.shares {
            self.shares = match open_share(&self.side) {
                Some(share) => Shares::On(share),
                None => Shares::Off,
            };
        }
        match &mut self.shares {
            Shares::On(s) => Some(s),
            _ => None,
        }
    }

    /// The share file's header (None if absent or damaged) and its crowd mark.
    fn read_header(&mut self) -> (Option<Header>, u64) {
        let Some(s) = self.share() else {
            return (None, 0);
        };
        let mut buf = [0u8; HEADER + RECORD_MAX];
        let n = fs::pread_upto(s.fd.as_raw_fd(), &mut buf).unwrap_or(0);
        let crowd = if n >= HEADER {
            word(&buf, CROWD_AT as usize)
        } else {
            0
        };
        (parse_header(&buf[..n], self.display.as_bytes()), crowd)
    }

    /// Marks the room crowded: for a join window, readers that find the door taken wait for
    /// the entry it is making instead of entering alone.
    fn mark_crowd(&mut self) {
        let until = BootInstant::now().nanos() + self.join_window().as_nanos() as u64;
        if let Some(s) = self.share() {
            let _ = fs::write_at(s.fd.as_raw_fd(), &until.to_le_bytes(), CROWD_AT);
        }
    }

    fn share_lock(&mut self, kind: RangeLock, at: u64) -> bool {
        match self.share() {
            Some(s) => fs::lock_byte(s.fd.as_raw_fd(), kind, at).unwrap_or(false),
            None => false,
        }
    }

    /// Before our template is linked into the room again: retires it if the last entry we made
    /// may still be in the room (a name of the template's inode).
    fn forget_made_entry(&mut self) {
        if self.share().is_some_and(|s| s.made_open.take().is_some()) {
            self.retire_template();
        }
    }

    /// Whether the header's entry may be joined as far as the header tells: a reader's record
    /// with our lease, made less than the join window ago (a hint: `try_join` decides).
    fn may_join(&self, h: &Header) -> bool {
        let window = self.join_window().as_nanos() as u64;
        h.record
            .as_ref()
            .is_some_and(|r| r.role == Role::Read && r.lease_ms == self.params.lease_ms())
            && BootInstant::now().nanos() < h.entered.saturating_add(window)
    }

    /// How long after its record was made an entry may still be joined.
    fn join_window(&self) -> Duration {
        (self.params.stale() / 2).min(WINDOW_MAX)
    }

    /// Joins entry `h` (the header as just read) if it may be joined: made less than the join
    /// window ago, with our lease, and still open. Its holders lock is taken first, then its
    /// marker is looked for (a closer removes the marker while it holds that lock
    /// exclusively), and the window is looked at last: a join is granted on the clock read
    /// after everything else, so a reader stalled between the steps cannot join late.
    fn try_join(&mut self, h: &Header) -> Option<Shared> {
        let window = self.join_window().as_nanos() as u64;
        let in_window = || BootInstant::now().nanos() < h.entered.saturating_add(window);
        if !self.may_join(h) {
            return None;
        }
        let record = h.record.clone()?;
        if !self.share_lock(RangeLock::Shared, HOLDERS + h.e) {
            return None;
        }
        let open = self
            .share()
            .is_some_and(|s| s.dir.stat(&s.marker(h.e)).is_ok());
        if !open {
            // Closed: its closer removed the marker, then the record.
            self.share_lock(RangeLock::Unlock, HOLDERS + h.e);
            return None;
        }
        if !in_window() {
            // Open, but too late to join. Holding its lock we may have kept its last holder
            // from closing it: we leave as a holder does, closing it if we are the last.
            let _ = self.leave_entry(h.e, &record.token, BootInstant::from_nanos(h.entered));
            return None;
        }
        Some(Shared::Held {
            e: h.e,
            gen: h.gen,
            token: record.token,
            record,
            written: BootInstant::from_nanos(h.entered),
        })
    }

    /// A reader's entry, through the host share where there is one. Readers enter the room one
    /// at a time through the door, each with its own record, while they come one at a time
    /// and the room is not crowded. A reader that finds the door taken marks the crowd and
    /// waits for the door, joining what is published meanwhile; the door's holder publishes
    /// its entry when the crowd is marked or its listing found the room crowded, and the
    /// host's next readers join it. The wait for the door is at most DOOR_PATIENCE: a stopped
    /// process holding the door delays the host's readers by that much, then they enter alone.
    pub(super) fn enter_shared(
        &mut self,
        token: &Token,
        record: &Record,
        wait: &super::Wait,
        door: Door,
    ) -> Result<Shared> {
        let held = match door {
            Door::None => return self.enter_room(token, record).map(Shared::Alone),
            Door::Held(header, crowd) => Some((header, crowd)),
            Door::Outside => None,
        };
        self.forget_made_entry();
        let (outcome, held_door) = match held {
            Some(sighting) => (self.enter_behind_door(token, record, sighting), true),
            None => self.enter_at_door(token, record, wait),
        };
        self.leave_door(held_door);
        outcome
    }

    /// Comes to the door before the queue is looked at: counts us among its waiters, and
    /// takes the door if it is free and there is no entry to join; if another process holds
    /// it, sleeps until that one leaves (or a step passes, or `wait` ends: a try does not
    /// sleep). So a crowd arriving at once leaves the CPU to the process entering for all of
    /// them, and looks at the queue when there is something to join. Undone by `leave_door`
    /// (or `enter_shared`, which ends with it).
    pub(super) fn approach_door(&mut self, wait: &super::Wait) -> Door {
        let Some(s) = self.share() else {
            return Door::None;
        };
        s.door.start_waiting();
        // Read before the door is tried: a holder that leaves after that bumps it.
        let seen = s.door.load();
        let (header, crowd) = self.read_header();
        if header.as_ref().is_some_and(|h| self.may_join(h)) {
            // Something to join: no door needed (each try at the door scans the share file's
            // locks, one per holder).
            return Door::Outside;
        }
        if self.share_lock(RangeLock::Exclusive, DOOR) {
            return Door::Held(header, crowd);
        }
        let nap = wait
            .remaining()
            .map_or(DOOR_STEP_MAX, |r| r.min(DOOR_STEP_MAX));
        if let Some(s) = self.share().filter(|_| !nap.is_zero()) {
            s.door.wait(seen, nap);
        }
        Door::Outside
    }

    /// Leaves the door: no longer counted among its waiters, and, if we hold it (`held`),
    /// unlocked and bumped (its waiters wake).
    pub(super) fn leave_door(&mut self, held: bool) {
        if held {
            self.share_lock(RangeLock::Unlock, DOOR);
        }
        if let Some(s) = self.share() {
            s.door.done_waiting();
            if held {
                s.door.bump();
            }
        }
    }

    /// `enter_shared` outside the door: join what is published, or take the door and enter,
    /// or wait for the door's holder; true if we took the door (then it is still locked, and
    /// `leave_door` unlocks it and wakes its waiters).
    fn enter_at_door(
        &mut self,
        token: &Token,
        record: &Record,
        wait: &super::Wait,
    ) -> (Result<Shared>, bool) {
        let mut give_up = Instant::now() + DOOR_PATIENCE;
        let mut last_seen = None;
        let mut step = DOOR_STEP_MIN;
        loop {
            // Read before the door is tried: a holder that leaves after that bumps it.
            let seen = self.share().map_or(0, |s| s.door.load());
            let (header, crowd) = self.read_header();
            if let Some(h) = header.as_ref().filter(|h| self.may_join(h)) {
                if let Some(joined) = self.try_join(h) {
                    return (Ok(joined), false);
                }
            }
            if self.share_lock(RangeLock::Exclusive, DOOR) {
                return (self.enter_behind_door(token, record, (header, crowd)), true);
            }
            // The door's holders make progress: keep waiting for them.
            if last_seen.replace(seen).is_some_and(|last| last != seen) {
                give_up = Instant::now() + DOOR_PATIENCE;
            }
            if BootInstant::now().nanos() >= crowd {
                self.mark_crowd();
            }
            if Instant::now() >= give_up || wait.expired() {
                return (self.enter_alone(token, record), false);
            }
            if self.params.interrupt.take() {
                return (Err(self.interrupted(Mode::Read)), false);
            }
            let nap = step.min(give_up.saturating_duration_since(Instant::now()));
            if let Some(s) = self.share() {
                s.door.wait(seen, nap);
            }
            step = (step * 2).min(DOOR_STEP_MAX);
        }
    }

    /// Enters the room with our own record, beside the door; a crowd found there is marked.
    fn enter_alone(&mut self, token: &Token, record: &Record) -> Result<Shared> {
        let entry = self.enter_room(token, record)?;
        if self.templates.room_seen >= CROWD {
            self.mark_crowd();
        }
        Ok(Shared::Alone(entry))
    }

    /// Holding the door: join the current entry, or enter the room; an entry made while the
    /// crowd is marked, or that found the room crowded, is published for the host's next
    /// readers to join.
    fn enter_behind_door(
        &mut self,
        token: &Token,
        record: &Record,
        (header, crowd): (Option<Header>, u64),
    ) -> Result<Shared> {
        if let Some(joined) = header.as_ref().and_then(|h| self.try_join(h)) {
            return Ok(joined);
        }
        let entered = BootInstant::now();
        let entry = self.enter_room(token, record)?;
        // Readers that came meanwhile wait at the door (we count among the waiters ourselves).
        let marked = BootInstant::now().nanos() < crowd
            || self.share().is_some_and(|s| s.door.others_waiting());
        let gen = match entry {
            Entry::Entered(gen) if marked || self.templates.room_seen >= CROWD => gen,
            entry => return Ok(Shared::Alone(entry)),
        };
        if !marked {
            self.mark_crowd();
        }
        // Numbered from the header as read behind the door (only door holders write it): one
        // read before the door may miss an entry published and closed meanwhile, whose number
        // would come back, and a late joiner of the old entry would join the new one, through
        // a record that is gone. A damaged header loses the count: a random number cannot
        // meet a live entry's.
        let mut e = match self.read_header().0.map(|h| h.e) {
            Some(e) => e.wrapping_add(1).max(1),
            None => random_entry(),
        };
        // A marker already there is a publisher's that died before its header: its number is
        // taken, so a random one instead (a damaged header's way).
        let mut made_marker = false;
        for _ in 0..2 {
            made_marker = self
                .share()
                .is_some_and(|s| s.dir.make_empty(&s.marker(e)).is_ok());
            if made_marker {
                break;
            }
            e = random_entry();
        }
        if !made_marker {
            return Ok(Shared::Alone(Entry::Entered(gen)));
        }
        if !self.share_lock(RangeLock::Shared, HOLDERS + e) {
            if let Some(s) = self.share() {
                let _ = s.dir.unlink(&s.marker(e));
            }
            return Ok(Shared::Alone(Entry::Entered(gen)));
        }
        let mut bytes = std::mem::take(&mut self.scratch.read_buf);
        record.encode(&mut bytes);
        let mut header = Vec::with_capacity(HEADER + bytes.len());
        let side = self.display.as_bytes();
        encode_header(e, gen, entered.nanos(), &bytes, side, &mut header);
        self.scratch.read_buf = bytes;
        if let Some(s) = self.share() {
            // The crowd mark (written alone) is left as mark_crowd wrote it.
            if fs::write_at(s.fd.as_raw_fd(), &header[..CROWD_AT as usize], 0).is_ok()
                && fs::write_at(s.fd.as_raw_fd(), &header[HEADER..], HEADER as u64).is_ok()
            {
                s.made_open = Some(e);
            }
        }
        Ok(Shared::Held {
            e,
            gen,
            token: *token,
            record: record.clone(),
            written: entered,
        })
    }

    /// srwl_close: removes the share file's name if no process holds any of its locks (no door,
    /// no holders), so that /dev/shm does not keep a file for every lock ever read here. A
    /// process that has it open without a lock goes on with the nameless file, and later
    /// handles make a new one: two groups that do not share with each other, each safe.
    /// Markers are left alone: only an entry's closer removes one (a sweep of markers that
    /// looked dead let an entry lose its last closer, in the model: docs/model/README.md).
    pub(super) fn close_share(&mut self) {
        if let Shares::On(s) = &self.shares {
            if fs::lock_whole(s.fd.as_raw_fd()).unwrap_or(false) {
                if let Ok(name) = CString::new(s.stem.as_str()) {
                    let _ = s.dir.unlink(&name);
                }
            }
        }
        self.shares = Shares::Off;
    }

    /// Releases a hold through entry `e` of the host share: the last holder closes the entry
    /// (marks it closed, then removes its record, with release_read's eviction check); the
    /// others only drop their lock. False if the hold was evicted.
    pub(super) fn release_shared(
        &mut self,
        e: u64,
        token: &Token,
        written: BootInstant,
    ) -> Result<bool> {
        // Whether the record is still there is asked while we hold (no one closes it then):
        // needed only if our bytes were not written recently.
        let kept =
            self.fresh(written) || Disk::record_exists(&self.side, &Disk::read_record_path(token));
        let released = self.leave_entry(e, token, written);
        Ok(kept && released?)
    }

    /// Leaves entry `e`: the last one out closes it (its marker, then its record, with
    /// release_read's eviction check); the others only drop their lock. False if the record
    /// was found evicted.
    fn leave_entry(&mut self, e: u64, token: &Token, written: BootInstant) -> Result<bool> {
        if !self.last_out(e) {
            return Ok(true);
        }
        // Two holders can both end up last, one after the other: the one whose unlink of the
        // marker succeeds removes the record.
        let released = match self.close_entry(e) {
            true => self.release_read(token, written),
            false => Ok(true),
        };
        self.share_lock(RangeLock::Unlock, HOLDERS + e);
        released
    }

    /// Drops our hold of entry `e` and tells whether we were the last: then we hold its
    /// holders lock exclusively (no one can join). We unlock, then try the exclusive lock: of
    /// holders leaving together the last to unlock gets it, unless a joiner came meanwhile,
    /// who then leaves after us. (Each lock call scans the file's locks, one per holder: two
    /// calls, not a conversion first and two more.)
    fn last_out(&mut self, e: u64) -> bool {
        let at = HOLDERS + e;
        self.share_lock(RangeLock::Unlock, at);
        self.share_lock(RangeLock::Exclusive, at)
    }

    /// Closes entry `e` (we are its last holder): its marker goes, so no one joins it again.
    /// True if we removed the marker (it was there: no one closed the entry before us).
    fn close_entry(&mut self, e: u64) -> bool {
        let Some(s) = self.share() else {
            return false;
        };
        if s.made_open == Some(e) {
            s.made_open = None;
        }
        s.dir.unlink(&s.marker(e)).is_ok()
    }

    /// Leaves entry `e` of a hold that was lost (its record evicted): the last one out closes
    /// the entry here; the file server is not touched.
    pub(super) fn leave_share(&mut self, e: u64) {
        if self.last_out(e) {
            let _ = self.close_entry(e);
        }
        self.share_lock(RangeLock::Unlock, HOLDERS + e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_damage() {
        let rec = b"srwl/2\nrole read\n";
        let mut out = Vec::new();
        encode_header(7, 9, 11, rec, b"/x/L.srwl", &mut out);
        let h = parse_header(&out, b"/x/L.srwl").expect("parses");
        assert_eq!((h.e, h.gen, h.entered), (7, 9, 11));
        // Not a valid record: parsed as None, never joined.
        assert!(h.record.is_none());
        let mut torn = out.clone();
        torn[20] ^= 1;
        assert!(
            parse_header(&torn, b"/x/L.srwl").is_none(),
            "a torn header is refused"
        );
        assert!(parse_header(&out[..HEADER - 1], b"/x/L.srwl").is_none());
        assert!(
            parse_header(&out, b"/y/L.srwl").is_none(),
            "another sidecar's header is refused"
        );
        let mut long = out.clone();
        long[32..36].copy_from_slice(&(RECORD_MAX as u32 + 1).to_le_bytes());
        assert!(
            parse_header(&long, b"/x/L.srwl").is_none(),
            "an oversized length is refused"
        );
    }
}
