//! Reading a lock's state for people (`softrwlock status`): who holds, who waits, what is
//! left over or planted, and whether each record is alive. Nothing is changed on disk.
//!
//! The srwl/2 state it reads, in `PATH.srwl/`: the room `R/` (absent while a writer holds;
//! `R/baton.<gen>` in it while it is open to readers; reader records `R/r.<token>`), the queue
//! `Q/` (reader tickets `r.<seq>.<token>`, writer claims `w.<seq>.<token>`, and the held baton
//! `b.<gen>.<token>`, whose content is its holder's record), `init` (a second name of the
//! baton's file) and, rarely, `t.<token>` (a baton being created). The baton is the one file
//! that is only ever renamed: where it is tells who holds, the number in its name is the
//! generation. It can move between our listings of `R` and `Q`; then we look again.
//!
//! Everything is read through the library's directory handles (O_NOFOLLOW, O_NONBLOCK, at most
//! 513 bytes of a regular file), so a planted symlink, FIFO, oversized or binary file is shown
//! as such and never followed, blocked on or trusted.
//!
//! Liveness is judged the way the library judges it: a live holder's heartbeat rewrites its
//! record, so each record is read twice, `sample` seconds apart, on this host's monotonic
//! clock. A record's mtime compared with this host's clock is kept as well, as a hint: it
//! mixes the file server's clock with ours.

use std::ffi::CString;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::fs::{describe, Dir, Kind};
use crate::protocol::{sidecar_of, INIT, QUEUE, ROOM};
use crate::record::{
    parse_reader_record_name, parse_template, parse_transit, Baton, Record, Role, Ticket,
    TicketKind, Token,
};

/// What an entry is (the `role` of `softrwlock status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryRole {
    /// A reader's record in the room.
    Read,
    /// The held baton with its holder's record.
    Write,
    /// A reader's ticket in the queue.
    WaitingRead,
    /// A writer's claim in the queue.
    WaitingWrite,
    /// A handle's reader-record template.
    Template,
    /// An initialiser's file that is not the baton.
    Leftover,
    /// The baton in the sidecar at initialisation.
    Initialising,
    /// A held baton whose record names another process (taken over, or just taken).
    Evicting,
    /// A symlink, FIFO or directory where a record or directory belongs.
    Hostile,
    /// A name the protocol does not make.
    Unknown,
}

impl EntryRole {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryRole::Read => "read",
            EntryRole::Write => "write",
            EntryRole::WaitingRead => "waiting-read",
            EntryRole::WaitingWrite => "waiting-write",
            EntryRole::Template => "template",
            EntryRole::Leftover => "leftover",
            EntryRole::Initialising => "initialising",
            EntryRole::Evicting => "evicting",
            EntryRole::Hostile => "hostile",
            EntryRole::Unknown => "unknown",
        }
    }
}

/// What `inspect` found at a lock path.
pub enum Inspection {
    /// No lock state there (why, in words): the lock is free and was never used, or removed.
    Absent(String),
    State(Snapshot),
}

/// Why `inspect` could not read the state.
pub enum InspectError {
    /// The path is not a lock path (empty, names a directory, ...).
    BadPath(String),
    /// Reading failed (the message names what and the OS error).
    Read(String),
}

/// The whole state (number of holders and waiters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockState {
    Free,
    Read,
    Write,
}

impl LockState {
    pub fn as_str(self) -> &'static str {
        match self {
            LockState::Free => "free",
            LockState::Read => "read",
            LockState::Write => "write",
        }
    }
}

/// Reads the state of the lock at `path`: every entry, read twice `sample` seconds apart (0:
/// once) to tell live records from dead ones.
pub fn inspect(path: &[u8], sample: f64) -> Result<Inspection, InspectError> {
    let sidecar = sidecar_of(path, "status").map_err(|e| InspectError::BadPath(e.message))?;
    let parent_dir = match Dir::open_path(&sidecar.parent) {
        Ok(d) => d,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            return Ok(Inspection::Absent(format!(
                "its directory {} does not exist",
                sidecar.parent_display
            )))
        }
        Err(e) => {
            return Err(InspectError::Read(format!(
                "open directory {}: {}",
                sidecar.parent_display,
                describe(&e)
            )))
        }
    };
    let side = match parent_dir.open_dir(&sidecar.name) {
        Ok(d) => d,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            return Ok(Inspection::Absent(format!("no {}/", sidecar.display)))
        }
        Err(e) => return Err(InspectError::Read(format!("open: {}", why(&e)))),
    };
    let owner = side.fstat().ok().map(|s| s.uid);

    let side = Rc::new(side);
    // The baton moves while we look (a take between our listings of R and Q shows it twice, a
    // release between them nowhere): look again, a few times, until it is seen once.
    let mut scan = Snapshot::new();
    for attempt in 0..3 {
        scan = Snapshot::new();
        scan.scan_top(&side)
            .and_then(|_| scan.scan_room(&side))
            .and_then(|_| scan.scan_queue(&side))
            .map_err(InspectError::Read)?;
        if scan.batons.len() == 1 || matches!(scan.init, Init::Absent) || attempt == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    scan.owner = owner;
    let has_records = scan.entries.iter().any(|e| e.source.is_some());
    if has_records && sample > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(sample));
        scan.resample();
    }
    // The baton (the file init names) first.
    scan.batons.sort_by_key(|b| b.is_init != Some(true));
    scan.annotate();
    Ok(Inspection::State(scan))
}

/// At most this many entries of one directory are shown (a hostile directory can be huge).
const MAX_SHOWN: usize = 1000;

/// Escapes a file name for display: printable ASCII as is, anything else as \xNN.
pub fn escape_name(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b.iter().take(300) {
        if (0x21..0x7f).contains(&c) && c != b'\\' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    if b.len() > 300 {
        s.push_str("...");
    }
    s
}

fn cstr(b: &[u8]) -> Option<CString> {
    CString::new(b).ok()
}

/// A file whose bytes are sampled twice.
struct Source {
    dir: Rc<Dir>,
    name: CString,
    first: Vec<u8>,
}

pub struct Entry {
    pub role: EntryRole,
    /// Path relative to the sidecar, escaped for display.
    pub name: String,
    pub record: Option<Record>,
    pub seq: Option<u64>,
    pub problem: Option<String>,
    /// What a valid entry is doing (shown like a problem, but the entry stays valid).
    pub note: Option<String>,
    source: Option<Source>,
    /// After sampling: Some(true) changed, Some(false) unchanged, None not sampled.
    pub changing: Option<bool>,
    pub gone: bool,
    pub mtime_age: Option<f64>,
}

impl Entry {
    fn new(role: EntryRole, name: String) -> Entry {
        Entry {
            role,
            name,
            record: None,
            seq: None,
            problem: None,
            note: None,
            source: None,
            changing: None,
            gone: false,
            mtime_age: None,
        }
    }

    fn problem(role: EntryRole, name: String, why: impl Into<String>) -> Entry {
        let mut e = Entry::new(role, name);
        e.problem = Some(why.into());
        e
    }

    pub fn valid(&self) -> bool {
        !self.gone && self.problem.is_none() && self.record.is_some()
    }

    /// "pid P on H", from the record.
    pub fn who(&self) -> Option<String> {
        self.record
            .as_ref()
            .map(|r| format!("pid {} on {}", r.pid, r.host))
    }
}

/// What the room `R` is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// Not looked at (an error came first).
    Unknown,
    /// No `R`: removed by a write grant.
    Absent,
    /// `R` is a symlink or not a directory.
    Hostile,
    /// `R` is a directory.
    Present,
}

/// Where a baton was found.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum BatonPlace {
    /// `R/baton.<gen>`: at rest, the room is open.
    Room,
    /// `Q/b.<gen>.<token>`: held.
    Queue,
    /// `t.<token>`, a second name of `init`: being created, or orphaned at initialisation.
    Sidecar,
}

pub struct BatonSeen {
    pub place: BatonPlace,
    pub gen: u64,
    /// Path relative to the sidecar, escaped for display.
    pub name: String,
    /// Its entry (a held or orphaned baton: its content is a record).
    pub entry: Option<usize>,
    /// Whether it is the file `init` names (the baton is created once, as a second name of
    /// `init`, and only ever renamed); None if unknown.
    pub is_init: Option<bool>,
}

/// The init file: present once the lock has been initialised.
pub enum Init {
    Absent,
    /// A regular file: (dev, ino), the baton's inode.
    File(u64, u64),
    /// Something else, or unreadable.
    Bad,
}

impl Init {
    /// Whether `st` is the file init names.
    pub fn names(&self, st: &crate::fs::Stat) -> Option<bool> {
        match self {
            Init::File(dev, ino) => Some(st.kind == Kind::File && st.dev == *dev && st.ino == *ino),
            _ => None,
        }
    }
}

/// The state of a lock as one look saw it (see `inspect`).
pub struct Snapshot {
    /// Every entry of the sidecar, the room and the queue (at most MAX_SHOWN of each).
    pub entries: Vec<Entry>,
    pub room: Room,
    /// Every file named like the baton, the one `init` names first.
    pub batons: Vec<BatonSeen>,
    pub init: Init,
    /// Entries not shown because a directory held more than MAX_SHOWN.
    pub omitted: u64,
    /// The sidecar's owner.
    pub owner: Option<u32>,
    buf: Vec<u8>,
}

fn why(e: &std::io::Error) -> String {
    let hint = match e.raw_os_error() {
        Some(libc::ELOOP) => ": a symlink, not followed",
        Some(libc::ENOTDIR) => ": not a directory (or a symlink, not followed)",
        Some(libc::EINVAL) => ": not a regular file, not read",
        _ => "",
    };
    format!("{}{hint}", describe(e))
}

/// Age of a name's mtime by this host's clock (negative if in the future): a hint only.
fn mtime_age(dir: &Dir, name: &CString) -> Option<f64> {
    let mtime = dir.stat(name).ok()?.mtime;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some(now - mtime)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Snapshot {
    fn new() -> Snapshot {
        Snapshot {
            entries: Vec::new(),
            room: Room::Unknown,
            batons: Vec::new(),
            init: Init::Absent,
            omitted: 0,
            owner: None,
            buf: Vec::new(),
        }
    }

    /// Lists a directory: names (capped) and the total count.
    fn list(&mut self, dir: &Dir) -> std::io::Result<Vec<Vec<u8>>> {
        let mut names = Vec::new();
        let mut total = 0u64;
        dir.list(&mut self.buf, |n| {
            total += 1;
            if names.len() < MAX_SHOWN {
                names.push(n.to_vec());
            }
        })?;
        names.sort();
        self.omitted += total - names.len() as u64;
        Ok(names)
    }

    /// Reads a record file and checks it against what its name says it is.
    fn record_entry(
        &mut self,
        role: EntryRole,
        display: String,
        dir: &Rc<Dir>,
        name: &[u8],
        want: Role,
        // The token the record must name (that of its file name); None: any (a template holds
        // the record of its handle's last read hold).
        token: Option<&[u8]>,
    ) -> Entry {
        let mut e = Entry::new(role, display);
        let Some(c) = cstr(name) else {
            return Entry::problem(EntryRole::Unknown, e.name, "name with a NUL byte");
        };
        let mut bytes = Vec::new();
        match dir.read_small(&c, &mut bytes) {
            Ok(()) => {}
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {
                e.gone = true;
                e.problem = Some("gone while reading (released, moved or evicted)".into());
                return e;
            }
            Err(err) => {
                e.problem = Some(format!("unreadable: {}", why(&err)));
                e.mtime_age = mtime_age(dir, &c);
                return e;
            }
        }
        e.mtime_age = mtime_age(dir, &c);
        match Record::parse(&bytes) {
            Some(r) => {
                if r.role != want {
                    e.problem = Some(format!("record says role {}", r.role.as_str()));
                } else if token.is_some_and(|t| r.token.as_bytes() != t) {
                    e.problem = Some("record token does not match its name".into());
                }
                e.record = Some(r);
            }
            None => {
                e.problem = Some(if bytes.is_empty() {
                    "empty record (being written, or its writer died)".into()
                } else if bytes.len() > crate::fs::READ_CAP {
                    "oversized file, not a record".into()
                } else {
                    "malformed record".into()
                });
            }
        }
        e.source = Some(Source {
            dir: dir.clone(),
            name: c,
            first: bytes,
        });
        e
    }

    fn scan_room(&mut self, side: &Dir) -> Result<(), String> {
        let room = match side.open_dir(ROOM) {
            Ok(d) => Rc::new(d),
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {
                self.room = Room::Absent;
                return Ok(());
            }
            Err(err) if matches!(err.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)) => {
                self.room = Room::Hostile;
                self.entries
                    .push(Entry::problem(EntryRole::Hostile, "R".into(), why(&err)));
                return Ok(());
            }
            Err(err) => return Err(format!("open R: {}", describe(&err))),
        };
        self.room = Room::Present;
        let names = self
            .list(&room)
            .map_err(|err| format!("list R: {}", describe(&err)))?;
        for n in names {
            let display = format!("R/{}", escape_name(&n));
            if let Some(gen) = Baton::parse_resting(&n) {
                let c = cstr(&n).expect("a parsed baton name has no NUL");
                match room.stat(&c) {
                    Ok(st) if st.kind == Kind::File => self.batons.push(BatonSeen {
                        place: BatonPlace::Room,
                        gen,
                        name: display,
                        entry: None,
                        is_init: self.init.names(&st),
                    }),
                    Ok(st) => self.entries.push(Entry::problem(
                        EntryRole::Hostile,
                        display,
                        format!("not a regular file ({}): not a baton", kind_name(st.kind)),
                    )),
                    Err(_) => {}
                }
                continue;
            }
            match parse_reader_record_name(&n) {
                Some(tok) => {
                    let e = self.record_entry(EntryRole::Read, display, &room, &n, Role::Read, Some(tok.as_bytes()));
                    self.entries.push(e);
                }
                _ => self.entries.push(Entry::problem(
                    EntryRole::Unknown,
                    display,
                    "unexpected name in the room: keeps writers out until a waiting writer evicts it (once unchanged past the stale threshold)",
                )),
            }
        }
        Ok(())
    }

    fn scan_queue(&mut self, side: &Dir) -> Result<(), String> {
        let queue = match side.open_dir(QUEUE) {
            Ok(d) => Rc::new(d),
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {
                self.entries.push(Entry::problem(
                    EntryRole::Unknown,
                    "Q/".into(),
                    "missing (created by the next open)",
                ));
                return Ok(());
            }
            Err(err) if matches!(err.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)) => {
                self.entries
                    .push(Entry::problem(EntryRole::Hostile, "Q".into(), why(&err)));
                return Ok(());
            }
            Err(err) => return Err(format!("open Q: {}", describe(&err))),
        };
        let mut names = self
            .list(&queue)
            .map_err(|err| format!("list Q: {}", describe(&err)))?;
        // Queue order: the baton's holder first, then by (seq, token), unparsable names last.
        names.sort_by_key(|n| match (Baton::parse_held(n), Ticket::parse(n)) {
            (Some(_), _) => (0, 0, n.clone()),
            (_, Some(t)) => (1, t.seq, n.clone()),
            _ => (2, 0, n.clone()),
        });
        for n in names {
            let display = format!("Q/{}", escape_name(&n));
            if let Some((gen, tok)) = Baton::parse_held(&n) {
                let mut e = self.record_entry(
                    EntryRole::Write,
                    display,
                    &queue,
                    &n,
                    Role::Write,
                    Some(tok.as_bytes()),
                );
                e.seq = Some(gen);
                if e.gone {
                    // Moved on while we looked (given back, or taken over): not a baton now.
                    self.entries.push(e);
                    continue;
                }
                let not_file = e.problem.as_deref().is_some_and(|p| {
                    p.starts_with("unreadable") && p.contains("not a regular file")
                });
                if not_file {
                    e.role = EntryRole::Hostile;
                    e.problem = Some("not a regular file: not a baton".into());
                    e.source = None;
                    self.entries.push(e);
                    continue;
                }
                if e.record
                    .as_ref()
                    .is_some_and(|r| r.token.as_bytes() != tok.as_bytes())
                {
                    // The bytes are another process's: an evictor took the baton over from a
                    // dead holder (it keeps the dead holder's record while handing it back),
                    // or a writer took it a moment ago and has not written its record yet.
                    e.role = EntryRole::Evicting;
                    e.problem = Some(
                        "the record names another process: the baton was taken over from it by an evictor that is handing it back to the room, or a writer has just taken it and is writing its record".into(),
                    );
                }
                let is_init = cstr(&n)
                    .and_then(|c| queue.stat(&c).ok())
                    .and_then(|st| self.init.names(&st));
                self.batons.push(BatonSeen {
                    place: BatonPlace::Queue,
                    gen,
                    name: e.name.clone(),
                    entry: Some(self.entries.len()),
                    is_init,
                });
                self.entries.push(e);
                continue;
            }
            let Some(t) = Ticket::parse(&n) else {
                self.entries.push(Entry::problem(
                    EntryRole::Unknown,
                    display,
                    "unexpected name in the queue (evicted by waiters once unchanged past the stale threshold)",
                ));
                continue;
            };
            let (role, want) = match t.kind {
                TicketKind::Reader => (EntryRole::WaitingRead, Role::Wait),
                TicketKind::Writer => (EntryRole::WaitingWrite, Role::Write),
            };
            let mut e =
                self.record_entry(role, display, &queue, &n, want, Some(t.token.as_bytes()));
            e.seq = Some(t.seq);
            self.entries.push(e);
        }
        Ok(())
    }

    fn scan_top(&mut self, side: &Rc<Dir>) -> Result<(), String> {
        self.init = match side.stat(INIT) {
            Ok(st) if st.kind == Kind::File => Init::File(st.dev, st.ino),
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => Init::Absent,
            Ok(st) => {
                self.entries.push(Entry::problem(
                    EntryRole::Hostile,
                    "init".into(),
                    format!(
                        "not a regular file ({}): the lock refuses to open",
                        kind_name(st.kind)
                    ),
                ));
                Init::Bad
            }
            Err(err) => {
                self.entries.push(Entry::problem(
                    EntryRole::Unknown,
                    "init".into(),
                    format!("cannot stat: {}", why(&err)),
                ));
                Init::Bad
            }
        };
        let names = self
            .list(side)
            .map_err(|err| format!("list: {}", describe(&err)))?;
        for n in names {
            match n.as_slice() {
                b"R" | b"Q" | b"init" => {}
                _ => {
                    if let Some(tok) = parse_transit(&n) {
                        self.transit_entry(side, &n, tok);
                        continue;
                    }
                    if parse_template(&n).is_some() {
                        let mut e = self.record_entry(
                            EntryRole::Template,
                            escape_name(&n),
                            side,
                            &n,
                            Role::Read,
                            None,
                        );
                        e.note = Some(
                            "reader-record template of a handle (its reader records are hard links of it); blocks no one, and removing it is harmless".into(),
                        );
                        self.entries.push(e);
                        continue;
                    }
                    self.entries.push(Entry::problem(
                        EntryRole::Unknown,
                        escape_name(&n),
                        "unexpected name in the sidecar directory (blocks no one)",
                    ))
                }
            }
        }
        Ok(())
    }

    /// `t.<token>`: an initialiser's file. A second name of `init` is the baton itself (being
    /// moved into the room, or orphaned by an initialiser that died); any other is a file of
    /// an initialiser that lost the election (it removes it; waiters remove it if it died).
    fn transit_entry(&mut self, side: &Rc<Dir>, n: &[u8], tok: Token) {
        let display = escape_name(n);
        let c = cstr(n).expect("a parsed transit name has no NUL");
        let st = side.stat(&c);
        let is_baton = st.ok().and_then(|st| self.init.names(&st)) == Some(true);
        let mut e = self.record_entry(
            EntryRole::Leftover,
            display.clone(),
            side,
            n,
            Role::Write,
            Some(tok.as_bytes()),
        );
        if e.gone {
            self.entries.push(e);
            return;
        }
        if is_baton {
            e.role = EntryRole::Initialising;
            e.note = Some(
                "the baton, being moved into the room at initialisation (or left by an initialiser that died: waiters take it over once it is unchanged past the stale threshold)".into(),
            );
            self.batons.push(BatonSeen {
                place: BatonPlace::Sidecar,
                gen: 0,
                name: display,
                entry: Some(self.entries.len()),
                is_init: Some(true),
            });
        } else {
            let what = "an initialiser's file that is not the baton: an initialisation in progress, or a loser of the election that died (removed by waiters once unchanged past the stale threshold; blocks no one)";
            e.problem = Some(match e.problem.take() {
                Some(p) => format!("{what}; {p}"),
                None => what.into(),
            });
        }
        self.entries.push(e);
    }

    /// Readers in the room with a valid record.
    pub fn readers_in_room(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.role == EntryRole::Read && e.valid())
            .count()
    }

    /// Notes what a held baton's writer is doing, from the state of the room.
    fn annotate(&mut self) {
        let resting = self
            .batons
            .iter()
            .filter(|b| b.place == BatonPlace::Room)
            .count();
        let readers = self.readers_in_room();
        let note = match (self.room, resting) {
            (Room::Absent, _) => "holds the write lock: its grant removed the room".to_string(),
            (Room::Present, 0) if readers > 0 => format!(
                "closing the room: waits for {} to leave",
                plural(readers, "reader", "readers")
            ),
            (Room::Present, 0) => {
                "closing the room (about to remove it), or remaking it to release".to_string()
            }
            _ => return,
        };
        for b in &self.batons {
            if b.place != BatonPlace::Queue {
                continue;
            }
            if let Some(e) = b.entry.map(|i| &mut self.entries[i]) {
                if e.role == EntryRole::Write && e.problem.is_none() {
                    e.note = Some(note.clone());
                }
            }
        }
    }

    /// The generation: the number in the baton's name (of the last write grant while it rests
    /// in the room, of the grant its holder has or works towards while it is held).
    pub fn generation(&self) -> (Option<u64>, Option<String>) {
        match self.batons.len() {
            1 => (Some(self.batons[0].gen), None),
            0 => (
                None,
                Some(match self.init {
                    Init::Absent => "no baton: the lock has not been initialised yet".into(),
                    _ => "no baton found (it moved while we looked, or it was removed by hand)"
                        .into(),
                }),
            ),
            n => {
                let names = self
                    .batons
                    .iter()
                    .map(|b| b.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                // The one that is init's inode is the baton (sorted first); the others are
                // planted copies, or the same file seen twice while it moved.
                match self.batons.iter().filter(|b| b.is_init == Some(true)).count() {
                    1 => (
                        Some(self.batons[0].gen),
                        Some(format!(
                            "{n} files named like the baton ({names}); the baton is {}, the file init names: the others were planted",
                            self.batons[0].name
                        )),
                    ),
                    _ => (
                        self.batons.iter().map(|b| b.gen).max(),
                        Some(format!(
                            "{n} batons found ({names}): one moved while we looked, or the lock directory was tampered with"
                        )),
                    ),
                }
            }
        }
    }

    /// The room, as a code for JSON and in words.
    pub fn room_state(&self) -> (&'static str, String) {
        let resting = self
            .batons
            .iter()
            .filter(|b| b.place == BatonPlace::Room)
            .count();
        let held = self.batons.iter().any(|b| b.place == BatonPlace::Queue);
        let readers = self.readers_in_room();
        let inside = plural(readers, "reader", "readers");
        match self.room {
            Room::Unknown => ("unknown", "not looked at".into()),
            Room::Hostile => ("hostile", "R is not a directory (see below)".into()),
            Room::Absent if held => (
                "absent",
                "absent: removed by the grant of the writer that holds the baton".into(),
            ),
            Room::Absent => (
                "absent",
                "absent, and no baton holder seen (the baton is being handed back, or the lock is not initialised)".into(),
            ),
            Room::Present => match resting {
                1 => (
                    "open",
                    format!("open: the baton rests in it, readers may enter; {inside} inside"),
                ),
                0 if held => (
                    "without-baton",
                    format!("present without the baton: the baton's holder is closing it; {inside} inside, no new reader is granted"),
                ),
                0 => (
                    "without-baton",
                    format!("present without the baton (no reader is granted in it now); {inside} inside"),
                ),
                n => (
                    "several-batons",
                    format!("{n} batons in it: the lock directory was tampered with"),
                ),
            },
        }
    }

    /// The baton, in words.
    pub fn baton_text(&self) -> String {
        let Some(b) = self.batons.first() else {
            return self.generation().1.unwrap_or_default();
        };
        let mut s = match b.place {
            BatonPlace::Room => format!("at rest in the room ({})", b.name),
            BatonPlace::Queue | BatonPlace::Sidecar => {
                let e = b.entry.map(|i| &self.entries[i]);
                let who = e
                    .and_then(Entry::who)
                    .unwrap_or_else(|| "nobody known".into());
                match e.map(|e| e.role) {
                    Some(EntryRole::Write) => format!("held by the writer, {who} ({})", b.name),
                    Some(EntryRole::Evicting) => format!(
                        "{} with the record of {who}: taken over by an evictor, or just taken by a writer",
                        b.name
                    ),
                    Some(EntryRole::Initialising) => format!(
                        "in the sidecar as {}, made by {who}: being moved into the room at initialisation, or orphaned",
                        b.name
                    ),
                    _ => format!("{} (its record is not valid, see below)", b.name),
                }
            }
        };
        if self.batons.len() > 1 {
            s.push_str(&format!(
                "; and {} more (see the generation)",
                self.batons.len() - 1
            ));
        }
        s
    }

    /// Second read of every record: did it change?
    fn resample(&mut self) {
        for e in &mut self.entries {
            let Some(src) = &e.source else { continue };
            let mut now = Vec::new();
            match src.dir.read_small(&src.name, &mut now) {
                Ok(()) => e.changing = Some(now != src.first),
                Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {
                    e.gone = true;
                    e.changing = None;
                }
                Err(_) => e.changing = None,
            }
        }
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::File => "a file",
        Kind::Dir => "a directory",
        Kind::Symlink => "a symlink",
        Kind::Other => "a special file",
    }
}
impl Snapshot {
    /// Valid entries of this role.
    pub fn count(&self, role: EntryRole) -> usize {
        self.entries
            .iter()
            .filter(|e| e.role == role && e.valid())
            .count()
    }

    /// Entries in the room that are not valid reader records: they keep writers out until
    /// they are evicted.
    pub fn invalid_in_room(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| {
                e.name.starts_with("R/") && !e.gone && (e.problem.is_some() || e.record.is_none())
            })
            .count()
    }

    /// Entries that are neither records nor batons: planted, left over or hostile.
    pub fn unexpected(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| {
                !e.gone
                    && matches!(
                        e.role,
                        EntryRole::Unknown | EntryRole::Hostile | EntryRole::Leftover
                    )
            })
            .count()
    }

    /// Write if a writer holds, read if readers do, else free.
    pub fn state(&self) -> LockState {
        if self.count(EntryRole::Write) > 0 {
            LockState::Write
        } else if self.count(EntryRole::Read) > 0 {
            LockState::Read
        } else {
            LockState::Free
        }
    }
}
