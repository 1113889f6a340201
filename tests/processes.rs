//! Real processes: SIGKILL of holders (eviction), SIGSTOP past the threshold (zombie told
//! SRWL_ELOST), and fork semantics. The test binary re-executes itself as the child process.

mod common;
use common::*;
use softrwlock::{Lock, Mode, Status};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "SRWL_TEST_CHILD";

/// Child side: `SRWL_TEST_CHILD=<role>:<path>` acquires, prints "held", then waits for a
/// line on stdin and reports check and release statuses.
#[test]
fn child_process_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (role, path) = spec.split_once(':').unwrap();
    let l = open(std::path::Path::new(path), &fast());
    let role = if role == "write" {
        Mode::Write
    } else {
        Mode::Read
    };
    l.acquire(role, 10.0).unwrap();
    say("held\n");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let check = l.check().err().map(|e| e.status);
    let release = l.release().err().map(|e| e.status);
    say(&format!("check={check:?} release={release:?}\n"));
    std::process::exit(0);
}

fn spawn_holder(
    role: &str,
    path: &std::path::Path,
) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, format!("{role}:{}", path.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "child exited before holding"
        );
        if line.trim_end().ends_with("held") {
            break;
        }
    }
    (child, out)
}

fn signal(child: &Child, sig: i32) {
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

fn kill_then_acquire(role: &str) {
    let dir = TempDir::new(&format!("kill-{role}"));
    let path = dir.lock_path();
    let (mut child, _out) = spawn_holder(role, &path);
    let l = open(&path, &fast());
    assert_eq!(
        l.acquire(Mode::Write, 0.0).unwrap_err().status,
        Status::SRWL_TIMEOUT
    );
    signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    let t = Instant::now();
    l.acquire(Mode::Write, 30.0).unwrap();
    let took = t.elapsed();
    // Evicted after the stale threshold (0.6 s), not before, and not much later.
    assert!(
        took >= Duration::from_millis(400),
        "evicted too early: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "eviction took {took:?}");
    l.check().unwrap();
    l.release().unwrap();
}

#[test]
fn killed_writer_is_evicted_after_the_threshold() {
    kill_then_acquire("write");
}

#[test]
fn killed_reader_is_evicted_after_the_threshold() {
    kill_then_acquire("read");
}

#[test]
fn stopped_writer_is_told_it_lost_the_hold() {
    let dir = TempDir::new("zombie");
    let path = dir.lock_path();
    let (mut child, mut out) = spawn_holder("write", &path);
    signal(&child, libc::SIGSTOP);
    let l = open(&path, &fast());
    l.acquire(Mode::Write, 30.0).unwrap();
    let gen_new = l.generation().unwrap();
    signal(&child, libc::SIGCONT);
    // Let the zombie's heartbeat run, then ask it to check and release.
    std::thread::sleep(Duration::from_millis(300));
    child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(
        line.trim_end()
            .ends_with("check=Some(SRWL_ELOST) release=Some(SRWL_ELOST)"),
        "zombie said {line:?}"
    );
    child.wait().unwrap();
    // The zombie's release touched nothing of ours.
    l.check().unwrap();
    let other = open(&path, &fast());
    assert_eq!(
        other.acquire(Mode::Read, 0.0).unwrap_err().status,
        Status::SRWL_TIMEOUT
    );
    assert_eq!(l.generation().unwrap(), gen_new);
    l.release().unwrap();
    other.acquire(Mode::Read, 0.0).unwrap();
    other.release().unwrap();
}

#[test]
fn forked_child_touches_nothing_and_can_open_a_new_handle() {
    let dir = TempDir::new("fork");
    let path = dir.lock_path();
    let l = open(&path, &fast());
    l.acquire(Mode::Write, 0.0).unwrap();
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // Child: only async-signal-safe-ish work is strictly required, but the library
        // supports full use after fork; exit codes report what we saw.
        let code = (|| {
            if l.acquire(Mode::Read, 0.0).map_err(|e| e.status) != Err(Status::SRWL_EFORKED) {
                return 10;
            }
            if l.release().map_err(|e| e.status) != Err(Status::SRWL_EFORKED) {
                return 11;
            }
            let fresh = Lock::open(path.to_str().unwrap().as_bytes(), &fast()).unwrap();
            if fresh.acquire(Mode::Write, 0.0).map_err(|e| e.status) != Err(Status::SRWL_TIMEOUT) {
                return 12;
            }
            // The parent still holds: our copy's close must not release it.
            if l.close().is_err() {
                return 13;
            }
            if fresh.acquire(Mode::Read, 0.0).map_err(|e| e.status) != Err(Status::SRWL_TIMEOUT) {
                return 14;
            }
            0
        })();
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child died: {status}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "child reported step {}",
        libc::WEXITSTATUS(status)
    );
    l.check().unwrap();
    l.release().unwrap();
}
