//! The srwl/1 protocol on one sidecar directory (see docs/PROTOCOL.md).
//!
//! Safety rests only on operations the file server performs atomically: exclusive create,
//! mkdir, rename of a directory onto the room (refused while the room is non-empty), unlink of
//! a uniquely named record. Listings, stats and reads are hints: a stale one may delay a
//! grant, never cause a wrong one.

use std::collections::HashMap;
use std::ffi::CStr;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fs::{self, describe, Dir, Kind, Name};
use crate::record::{
    self, parse_record_name, record_name, Record, Role, Ticket, TicketKind, Token,
};
use crate::status::{Error, Result, Status};

pub const ROOM: &CStr = c"R";
pub const QUEUE: &CStr = c"Q";
pub const CLOSED: &CStr = c"closed";
pub const GEN: &CStr = c"gen";

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// An error from a filesystem step: names the operation, the path and the OS error.
pub fn fs_error(op: &str, path: &str, e: &io::Error) -> Error {
    let status = match errno(e) {
        libc::ELOOP | libc::ENOTDIR => Status::SRWL_EUNSAFE,
        _ => Status::SRWL_EIO,
    };
    let hint = match errno(e) {
        libc::ELOOP => ": a symlink is there, refusing to follow it",
        libc::ENOTDIR => ": expected a directory (a symlink or a file is there)",
        _ => "",
    };
    let mut err = Error::new(status, format!("{op} {path}: {}{hint}", describe(e)));
    err.transient = errno(e) == libc::ESTALE;
    err
}

/// What happened when a reader tried to enter the room.
pub enum Entry {
    Entered,
    /// A writer is inside (its `closed` is in the room); our record was removed again.
    Closed,
}

/// What happened when a writer tried to take the room.
pub enum Grant {
    Granted,
    /// The room is not empty.
    Occupied,
    /// Our claim is gone (evicted while we were stopped): claim again.
    ClaimLost,
}

/// When each observed entry last changed, on this process's monotonic clock. Staleness is
/// only ever judged from our own observations: no clock of another host is compared.
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
    fn observe(&mut self, key: &[u8], bytes: &[u8], now: Instant) -> Duration {
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

    fn forget(&mut self, key: &[u8]) {
        self.seen.remove(key);
    }

    /// Drops what has not been seen for a while (it is gone).
    fn prune(&mut self, now: Instant, keep: Duration) {
        if self.seen.len() > 64 {
            self.seen.retain(|_, s| now - s.last < keep);
        }
    }
}

/// Settings of one participant.
pub struct Params {
    pub stale: Duration,
    pub lease_ms: u64,
    pub host: String,
}

/// One participant's view of a sidecar directory: handles, buffers and observations.
pub struct Disk {
    pub side: Arc<Dir>,
    queue: Dir,
    room: Option<Arc<Dir>>,
    /// Our prepared claim directory while we wait for the grant: after the rename it is the
    /// room, and our own record in it is reached through this handle, not by name.
    claim: Option<Arc<Dir>>,
    /// The sidecar path, for messages.
    pub display: String,
    params: Params,
    tickets: Vec<Ticket>,
    list_buf: Vec<u8>,
    read_buf: Vec<u8>,
    names: Vec<Vec<u8>>,
    observer: Observer,
    dead_counter: u64,
    evictor_token: Token,
    /// When each kind of scan last ran: scans are throttled to one per stale/8, so that many
    /// waiters do not read every record on every poll (eviction waits at most that much longer).
    last_room_scan: Option<Instant>,
    last_queue_scan: Option<Instant>,
}

impl Disk {
    /// Creates (if needed) and opens the sidecar directory `<base>.srwl` in `parent`, refusing a
    /// symlink, a non-directory or a directory owned by another user.
    pub fn open(parent: &Dir, side_name: &CStr, display: String, params: Params) -> Result<Disk> {
        let euid = fs::geteuid();
        match parent.mkdir(side_name) {
            Ok(()) => {}
            Err(e) if errno(&e) == libc::EEXIST => {}
            Err(e) => return Err(fs_error("mkdir", &display, &e)),
        }
        let side = parent.open_dir(side_name).map_err(|e| {
            let mut err = fs_error("open sidecar directory", &display, &e);
            if let Ok(st) = parent.stat(side_name) {
                let what = match st.kind {
                    Kind::Symlink => "it is a symlink; refusing to follow it",
                    Kind::Dir => "",
                    _ => "it is not a directory",
                };
                if !what.is_empty() {
                    err = Error::new(
                        Status::SRWL_EUNSAFE,
                        format!("open sidecar directory {display}: {}: {what}", describe(&e)),
                    );
                }
            }
            err
        })?;
        let st = side.fstat().map_err(|e| fs_error("fstat", &display, &e))?;
        if st.uid != euid {
            return Err(Error::new(
                Status::SRWL_EUNSAFE,
                format!(
                    "open {display}: owned by uid {}, not by this process's uid {euid}; refusing to use it",
                    st.uid
                ),
            ));
        }
        if st.mode & 0o777 != 0o700 {
            side.chmod_0700()
                .map_err(|e| fs_error("chmod 0700", &display, &e))?;
        }
        for sub in [ROOM, QUEUE] {
            match side.mkdir(sub) {
                Ok(()) => {}
                Err(e) if errno(&e) == libc::EEXIST => {}
                Err(e) => {
                    return Err(fs_error(
                        "mkdir",
                        &format!("{display}/{}", sub.to_string_lossy()),
                        &e,
                    ))
                }
            }
        }
        let sub_path = |s: &CStr| format!("{display}/{}", s.to_string_lossy());
        let queue = side
            .open_dir(QUEUE)
            .map_err(|e| fs_error("open", &sub_path(QUEUE), &e))?;
        // ESTALE on the room: another client just replaced it; it is opened again when needed.
        let room = match side.open_dir(ROOM) {
            Err(e) if errno(&e) == libc::ESTALE => None,
            r => Some(r.map_err(|e| fs_error("open", &sub_path(ROOM), &e))?),
        };
        for (d, n) in std::iter::once((&queue, QUEUE)).chain(room.as_ref().map(|r| (r, ROOM))) {
            let st = d.fstat().map_err(|e| fs_error("fstat", &sub_path(n), &e))?;
            if st.uid != euid {
                return Err(Error::new(
                    Status::SRWL_EUNSAFE,
                    format!("open {}: owned by uid {}, not {euid}", sub_path(n), st.uid),
                ));
            }
        }
        Ok(Disk {
            side: Arc::new(side),
            queue,
            room: room.map(Arc::new),
            claim: None,
            display,
            params,
            tickets: Vec::with_capacity(16),
            list_buf: Vec::new(),
            read_buf: Vec::with_capacity(fs::READ_CAP + 1),
            names: Vec::new(),
            observer: Observer::default(),
            dead_counter: 0,
            evictor_token: Token::random(),
            last_room_scan: None,
            last_queue_scan: None,
        })
    }

    fn path(&self, rel: &[u8]) -> String {
        format!("{}/{}", self.display, String::from_utf8_lossy(rel))
    }

    /// A record of ours with a fresh random nonce.
    pub fn record(&self, role: Role, token: Token) -> Record {
        let mut n = [0u8; 8];
        fs::random_bytes(&mut n);
        Record {
            role,
            token,
            pid: fs::getpid(),
            host: self.params.host.clone(),
            lease_ms: self.params.lease_ms,
            nonce: u64::from_ne_bytes(n),
        }
    }

    // ---- the queue -------------------------------------------------------------------------

    /// Lists the queue (a hint). Returns the tickets, ordered by key, and the largest seq seen.
    pub fn list_queue(&mut self) -> Result<(&[Ticket], u64)> {
        let mut tickets = std::mem::take(&mut self.tickets);
        tickets.clear();
        let mut max_seq = 0u64;
        let r = self.queue.list(&mut self.list_buf, |name| {
            if let Some(t) = Ticket::parse(name) {
                max_seq = max_seq.max(t.seq);
                tickets.push(t);
            }
        });
        self.tickets = tickets;
        r.map_err(|e| fs_error("list", &self.path(b"Q"), &e))?;
        self.tickets.sort_by_key(|t| t.key());
        Ok((&self.tickets, max_seq))
    }

    /// Publishes a reader's place in the queue: `Q/r.<seq>.<token>`.
    pub fn take_reader_ticket(&mut self, ticket: &Ticket, rec: &Record) -> Result<()> {
        let name = ticket.name();
        rec.encode(&mut self.read_buf);
        self.queue
            .create_excl(name.as_cstr(), &self.read_buf)
            .map_err(|e| fs_error("create", &self.path(&[b"Q/", name.as_bytes()].concat()), &e))
    }

    /// Refreshes a waiting reader's ticket; false if it was evicted.
    pub fn refresh_reader_ticket(&mut self, ticket: &Ticket, rec: &mut Record) -> Result<bool> {
        rec.nonce = rec.nonce.wrapping_add(1);
        rec.encode(&mut self.read_buf);
        match self.queue.rewrite(ticket.name().as_cstr(), &self.read_buf) {
            Ok(()) => Ok(true),
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::EINVAL) => Ok(false),
            Err(e) if errno(&e) == libc::ESTALE => Ok(true),
            Err(e) => Err(fs_error(
                "rewrite",
                &self.path(ticket.name().as_bytes()),
                &e,
            )),
        }
    }

    pub fn remove_reader_ticket(&mut self, ticket: &Ticket) {
        let _ = self.queue.unlink(ticket.name().as_cstr());
    }

    /// Prepares a writer's claim: `Q/w.<seq>.<token>/closed/w.<token>`. The claim is the
    /// writer's place in the queue and, once renamed onto `R`, the closed room.
    pub fn make_claim(&mut self, ticket: &Ticket, rec: &Record) -> Result<()> {
        let name = ticket.name();
        let claim_path = self.path(&[b"Q/", name.as_bytes()].concat());
        self.queue
            .mkdir(name.as_cstr())
            .map_err(|e| fs_error("mkdir", &claim_path, &e))?;
        let result = (|| {
            let claim = self
                .queue
                .open_dir(name.as_cstr())
                .map_err(|e| ("open", e))?;
            claim.mkdir(CLOSED).map_err(|e| ("mkdir closed in", e))?;
            rec.encode(&mut self.read_buf);
            claim
                .create_excl(
                    Self::own_write_record(&ticket.token).as_cstr(),
                    &self.read_buf,
                )
                .map_err(|e| ("create closed/w.<token> in", e))?;
            Ok(claim)
        })();
        match result {
            Ok(claim) => {
                self.claim = Some(Arc::new(claim));
                Ok(())
            }
            Err((op, e)) => {
                let err = fs_error(op, &claim_path, &e);
                self.remove_claim(ticket);
                Err(err)
            }
        }
    }

    /// Our writer record relative to our claim directory (which becomes the room).
    pub fn own_write_record(token: &Token) -> Name {
        let mut n = Name::from_bytes(&[b"closed/"]);
        n.push(record_name(Role::Write, token).as_bytes());
        n
    }

    /// Refreshes a waiting writer's claim record; false if the claim was evicted.
    pub fn refresh_claim(&mut self, ticket: &Ticket, rec: &mut Record) -> Result<bool> {
        rec.nonce = rec.nonce.wrapping_add(1);
        rec.encode(&mut self.read_buf);
        let rel = claim_record_path(ticket);
        match self.queue.rewrite(rel.as_cstr(), &self.read_buf) {
            Ok(()) => Ok(true),
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::ENOTDIR | libc::EINVAL) => Ok(false),
            Err(e) if errno(&e) == libc::ESTALE => Ok(true),
            Err(e) => Err(fs_error("rewrite", &self.path(rel.as_bytes()), &e)),
        }
    }

    /// Removes our own claim (timeout, error). Only our own uniquely named entries are touched.
    pub fn remove_claim(&mut self, ticket: &Ticket) {
        let old = self.claim.take();
        drop(old);
        let name = ticket.name();
        if let Ok(claim) = self.queue.open_dir(name.as_cstr()) {
            if let Ok(closed) = claim.open_dir(CLOSED) {
                let _ = closed.unlink(record_name(Role::Write, &ticket.token).as_cstr());
            }
            let _ = claim.rmdir(CLOSED);
        }
        let _ = self.queue.rmdir(name.as_cstr());
    }

    /// The grant: rename our claim onto the room. The server refuses while the room holds
    /// anything (a reader record, another writer's `closed`), atomically.
    pub fn try_grant(&mut self, ticket: &Ticket) -> Result<Grant> {
        let name = ticket.name();
        let outcome = match self.queue.rename(name.as_cstr(), &self.side, ROOM) {
            Ok(()) => return Ok(self.granted()),
            Err(e)
                if matches!(
                    errno(&e),
                    libc::ENOTEMPTY | libc::EEXIST | libc::EBUSY | libc::ESTALE
                ) =>
            {
                Grant::Occupied
            }
            Err(e) if errno(&e) == libc::ENOENT => Grant::ClaimLost,
            Err(e) => {
                return Err(fs_error(
                    "rename",
                    &format!(
                        "{} onto {}",
                        self.path(&[b"Q/", name.as_bytes()].concat()),
                        self.path(b"R")
                    ),
                    &e,
                ))
            }
        };
        // A rename can report an error and still have happened (a network filesystem client
        // that retried it: GlusterFS answered EEXIST). Our claim directory is then the room.
        if self.claim_is_room() {
            return Ok(self.granted());
        }
        Ok(outcome)
    }

    fn granted(&mut self) -> Grant {
        // The cached room handle names the replaced room; our claim is the room now.
        let old = self.room.take();
        drop(old);
        self.room = self.claim.take();
        Grant::Granted
    }

    /// Whether our claim directory is the room: the same inode as `R` looked up now.
    fn claim_is_room(&self) -> bool {
        let Some(claim) = &self.claim else {
            return false;
        };
        match (claim.fstat(), self.side.stat(ROOM)) {
            (Ok(a), Ok(b)) => a.ino == b.ino && a.dev == b.dev,
            _ => false,
        }
    }

    /// After a failed acquire: if a rename that reported failure made our claim the room,
    /// give the room back (release through the claim handle).
    pub fn undo_unnoticed_grant(&mut self, token: &Token) {
        if self.claim_is_room() {
            if let Some(claim) = self.claim.take() {
                let _ = Self::release_write(&claim, token, &self.display);
            }
        }
    }

    /// The handle on the room we were granted (our former claim), for the hold.
    pub fn granted_room(&self) -> Arc<Dir> {
        self.room.clone().expect("set by granted()")
    }

    pub fn read_record_path(token: &Token) -> Name {
        let mut n = Name::from_bytes(&[b"R/"]);
        n.push(record_name(Role::Read, token).as_bytes());
        n
    }

    /// Whether our record is still there (srwl_check): `rel` under `dir`. An absence must
    /// last to count.
    pub fn record_exists(dir: &Dir, rel: &Name) -> bool {
        let mut gone = Absence::new();
        loop {
            match dir.stat(rel.as_cstr()) {
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ENOTDIR) => {
                    if gone.confirmed() {
                        return false;
                    }
                }
                _ => return true,
            }
        }
    }

    /// Writer release: unlink our record by its unique name, then remove `closed` if empty.
    /// A zombie's release finds its record gone (ENOENT) and touches nothing else: the rmdir
    /// of a `closed` that holds another writer's record fails.
    pub fn release_write(room: &Dir, token: &Token, display: &str) -> Result<bool> {
        let rec = Self::own_write_record(token);
        let mut tries = 0;
        let mut gone = Absence::new();
        loop {
            match room.unlink(rec.as_cstr()) {
                Ok(()) => break,
                // A lookup is a hint too: only an absence that lasts is taken as proof of
                // eviction. Retrying the unlink of a unique name is always safe.
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ENOTDIR) => {
                    if gone.confirmed() {
                        return Ok(false);
                    }
                }
                Err(e) if errno(&e) == libc::ESTALE && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => {
                    return Err(fs_error(
                        "unlink",
                        &format!("{display}/R/{}", rec.display()),
                        &e,
                    ))
                }
            }
        }
        // Fails (harmlessly) if `closed` holds another writer's record.
        let _ = room.rmdir(CLOSED);
        Ok(true)
    }

    // ---- the room ----------------------------------------------------------------------------

    /// Forgets the cached room handle: the field is cleared before the descriptor is closed,
    /// so that a fork in between never leaves a child a closed descriptor marked open.
    fn drop_room(&mut self) {
        let old = self.room.take();
        drop(old);
    }

    fn room(&mut self) -> Result<&Dir> {
        if self.room.is_none() {
            let d = match self.side.open_dir(ROOM) {
                Ok(d) => d,
                Err(e) if errno(&e) == libc::ENOENT => {
                    // Nothing removes the room, but recover if someone did.
                    let _ = self.side.mkdir(ROOM);
                    self.side
                        .open_dir(ROOM)
                        .map_err(|e| fs_error("open", &self.path(b"R"), &e))?
                }
                Err(e) => return Err(fs_error("open", &self.path(b"R"), &e)),
            };
            self.room = Some(Arc::new(d));
        }
        Ok(self.room.as_ref().expect("just set"))
    }

    /// A hint: is a writer inside (is `closed` in the room)? Errors count as "maybe".
    pub fn closed_hint(&mut self) -> Result<bool> {
        let room = self.room()?;
        match room.stat(CLOSED) {
            Ok(_) => Ok(true),
            Err(e) if errno(&e) == libc::ENOENT => Ok(false),
            Err(_) => {
                self.drop_room();
                Ok(true)
            }
        }
    }

    /// Reader entry: create our record through the room handle, THEN look for `closed`
    /// through the same handle. Either the writer's rename came first (we see `closed`) or our
    /// record did (the rename fails): there is no third ordering.
    pub fn enter_room(&mut self, token: &Token, rec: &Record) -> Result<Entry> {
        let name = record_name(Role::Read, token);
        let mut buf = std::mem::take(&mut self.read_buf);
        rec.encode(&mut buf);
        let r = self.create_in_room(&name, &buf);
        self.read_buf = buf;
        r?;
        // THEN look, in ONE listing through the same handle: granted only if the listing
        // shows our own record and no `closed`. Separate lookups could each resolve a stale
        // handle differently (GlusterFS: a create landed in the new room while lookups failed
        // in the old one); a listing that holds our never-reused name was taken in the room
        // that holds our record, which cannot be replaced while it does (SPIN flaw c).
        let room = self.room.clone().expect("set by create_in_room");
        let (mut own, mut closed) = (false, false);
        let listed = room.list(&mut self.list_buf, |n| {
            own |= n == name.as_bytes();
            closed |= n == CLOSED.to_bytes();
        });
        if listed.is_ok() && own && !closed {
            return Ok(Entry::Entered);
        }
        if own || listed.is_err() {
            let _ = room.unlink(name.as_cstr());
        }
        if !own {
            // The handle names a replaced room: our record may sit in the new one.
            self.drop_room();
            self.discard_read_record(token);
        }
        Ok(Entry::Closed)
    }

    fn create_in_room(&mut self, name: &Name, data: &[u8]) -> Result<()> {
        let mut attempt = 0;
        loop {
            let room = self.room()?;
            match room.create_excl(name.as_cstr(), data) {
                Ok(()) => return Ok(()),
                // A create may report ENOENT/ESTALE and still have happened: the retry finds
                // our own unique name, which is success.
                // EEXIST on a fresh 128-bit random name can only be our own earlier attempt.
                Err(e) if errno(&e) == libc::EEXIST => {
                    let _ = room.rewrite(name.as_cstr(), data);
                    return Ok(());
                }
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) && attempt < 5 => {
                    // The room was replaced under our handle: reopen it.
                    self.drop_room();
                    attempt += 1;
                    if errno(&e) == libc::ESTALE {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                Err(e) => {
                    return Err(fs_error(
                        "create",
                        &self.path(&[b"R/", name.as_bytes()].concat()),
                        &e,
                    ))
                }
            }
        }
    }

    /// Removes a reader record that a failed acquire may have left (a create that reported an
    /// error and still happened). Best effort; the name is unique.
    pub fn discard_read_record(&mut self, token: &Token) {
        let _ = self.side.unlink(Self::read_record_path(token).as_cstr());
    }

    /// Reader release: unlink our record by its unique name. False if it was already gone
    /// (we were evicted).
    pub fn release_read(&mut self, token: &Token) -> Result<bool> {
        let name = record_name(Role::Read, token);
        let mut tries = 0;
        let mut gone = Absence::new();
        loop {
            let r = match self.room.as_ref() {
                Some(room) => room.unlink(name.as_cstr()),
                None => self.side.unlink(Self::read_record_path(token).as_cstr()),
            };
            match r {
                Ok(()) => return Ok(true),
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ENOTDIR) => {
                    // Through a stale handle ENOENT proves nothing: ask by name before
                    // concluding that the hold was lost.
                    if self.room.take().is_some() {
                        continue;
                    }
                    if gone.confirmed() {
                        return Ok(false);
                    }
                }
                Err(e) if errno(&e) == libc::ESTALE && tries < 100 => {
                    tries += 1;
                    self.drop_room();
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(fs_error(
                        "unlink",
                        &self.path(Self::read_record_path(token).as_bytes()),
                        &e,
                    ))
                }
            }
        }
    }

    // ---- the fencing generation ------------------------------------------------------------

    /// Increments the generation counter in place (called by a writer right after its grant,
    /// so no one else writes it meanwhile). Returns the new value.
    pub fn bump_generation(&mut self) -> Result<u64> {
        let fd = self
            .side
            .open_rw(GEN, true)
            .map_err(|e| fs_error("open", &self.path(b"gen"), &e))?;
        let mut buf = [0u8; 32];
        fs::drop_cached_pages(std::os::fd::AsRawFd::as_raw_fd(&fd));
        let n = fs::pread0(std::os::fd::AsRawFd::as_raw_fd(&fd), &mut buf)
            .map_err(|e| fs_error("read", &self.path(b"gen"), &e))?;
        let cur = parse_generation(&buf[..n]).ok_or_else(|| {
            Error::new(
                Status::SRWL_EIO,
                format!(
                    "read {}: malformed generation counter {:?}",
                    self.path(b"gen"),
                    String::from_utf8_lossy(&buf[..n])
                ),
            )
        })?;
        let next = cur.saturating_add(1);
        let text = format!("{next:020}\n");
        fs::write_all_at(std::os::fd::AsRawFd::as_raw_fd(&fd), text.as_bytes())
            .map_err(|e| fs_error("write", &self.path(b"gen"), &e))?;
        Ok(next)
    }

    /// Reads the generation counter (0 if no writer was ever granted).
    pub fn read_generation(side: &Dir, display: &str) -> Result<u64> {
        let path = format!("{display}/gen");
        let fd = match side.open_ro(GEN) {
            Ok(fd) => fd,
            Err(e) if errno(&e) == libc::ENOENT => return Ok(0),
            Err(e) => return Err(fs_error("open", &path, &e)),
        };
        let mut buf = [0u8; 32];
        fs::drop_cached_pages(std::os::fd::AsRawFd::as_raw_fd(&fd));
        let n = fs::pread0(std::os::fd::AsRawFd::as_raw_fd(&fd), &mut buf)
            .map_err(|e| fs_error("read", &path, &e))?;
        parse_generation(&buf[..n]).ok_or_else(|| {
            Error::new(
                Status::SRWL_EIO,
                format!("read {path}: malformed generation counter"),
            )
        })
    }

    // ---- eviction ----------------------------------------------------------------------------

    fn threshold_for(&self, bytes: &[u8]) -> Duration {
        let own = self.params.stale;
        match Record::parse(bytes) {
            Some(r) => own.max(Duration::from_millis(r.lease_ms)),
            None => own,
        }
    }

    /// Moves a directory that is judged dead out of the way (atomically, so that its owner's
    /// rename of it fails) and removes what it holds, two levels deep at most.
    fn evict_dir(&mut self, from: &Dir, name: &[u8]) {
        self.dead_counter += 1;
        let dead = Name::from_bytes(&[
            b"dead.",
            self.evictor_token.as_bytes(),
            b".",
            self.dead_counter.to_string().as_bytes(),
        ]);
        let src = Name::from_bytes(&[name]);
        if from
            .rename(src.as_cstr(), &self.side, dead.as_cstr())
            .is_err()
        {
            return;
        }
        remove_tree(&self.side, dead.as_cstr(), 2);
    }

    /// Removes an entry judged dead: a file by unlink, a directory by moving it away.
    fn evict_entry(&mut self, dir: &Dir, name: &[u8]) {
        let n = Name::from_bytes(&[name]);
        match dir.unlink(n.as_cstr()) {
            Err(e) if matches!(errno(&e), libc::EISDIR | libc::EPERM) => self.evict_dir(dir, name),
            _ => {}
        }
    }

    /// Reads an entry for observation: its bytes, or a marker describing why it cannot be
    /// read (the marker never changes, so such an entry ages like a dead record). None if the
    /// entry is gone.
    fn snapshot(&mut self, dir: &Dir, name: &[u8]) -> Option<Vec<u8>> {
        let n = Name::from_bytes(&[name]);
        let mut buf = Vec::new();
        match dir.read_small(n.as_cstr(), &mut buf) {
            Ok(()) => Some(buf),
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) => None,
            Err(e) => Some(format!("\0unreadable {}", errno(&e)).into_bytes()),
        }
    }

    /// Observes an entry; returns (how long it has been unchanged, its eviction threshold).
    fn observe_entry(
        &mut self,
        dir: &Dir,
        name: &[u8],
        key: &[u8],
        now: Instant,
    ) -> Option<(Duration, Duration)> {
        match self.snapshot(dir, name) {
            Some(bytes) => Some(self.observe_bytes(key, &bytes, now)),
            None => {
                self.observer.forget(key);
                None
            }
        }
    }

    fn observe_bytes(&mut self, key: &[u8], bytes: &[u8], now: Instant) -> (Duration, Duration) {
        (
            self.observer.observe(key, bytes, now),
            self.threshold_for(bytes),
        )
    }

    /// Scans the room: evicts reader records, writer records and leftovers that have not
    /// changed for the stale threshold. With `closed_only`, looks only at the writer.
    pub fn scan_room(&mut self, closed_only: bool) -> Result<()> {
        let now = Instant::now();
        if Self::throttled(&mut self.last_room_scan, now, self.params.stale) {
            return Ok(());
        }
        let room = match self.side.open_dir(ROOM) {
            Ok(r) => r,
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) => return Ok(()),
            Err(e) => return Err(fs_error("open", &self.path(b"R"), &e)),
        };
        let mut names = std::mem::take(&mut self.names);
        names.clear();
        if closed_only {
            names.push(b"closed".to_vec());
        } else {
            room.list(&mut self.list_buf, |n| names.push(n.to_vec()))
                .map_err(|e| fs_error("list", &self.path(b"R"), &e))?;
        }
        for name in names.iter() {
            let key = [b"R/", name.as_slice()].concat();
            if name.as_slice() == b"closed" {
                self.scan_closed(&room, now);
            } else if let Some((age, limit)) = self.observe_entry(&room, name, &key, now) {
                // Reader records are unique names: unlinking one can only ever remove the
                // record that was judged dead. Anything else in the room is a leftover.
                if age >= limit {
                    self.evict_entry(&room, name);
                    self.observer.forget(&key);
                }
            }
        }
        self.names = names;
        self.observer.prune(now, self.params.stale * 2);
        Ok(())
    }

    /// True if a scan ran less than stale/8 ago; otherwise records that one runs now.
    fn throttled(last: &mut Option<Instant>, now: Instant, stale: Duration) -> bool {
        if last.is_some_and(|t| now.duration_since(t) < stale / 8) {
            return true;
        }
        *last = Some(now);
        false
    }

    fn scan_closed(&mut self, room: &Dir, now: Instant) {
        let st = match room.stat(CLOSED) {
            Ok(st) => st,
            Err(_) => return,
        };
        if st.kind != Kind::Dir {
            // A file or symlink named `closed` is not a writer: remove it once it has aged.
            // unlink() of a real `closed` (a directory) fails, so this cannot hit a writer.
            if let Some((age, limit)) = self.observe_entry(room, b"closed", b"R/closed", now) {
                if age >= limit {
                    let _ = room.unlink(CLOSED);
                    self.observer.forget(b"R/closed");
                }
            }
            return;
        }
        let closed = match room.open_dir(CLOSED) {
            Ok(d) => d,
            Err(_) => return,
        };
        let mut inner: Vec<Vec<u8>> = Vec::new();
        if closed
            .list(&mut self.list_buf, |n| inner.push(n.to_vec()))
            .is_err()
        {
            return;
        }
        // Entries a (possibly stale) listing shows but that are gone do not count.
        let mut present = 0;
        for name in inner {
            let key = [b"R/closed/", name.as_slice()].concat();
            if let Some((age, limit)) = self.observe_entry(&closed, &name, &key, now) {
                present += 1;
                if age >= limit {
                    // Unlink the judged record by its unique name: a zombie evictor can
                    // never remove another writer's record this way. Then rmdir `closed`,
                    // which fails if it holds anything else.
                    self.evict_entry(&closed, &name);
                    let _ = room.rmdir(CLOSED);
                    self.observer.forget(&key);
                }
            }
        }
        if present == 0 {
            // A writer that died between unlinking its record and removing `closed`.
            if self.observer.observe(b"R/closed/", b"\0empty", now) >= self.params.stale {
                let _ = room.rmdir(CLOSED); // fails if a record appeared: safe
                self.observer.forget(b"R/closed/");
            }
        } else {
            self.observer.forget(b"R/closed/");
        }
    }

    /// Scans the queue entries with a key below `below` (all if None): evicts tickets and
    /// claims whose records have not changed for the stale threshold.
    pub fn scan_queue(&mut self, below: Option<(u64, Token)>) -> Result<()> {
        let now = Instant::now();
        if Self::throttled(&mut self.last_queue_scan, now, self.params.stale) {
            return Ok(());
        }
        let mut names = std::mem::take(&mut self.names);
        names.clear();
        self.queue
            .list(&mut self.list_buf, |n| names.push(n.to_vec()))
            .map_err(|e| fs_error("list", &self.path(b"Q"), &e))?;
        let queue = self
            .queue
            .open_dir(c".")
            .map_err(|e| fs_error("open", &self.path(b"Q"), &e))?;
        for name in names.iter() {
            let ticket = Ticket::parse(name);
            if let (Some(t), Some(b)) = (ticket, below) {
                if t.key() >= b {
                    continue;
                }
            }
            let key = [b"Q/", name.as_slice()].concat();
            let observed = match ticket {
                Some(t) if t.kind == TicketKind::Writer => {
                    self.observe_claim(&queue, name, &t, &key, now)
                }
                _ => self.observe_entry(&queue, name, &key, now),
            };
            if let Some((age, limit)) = observed {
                if age >= limit {
                    match ticket {
                        Some(t) if t.kind == TicketKind::Writer => self.evict_dir(&queue, name),
                        _ => self.evict_entry(&queue, name),
                    }
                    self.observer.forget(&key);
                }
            }
        }
        self.names = names;
        Ok(())
    }

    /// Observes a writer claim through handles opened without following symlinks.
    fn observe_claim(
        &mut self,
        queue: &Dir,
        name: &[u8],
        t: &Ticket,
        key: &[u8],
        now: Instant,
    ) -> Option<(Duration, Duration)> {
        let n = Name::from_bytes(&[name]);
        let claim = match queue.open_dir(n.as_cstr()) {
            Ok(d) => d,
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) => {
                self.observer.forget(key);
                return None;
            }
            // Not a directory, a symlink: a leftover that ages like a dead claim.
            Err(_) => return self.observe_entry(queue, name, key, now),
        };
        let closed = match claim.open_dir(CLOSED) {
            Ok(d) => d,
            Err(e) if errno(&e) == libc::ESTALE => return None,
            Err(e) => {
                let marker = format!("\0claim without closed {}", errno(&e));
                let age = self.observer.observe(key, marker.as_bytes(), now);
                return Some((age, self.params.stale));
            }
        };
        let rec = record_name(Role::Write, &t.token);
        // A claim without its record: its maker died while making it. It ages like a dead one.
        let bytes = self
            .snapshot(&closed, rec.as_bytes())
            .unwrap_or_else(|| b"\0claim without record".to_vec());
        Some(self.observe_bytes(key, &bytes, now))
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

fn claim_record_path(t: &Ticket) -> Name {
    let mut n = t.name();
    n.push(b"/closed/");
    n.push(record_name(Role::Write, &t.token).as_bytes());
    n
}

/// Parses the generation file: empty (never written) is 0, else 1 to 20 digits and a newline.
pub fn parse_generation(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return Some(0);
    }
    let digits = b.strip_suffix(b"\n")?;
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Removes `name` in `dir` and what it holds, at most `depth` levels down, never following
/// a symlink. Best effort: whatever cannot be removed stays (in a `dead.*` directory, which
/// blocks no one).
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

/// Used by tests and tools: validates a record read from disk.
pub fn parse_room_entry(name: &[u8]) -> Option<(Role, Token)> {
    parse_record_name(name)
}

#[allow(dead_code)]
fn _assert_record_module_used() {
    let _ = record::MAGIC;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_parsing_is_bounded() {
        assert_eq!(parse_generation(b""), Some(0));
        assert_eq!(parse_generation(b"00000000000000000042\n"), Some(42));
        assert_eq!(parse_generation(b"42"), None);
        assert_eq!(parse_generation(b"x\n"), None);
        assert_eq!(parse_generation(b"999999999999999999999\n"), None);
        assert_eq!(parse_generation(b"\n"), None);
    }

    #[test]
    fn observer_measures_unchanged_time() {
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
