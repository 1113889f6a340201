//! The srwl/2 protocol on one sidecar directory (see docs/PROTOCOL.md).
//!
//! Safety rests only on operations the file server performs atomically: exclusive create,
//! rmdir of the room (refused while the room holds anything: the write grant), rename of the
//! one baton file (of two renames of the same source only one succeeds), unlink of a uniquely
//! named record. No directory is ever renamed: on GlusterFS 10.3 a directory rename that
//! fails damages the directory (bug 2752). Listings, stats and reads are hints: a stale one
//! may delay a grant, never cause a wrong one.

use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fs::{self, describe, Dir, Kind, Name, Watch};
use crate::record::{
    parse_record_name, parse_template, parse_transit, record_name, template_name, transit_name,
    Baton, Record, Role, Ticket, TicketKind, Token,
};
use crate::status::{Error, Result, Status};

pub const ROOM: &CStr = c"R";
pub const QUEUE: &CStr = c"Q";
/// A queue listing (a hint) stops after a getdents64 batch with fewer entries than this: the
/// batch was not cut short by a GlusterFS client (33 entries at most per batch).
const HINT_BATCH: usize = 32;

/// Present once the lock is initialised: a second name of the baton's inode, never removed,
/// so that the baton is created exactly once.
pub const INIT: &CStr = c"init";

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
    /// Granted; the generation of the baton resting in the room.
    Entered(u64),
    /// No baton in the room (a writer holds it, or is closing the room), or no room at all.
    Shut,
}

/// What happened when a writer tried to take the baton.
pub enum Take {
    /// We hold the baton as `Q/b.<gen>.<token>`; `gen` is the generation of our grant.
    Taken(u64),
    /// The baton is not in the room: someone else holds it.
    NotThere,
}

/// What happened when the baton holder tried to close the room.
pub enum Close {
    /// The room is gone and nobody can enter: the write lock is ours.
    Granted,
    /// Readers (or leftovers) are still inside.
    Occupied,
}

/// The queue as one listing showed it (a hint).
pub struct QueueView<'a> {
    pub tickets: &'a [Ticket],
    pub max_seq: u64,
    /// Some process holds the baton (`Q/b.*`): a writer is closing the room or inside.
    pub baton_held: bool,
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

/// A handle's reader-record template, `h.<token>.<pid>.<host>` in the sidecar, kept open. A
/// reader record is made by rewriting it with the record's bytes and hard-linking it into the
/// room: one pwrite and one linkat (one metadata round trip on a network filesystem) instead
/// of an exclusive create, a write and a close. The link is as atomic as the create was: it
/// fails with EEXIST if the name exists, and the name is still the hold's unique identity.
struct Template {
    name: Name,
    fd: OwnedFd,
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
    /// The room as last opened. Every write cycle replaces the room (rmdir, mkdir), so this
    /// handle may name a removed room; it is opened again when an operation through it fails.
    room: Option<Arc<Dir>>,
    /// The generation of the baton as last seen at rest (a guess: a wrong one costs a listing).
    gen_guess: Option<u64>,
    /// (generation, length) of the record we wrote into the baton at our last take.
    baton_len: Option<(u64, usize)>,
    /// The sidecar path, for messages.
    pub display: String,
    params: Params,
    tickets: Vec<Ticket>,
    list_buf: Vec<u8>,
    read_buf: Vec<u8>,
    names: Vec<Vec<u8>>,
    observer: Observer,
    evictor_token: Token,
    /// The token in the name of the baton while this handle holds it, `Q/b.<gen>.<token>`,
    /// and in the record written into it. One per handle: a held baton's name is still unique
    /// because only a take raises the generation, and a take of a baton that still holds our
    /// own record (nobody took it since our last hold) then needs no write at all.
    writer_token: Token,
    /// When each kind of scan last ran: scans are throttled to one per stale/8, so that many
    /// waiters do not read every record on every poll (eviction waits at most that much longer).
    last_room_scan: Option<Instant>,
    last_queue_scan: Option<Instant>,
    last_orphan_scan: Option<Instant>,
    /// This handle's reader-record template, made at the first read acquire.
    template: Option<Template>,
    /// Hard links did not work here (EXDEV, EPERM, ...): reader records are created as files.
    no_links: bool,
    /// Same-host wakeups (made at the first wait; None if inotify is not available) and the
    /// room inode it watches.
    watch: Option<Watch>,
    /// The queue's watch descriptor in `watch`.
    queue_wd: i32,
    watch_tried: bool,
    watched_room: Option<(u64, u64)>,
}

impl Disk {
    /// Creates (if needed) and opens the sidecar directory `<base>.srwl` in `parent`, refusing a
    /// symlink, a non-directory or a directory owned by another user; initialises the lock
    /// (creates the baton) if no one has.
    pub fn open(parent: &Dir, side_name: &CStr, display: String, params: Params) -> Result<Disk> {
        let euid = fs::geteuid();
        match parent.mkdir(side_name) {
            Ok(()) => {}
            Err(e) if errno(&e) == libc::EEXIST => {}
            Err(e) => return Err(fs_error("mkdir", &display, &e)),
        }
        let side = parent.open_dir(side_name).map_err(|e| {
            let mut err = fs_error("open sidecar directory", &display, &e);
            // Absent right after our mkdir said it exists: another client made it a moment
            // ago and this client has not caught up (GlusterFS); srwl_open tries again.
            err.transient |= errno(&e) == libc::ENOENT;
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
        let sub_path = |s: &CStr| format!("{display}/{}", s.to_string_lossy());
        match side.mkdir(QUEUE) {
            Ok(()) => {}
            Err(e) if errno(&e) == libc::EEXIST => {}
            Err(e) => return Err(fs_error("mkdir", &sub_path(QUEUE), &e)),
        }
        let queue = side.open_dir(QUEUE).map_err(|e| {
            let mut err = fs_error("open", &sub_path(QUEUE), &e);
            // As for the sidecar: Q is never removed, so ENOENT after mkdir is a cache
            // that has not caught up (GlusterFS); srwl_open tries again.
            err.transient |= errno(&e) == libc::ENOENT;
            err
        })?;
        let st = queue
            .fstat()
            .map_err(|e| fs_error("fstat", &sub_path(QUEUE), &e))?;
        if st.uid != euid {
            return Err(Error::new(
                Status::SRWL_EUNSAFE,
                format!(
                    "open {}: owned by uid {}, not {euid}",
                    sub_path(QUEUE),
                    st.uid
                ),
            ));
        }
        // The room may be absent (a writer holds the lock); a symlink or a file there is not.
        match side.stat(ROOM) {
            Ok(st) if st.kind != Kind::Dir => {
                return Err(Error::new(
                    Status::SRWL_EUNSAFE,
                    format!(
                        "open {}: not a directory (a {}); refusing to use it",
                        sub_path(ROOM),
                        if st.kind == Kind::Symlink {
                            "symlink"
                        } else {
                            "file"
                        }
                    ),
                ))
            }
            Ok(st) if st.uid != euid => {
                return Err(Error::new(
                    Status::SRWL_EUNSAFE,
                    format!(
                        "open {}: owned by uid {}, not {euid}",
                        sub_path(ROOM),
                        st.uid
                    ),
                ))
            }
            _ => {}
        }
        let mut disk = Disk {
            side: Arc::new(side),
            queue,
            room: None,
            gen_guess: None,
            baton_len: None,
            display,
            params,
            tickets: Vec::with_capacity(16),
            list_buf: Vec::new(),
            read_buf: Vec::with_capacity(fs::READ_CAP + 1),
            names: Vec::new(),
            observer: Observer::default(),
            evictor_token: Token::random(),
            writer_token: Token::random(),
            template: None,
            no_links: false,
            last_room_scan: None,
            last_queue_scan: None,
            last_orphan_scan: None,
            watch: None,
            queue_wd: -1,
            watch_tried: false,
            watched_room: None,
        };
        disk.initialise()?;
        disk.tidy_templates();
        Ok(disk)
    }

    /// Creates the baton if this lock has never had one. `link(t.<me>, init)` elects exactly
    /// one creator, ever (`init` is never removed); the elected process then moves its file
    /// into the room as `baton.0`. A creator that dies in between leaves the baton at
    /// `t.<token>`, where waiters find it (`recover_orphan_baton`).
    fn initialise(&mut self) -> Result<()> {
        match self.side.stat(INIT) {
            Ok(st) if st.kind == Kind::File => return Ok(()),
            Ok(_) => {
                return Err(Error::new(
                    Status::SRWL_EUNSAFE,
                    format!(
                        "open {}: not a regular file (a symlink, directory or FIFO is there); refusing to use it",
                        self.path(b"init")
                    ),
                ))
            }
            Err(e) if errno(&e) == libc::ENOENT => {}
            Err(e) => return Err(fs_error("stat", &self.path(b"init"), &e)),
        }
        let me = Token::random();
        let tmp = transit_name(&me);
        let rec = self.record(Role::Write, me);
        rec.encode(&mut self.read_buf);
        self.side
            .create_excl(tmp.as_cstr(), &self.read_buf)
            .map_err(|e| fs_error("create", &self.path(tmp.as_bytes()), &e))?;
        let linked = match self.side.link(tmp.as_cstr(), INIT) {
            // A link reported as failed may have happened (sshfs answers EPERM, turned into
            // EEXIST by fs.rs): `init` holding our own record's bytes is our link. Compared by
            // content, not inode: sshfs invents inode numbers.
            Err(e) if errno(&e) == libc::EEXIST => {
                let ours = std::mem::take(&mut self.read_buf);
                let mut found = Vec::new();
                let same = self.side.read_small(INIT, &mut found).is_ok() && found == ours;
                self.read_buf = ours;
                if same {
                    Ok(())
                } else {
                    Err(e)
                }
            }
            r => r,
        };
        match linked {
            Ok(()) => {}
            Err(e) if errno(&e) == libc::EEXIST => {
                let _ = self.side.unlink(tmp.as_cstr());
                return Ok(());
            }
            Err(e) => {
                let _ = self.side.unlink(tmp.as_cstr());
                return Err(fs_error(
                    "link (hard links are needed once, to initialise the lock)",
                    &self.path(b"init"),
                    &e,
                ));
            }
        }
        let mut tries = 0;
        loop {
            let r = self.open_room(true).and_then(|room| {
                self.side
                    .rename(tmp.as_cstr(), &room, Baton::resting_name(0).as_cstr())
                    .map_err(|e| fs_error("rename", &self.path(tmp.as_bytes()), &e))
            });
            match r {
                Ok(()) => {
                    self.gen_guess = Some(0);
                    return Ok(());
                }
                Err(e) if tries < 50 && (e.transient || e.status == Status::SRWL_EIO) => {
                    tries += 1;
                    self.drop_room();
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn path(&self, rel: &[u8]) -> String {
        format!("{}/{}", self.display, String::from_utf8_lossy(rel))
    }

    fn qpath(&self, name: &[u8]) -> String {
        self.path(&[b"Q/", name].concat())
    }

    /// A record of ours. Its first nonce comes from the token (random already; no second
    /// getrandom per acquire); every heartbeat increments it.
    pub fn record(&self, role: Role, token: Token) -> Record {
        Record {
            role,
            token,
            pid: fs::getpid(),
            host: self.params.host.clone(),
            lease_ms: self.params.lease_ms,
            nonce: nonce_of(&token),
        }
    }

    /// The token of this handle's held batons (see `writer_token`).
    pub fn writer_token(&self) -> Token {
        self.writer_token
    }

    /// The record of a write hold: the handle's writer token, and a first nonce from the
    /// hold's own random token, so that the first heartbeat of a hold always changes the
    /// baton's bytes, even when the take wrote nothing.
    pub fn writer_record(&self, hold: &Token) -> Record {
        Record {
            nonce: nonce_of(hold),
            ..self.record(Role::Write, self.writer_token)
        }
    }

    // ---- the queue -------------------------------------------------------------------------

    /// Lists the queue (a hint): tickets and claims ordered by key, the largest seq seen, and
    /// whether anyone holds the baton.
    pub fn list_queue(&mut self) -> Result<QueueView<'_>> {
        let mut tickets = std::mem::take(&mut self.tickets);
        tickets.clear();
        let mut max_seq = 0u64;
        let mut baton_held = false;
        let mut held_gen = None;
        // A hint: one batch is enough unless it may have been cut short (through GlusterFS a
        // batch holds at most 33 entries). A missed entry only reorders or delays.
        let r = self.queue.list_until(
            &mut self.list_buf,
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
        self.tickets = tickets;
        r.map_err(|e| fs_error("list", &self.path(b"Q"), &e))?;
        // A held baton goes back to the room under the generation in its name: the best guess
        // for our next take (a waiter that guessed from its own last hold would try a name that
        // is long gone, and pay a failed rename and a listing of the room for it).
        if held_gen.is_some() {
            self.gen_guess = held_gen;
        }
        self.tickets.sort_by_key(|t| t.key());
        Ok(QueueView {
            tickets: &self.tickets,
            max_seq,
            baton_held,
        })
    }

    /// Publishes a place in the queue: a reader ticket `Q/r.<seq>.<token>` or a writer claim
    /// `Q/w.<seq>.<token>`, a file holding our record.
    pub fn enqueue(&mut self, ticket: &Ticket, rec: &Record) -> Result<()> {
        let name = ticket.name();
        rec.encode(&mut self.read_buf);
        self.queue
            .create_excl(name.as_cstr(), &self.read_buf)
            .map_err(|e| fs_error("create", &self.qpath(name.as_bytes()), &e))
    }

    /// Refreshes our ticket or claim; false if it was evicted.
    pub fn refresh_place(&mut self, ticket: &Ticket, rec: &mut Record) -> Result<bool> {
        rec.nonce = rec.nonce.wrapping_add(1);
        rec.encode(&mut self.read_buf);
        let name = ticket.name();
        match self.queue.rewrite(name.as_cstr(), &self.read_buf) {
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

    // ---- the room ----------------------------------------------------------------------------

    /// Forgets the cached room handle: the field is cleared before the descriptor is closed,
    /// so that a fork in between never leaves a child a closed descriptor marked open.
    fn drop_room(&mut self) {
        let old = self.room.take();
        drop(old);
    }

    /// Opens the room by name (a fresh handle). With `create`, makes it first if it is absent
    /// (EEXIST is fine: an `R` without a baton is harmless). ENOENT without `create`: no room.
    fn open_room(&mut self, create: bool) -> Result<Arc<Dir>> {
        if create {
            match self.side.mkdir(ROOM) {
                Ok(()) => {}
                Err(e) if errno(&e) == libc::EEXIST => {}
                Err(e) => return Err(fs_error("mkdir", &self.path(b"R"), &e)),
            }
        }
        let room = self.side.open_dir(ROOM).map_err(|e| {
            let mut err = fs_error("open", &self.path(b"R"), &e);
            // Absent right after our mkdir: another process removed it (a grant); try again.
            err.transient |= errno(&e) == libc::ENOENT;
            err
        })?;
        let room = Arc::new(room);
        self.drop_room();
        self.room = Some(room.clone());
        Ok(room)
    }

    /// The cached room handle, or a fresh one; None if there is no room (a writer holds).
    fn room(&mut self) -> Result<Option<Arc<Dir>>> {
        if let Some(r) = &self.room {
            return Ok(Some(r.clone()));
        }
        match self.open_room(false) {
            Ok(r) => Ok(Some(r)),
            Err(_) if matches!(self.side.stat(ROOM), Err(ref e) if errno(e) == libc::ENOENT) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Reader entry: create our record through the room handle, THEN look in ONE listing
    /// through the same handle: granted only if it shows our own record and the baton. Either
    /// a writer took the baton before our listing (we do not see it) or after our record was
    /// created (its rmdir of the room fails while our record is there): no third ordering.
    pub fn enter_room(&mut self, token: &Token, rec: &Record) -> Result<Entry> {
        let name = record_name(Role::Read, token);
        let mut buf = std::mem::take(&mut self.read_buf);
        rec.encode(&mut buf);
        let r = self.create_in_room(&name, &buf);
        self.read_buf = buf;
        if r.is_err() {
            // The link may have happened although it reported an error.
            self.retire_template();
        }
        let Some(room) = r? else {
            return Ok(Entry::Shut);
        };
        // The listing vouches for itself: our never-reused name in it means it was taken after
        // our create, in the room that holds our record, which cannot be removed while it does.
        // A batch of a listing is not the whole listing (see Dir::list).
        // The grant needs positive evidence only (our record and the baton): a listing cut
        // short can hide them and delay us, never grant us wrongly, so it may stop as soon as
        // both were seen.
        let (own, odd, gen) = (Cell::new(false), Cell::new(false), Cell::new(None));
        let listed = room.list_until(
            &mut self.list_buf,
            |n, file| {
                if n == name.as_bytes() {
                    // A hard link of a template replaced by a symlink or FIFO is not ours.
                    if file {
                        own.set(true);
                    } else {
                        odd.set(true);
                    }
                }
                if let Some(g) = Baton::parse_resting(n).filter(|_| file) {
                    gen.set(Some(g));
                }
            },
            |_| own.get() && gen.get().is_some(),
        );
        let (own, odd, gen) = (own.get(), odd.get(), gen.get());
        if listed.is_ok() && own {
            if let Some(g) = gen {
                self.gen_guess = Some(g);
                return Ok(Entry::Entered(g));
            }
        }
        let removed = (own || odd || listed.is_err()) && room.unlink(name.as_cstr()).is_ok();
        if !removed {
            // The handle may name a removed room while our record sits in the current one
            // (GlusterFS: a create lands there, an unlink through the handle fails): remove it
            // by path, so that a stray record does not keep writers out.
            self.drop_room();
            self.discard_read_record(token);
        }
        if !removed || odd {
            self.retire_template();
        }
        Ok(Entry::Shut)
    }

    /// Makes our record `name` holding `data` in the room: a hard link of this handle's
    /// template (see `Template`), or an exclusive create where hard links do not work. None if
    /// there is no room.
    fn create_in_room(&mut self, name: &Name, data: &[u8]) -> Result<Option<Arc<Dir>>> {
        let mut attempt = 0;
        loop {
            let Some(room) = self.room()? else {
                return Ok(None);
            };
            let linked = self.template_ready(data);
            let r = match &self.template {
                Some(t) if linked => self.side.link_into(t.name.as_cstr(), &room, name.as_cstr()),
                _ => room.create_excl(name.as_cstr(), data),
            };
            match r {
                Ok(()) => return Ok(Some(room)),
                // A create may report an error and still have happened: the retry finds our
                // own unique name (EEXIST on a fresh 128-bit random name), which is success.
                Err(e) if errno(&e) == libc::EEXIST => {
                    if !linked {
                        let _ = room.rewrite(name.as_cstr(), data);
                    }
                    return Ok(Some(room));
                }
                Err(e) if linked && link_unsupported(&e) => {
                    self.no_links = true;
                    self.retire_template();
                }
                // The room was removed under our handle (a writer's grant), or our template's
                // name is gone (removed by a tidy-up that guessed wrong, or by hand). A stat
                // cannot tell which: a GlusterFS client answers a stat of a file that another
                // client removed from its cache. So reopen the room first and, if the link
                // fails again, make a new template too.
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) && attempt < 4 => {
                    self.drop_room();
                    if linked && attempt > 0 {
                        self.retire_template();
                    }
                    attempt += 1;
                    if errno(&e) == libc::ESTALE {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) => {
                    self.drop_room();
                    return Ok(None);
                }
                Err(e) => {
                    return Err(fs_error(
                        if linked { "link" } else { "create" },
                        &self.path(&[b"R/", name.as_bytes()].concat()),
                        &e,
                    ))
                }
            }
        }
    }

    /// Makes this handle's template hold `data`, creating the template if there is none;
    /// false if reader records must be created as files instead.
    fn template_ready(&mut self, data: &[u8]) -> bool {
        if self.no_links {
            return false;
        }
        if let Some(t) = &self.template {
            if fs::write_all_at(t.fd.as_raw_fd(), data).is_ok() {
                return true;
            }
            self.retire_template();
        }
        let name = template_name(&Token::random(), fs::getpid(), &self.params.host);
        match self.side.create_excl_open(name.as_cstr(), data) {
            Ok(fd) => {
                self.template = Some(Template { name, fd });
                true
            }
            Err(_) => false,
        }
    }

    /// Stops using this handle's template: closes it, then removes its name (closed first: on
    /// NFS, unlinking a file that this client has open renames it instead). Called whenever a
    /// record linked from it may have been left behind (an unlink that failed or was not
    /// confirmed): such a stray shares the template's inode, and every later rewrite of the
    /// template would keep it looking alive to the evictors. Retired, it never changes again
    /// and is evicted like any dead record.
    fn retire_template(&mut self) {
        if let Some(t) = self.template.take() {
            if self.side.reopens_to_list() {
                // A FUSE filesystem built on the high-level libfuse (sshfs): the kernel sends
                // the release of a closed file asynchronously, and an unlink that libfuse sees
                // before it renames the file to `.fuse_hidden*`, which a release racing with
                // that rename then never removes (left in the sidecar on sshfs). Unlinked while
                // still open, it is renamed for sure, and removed by our close's release.
                let _ = self.side.unlink(t.name.as_cstr());
                drop(t.fd);
                return;
            }
            drop(t.fd);
            let _ = self.side.unlink(t.name.as_cstr());
        }
    }

    /// Removes the templates left by dead processes on this host: its name says this host,
    /// and its pid no longer exists here. Removing a template never harms its owner, so a
    /// wrong guess (another pid namespace under the same host name) costs that handle one
    /// create. A dead process's template that bears our own pid is left to the next open by
    /// another process; templates of other hosts to those hosts' next open. One listing per
    /// open.
    fn tidy_templates(&mut self) {
        let mut names = std::mem::take(&mut self.names);
        names.clear();
        let host = self.params.host.as_bytes();
        let me = fs::getpid();
        let _ = self.side.list(&mut self.list_buf, |n| {
            if let Some((_, pid, h)) = parse_template(n) {
                if h == host && pid != me && fs::process_gone(pid) {
                    names.push(n.to_vec());
                }
            }
        });
        for n in names.iter() {
            let _ = self.side.unlink(Name::from_bytes(&[n]).as_cstr());
        }
        self.names = names;
    }

    pub fn read_record_path(token: &Token) -> Name {
        let mut n = Name::from_bytes(&[b"R/"]);
        n.push(record_name(Role::Read, token).as_bytes());
        n
    }

    /// Our baton relative to the sidecar while we hold it: `Q/b.<gen>.<token>`.
    pub fn baton_path(gen: u64, token: &Token) -> Name {
        let mut n = Name::from_bytes(&[b"Q/"]);
        n.push(Baton::held_name(gen, token).as_bytes());
        n
    }

    /// Removes a reader record that a failed acquire may have left (a create that reported an
    /// error and still happened). Best effort; the name is unique.
    pub fn discard_read_record(&mut self, token: &Token) {
        let _ = self.side.unlink(Self::read_record_path(token).as_cstr());
    }

    /// Reader release: unlink our record by its unique name. False if it was already gone
    /// and we were evicted. A record found gone although we wrote it less than half a
    /// threshold ago (`written`) was not evicted: our own unlink removed it and reported an
    /// error (a GlusterFS client answered ENOENT through a handle on a removed room).
    pub fn release_read(&mut self, token: &Token, written: Instant) -> Result<bool> {
        let name = record_name(Role::Read, token);
        let mut tries = 0;
        let mut gone = Absence::new();
        let mut fresh_when_missed = None;
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
                    // Freshness is judged when the absence is first seen, not after the wait.
                    let fresh = *fresh_when_missed.get_or_insert_with(|| self.fresh(written));
                    if gone.confirmed() {
                        return Ok(fresh);
                    }
                }
                Err(e) if errno(&e) == libc::ESTALE && tries < 100 => {
                    tries += 1;
                    self.drop_room();
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    // Our record may still be there: a stray link of the template.
                    self.retire_template();
                    return Err(fs_error(
                        "unlink",
                        &self.path(Self::read_record_path(token).as_bytes()),
                        &e,
                    ));
                }
            }
        }
    }

    // ---- the baton ---------------------------------------------------------------------------

    /// Takes the baton from the room: `rename(R/baton.<g>, Q/b.<g+1>.<token>)`, then writes our
    /// record into it unless it still holds it (`took`). Only one of any number of concurrent takers succeeds; the baton stays
    /// one file. `g` is our guess (the last generation seen); a wrong guess costs a listing.
    pub fn take_baton(&mut self, token: &Token, rec: &Record) -> Result<Take> {
        // With a guess, by path first: no room handle to open (every write cycle replaces
        // the room, so a handle kept from the last cycle names a removed room).
        if let Some(g) = self.gen_guess {
            let gen = g.saturating_add(1);
            let held = Baton::held_name(gen, token);
            let resting = in_room(&Baton::resting_name(g));
            match self
                .side
                .rename(resting.as_cstr(), &self.queue, held.as_cstr())
            {
                Ok(()) => return self.took(gen, &held, rec),
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) => {
                    if self.queue.stat(held.as_cstr()).is_ok() {
                        return self.took(gen, &held, rec);
                    }
                    self.gen_guess = None;
                    self.drop_room();
                }
                Err(e) => {
                    return Err(fs_error(
                        "rename",
                        &format!(
                            "{} to {}",
                            self.path(resting.as_bytes()),
                            self.qpath(held.as_bytes())
                        ),
                        &e,
                    ))
                }
            }
        }
        for _ in 0..2 {
            // Through a fresh handle (the cached one may name a removed room, whose listing
            // is empty), with the name a listing shows.
            let Some(room) = self.room()? else {
                return Ok(Take::NotThere);
            };
            let Some(g) = self.resting_gen(&room)? else {
                self.drop_room();
                continue;
            };
            let gen = g.saturating_add(1);
            let held = Baton::held_name(gen, token);
            match room.rename(
                Baton::resting_name(g).as_cstr(),
                &self.queue,
                held.as_cstr(),
            ) {
                Ok(()) => return self.took(gen, &held, rec),
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) => {
                    // A rename can report an error and still have happened (a network client
                    // that retried it): then the baton is ours under our unique name.
                    if self.queue.stat(held.as_cstr()).is_ok() {
                        return self.took(gen, &held, rec);
                    }
                    self.gen_guess = None;
                    self.drop_room();
                }
                Err(e) => {
                    return Err(fs_error(
                        "rename",
                        &format!(
                            "{} to {}",
                            self.path(&[b"R/", Baton::resting_name(g).as_bytes()].concat()),
                            self.qpath(held.as_bytes())
                        ),
                        &e,
                    ))
                }
            }
        }
        Ok(Take::NotThere)
    }

    fn took(&mut self, gen: u64, held: &Name, rec: &Record) -> Result<Take> {
        rec.encode(&mut self.read_buf);
        // Only a take moves the baton to a new generation, and only the taker writes it: if
        // we took generation gen - 1 ourselves, the baton still holds the record we wrote then
        // (our writer token, lease, pid and host; only its nonce differs, and our first
        // heartbeat changes that), so nothing needs writing. That saves three syscalls, and
        // three round trips on a network filesystem, per uncontended write cycle.
        let len = self.read_buf.len();
        let ours = self.baton_len == Some((gen.wrapping_sub(1), len));
        self.baton_len = None;
        if !ours {
            if let Err(e) = self.queue.overwrite(held.as_cstr(), &self.read_buf, true) {
                // Without our record an observer would judge us by the previous holder's
                // lease: hand the baton back rather than hold it unrecorded.
                let err = fs_error("write", &self.qpath(held.as_bytes()), &e);
                let _ = self.give_back_name(gen, held, Instant::now());
                return Err(err);
            }
        }
        self.gen_guess = Some(gen);
        self.baton_len = Some((gen, len));
        Ok(Take::Taken(gen))
    }

    /// The generation of the baton resting in `room`, from a listing; None if it is not there.
    fn resting_gen(&mut self, room: &Dir) -> Result<Option<u64>> {
        let mut gen = None;
        match room.list_typed(&mut self.list_buf, |n, file| {
            if let Some(g) = Baton::parse_resting(n).filter(|_| file) {
                gen = Some(gen.map_or(g, |o: u64| o.max(g)));
            }
        }) {
            Ok(()) => Ok(gen),
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) => {
                self.drop_room();
                Ok(None)
            }
            Err(e) => Err(fs_error("list", &self.path(b"R"), &e)),
        }
    }

    /// The baton holder closes the room: `rmdir(R)`, which the server refuses while anything
    /// is inside. A grant rests on our own successful rmdir made after our take: an ENOENT may
    /// come from a client's cache, so an absent room is made and removed again.
    pub fn close_room(&mut self) -> Result<Close> {
        self.drop_room();
        for _ in 0..2 {
            match self.side.rmdir(ROOM) {
                Ok(()) => return Ok(Close::Granted),
                Err(e) if matches!(errno(&e), libc::ENOTEMPTY | libc::EEXIST | libc::EBUSY) => {
                    return Ok(Close::Occupied)
                }
                Err(e) if errno(&e) == libc::ENOENT => match self.side.mkdir(ROOM) {
                    Ok(()) => {}
                    Err(e) if errno(&e) == libc::EEXIST => {}
                    Err(e) => return Err(fs_error("mkdir", &self.path(b"R"), &e)),
                },
                Err(e) => return Err(fs_error("rmdir", &self.path(b"R"), &e)),
            }
        }
        Ok(Close::Occupied)
    }

    /// Writer release (also: giving the baton back after a timeout): make the room if it is
    /// absent, then rename the baton into it, `Q/b.<gen>.<token>` to `R/baton.<gen>`. False if
    /// our baton was gone: an evictor took it over (we were stopped past the threshold), and
    /// then nothing else is touched.
    pub fn give_back(&mut self, gen: u64, token: &Token, written: Instant) -> Result<bool> {
        self.give_back_name(gen, &Baton::held_name(gen, token), written)
    }

    fn give_back_name(&mut self, gen: u64, held: &Name, written: Instant) -> Result<bool> {
        let resting = Baton::resting_name(gen);
        let mut tries = 0;
        let mut gone = Absence::new();
        let mut fresh_when_missed = None;
        let resting_path = in_room(&resting);
        loop {
            // By path: the room our grant removed is made again and the baton renamed into
            // whatever `R` is now; no handle on the new room is opened for it.
            let r = match self.side.mkdir(ROOM) {
                Err(e) if errno(&e) != libc::EEXIST => Err(fs_error("mkdir", &self.path(b"R"), &e)),
                _ => self
                    .queue
                    .rename(held.as_cstr(), &self.side, resting_path.as_cstr())
                    .map_err(|e| fs_error("rename", &self.qpath(held.as_bytes()), &e)),
            };
            let err = match r {
                Ok(()) => {
                    self.gen_guess = Some(gen);
                    return Ok(true);
                }
                Err(e) => e,
            };
            // Is our baton still ours? If so the failure was about the room (removed under
            // us, or ESTALE): try again. If not, either the rename happened after all (the
            // baton rests in the room) or an evictor took it over.
            match self.queue.stat(held.as_cstr()) {
                Ok(_) => {
                    if !(err.transient || err.status == Status::SRWL_EIO) || tries >= 100 {
                        return Err(err);
                    }
                    tries += 1;
                    self.drop_room();
                    std::thread::sleep(Duration::from_millis(if tries < 5 { 1 } else { 50 }));
                }
                Err(_) => {
                    if self.side.stat(resting_path.as_cstr()).is_ok() {
                        self.gen_guess = Some(gen);
                        return Ok(true);
                    }
                    let fresh = *fresh_when_missed.get_or_insert_with(|| self.fresh(written));
                    if gone.confirmed() {
                        return Ok(fresh);
                    }
                    self.drop_room();
                }
            }
        }
    }

    /// Whether bytes we wrote at `written` are too recent for any observer to have judged them
    /// dead: observers evict only what they saw unchanged for the stale threshold, on their
    /// own clock, after we wrote it. Half the threshold leaves room for clock rate drift.
    pub fn fresh(&self, written: Instant) -> bool {
        written.elapsed() < self.params.stale / 2
    }

    /// Whether our baton is still ours, checked right after the grant: a writer stopped
    /// between its take and its rmdir may have been taken over meanwhile; its grant would then
    /// be a zombie's (its generation is smaller than its successor's, so fencing refuses it),
    /// and it is reported lost rather than granted.
    pub fn baton_still_ours(&self, gen: u64, token: &Token, written: Instant) -> bool {
        self.fresh(written) || Self::record_exists(&self.side, &Self::baton_path(gen, token))
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

    /// The generation of the baton resting in the room now (for a tool, or a reader's
    /// `srwl_generation` when its entry listing was not kept): a hint.
    pub fn current_generation(&mut self) -> Result<Option<u64>> {
        match self.room()? {
            Some(room) => self.resting_gen(&room),
            None => Ok(None),
        }
    }

    // ---- waiting -----------------------------------------------------------------------------

    /// Sleeps up to `d`, waking early when a process on this host makes a change that can
    /// unblock us: with `room`, a reader leaving the room; in the queue, the last entry ahead
    /// of us leaving (of those the last listing showed: tickets and claims with a key below
    /// `mine`, or all if we have none; only writers' claims with `writers_only`), or, once
    /// none is ahead, the held baton leaving. Other changes (a claim behind us, or one ahead
    /// while others remain) wake no one: with many waiters on one host, each would otherwise
    /// list the queue at every change. Returns true if woken. Without inotify this is a plain
    /// sleep. A wakeup is only a hint: a missed one costs a poll step.
    pub fn wait_for_change(
        &mut self,
        d: Duration,
        room: bool,
        mine: Option<(u64, Token)>,
        writers_only: bool,
    ) -> bool {
        if !self.watch_tried {
            self.watch_tried = true;
            self.watch = Watch::new().ok().and_then(|w| {
                self.queue_wd = w.add(&self.queue).ok()?;
                Some(w)
            });
        }
        let Some(watch) = &self.watch else {
            std::thread::sleep(d);
            return false;
        };
        if room {
            // The room is a new inode after every write cycle: watch the current one.
            if let Ok(r) = self.side.open_dir(ROOM) {
                if let Ok(st) = r.fstat() {
                    if self.watched_room != Some((st.dev, st.ino)) && watch.add(&r).is_ok() {
                        self.watched_room = Some((st.dev, st.ino));
                    }
                }
            }
        }
        let blocks = |t: &Ticket| {
            mine.is_none_or(|m| t.key() < m) && (!writers_only || t.kind == TicketKind::Writer)
        };
        let mut ahead = self.tickets.iter().filter(|t| blocks(t)).count();
        let queue_wd = self.queue_wd;
        watch.wait(d, |wd, name| {
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

    // ---- eviction ----------------------------------------------------------------------------

    fn threshold_for(&self, bytes: &[u8]) -> Duration {
        let own = self.params.stale;
        match Record::parse(bytes) {
            Some(r) => own.max(Duration::from_millis(r.lease_ms)),
            None => own,
        }
    }

    /// Removes an entry judged dead, in place: a file by unlink, a directory (a leftover) by
    /// removing what it holds, two levels deep at most. Never a rename of a directory.
    fn evict_entry(dir: &Dir, name: &[u8]) {
        let n = Name::from_bytes(&[name]);
        remove_tree(dir, n.as_cstr(), 2);
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
            Some(bytes) => {
                let age = self.observer.observe(key, &bytes, now);
                Some((age, self.threshold_for(&bytes)))
            }
            None => {
                self.observer.forget(key);
                None
            }
        }
    }

    /// Scans the room (run by the baton holder while readers keep it from closing): evicts
    /// reader records and leftovers that have not changed for the stale threshold. A resting
    /// baton is never touched.
    pub fn scan_room(&mut self) -> Result<()> {
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
        let listed = room
            .list(&mut self.list_buf, |n| names.push(n.to_vec()))
            .map_err(|e| fs_error("list", &self.path(b"R"), &e));
        if listed.is_ok() {
            for name in names.iter() {
                if Baton::parse_resting(name).is_some() {
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
                        self.observer.forget(&key);
                    }
                }
            }
        }
        self.names = names;
        self.observer.prune(now, self.params.stale * 2);
        listed
    }

    /// True if a scan ran less than stale/8 ago; otherwise records that one runs now.
    fn throttled(last: &mut Option<Instant>, now: Instant, stale: Duration) -> bool {
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
        if Self::throttled(&mut self.last_queue_scan, now, self.params.stale) {
            return Ok(());
        }
        let mut names = std::mem::take(&mut self.names);
        names.clear();
        let listed = self
            .queue
            .list(&mut self.list_buf, |n| names.push(n.to_vec()))
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
                let key = [b"Q/", name.as_slice()].concat();
                let Some(bytes) = self.snapshot(queue, name) else {
                    self.observer.forget(&key);
                    continue;
                };
                let age = self.observer.observe(&key, &bytes, now);
                if age < self.threshold_for(&bytes) {
                    continue;
                }
                self.observer.forget(&key);
                // Only a regular file can be the baton (snapshot marks anything else as
                // unreadable): a symlink, FIFO or directory under a baton's name is junk.
                let regular = !bytes.starts_with(b"\0unreadable");
                match Baton::parse_held(name) {
                    Some((gen, holder)) if regular && holder != self.evictor_token => {
                        self.take_over(gen, name)
                    }
                    Some(_) if regular => {}
                    _ => Self::evict_entry(queue, name),
                }
            }
        }
        self.names = names;
        listed
    }

    /// Takes over the baton of a holder judged dead, `rename(Q/b.<gen>.<dead>,
    /// Q/b.<gen>.<us>)` (one evictor wins; the dead holder's later rename or heartbeat finds
    /// its name gone), and hands it back to the room. If the dead holder was closing the room,
    /// its readers are still inside and the baton goes back to them; if it was inside, the
    /// room is made again.
    fn take_over(&mut self, gen: u64, name: &[u8]) {
        let from = Name::from_bytes(&[name]);
        let ours = Baton::held_name(gen, &self.evictor_token);
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
        if Self::throttled(&mut self.last_orphan_scan, now, self.params.stale * 2) {
            return Ok(());
        }
        let init = match self.side.stat(INIT) {
            Ok(st) if st.kind == Kind::File => st,
            _ => return Ok(()),
        };
        let mut names = std::mem::take(&mut self.names);
        names.clear();
        let listed = self
            .side
            .list(&mut self.list_buf, |n| {
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
                let ours = Baton::held_name(0, &self.evictor_token);
                if self
                    .side
                    .rename(n.as_cstr(), &self.queue, ours.as_cstr())
                    .is_ok()
                {
                    let _ = self.give_back_name(0, &ours, Instant::now());
                }
            }
        }
        self.names = names;
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

/// What linkat reports on filesystems (or mounts) where hard links cannot be made.
fn link_unsupported(e: &io::Error) -> bool {
    matches!(
        errno(e),
        libc::EXDEV | libc::EPERM | libc::EMLINK | libc::ENOSYS | libc::EOPNOTSUPP
    )
}

impl Drop for Disk {
    /// srwl_close: the handle's template goes with it. (A handle inherited across fork is
    /// never dropped: the parent still uses the template.)
    fn drop(&mut self) {
        self.retire_template();
    }
}

/// A record's first nonce, from the first 16 hex digits of a random token (no second
/// getrandom per acquire).
fn nonce_of(token: &Token) -> u64 {
    token.as_bytes()[..16].iter().fold(0u64, |n, &c| {
        (n << 4) | u64::from((c as char).to_digit(16).unwrap_or(0))
    })
}

/// `R/<name>`, relative to the sidecar: resolved by the file server when used, so that no
/// handle on the room (which every write cycle replaces) needs to be opened for it.
fn in_room(name: &Name) -> Name {
    Name::from_bytes(&[b"R/", name.as_bytes()])
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

/// Used by tests and tools: validates a record read from disk.
pub fn parse_room_entry(name: &[u8]) -> Option<(Role, Token)> {
    parse_record_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

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
