//! Waiters killed while in line (SIGKILL, scancel's SIGTERM) with DEFAULT options (heartbeat
//! 30 s, stale threshold 90 s, poll 1 s): a dead waiter on this host must hold up the line by
//! about one poll step, one on another host (here: another pid namespace) by the place lease
//! (5 s), never by the stale threshold. A live waiter keeps its place however long it waits,
//! and a timeout names what blocked it. Real processes and signals; the test binary
//! re-executes itself as the waiting process.

mod common;
use common::*;
use softrwlock::{Mode, Options, Status};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "SRWL_WAITERS_CHILD";

/// Child side: `SRWL_WAITERS_CHILD=<read|write>:<path>` opens the lock with default options,
/// says "waiting", acquires with no timeout, says "held", and sleeps until killed.
#[test]
fn child_process_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (mode, path) = spec.split_once(':').unwrap();
    let l = open(Path::new(path), &Options::default());
    say(&format!("waiting {}\n", std::process::id()));
    let mode = if mode == "write" {
        Mode::Write
    } else {
        Mode::Read
    };
    l.acquire(mode, -1.0).unwrap();
    say("held\n");
    std::thread::sleep(Duration::from_secs(600));
}

/// Starts a waiter (optionally in a new pid namespace: "another host" for liveness) and
/// returns once its place in line is on disk. Returns the process and its pid as it sees it.
fn spawn_waiter(mode: &str, path: &Path, other_host: bool) -> (Child, u32) {
    let exe = std::env::current_exe().unwrap();
    let args = [
        "--exact",
        "child_process_entry",
        "--nocapture",
        "--test-threads=1",
    ];
    let mut cmd = if other_host {
        let mut c = Command::new("unshare");
        c.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(&exe)
            .args(args);
        c
    } else {
        let mut c = Command::new(&exe);
        c.args(args);
        c
    };
    let mut child = cmd
        .env(CHILD_ENV, format!("{mode}:{}", path.display()))
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the waiting process");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let pid: u32 = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "waiter died at once");
        // libtest may have printed "test child_process_entry ... " before it on the line.
        if let Some((_, pid)) = line.trim().split_once("waiting ") {
            break pid.parse().unwrap();
        }
    };
    let queue = sidecar(path).join("Q");
    let prefix = if mode == "write" { "w." } else { "r." };
    let t = Instant::now();
    while !entries(&queue).iter().any(|n| n.starts_with(prefix)) {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the waiter's place never appeared in {queue:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::mem::forget(out);
    (child, pid)
}

fn sidecar(path: &Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".srwl");
    s.into()
}

fn kill(child: &mut Child, sig: i32) {
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
    child.wait().unwrap();
}

/// A writer holds; a process waits in line (`waiter`: "write" = a claim, "read" = a ticket);
/// the waiter is killed with `sig`; the holder releases; how long does `next` wait?
fn killed_waiter_then(waiter: &str, sig: i32, other_host: bool, next: Mode) -> Duration {
    let dir = TempDir::new(&format!("waiter-{waiter}-{sig}"));
    let path = dir.lock_path();
    let o = Options::default();
    let holder = open(&path, &o);
    holder.acquire(Mode::Write, 5.0).unwrap();
    let (mut child, _) = spawn_waiter(waiter, &path, other_host);
    kill(&mut child, sig);
    let next_handle = open(&path, &o);
    holder.release().unwrap();
    let t = Instant::now();
    next_handle
        .acquire(next, 60.0)
        .unwrap_or_else(|e| panic!("{:?} after a dead waiter: {}", next, e.message));
    let took = t.elapsed();
    eprintln!(
        "a {waiter} waiter killed by signal {sig} (other host: {other_host}): {next:?} got in after {took:?}"
    );
    next_handle.release().unwrap();
    took
}

#[test]
fn a_writer_killed_in_line_delays_the_next_reader_by_about_a_poll_step() {
    let took = killed_waiter_then("write", libc::SIGKILL, false, Mode::Read);
    // The poll interval is 1 s; before, the dead claim stood for the whole 90 s threshold.
    assert!(took < Duration::from_secs(5), "reader waited {took:?}");
}

#[test]
fn a_writer_terminated_in_line_as_scancel_does_delays_the_next_reader_briefly() {
    let took = killed_waiter_then("write", libc::SIGTERM, false, Mode::Read);
    assert!(took < Duration::from_secs(5), "reader waited {took:?}");
}

#[test]
fn a_reader_killed_in_line_delays_the_next_writer_by_about_a_poll_step() {
    let took = killed_waiter_then("read", libc::SIGKILL, false, Mode::Write);
    assert!(took < Duration::from_secs(5), "writer waited {took:?}");
}

/// "Another host": a pid namespace of its own, whose pids this process cannot judge. Its
/// claim goes once it has not been refreshed for the place lease (5 s with default options),
/// so the wait is the lease, not the 90 s threshold. Needs root for the new namespace.
#[test]
fn a_writer_killed_in_line_on_another_host_delays_the_next_reader_by_the_place_lease() {
    if !allowed_to_unshare() {
        return;
    }
    let took = killed_waiter_then("write", libc::SIGKILL, true, Mode::Read);
    assert!(
        took >= Duration::from_secs(3),
        "the claim of a process in another pid namespace went after {took:?}: it cannot have \
         been judged by its lease (5 s), so it was judged by a pid it cannot see"
    );
    assert!(took < Duration::from_secs(20), "reader waited {took:?}");
}

/// Root can make pid namespaces; otherwise the test says why it cannot run and fails unless
/// skips are allowed (scripts/test.sh --allow-skips).
fn allowed_to_unshare() -> bool {
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        std::env::var_os("SRWL_ALLOW_SKIPS").is_some(),
        "this test needs root (unshare --pid); run as root or set SRWL_ALLOW_SKIPS=1"
    );
    eprintln!("SKIP: not root, cannot make a pid namespace");
    false
}

/// A live waiter refreshes its place: waiting far longer than the place lease costs it
/// nothing, and a reader that comes later still goes after it (writer preference).
#[test]
fn a_live_waiter_keeps_its_place_past_the_place_lease() {
    let dir = TempDir::new("waiter-live");
    let path = dir.lock_path();
    let o = Options::default();
    let holder = open(&path, &o);
    holder.acquire(Mode::Write, 5.0).unwrap();
    let (mut child, _) = spawn_waiter("write", &path, false);
    let reader = open(&path, &o);
    // 8 s: longer than the place lease (5 s), as seen by a waiting reader that scans.
    let e = reader.acquire(Mode::Read, 8.0).unwrap_err();
    assert_eq!(e.status, Status::SRWL_TIMEOUT, "{}", e.message);
    let claims: Vec<String> = entries(&sidecar(&path).join("Q"))
        .into_iter()
        .filter(|n| n.starts_with("w."))
        .collect();
    assert_eq!(claims.len(), 1, "the live writer's claim: {claims:?}");
    holder.release().unwrap();
    // The writer goes first: a reader asking now must wait for it.
    let t = Instant::now();
    while sidecar(&path).join("R").exists() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the waiting writer was not granted after the release"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let e = reader.acquire(Mode::Read, 0.0).unwrap_err();
    assert_eq!(e.status, Status::SRWL_TIMEOUT);
    kill(&mut child, libc::SIGKILL);
}

/// A timeout says what kept the caller out: the holder of the write lock, or the readers
/// still in the room, with the process and host behind each.
#[test]
fn a_timeout_names_what_blocked_it() {
    let dir = TempDir::new("waiter-blame");
    let path = dir.lock_path();
    let o = fast();
    let holder = open(&path, &o);
    holder.acquire(Mode::Write, 5.0).unwrap();
    let other = open(&path, &o);
    let e = other.acquire(Mode::Read, 0.3).unwrap_err();
    assert_eq!(e.status, Status::SRWL_TIMEOUT);
    let me = format!("pid {} on ", std::process::id());
    assert!(
        e.message
            .contains("timed out: waiting for the write lock's baton, held by Q/b.")
            && e.message.contains(&me),
        "{}",
        e.message
    );
    holder.release().unwrap();

    holder.acquire(Mode::Read, 5.0).unwrap();
    let e = other.acquire(Mode::Write, 0.3).unwrap_err();
    assert_eq!(e.status, Status::SRWL_TIMEOUT);
    assert!(
        e.message
            .contains("timed out: waiting for 1 entry still in the room, the first R/r.")
            && e.message.contains(&me),
        "{}",
        e.message
    );
    holder.release().unwrap();
    other.acquire(Mode::Write, 5.0).unwrap();
    other.release().unwrap();
}
