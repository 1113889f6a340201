//! `softrwlock status [--json] [--sample S] PATH`: who holds or waits for the lock on PATH.
//!
//! The library reads the state (`softrwlock::admin::inspect`: what each entry is, whether its
//! record is alive); this file only parses the arguments and formats the snapshot as a table
//! or as JSON.

use std::ffi::OsStr;

use softrwlock::admin::inspect::{
    inspect, BatonPlace, Entry, EntryRole, Init, InspectError, Inspection, Snapshot,
};

use crate::args;
use crate::json::Value;
use crate::{exit, usage_error};

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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

/// `softrwlock status [--json] [--sample S] PATH` (the options checked by clap).
pub fn main(path: &OsStr, json: bool, sample: f64) -> u8 {
    let path_b = args::path_bytes(path);
    let shown = path.to_string_lossy().into_owned();
    let side_display = format!("{shown}.srwl");

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
    let scan = match inspect(path_b, sample) {
        Ok(Inspection::State(scan)) => scan,
        Ok(Inspection::Absent(why)) => {
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
            return 0;
        }
        Err(InspectError::BadPath(m)) => return usage_error(&m),
        Err(InspectError::Read(m)) => return fail(m),
    };
    if json {
        print_json(&scan, path, &side_display, sample);
    } else {
        print_table(&scan, &shown, &side_display, sample);
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
        ("role", Value::str(e.role.as_str())),
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
        ("process_gone", Value::Bool(e.process_gone)),
        ("valid", Value::Bool(e.problem.is_none() && r.is_some())),
        ("problem", Value::opt_str(e.problem.clone())),
        ("note", Value::opt_str(e.note.clone())),
    ])
}

fn baton_json(scan: &Snapshot) -> Value {
    let Some(b) = scan.batons.first() else {
        return Value::Null;
    };
    let e = b.entry.map(|i| &scan.entries[i]);
    let r = e.and_then(|e| e.record.as_ref());
    let place = match b.place {
        BatonPlace::Room => "room",
        BatonPlace::Queue => "queue",
        BatonPlace::Sidecar => "sidecar",
    };
    Value::Obj(vec![
        ("where", Value::str(place)),
        ("name", Value::str(b.name.clone())),
        ("generation", Value::Int(b.gen.into())),
        ("holder_role", Value::opt_str(e.map(|e| e.role.as_str()))),
        ("host", Value::opt_str(r.map(|r| r.host.clone()))),
        ("pid", Value::opt_int(r.map(|r| r.pid))),
        ("note", Value::opt_str(e.and_then(|e| e.note.clone()))),
    ])
}

fn print_json(scan: &Snapshot, path: &OsStr, side: &str, sample: f64) {
    let (generation, generation_problem) = scan.generation();
    let (room, room_text) = scan.room_state();
    let v = Value::Obj(vec![
        ("path", Value::path(path)),
        ("sidecar", Value::str(side)),
        ("exists", Value::Bool(true)),
        ("owner_uid", Value::opt_int(scan.owner)),
        ("state", Value::str(scan.state().as_str())),
        (
            "invalid_in_room",
            Value::Int(scan.invalid_in_room() as i128),
        ),
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
        ("unexpected_entries", Value::Int(scan.unexpected() as i128)),
        ("sample_seconds", Value::Num(sample)),
        ("omitted_entries", Value::Int(scan.omitted.into())),
        (
            "entries",
            Value::Arr(scan.entries.iter().map(|e| entry_json(e, sample)).collect()),
        ),
    ]);
    println!("{}", v.to_json());
}

fn print_table(scan: &Snapshot, path: &str, side: &str, sample: f64) {
    let (writers, readers) = (scan.count(EntryRole::Write), scan.count(EntryRole::Read));
    let wwait = scan.count(EntryRole::WaitingWrite);
    let rwait = scan.count(EntryRole::WaitingRead);
    let invalid = scan.invalid_in_room();
    let closing = scan.entries.iter().any(|e| {
        e.role == EntryRole::Write
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
    let dead = scan.entries.iter().filter(|e| e.process_gone).count();
    if dead > 0 {
        println!(
            "gone:       {} whose process no longer runs on this host (marked below; waiters drop them at once)",
            plural(dead, "entry", "entries")
        );
    }
    let junk = scan.unexpected();
    if junk > 0 {
        println!(
            "unexpected: {} (marked below)",
            plural(junk, "entry", "entries")
        );
    }
    if !scan.entries.is_empty() {
        println!();
        print_entries(scan, sample);
    }
}

/// One line per entry, with a legend.
fn print_entries(scan: &Snapshot, sample: f64) {
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
            if e.process_gone {
                name.push_str("  (process gone: no longer runs on this host)");
            }
            [
                e.role.as_str().to_string(),
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
