//! Reader records are hard links of a per-handle template file (`h.<token>.<pid>.<host>` in
//! the sidecar). These tests look at the disk the way an operator would: the link, the
//! template's lifetime, a template removed or replaced under a live handle, and the tidy-up of
//! dead processes' templates at open.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{entries, fast, open, room_entries, TempDir};
use softrwlock::record::{parse_template, Record, Role};
use softrwlock::Mode;

fn templates(side: &Path) -> Vec<String> {
    entries(side)
        .into_iter()
        .filter(|n| n.starts_with("h."))
        .collect()
}

fn side_of(dir: &TempDir) -> PathBuf {
    dir.0.join("lock.srwl")
}

/// A handle that has made one read cycle, so that it has a template; and the templates now.
fn handle_after_a_read(dir: &TempDir) -> (softrwlock::Lock, Vec<String>) {
    let l = open(&dir.lock_path(), &fast());
    assert_eq!(l.acquire(Mode::Read, 10.0), Ok(()));
    assert_eq!(l.release(), Ok(()));
    let t = templates(&side_of(dir));
    (l, t)
}

#[test]
fn reader_record_is_a_link_of_the_handle_template() {
    let dir = TempDir::new("tmpl-link");
    let side = side_of(&dir);
    let l = open(&dir.lock_path(), &fast());
    assert_eq!(
        templates(&side),
        Vec::<String>::new(),
        "no template before a read"
    );
    for round in 0..3 {
        assert_eq!(l.acquire(Mode::Read, 10.0), Ok(()));
        let recs = room_entries(&side);
        assert_eq!(recs.len(), 1, "round {round}: one reader record: {recs:?}");
        let t = templates(&side);
        assert_eq!(t.len(), 1, "round {round}: one template: {t:?}");
        let rec = std::fs::symlink_metadata(side.join("R").join(&recs[0])).unwrap();
        let tmpl = std::fs::symlink_metadata(side.join(&t[0])).unwrap();
        assert!(rec.file_type().is_file(), "round {round}: record is a file");
        assert_eq!(
            rec.ino(),
            tmpl.ino(),
            "round {round}: record and template differ"
        );
        assert_eq!(rec.nlink(), 2, "round {round}");
        assert_eq!(rec.mode() & 0o777, 0o600, "round {round}: mode");
        // The template is written once, when it is made: every record is a reader's record
        // of this process, and the first names its own hold (later ones name it until their
        // heartbeat rewrites them: an observer times a record by its name, never reused).
        let parsed = Record::parse(&std::fs::read(side.join("R").join(&recs[0])).unwrap())
            .expect("the reader record parses");
        assert_eq!(parsed.role, Role::Read);
        assert_eq!(
            parsed.pid,
            std::process::id(),
            "round {round}: the record's pid"
        );
        if round == 0 {
            assert_eq!(
                format!("r.{}", parsed.token.as_str()),
                recs[0],
                "the first record's token is not its name's"
            );
        }
        let (_, pid, _) = parse_template(t[0].as_bytes()).expect("template name parses");
        assert_eq!(pid, std::process::id(), "the template names our pid");
        assert_eq!(l.release(), Ok(()));
        assert_eq!(room_entries(&side), Vec::<String>::new());
        let tmpl = std::fs::symlink_metadata(side.join(&t[0])).unwrap();
        assert_eq!(tmpl.nlink(), 1, "round {round}: the record's link is gone");
    }
    drop(l);
    assert_eq!(
        templates(&side),
        Vec::<String>::new(),
        "close removes the template"
    );
}

#[test]
fn template_removed_under_a_live_handle_is_made_again() {
    let dir = TempDir::new("tmpl-gone");
    let side = side_of(&dir);
    let (l, before) = handle_after_a_read(&dir);
    assert_eq!(before.len(), 1);
    std::fs::remove_file(side.join(&before[0])).unwrap();
    assert_eq!(l.acquire(Mode::Read, 10.0), Ok(()));
    let after = templates(&side);
    assert_eq!(after.len(), 1, "a new template: {after:?}");
    assert_ne!(after, before, "the new template has a new name");
    assert_eq!(room_entries(&side).len(), 1);
    assert_eq!(l.release(), Ok(()));
    // A second handle's open leaves this process's live template alone; both handles read.
    let l2 = open(&dir.lock_path(), &fast());
    assert_eq!(templates(&side), after);
    assert_eq!(l.acquire(Mode::Read, 10.0), Ok(()));
    assert_eq!(l2.acquire(Mode::Read, 10.0), Ok(()));
    assert_eq!(room_entries(&side).len(), 2);
    assert_eq!(templates(&side).len(), 2);
    assert_eq!(l.release(), Ok(()));
    assert_eq!(l2.release(), Ok(()));
}

#[test]
fn a_template_replaced_by_a_symlink_is_never_followed() {
    let dir = TempDir::new("tmpl-symlink");
    let side = side_of(&dir);
    let canary = dir.0.join("canary");
    std::fs::write(&canary, b"do not touch\n").unwrap();
    let (l, t) = handle_after_a_read(&dir);
    std::fs::remove_file(side.join(&t[0])).unwrap();
    std::os::unix::fs::symlink(&canary, side.join(&t[0])).unwrap();
    let start = Instant::now();
    assert_eq!(l.acquire(Mode::Read, 10.0), Ok(()));
    assert!(start.elapsed() < Duration::from_secs(5));
    let recs = room_entries(&side);
    assert_eq!(recs.len(), 1, "{recs:?}");
    let rec = std::fs::symlink_metadata(side.join("R").join(&recs[0])).unwrap();
    assert!(rec.file_type().is_file(), "the record is a regular file");
    assert_eq!(std::fs::read(&canary).unwrap(), b"do not touch\n");
    assert!(
        !side.join(&t[0]).exists() && std::fs::symlink_metadata(side.join(&t[0])).is_err(),
        "the planted symlink was retired with the template"
    );
    assert_eq!(l.release(), Ok(()));
}

#[test]
fn templates_of_dead_processes_on_this_host_are_removed_at_open() {
    let dir = TempDir::new("tmpl-tidy");
    let side = side_of(&dir);
    // Learn this host's name as the library writes it, from a live template.
    let (l, own) = handle_after_a_read(&dir);
    let host = String::from_utf8(parse_template(own[0].as_bytes()).unwrap().2.to_vec()).unwrap();
    drop(l);
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let tok = |c: char| std::iter::repeat_n(c, 32).collect::<String>();
    let dead_here = format!("h.{}.{dead}.{host}", tok('a'));
    let alive_here = format!("h.{}.1.{host}", tok('b')); // pid 1 always exists
    let elsewhere = format!("h.{}.{dead}.another-host", tok('c'));
    for n in [&dead_here, &alive_here, &elsewhere] {
        std::fs::write(side.join(n), b"srwl/2\n").unwrap();
    }
    let _l = open(&dir.lock_path(), &fast());
    let left = templates(&side);
    assert!(
        !left.contains(&dead_here),
        "a dead process's template stayed: {left:?}"
    );
    assert!(
        left.contains(&alive_here),
        "a live process's template was removed"
    );
    assert!(
        left.contains(&elsewhere),
        "another host's template was removed"
    );
}
