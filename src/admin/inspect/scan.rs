//! Reading the directories of a lock for `inspect`: each entry is listed, read (at most 513
//! bytes, never following a symlink or blocking on a FIFO) and classified; records are read
//! again after the sample to see whether their heartbeat runs.

use std::ffi::CString;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{plural, BatonPlace, BatonSeen, Entry, EntryRole, Init, Room, Snapshot};
use crate::fs::{describe, Dir, Kind};
use crate::protocol::{INIT, QUEUE, ROOM};
use crate::record::{
    parse_reader_record_name, parse_template, parse_transit, Baton, Record, Role, Ticket,
    TicketKind, Token,
};

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
pub(super) struct Source {
    dir: Rc<Dir>,
    name: CString,
    first: Vec<u8>,
}

pub(super) fn why(e: &std::io::Error) -> String {
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

impl Snapshot {
    pub(super) fn new() -> Snapshot {
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
    pub(super) fn list(&mut self, dir: &Dir) -> std::io::Result<Vec<Vec<u8>>> {
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
    pub(super) fn record_entry(
        &mut self,
        role: EntryRole,
        display: String,
        dir: &Rc<Dir>,
        name: &[u8],
        want: Role,
        // The token the record must name (that of its file name); None: any (a template, and
        // the reader records linked from it, hold the record of the handle's first read hold).
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

    pub(super) fn scan_room(&mut self, side: &Dir) -> Result<(), String> {
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
                // A reader record is a link of its handle's template, written once: its bytes
                // name the handle's first hold until the hold's heartbeat rewrites them.
                Some(_) => {
                    let e = self.record_entry(EntryRole::Read, display, &room, &n, Role::Read, None);
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

    pub(super) fn scan_queue(&mut self, side: &Dir) -> Result<(), String> {
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
                self.held_baton_entry(&queue, &n, display, gen, tok);
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

    /// `Q/b.<gen>.<token>`: the held baton, whose content is its holder's record.
    fn held_baton_entry(
        &mut self,
        queue: &Rc<Dir>,
        n: &[u8],
        display: String,
        gen: u64,
        tok: Token,
    ) {
        let mut e = self.record_entry(
            EntryRole::Write,
            display,
            queue,
            n,
            Role::Write,
            Some(tok.as_bytes()),
        );
        e.seq = Some(gen);
        if e.gone {
            // Moved on while we looked (given back, or taken over): not a baton now.
            self.entries.push(e);
            return;
        }
        let not_file = e
            .problem
            .as_deref()
            .is_some_and(|p| p.starts_with("unreadable") && p.contains("not a regular file"));
        if not_file {
            e.role = EntryRole::Hostile;
            e.problem = Some("not a regular file: not a baton".into());
            e.source = None;
            self.entries.push(e);
            return;
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
        let is_init = cstr(n)
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
    }

    pub(super) fn scan_top(&mut self, side: &Rc<Dir>) -> Result<(), String> {
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
    pub(super) fn transit_entry(&mut self, side: &Rc<Dir>, n: &[u8], tok: Token) {
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

    /// Notes what a held baton's writer is doing, from the state of the room.
    pub(super) fn annotate(&mut self) {
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

    /// Second read of every record: did it change?
    pub(super) fn resample(&mut self) {
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
