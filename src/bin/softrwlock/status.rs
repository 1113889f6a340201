//! `softrwlock status [--json] [--sample S] PATH`: who holds or waits for the lock on PATH.
//!
//! Everything is read through the library's directory handles (O_NOFOLLOW, O_NONBLOCK, at most
//! 513 bytes of a regular file), so a planted symlink, FIFO, oversized or binary file is shown
//! as such and never followed, blocked on or trusted. Nothing is changed on disk.
//!
//! Liveness is judged the way the library judges it: a live holder's heartbeat rewrites its
//! record, so each record is read twice, `--sample` seconds apart, on this host's monotonic
//! clock. A record's mtime compared with this host's clock is shown as well, labelled as a
//! hint: it mixes the file server's clock with ours.

use std::ffi::{CString, OsString};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use softrwlock::fs::{describe, Dir, Kind};
use softrwlock::record::{
    parse_record_name, parse_transit, Baton, Record, Role, Ticket, TicketKind,
};

use crate::args::{self, Arg, Parser};
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
}

struct Scan {
    entries: Vec<Entry>,
    /// The generation of the baton at rest in the room (the last write grant's).
    generation: Option<u64>,
    /// The generation of the held baton: the grant its holder has or works towards.
    held_gen: Option<u64>,
    generation_problem: Option<String>,
    /// What the room looks like, in words.
    room: Option<String>,
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

impl Scan {
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
        token: &[u8],
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
                e.problem = Some("gone while reading (released or evicted)".into());
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
                } else if r.token.as_bytes() != token {
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
                // Normal while a writer holds: its grant removed the room.
                self.room = Some("absent (a writer holds the lock)".into());
                return Ok(());
            }
            Err(err) if matches!(err.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR)) => {
                self.entries
                    .push(Entry::problem("hostile", "R".into(), why(&err)));
                return Ok(());
            }
            Err(err) => return Err(format!("open R: {}", describe(&err))),
        };
        let names = self
            .list(&room)
            .map_err(|err| format!("list R: {}", describe(&err)))?;
        let mut batons = 0;
        for n in names {
            let display = format!("R/{}", escape_name(&n));
            if let Some(g) = Baton::parse_resting(&n) {
                match room.stat(&cstr(&n).expect("no NUL")) {
                    Ok(st) if st.kind == Kind::File => {
                        batons += 1;
                        self.generation = Some(self.generation.map_or(g, |o| o.max(g)));
                    }
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
                    let e = self.record_entry("read", display, &room, &n, Role::Read, tok.as_bytes());
                    self.entries.push(e);
                }
                _ => self.entries.push(Entry::problem(
                    "unknown",
                    display,
                    "unexpected name in the room (evicted by a writer waiting for the room once it goes unchanged past the stale threshold)",
                )),
            }
        }
        self.room = Some(match batons {
            0 => "present without the baton (no reader is granted in it: a writer is closing it, or a zombie made it)".into(),
            1 => "open (the baton rests in it)".into(),
            n => format!("{n} batons: the lock directory was tampered with"),
        });
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
                let mut e =
                    self.record_entry("write", display, &queue, &n, Role::Write, tok.as_bytes());
                e.seq = Some(gen);
                if e.problem
                    .as_deref()
                    .is_some_and(|p| p.starts_with("unreadable"))
                {
                    e.role = "hostile";
                    e.problem = Some("not a regular file: not a baton".into());
                } else {
                    self.held_gen = Some(gen);
                }
                self.entries.push(e);
                continue;
            }
            let Some(t) = Ticket::parse(&n) else {
                self.entries.push(Entry::problem(
                    "unknown",
                    display,
                    "unexpected name in the queue",
                ));
                continue;
            };
            let (role, want) = match t.kind {
                TicketKind::Reader => ("waiting-read", Role::Wait),
                TicketKind::Writer => ("waiting-write", Role::Write),
            };
            let mut e = self.record_entry(role, display, &queue, &n, want, t.token.as_bytes());
            e.seq = Some(t.seq);
            self.entries.push(e);
        }
        Ok(())
    }

    fn scan_top(&mut self, side: &Dir) -> Result<(), String> {
        let names = self
            .list(side)
            .map_err(|err| format!("list: {}", describe(&err)))?;
        for n in names {
            match n.as_slice() {
                b"R" | b"Q" => {}
                b"init" => match side.stat(c"init") {
                    Ok(st) if st.kind == Kind::File => {}
                    Ok(st) => self.entries.push(Entry::problem(
                        "hostile",
                        "init".into(),
                        format!(
                            "not a regular file ({}): the lock refuses to open",
                            kind_name(st.kind)
                        ),
                    )),
                    Err(_) => {}
                },
                _ if parse_transit(&n).is_some() => {
                    let mut e = Entry::problem(
                        "leftover",
                        escape_name(&n),
                        "a baton being created, or left by a process that died initialising the lock (taken over by waiters)",
                    );
                    if let Some(c) = cstr(&n) {
                        e.mtime_age = mtime_age(side, &c);
                    }
                    self.entries.push(e);
                }
                _ => self.entries.push(Entry::problem(
                    "unknown",
                    escape_name(&n),
                    "unexpected name in the sidecar directory (blocks no one)",
                )),
            }
        }
        Ok(())
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

pub fn main(argv: &[OsString]) -> u8 {
    let mut p = Parser::new(argv);
    let mut json = false;
    let mut sample = 0.5;
    let mut path: Option<OsString> = None;
    let mut only_positional = false;
    loop {
        let a = if only_positional {
            match p.rest().first() {
                Some(v) => {
                    let v = v.clone();
                    let _ = p.next_arg();
                    Arg::Positional(v)
                }
                None => break,
            }
        } else {
            match p.next_arg() {
                Some(a) => a,
                None => break,
            }
        };
        match a {
            Arg::Opt(name, inline) => match name.as_str() {
                "--json" => json = true,
                "--sample" => {
                    let v = match p.value(&name, inline) {
                        Ok(v) => v,
                        Err(m) => return usage_error(&m),
                    };
                    match args::seconds(&name, &v, false) {
                        Ok(s) if s <= 60.0 => sample = s,
                        Ok(_) => return usage_error("--sample: at most 60 seconds"),
                        Err(m) => return usage_error(&m),
                    }
                }
                "-h" | "--help" => {
                    print!("{}", crate::USAGE);
                    return 0;
                }
                _ => return usage_error(&format!("status: unknown option {name}")),
            },
            Arg::DoubleDash => only_positional = true,
            Arg::Positional(v) => {
                if path.is_some() {
                    return usage_error("status: give exactly one PATH");
                }
                path = Some(v);
            }
        }
    }
    let Some(path) = path else {
        return usage_error("status: missing PATH");
    };
    let path_b = args::path_bytes(&path);
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
                ("path", Value::str(shown.clone())),
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
                ("path", Value::str(shown.clone())),
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
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            return no_state(&format!(
                "its directory {} does not exist",
                String::from_utf8_lossy(&parent)
            ))
        }
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

    let mut scan = Scan {
        entries: Vec::new(),
        generation: None,
        held_gen: None,
        generation_problem: None,
        room: None,
        omitted: 0,
        buf: Vec::new(),
    };
    let scanned = scan
        .scan_top(&side)
        .and_then(|_| scan.scan_room(&side))
        .and_then(|_| scan.scan_queue(&side));
    if let Err(m) = scanned {
        return fail(m);
    }
    if let Some(g) = scan.held_gen {
        scan.generation = Some(g);
    }
    if scan.generation.is_none() {
        scan.generation_problem =
            Some("no baton found (not initialised yet, or being moved while we looked)".into());
    }
    let has_records = scan.entries.iter().any(|e| e.source.is_some());
    if has_records && sample > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(sample));
        scan.resample();
    }

    let count = |role: &str| {
        scan.entries
            .iter()
            .filter(|e| e.role == role && !e.gone && e.problem.is_none() && e.record.is_some())
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
            &shown,
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
    ])
}

fn print_json(
    scan: &Scan,
    path: &str,
    side: &str,
    state: &str,
    sample: f64,
    owner: Option<u32>,
    invalid_in_room: usize,
) {
    let v = Value::Obj(vec![
        ("path", Value::str(path)),
        ("sidecar", Value::str(side)),
        ("exists", Value::Bool(true)),
        ("owner_uid", Value::opt_int(owner)),
        ("state", Value::str(state)),
        ("invalid_in_room", Value::Int(invalid_in_room as i128)),
        ("generation", Value::opt_int(scan.generation)),
        ("room", Value::opt_str(scan.room.clone())),
        (
            "generation_problem",
            Value::opt_str(scan.generation_problem.clone()),
        ),
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
    let held = match (writers, readers) {
        (0, 0) => "nobody".to_string(),
        (w, 0) => format!("{w} writer"),
        (0, r) => format!("{r} reader{}", if r == 1 { "" } else { "s" }),
        (w, r) => format!(
            "{w} writer and {r} readers (the writer holds the baton and waits for the readers to leave)"
        ),
    };
    let gen = match (&scan.generation, &scan.generation_problem) {
        (Some(g), _) => g.to_string(),
        (None, Some(p)) => format!("unreadable ({p})"),
        _ => "0".into(),
    };
    println!("lock:       {path}");
    println!("state:      {side}/ (generation {gen})");
    if let Some(room) = &scan.room {
        println!("room:       {room}");
    }
    if invalid > 0 {
        println!(
            "held by:    {held}; and {invalid} invalid entr{} in the room, which keep writers out until they are evicted",
            if invalid == 1 { "y" } else { "ies" }
        );
    } else {
        println!("held by:    {held}");
    }
    println!(
        "waiting:    {wwait} writer{}, {rwait} reader{}",
        if wwait == 1 { "" } else { "s" },
        if rwait == 1 { "" } else { "s" }
    );
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
            if let Some(p) = &e.problem {
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
