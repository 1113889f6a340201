//! `softrwlock status [--json] [--sample S] PATH`: who holds or waits for the lock on PATH.
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
//! as such and never followed, blocked on or trusted. Nothing is changed on disk.
//!
//! Liveness is judged the way the library judges it: a live holder's heartbeat rewrites its
//! record, so each record is read twice, `--sample` seconds apart, on this host's monotonic
//! clock. A record's mtime compared with this host's clock is shown as well, labelled as a
//! hint: it mixes the file server's clock with ours.

use std::ffi::{CString, OsStr};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use softrwlock::fs::{describe, Dir, Kind};
use softrwlock::record::{
    parse_record_name, parse_template, parse_transit, Baton, Record, Role, Ticket, TicketKind,
};

use crate::args;
use crate::json::Value;
use crate::{exit, usage_error};

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

struct Entry {
    role: &'static str,
    /// Path relative to the sidecar, escaped for display.
    name: String,
    record: Option<Record>,
    seq: Option<u64>,
    problem: Option<String>,
    /// What a valid entry is doing (shown like a problem, but the entry stays valid).
    note: Option<String>,
    source: Option<Source>,
    /// After sampling: Some(true) changed, Some(false) unchanged, None not sampled.
    changing: Option<bool>,
    gone: bool,
    mtime_age: Option<f64>,
}

impl Entry {
    fn new(role: &'static str, name: String) -> Entry {
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

    fn problem(role: &'static str, name: String, why: impl Into<String>) -> Entry {
        let mut e = Entry::new(role, name);
        e.problem = Some(why.into());
        e
    }

    fn valid(&self) -> bool {
        !self.gone && self.problem.is_none() && self.record.is_some()
    }

    /// "pid P on H", from the record.
    fn who(&self) -> Option<String> {
        self.record
            .as_ref()
            .map(|r| format!("pid {} on {}", r.pid, r.host))
    }
}

/// What the room `R` is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Room {
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
enum Place {
    /// `R/baton.<gen>`: at rest, the room is open.
    Room,
    /// `Q/b.<gen>.<token>`: held.
    Queue,
    /// `t.<token>`, a second name of `init`: being created, or orphaned at initialisation.
    Sidecar,
}

struct BatonSeen {
    place: Place,
    gen: u64,
    /// Path relative to the sidecar, escaped for display.
    name: String,
    /// Its entry (a held or orphaned baton: its content is a record).
    entry: Option<usize>,
    /// Whether it is the file `init` names (the baton is created once, as a second name of
    /// `init`, and only ever renamed); None if unknown.
    is_init: Option<bool>,
}

/// The init file: present once the lock has been initialised.
enum Init {
    Absent,
    /// A regular file: (dev, ino), the baton's inode.
    File(u64, u64),
    /// Something else, or unreadable.
    Bad,
}

impl Init {
    /// Whether `st` is the file init names.
    fn names(&self, st: &softrwlock::fs::Stat) -> Option<bool> {
        match self {
            Init::File(dev, ino) => Some(st.kind == Kind::File && st.dev == *dev && st.ino == *ino),
            _ => None,
        }
    }
}

struct Scan {
    entries: Vec<Entry>,
    room: Room,
    batons: Vec<BatonSeen>,
    init: Init,
    /// Entries not shown because a directory held more than MAX_SHOWN.
    omitted: u64,
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
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let r = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r != 0 {
        return None;
    }
    let mtime = st.st_mtime as f64 + st.st_mtime_nsec as f64 * 1e-9;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some(now - mtime)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Scan {
    fn new() -> Scan {
        Scan {
            entries: Vec::new(),
            room: Room::Unknown,
            batons: Vec::new(),
            init: Init::Absent,
            omitted: 0,
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
        role: &'static str,
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
            return Entry::problem("unknown", e.name, "name with a NUL byte");
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
                } else if bytes.len() > softrwlock::fs::READ_CAP {
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
        let room = match side.open_dir(c"R") {
            Ok(d) => Rc::new(d),
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {
                self.room = Room::Absent;
                return Ok(());
            }
            Err(err) if matches!(err.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)) => {
                self.room = Room::Hostile;
                self.entries
                    .push(Entry::problem("hostile", "R".into(), why(&err)));
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
                        place: Place::Room,
                        gen,
                        name: display,
                        entry: None,
                        is_init: self.init.names(&st),
                    }),
                    Ok(st) => self.entries.push(Entry::problem(
                        "hostile",
                        display,
                        format!("not a regular file ({}): not a baton", kind_name(st.kind)),
                    )),
                    Err(_) => {}
                }
                continue;
            }
            match parse_record_name(&n) {
                Some((Role::Read, tok)) => {
                    let e = self.record_entry("read", display, &room, &n, Role::Read, Some(tok.as_bytes()));
                    self.entries.push(e);
                }
                _ => self.entries.push(Entry::problem(
                    "unknown",
                    display,
                    "unexpected name in the room: keeps writers out until a waiting writer evicts it (once unchanged past the stale threshold)",
                )),
            }
        }
        Ok(())
    }

    fn scan_queue(&mut self, side: &Dir) -> Result<(), String> {
        let queue = match side.open_dir(c"Q") {
            Ok(d) => Rc::new(d),
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {
                self.entries.push(Entry::problem(
                    "unknown",
                    "Q/".into(),
                    "missing (created by the next open)",
                ));
                return Ok(());
            }
            Err(err) if matches!(err.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)) => {
                self.entries
                    .push(Entry::problem("hostile", "Q".into(), why(&err)));
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
                    "write",
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
                    e.role = "hostile";
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
                    e.role = "evicting";
                    e.problem = Some(
                        "the record names another process: the baton was taken over from it by an evictor that is handing it back to the room, or a writer has just taken it and is writing its record".into(),
                    );
                }
                let is_init = cstr(&n)
                    .and_then(|c| queue.stat(&c).ok())
                    .and_then(|st| self.init.names(&st));
                self.batons.push(BatonSeen {
                    place: Place::Queue,
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
                    "unknown",
                    display,
                    "unexpected name in the queue (evicted by waiters once unchanged past the stale threshold)",
                ));
                continue;
            };
            let (role, want) = match t.kind {
                TicketKind::Reader => ("waiting-read", Role::Wait),
                TicketKind::Writer => ("waiting-write", Role::Write),
            };
            let mut e =
                self.record_entry(role, display, &queue, &n, want, Some(t.token.as_bytes()));
            e.seq = Some(t.seq);
            self.entries.push(e);
        }
        Ok(())
    }

    fn scan_top(&mut self, side: &Rc<Dir>) -> Result<(), String> {
        self.init = match side.stat(c"init") {
            Ok(st) if st.kind == Kind::File => Init::File(st.dev, st.ino),
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => Init::Absent,
            Ok(st) => {
                self.entries.push(Entry::problem(
                    "hostile",
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
                    "unknown",
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
                            "template",
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
                        "unknown",
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
    fn transit_entry(&mut self, side: &Rc<Dir>, n: &[u8], tok: softrwlock::record::Token) {
        let display = escape_name(n);
        let c = cstr(n).expect("a parsed transit name has no NUL");
        let st = side.stat(&c);
        let is_baton = st.ok().and_then(|st| self.init.names(&st)) == Some(true);
        let mut e = self.record_entry(
            "leftover",
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
            e.role = "initialising";
            e.note = Some(
                "the baton, being moved into the room at initialisation (or left by an initialiser that died: waiters take it over once it is unchanged past the stale threshold)".into(),
            );
            self.batons.push(BatonSeen {
                place: Place::Sidecar,
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
    fn readers_in_room(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.role == "read" && e.valid())
            .count()
    }

    /// Notes what a held baton's writer is doing, from the state of the room.
    fn annotate(&mut self) {
        let resting = self
            .batons
            .iter()
            .filter(|b| b.place == Place::Room)
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
            if b.place != Place::Queue {
                continue;
            }
            if let Some(e) = b.entry.map(|i| &mut self.entries[i]) {
                if e.role == "write" && e.problem.is_none() {
                    e.note = Some(note.clone());
                }
            }
        }
    }

    /// The generation: the number in the baton's name (of the last write grant while it rests
    /// in the room, of the grant its holder has or works towards while it is held).
    fn generation(&self) -> (Option<u64>, Option<String>) {
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
    fn room_state(&self) -> (&'static str, String) {
        let resting = self
            .batons
            .iter()
            .filter(|b| b.place == Place::Room)
            .count();
        let held = self.batons.iter().any(|b| b.place == Place::Queue);
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
    fn baton_text(&self) -> String {
        let Some(b) = self.batons.first() else {
            return self.generation().1.unwrap_or_default();
        };
        let mut s = match b.place {
            Place::Room => format!("at rest in the room ({})", b.name),
            Place::Queue | Place::Sidecar => {
                let e = b.entry.map(|i| &self.entries[i]);
                let who = e
                    .and_then(Entry::who)
                    .unwrap_or_else(|| "nobody known".into());
                match e.map(|e| e.role) {
                    Some("write") => format!("held by the writer, {who} ({})", b.name),
                    Some("evicting") => format!(
                        "{} with the record of {who}: taken over by an evictor, or just taken by a writer",
                        b.name
                    ),
                    Some("initialising") => format!(
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

fn fmt_secs(v: f64) -> String {
    if v.abs() < 10.0 {
        format!("{v:.1}s")
    } else if v.abs() < 3600.0 {
        format!("{v:.0}s")
    } else if v.abs() < 86400.0 * 2.0 {
        format!("{:.1}h", v / 3600.0)
    } else {
        format!("{:.1}d", v / 86400.0)
    }
}

fn unchanged_text(e: &Entry, sample: f64) -> String {
    if e.gone {
        "gone".into()
    } else {
        match e.changing {
            Some(true) => "changing".into(),
            Some(false) => format!(">={}", fmt_secs(sample)),
            None => "-".into(),
        }
    }
}

/// Splits a lock path as the library does: (parent directory, file name).
pub fn split_path(path: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    if path.is_empty() {
        return Err("the lock path is empty".into());
    }
    if path.ends_with(b"/") {
        return Err("the lock path names a directory; give the lock's file name".into());
    }
    let (parent, base): (&[u8], &[u8]) = match path.iter().rposition(|&c| c == b'/') {
        Some(0) => (b"/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (b".", path),
    };
    if base == b"." || base == b".." {
        return Err("the lock path must end in a file name".into());
    }
    Ok((parent.to_vec(), [base, b".srwl"].concat()))
}

/// `softrwlock status [--json] [--sample S] PATH` (the options checked by clap).
pub fn main(path: &OsStr, json: bool, sample: f64) -> u8 {
    let path_b = args::path_bytes(path);
    let shown = path.to_string_lossy().into_owned();
    let side_display = format!("{shown}.srwl");
    let (parent, side_name) = match split_path(path_b) {
        Ok(v) => v,
        Err(m) => return usage_error(&format!("status {shown}: {m}")),
    };

    let fail = |msg: String| -> u8 {
        eprintln!("softrwlock: status {side_display}: {msg}");
        if json {
            let v = Value::Obj(vec![
                ("path", Value::path(path)),
                ("sidecar", Value::str(side_display.clone())),
                ("error", Value::str(msg)),
            ]);
            println!("{}", v.to_json());
        }
        exit::LOCK_ERROR
    };
    let no_state = |why: &str| -> u8 {
        if json {
            let v = Value::Obj(vec![
                ("path", Value::path(path)),
                ("sidecar", Value::str(side_display.clone())),
                ("exists", Value::Bool(false)),
                ("state", Value::str("free")),
                ("entries", Value::Arr(vec![])),
            ]);
            println!("{}", v.to_json());
        } else {
            println!("no lock state at {shown} ({why})");
        }
        0
    };

    let Some(parent_c) = cstr(&parent) else {
        return usage_error("status: the path contains a NUL byte");
    };
    let parent_dir = match Dir::open_path(&parent_c) {
        Ok(d) => d,
        // A missing directory is an error (a typo), not a free lock.
        Err(e) => {
            return fail(format!(
                "open directory {}: {}",
                String::from_utf8_lossy(&parent),
                describe(&e)
            ))
        }
    };
    let side_c = cstr(&side_name).expect("no NUL: checked with the parent");
    let side = match parent_dir.open_dir(&side_c) {
        Ok(d) => d,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            return no_state(&format!("no {side_display}/"))
        }
        Err(e) => return fail(format!("open: {}", why(&e))),
    };
    let owner = side.fstat().ok().map(|s| s.uid);

    let side = Rc::new(side);
    // The baton moves while we look (a take between our listings of R and Q shows it twice, a
    // release between them nowhere): look again, a few times, until it is seen once.
    let mut scan = Scan::new();
    for attempt in 0..3 {
        scan = Scan::new();
        let scanned = scan
            .scan_top(&side)
            .and_then(|_| scan.scan_room(&side))
            .and_then(|_| scan.scan_queue(&side));
        if let Err(m) = scanned {
            return fail(m);
        }
        if scan.batons.len() == 1 || matches!(scan.init, Init::Absent) || attempt == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let has_records = scan.entries.iter().any(|e| e.source.is_some());
    if has_records && sample > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(sample));
        scan.resample();
    }
    // The baton (the file init names) first.
    scan.batons.sort_by_key(|b| b.is_init != Some(true));
    scan.annotate();

    let count = |role: &str| {
        scan.entries
            .iter()
            .filter(|e| e.role == role && e.valid())
            .count()
    };
    // Anything else in the room keeps writers out until it is evicted.
    let invalid_in_room = scan
        .entries
        .iter()
        .filter(|e| {
            e.name.starts_with("R/") && !e.gone && (e.problem.is_some() || e.record.is_none())
        })
        .count();
    let (writers, readers) = (count("write"), count("read"));
    let (wwait, rwait) = (count("waiting-write"), count("waiting-read"));
    let state = if writers > 0 {
        "write"
    } else if readers > 0 {
        "read"
    } else {
        "free"
    };

    if json {
        print_json(
            &scan,
            path,
            &side_display,
            state,
            sample,
            owner,
            invalid_in_room,
        );
    } else {
        print_table(
            &scan,
            &shown,
            &side_display,
            sample,
            [writers, readers, wwait, rwait, invalid_in_room],
        );
    }
    0
}

fn entry_json(e: &Entry, sample: f64) -> Value {
    let r = e.record.as_ref();
    let unchanged = match (e.gone, e.changing) {
        (true, _) => Value::str("gone"),
        (_, Some(true)) => Value::str("changing"),
        (_, Some(false)) => Value::str("unchanged"),
        _ => Value::Null,
    };
    Value::Obj(vec![
        ("role", Value::str(e.role)),
        ("name", Value::str(e.name.clone())),
        ("host", Value::opt_str(r.map(|r| r.host.clone()))),
        ("pid", Value::opt_int(r.map(|r| r.pid))),
        (
            "token",
            Value::opt_str(r.map(|r| r.token.as_str().to_string())),
        ),
        ("seq", Value::opt_int(e.seq)),
        (
            "lease_seconds",
            Value::opt_num(r.map(|r| r.lease_ms as f64 / 1000.0)),
        ),
        ("sample", unchanged),
        (
            "unchanged_for_at_least_seconds",
            Value::opt_num((e.changing == Some(false) && !e.gone).then_some(sample)),
        ),
        ("mtime_age_seconds_hint", Value::opt_num(e.mtime_age)),
        ("valid", Value::Bool(e.problem.is_none() && r.is_some())),
        ("problem", Value::opt_str(e.problem.clone())),
        ("note", Value::opt_str(e.note.clone())),
    ])
}

fn baton_json(scan: &Scan) -> Value {
    let Some(b) = scan.batons.first() else {
        return Value::Null;
    };
    let e = b.entry.map(|i| &scan.entries[i]);
    let r = e.and_then(|e| e.record.as_ref());
    let place = match b.place {
        Place::Room => "room",
        Place::Queue => "queue",
        Place::Sidecar => "sidecar",
    };
    Value::Obj(vec![
        ("where", Value::str(place)),
        ("name", Value::str(b.name.clone())),
        ("generation", Value::Int(b.gen.into())),
        ("holder_role", Value::opt_str(e.map(|e| e.role))),
        ("host", Value::opt_str(r.map(|r| r.host.clone()))),
        ("pid", Value::opt_int(r.map(|r| r.pid))),
        ("note", Value::opt_str(e.and_then(|e| e.note.clone()))),
    ])
}

/// Entries that are neither records nor batons: planted, left over or hostile.
fn unexpected(scan: &Scan) -> usize {
    scan.entries
        .iter()
        .filter(|e| !e.gone && matches!(e.role, "unknown" | "hostile" | "leftover"))
        .count()
}

fn print_json(
    scan: &Scan,
    path: &OsStr,
    side: &str,
    state: &str,
    sample: f64,
    owner: Option<u32>,
    invalid_in_room: usize,
) {
    let (generation, generation_problem) = scan.generation();
    let (room, room_text) = scan.room_state();
    let v = Value::Obj(vec![
        ("path", Value::path(path)),
        ("sidecar", Value::str(side)),
        ("exists", Value::Bool(true)),
        ("owner_uid", Value::opt_int(owner)),
        ("state", Value::str(state)),
        ("invalid_in_room", Value::Int(invalid_in_room as i128)),
        ("generation", Value::opt_int(generation)),
        ("generation_problem", Value::opt_str(generation_problem)),
        (
            "initialised",
            Value::Bool(matches!(scan.init, Init::File(..))),
        ),
        ("room", Value::str(room)),
        ("room_description", Value::str(room_text)),
        (
            "readers_in_room",
            Value::Int(scan.readers_in_room() as i128),
        ),
        ("baton", baton_json(scan)),
        ("batons_found", Value::Int(scan.batons.len() as i128)),
        ("unexpected_entries", Value::Int(unexpected(scan) as i128)),
        ("sample_seconds", Value::Num(sample)),
        ("omitted_entries", Value::Int(scan.omitted.into())),
        (
            "entries",
            Value::Arr(scan.entries.iter().map(|e| entry_json(e, sample)).collect()),
        ),
    ]);
    println!("{}", v.to_json());
}

fn print_table(scan: &Scan, path: &str, side: &str, sample: f64, counts: [usize; 5]) {
    let [writers, readers, wwait, rwait, invalid] = counts;
    let closing = scan.entries.iter().any(|e| {
        e.role == "write"
            && e.valid()
            && e.note.as_deref().is_some_and(|n| n.starts_with("closing"))
    });
    let held = match (writers, readers) {
        (0, 0) => "nobody".to_string(),
        (w, 0) => format!("{w} writer"),
        (0, r) => plural(r, "reader", "readers"),
        (w, r) if closing => format!(
            "{w} writer and {} (the writer holds the baton and waits for the readers, who entered before it, to leave)",
            plural(r, "reader", "readers")
        ),
        (w, r) => format!("{w} writer and {}", plural(r, "reader", "readers")),
    };
    let (generation, generation_problem) = scan.generation();
    let gen = match (generation, &generation_problem) {
        (Some(g), None) => g.to_string(),
        (Some(g), Some(p)) => format!("{g}?: {p}"),
        (None, Some(p)) => format!("unknown: {p}"),
        (None, None) => "unknown".into(),
    };
    println!("lock:       {path}");
    println!("state:      {side}/ (generation {gen})");
    println!("room:       {}", scan.room_state().1);
    println!("baton:      {}", scan.baton_text());
    if invalid > 0 {
        println!(
            "held by:    {held}; and {invalid} invalid entr{} in the room, which keep writers out until they are evicted",
            if invalid == 1 { "y" } else { "ies" }
        );
    } else {
        println!("held by:    {held}");
    }
    println!(
        "waiting:    {}, {}",
        plural(wwait, "writer", "writers"),
        plural(rwait, "reader", "readers")
    );
    let junk = unexpected(scan);
    if junk > 0 {
        println!(
            "unexpected: {} (marked below)",
            plural(junk, "entry", "entries")
        );
    }
    if scan.entries.is_empty() {
        return;
    }
    println!();
    let header = [
        "ROLE",
        "HOST",
        "PID",
        "UNCHANGED",
        "MTIME-AGE*",
        "LEASE",
        "NAME",
    ];
    let rows: Vec<[String; 7]> = scan
        .entries
        .iter()
        .map(|e| {
            let r = e.record.as_ref();
            let mut name = e.name.clone();
            if let Some(p) = e.problem.as_ref().or(e.note.as_ref()) {
                name.push_str(&format!("  ({p})"));
            }
            [
                e.role.to_string(),
                r.map_or("-".into(), |r| r.host.clone()),
                r.map_or("-".into(), |r| r.pid.to_string()),
                unchanged_text(e, sample),
                e.mtime_age.map_or("-".into(), fmt_secs),
                r.map_or("-".into(), |r| fmt_secs(r.lease_ms as f64 / 1000.0)),
                name,
            ]
        })
        .collect();
    let mut width = header.map(|h| h.len());
    for row in &rows {
        for (w, c) in width.iter_mut().zip(row.iter()) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = width[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(&header.map(String::from));
    for row in &rows {
        line(row);
    }
    if scan.omitted > 0 {
        println!("... {} more entries not shown", scan.omitted);
    }
    println!();
    println!(
        "UNCHANGED: each record was read twice, {} apart (\"changing\": its heartbeat is running).",
        fmt_secs(sample)
    );
    println!(
        "* MTIME-AGE compares the file server's clock with this host's: a hint only. Other\n  processes evict a record that stays unchanged for max(their stale threshold, LEASE)."
    );
}
