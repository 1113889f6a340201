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
//! mixes the file server's clock with ours. A record whose process ran on this host and is
//! gone (pid and start time, `liveness::check`) is marked at once, without sampling.

use std::rc::Rc;
use std::time::Duration;

use crate::fs::{describe, Dir, Kind};
use crate::liveness::{self, Liveness};
use crate::protocol::sidecar_of;
use crate::record::Record;

mod scan;

pub use scan::escape_name;
use scan::{why, Source};

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
        // A missing directory is an error (a typo in the path), never a free lock.
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
    for e in &mut scan.entries {
        if let Some(r) = &e.record {
            e.process_gone = liveness::check(r.origin.as_ref(), r.pid) == Liveness::Gone;
        }
    }
    Ok(Inspection::State(scan))
}

/// One entry of the sidecar, the room or the queue, as read.
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
    /// The record's process ran on this host and no longer does (`liveness::check`: pid and
    /// start time, same boot and pid namespace). False when it runs, or cannot be judged here
    /// (another host, another pid namespace, a record without its `proc` line).
    pub process_gone: bool,
}

impl Entry {
    pub(super) fn new(role: EntryRole, name: String) -> Entry {
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
            process_gone: false,
        }
    }

    pub(super) fn problem(role: EntryRole, name: String, why: impl Into<String>) -> Entry {
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

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Snapshot {
    /// Readers in the room with a valid record.
    pub fn readers_in_room(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.role == EntryRole::Read && e.valid())
            .count()
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
