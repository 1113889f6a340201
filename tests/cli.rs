//! The `softrwlock` command, run as a real process: holding while a command runs, exit
//! statuses, signal forwarding, timeouts, `status` and `verify`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_softrwlock");
/// Short intervals so that evictions happen within a second.
const FAST: [&str; 6] = ["--heartbeat", "0.1", "--stale", "0.6", "--poll", "0.02"];

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let mut raw = [0u8; 8];
        softrwlock::fs::random_bytes(&mut raw);
        let p =
            std::env::temp_dir().join(format!("srwl-cli-{tag}-{:016x}", u64::from_ne_bytes(raw)));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn lock(&self) -> PathBuf {
        self.0.join("lock")
    }
    fn side(&self) -> PathBuf {
        self.0.join("lock.srwl")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bin() -> Command {
    Command::new(BIN)
}

/// `softrwlock ROLE FAST... LOCK -- ARGS...`
fn locked(role: &str, lock: &Path, extra: &[&str], cmd: &[&str]) -> Command {
    let mut c = bin();
    c.arg(role)
        .args(FAST)
        .args(extra)
        .arg(lock)
        .arg("--")
        .args(cmd);
    c
}

fn output(mut c: Command) -> Output {
    c.stdin(Stdio::null()).output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn wait_for_file(p: &Path, within: Duration) {
    let t0 = Instant::now();
    while !p.exists() {
        assert!(t0.elapsed() < within, "{} did not appear", p.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_within(child: &mut Child, within: Duration) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if t0.elapsed() > within {
            let _ = child.kill();
            panic!("process {} did not end within {within:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn entries(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The room without the baton at rest, which must be there, once, whenever no writer holds.
fn room(dir: &TempDir) -> Vec<String> {
    let all = entries(&dir.side().join("R"));
    let batons = all.iter().filter(|n| n.starts_with("baton.")).count();
    assert_eq!(batons, 1, "expected one baton at rest in the room: {all:?}");
    all.into_iter()
        .filter(|n| !n.starts_with("baton."))
        .collect()
}

/// The queue without the baton of the writer that holds the lock (exactly one, asserted).
fn queue_beside_holder(dir: &TempDir) -> Vec<String> {
    let all = entries(&dir.side().join("Q"));
    let batons = all.iter().filter(|n| n.starts_with("b.")).count();
    assert_eq!(
        batons, 1,
        "expected the holder's baton in the queue: {all:?}"
    );
    all.into_iter().filter(|n| !n.starts_with("b.")).collect()
}

fn host() -> String {
    use std::os::unix::ffi::OsStrExt;
    softrwlock::record::sanitize_host(hostname::get().unwrap().as_bytes())
}

fn signal(pid: u32, sig: i32) {
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

/// Starts `softrwlock ROLE LOCK -- sh -c 'touch MARK; exec sleep SECS'` and waits until the
/// command runs.
fn hold(dir: &TempDir, role: &str, secs: &str) -> Child {
    let mark = dir.0.join(format!("mark-{role}-{secs}"));
    let child = locked(
        role,
        &dir.lock(),
        &[],
        &[
            "sh",
            "-c",
            "touch \"$0\"; exec sleep \"$1\"",
            mark.to_str().unwrap(),
            secs,
        ],
    )
    .stdin(Stdio::null())
    .spawn()
    .unwrap();
    wait_for_file(&mark, Duration::from_secs(10));
    child
}

#[test]
fn write_lock_is_held_while_the_command_runs() {
    let dir = TempDir::new("held");
    let mut holder = hold(&dir, "--write", "1.5");
    // While the command runs the writer holds the baton (in the queue) and the room is gone.
    assert_eq!(queue_beside_holder(&dir), Vec::<String>::new());
    assert!(!dir.side().join("R").exists());
    for role in ["--write", "--read"] {
        let t0 = Instant::now();
        let o = output(locked(role, &dir.lock(), &["--timeout", "0"], &["true"]));
        assert_eq!(code(&o), 124, "{role} while held: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains("timed out"));
        assert!(t0.elapsed() < Duration::from_secs(3));
    }
    assert!(wait_within(&mut holder, Duration::from_secs(10)).success());
    assert_eq!(room(&dir), Vec::<String>::new());
    let o = output(locked(
        "--write",
        &dir.lock(),
        &["--timeout", "0"],
        &["true"],
    ));
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
}

#[test]
fn readers_share_and_the_command_sees_the_lock_in_its_environment() {
    let dir = TempDir::new("share");
    let mut reader = hold(&dir, "--read", "1");
    let o = output(locked(
        "--read",
        &dir.lock(),
        &["--timeout", "0"],
        &[
            "sh",
            "-c",
            "echo \"$SOFTRWLOCK_ROLE $SOFTRWLOCK_PATH\"; ls \"$SOFTRWLOCK_PATH.srwl/R\"",
        ],
    ));
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("read {}", dir.lock().display())
    );
    assert_eq!(lines.filter(|l| l.starts_with("r.")).count(), 2, "{out}");
    assert!(wait_within(&mut reader, Duration::from_secs(10)).success());
    let o = output(locked(
        "--write",
        &dir.lock(),
        &[],
        &["sh", "-c", "echo $SOFTRWLOCK_GENERATION"],
    ));
    assert_eq!(code(&o), 0);
    assert!(text(&o.stdout).trim().parse::<u64>().unwrap() >= 1);
}

#[test]
fn exit_status_is_passed_through() {
    let dir = TempDir::new("status");
    let o = output(locked("--write", &dir.lock(), &[], &["sh", "-c", "exit 3"]));
    assert_eq!(code(&o), 3);
    let o = output(locked("--read", &dir.lock(), &[], &["sh", "-c", "exit 0"]));
    assert_eq!(code(&o), 0);
    let o = output(locked(
        "--read",
        &dir.lock(),
        &[],
        &["sh", "-c", "kill -KILL $$"],
    ));
    assert_eq!(code(&o), 137, "{}", text(&o.stderr));
    assert_eq!(room(&dir), Vec::<String>::new());
}

#[test]
fn sigterm_is_forwarded_and_the_lock_released() {
    let dir = TempDir::new("term");
    let mut holder = hold(&dir, "--write", "30");
    let t0 = Instant::now();
    signal(holder.id(), libc::SIGTERM);
    let st = wait_within(&mut holder, Duration::from_secs(10));
    assert_eq!(st.code(), Some(143), "{st:?}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(room(&dir), Vec::<String>::new());
    let o = output(locked(
        "--write",
        &dir.lock(),
        &["--timeout", "0"],
        &["true"],
    ));
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
}

#[test]
fn sigusr1_is_forwarded_to_the_command() {
    let dir = TempDir::new("usr1");
    let mark = dir.0.join("ready");
    let got = dir.0.join("got-usr1");
    let script = "trap 'touch \"$1\"; exit 7' USR1; touch \"$0\"; i=0; while [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done";
    let mut c = locked(
        "--read",
        &dir.lock(),
        &[],
        &[
            "sh",
            "-c",
            script,
            mark.to_str().unwrap(),
            got.to_str().unwrap(),
        ],
    )
    .stdin(Stdio::null())
    .spawn()
    .unwrap();
    wait_for_file(&mark, Duration::from_secs(10));
    signal(c.id(), libc::SIGUSR1);
    let st = wait_within(&mut c, Duration::from_secs(10));
    assert_eq!(st.code(), Some(7));
    assert!(got.exists());
}

#[test]
fn timeout_is_quick_and_leaves_nothing_behind() {
    let dir = TempDir::new("timeout");
    let mut holder = hold(&dir, "--write", "3");
    for (role, t) in [("--read", "0.3"), ("--write", "0.3"), ("--write", "0")] {
        let t0 = Instant::now();
        let o = output(locked(role, &dir.lock(), &["--timeout", t], &["true"]));
        assert_eq!(code(&o), 124, "{role}: {}", text(&o.stderr));
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
        assert_eq!(
            queue_beside_holder(&dir),
            Vec::<String>::new(),
            "{role} left a queue entry"
        );
        assert!(!dir.side().join("R").exists());
    }
    holder.kill().unwrap();
    let _ = holder.wait();
}

#[test]
fn a_signal_while_waiting_withdraws_from_the_queue() {
    let dir = TempDir::new("wait-sig");
    let mut holder = hold(&dir, "--write", "3");
    let mut waiters: Vec<Child> = ["--write", "--read"]
        .iter()
        .map(|r| {
            locked(r, &dir.lock(), &[], &["true"])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let t0 = Instant::now();
    while entries(&dir.side().join("Q")).len() < 3 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the waiters did not queue"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    for w in &mut waiters {
        signal(w.id(), libc::SIGTERM);
        let st = wait_within(w, Duration::from_secs(5));
        assert_eq!(st.code(), None);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(libc::SIGTERM));
    }
    assert_eq!(queue_beside_holder(&dir), Vec::<String>::new());
    holder.kill().unwrap();
    let _ = holder.wait();
}

#[test]
fn command_not_found_or_not_executable() {
    let dir = TempDir::new("notfound");
    let o = output(locked(
        "--write",
        &dir.lock(),
        &[],
        &["no-such-command-srwl-test"],
    ));
    assert_eq!(code(&o), 127);
    assert!(text(&o.stderr).contains("command not found"));
    let plain = dir.0.join("plain");
    std::fs::write(&plain, "not a program").unwrap();
    let o = output(locked(
        "--write",
        &dir.lock(),
        &[],
        &[plain.to_str().unwrap()],
    ));
    assert_eq!(code(&o), 126);
    // The lock was released both times.
    assert_eq!(room(&dir), Vec::<String>::new());
}

#[test]
fn lock_errors_and_bad_usage() {
    let dir = TempDir::new("usage");
    let o = output(locked(
        "--write",
        Path::new("/nonexistent-srwl/dir/lock"),
        &[],
        &["true"],
    ));
    assert_eq!(code(&o), 125);
    let err = text(&o.stderr);
    assert!(
        err.contains("/nonexistent-srwl/dir") && err.contains("ENOENT"),
        "{err}"
    );
    let lock = dir.lock();
    let l = lock.to_str().unwrap();
    for args in [
        vec![],
        vec!["--write"],
        vec!["--write", l],
        vec!["--write", l, "--"],
        vec![l, "--", "true"],
        vec!["--write", "--read", l, "--", "true"],
        vec!["--write", "--timeout", "-2", l, "--", "true"],
        vec!["--write", "--timeout", "soon", l, "--", "true"],
        vec![
            "--write",
            "--heartbeat",
            "2",
            "--stale",
            "1",
            l,
            "--",
            "true",
        ],
        vec!["--write", "--bogus", l, "--", "true"],
        vec!["status"],
        vec!["verify"],
    ] {
        let o = output({
            let mut c = bin();
            c.args(&args);
            c
        });
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o.stderr));
        assert!(!text(&o.stderr).is_empty());
    }
    let o = output({
        let mut c = bin();
        c.arg("--help");
        c
    });
    assert_eq!(code(&o), 0);
    assert!(text(&o.stdout).contains("Usage:"));
}

#[test]
fn lost_hold_is_reported() {
    // The command stops softrwlock (so its heartbeat stops), lets another process evict it
    // and take the lock, then resumes it: the release finds the hold lost.
    let dir = TempDir::new("lost");
    let script = "kill -STOP $PPID; \"$0\" --write --heartbeat 0.1 --stale 0.6 --poll 0.02 --timeout 10 \"$1\" -- true; r=$?; kill -CONT $PPID; sleep 0.5; exit $r";
    let o = output(locked(
        "--write",
        &dir.lock(),
        &[],
        &["sh", "-c", script, BIN, dir.lock().to_str().unwrap()],
    ));
    let err = text(&o.stderr);
    assert_eq!(code(&o), 122, "{err}");
    assert!(err.contains("LOST") || err.contains("lost"), "{err}");
    // A failing command keeps its own status.
    let script = "kill -STOP $PPID; \"$0\" --write --heartbeat 0.1 --stale 0.6 --poll 0.02 --timeout 10 \"$1\" -- true; kill -CONT $PPID; sleep 0.5; exit 5";
    let o = output(locked(
        "--write",
        &dir.lock(),
        &[],
        &["sh", "-c", script, BIN, dir.lock().to_str().unwrap()],
    ));
    assert_eq!(code(&o), 5, "{}", text(&o.stderr));
}

#[test]
fn status_shows_the_holder_in_the_table_and_json() {
    let dir = TempDir::new("show");
    let o = output({
        let mut c = bin();
        c.arg("status").arg(dir.lock());
        c
    });
    assert_eq!(code(&o), 0);
    assert!(
        text(&o.stdout).contains("no lock state"),
        "{}",
        text(&o.stdout)
    );

    let mut holder = hold(&dir, "--write", "3");
    let me = host();
    let pid = holder.id().to_string();
    let o = output({
        let mut c = bin();
        c.args(["status", "--sample", "0.3"]).arg(dir.lock());
        c
    });
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let table = text(&o.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("write "))
        .unwrap_or_else(|| panic!("no write row in\n{table}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[1], me, "{row}");
    assert_eq!(cols[2], pid, "{row}");
    assert_eq!(cols[3], "changing", "{row}");
    assert!(row.contains("Q/b.0000000000000001."), "{row}");
    assert!(row.contains("holds the write lock"), "{row}");
    assert!(table.contains("held by:    1 writer"), "{table}");
    assert!(table.contains("room:       absent"), "{table}");
    assert!(
        table.contains(&format!(
            "baton:      held by the writer, pid {pid} on {me}"
        )),
        "{table}"
    );
    assert!(table.contains("(generation 1)"), "{table}");

    let o = output({
        let mut c = bin();
        c.args(["status", "--json", "--sample", "0.3"])
            .arg(dir.lock());
        c
    });
    assert_eq!(code(&o), 0);
    let j = text(&o.stdout);
    json_check::validate(j.trim()).unwrap_or_else(|e| panic!("invalid JSON ({e}): {j}"));
    assert!(j.contains("\"state\":\"write\""), "{j}");
    assert!(j.contains("\"role\":\"write\","), "{j}");
    assert!(j.contains(&format!("\"host\":\"{me}\"")), "{j}");
    assert!(j.contains(&format!("\"pid\":{pid},")), "{j}");
    assert_eq!(json_int(&j, "generation"), Some(1), "{j}");
    assert!(j.contains("\"room\":\"absent\""), "{j}");
    assert!(
        j.contains("\"baton\":{\"where\":\"queue\",\"name\":\"Q/b.0000000000000001."),
        "{j}"
    );
    assert!(j.contains("\"holder_role\":\"write\""), "{j}");
    holder.kill().unwrap();
    let _ = holder.wait();
}

/// The integer value of the first `"key":` in a JSON text.
fn json_int(j: &str, key: &str) -> Option<u64> {
    let pat = format!("\"{key}\":");
    let at = j.find(&pat)? + pat.len();
    let digits: String = j[at..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

fn status(dir: &TempDir, json: bool) -> String {
    let o = output({
        let mut c = bin();
        c.args(["status", "--sample", "0.3"]);
        if json {
            c.arg("--json");
        }
        c.arg(dir.lock());
        c
    });
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let out = text(&o.stdout);
    if json {
        json_check::validate(out.trim()).unwrap_or_else(|e| panic!("invalid JSON ({e}): {out}"));
    }
    out
}

#[test]
fn status_shows_readers_in_the_open_room() {
    let dir = TempDir::new("show-read");
    // One write cycle first, so that the generation is 1.
    let o = output(locked("--write", &dir.lock(), &[], &["true"]));
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let mut r1 = hold(&dir, "--read", "3");
    let mut r2 = hold(&dir, "--read", "2.9");
    let table = status(&dir, false);
    assert!(table.contains("(generation 1)"), "{table}");
    assert!(
        table.contains("room:       open: the baton rests in it"),
        "{table}"
    );
    assert!(table.contains("2 readers inside"), "{table}");
    assert!(
        table.contains("baton:      at rest in the room (R/baton.0000000000000001)"),
        "{table}"
    );
    assert!(table.contains("held by:    2 readers"), "{table}");
    let me = host();
    for r in [&r1, &r2] {
        let pid = r.id().to_string();
        let row = table
            .lines()
            .find(|l| l.starts_with("read ") && l.split_whitespace().nth(2) == Some(&pid))
            .unwrap_or_else(|| panic!("no read row for pid {pid} in\n{table}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[1], me, "{row}");
        assert!(cols[6].starts_with("R/r."), "{row}");
    }
    let j = status(&dir, true);
    assert!(j.contains("\"state\":\"read\""), "{j}");
    assert_eq!(json_int(&j, "generation"), Some(1), "{j}");
    assert!(j.contains("\"room\":\"open\""), "{j}");
    assert_eq!(json_int(&j, "readers_in_room"), Some(2), "{j}");
    assert!(
        j.contains("\"baton\":{\"where\":\"room\",\"name\":\"R/baton.0000000000000001\""),
        "{j}"
    );
    assert_eq!(j.matches("\"role\":\"read\"").count(), 2, "{j}");
    for r in [&mut r1, &mut r2] {
        assert!(wait_within(r, Duration::from_secs(10)).success());
    }
    let table = status(&dir, false);
    assert!(table.contains("held by:    nobody"), "{table}");
    assert!(table.contains("0 readers inside"), "{table}");
}

#[test]
fn a_signal_while_closing_the_room_hands_the_baton_back() {
    // A writer that has taken the baton and waits for a reader to leave the room is ended by
    // a signal: the baton goes back into the room (never deleted), the reader keeps its lock,
    // and new readers get in at once.
    let dir = TempDir::new("closing-sig");
    let mut reader = hold(&dir, "--read", "4");
    let mut writer = locked("--write", &dir.lock(), &[], &["true"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let held = loop {
        if let Some(b) = entries(&dir.side().join("Q"))
            .into_iter()
            .find(|n| n.starts_with("b."))
        {
            break b;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the writer did not take the baton"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let gen = held[2..18].to_string();
    let table = status(&dir, false);
    let row = table
        .lines()
        .find(|l| l.starts_with("write "))
        .unwrap_or_else(|| panic!("no write row in\n{table}"));
    assert_eq!(
        row.split_whitespace().nth(2),
        Some(writer.id().to_string().as_str()),
        "{row}"
    );
    assert!(
        row.contains("closing the room: waits for 1 reader to leave"),
        "{row}"
    );
    assert!(
        table.contains("room:       present without the baton"),
        "{table}"
    );
    assert!(
        table.contains("held by:    1 writer and 1 reader"),
        "{table}"
    );
    let j = status(&dir, true);
    assert!(j.contains("\"state\":\"write\""), "{j}");
    assert!(j.contains("\"room\":\"without-baton\""), "{j}");

    signal(writer.id(), libc::SIGTERM);
    let st = wait_within(&mut writer, Duration::from_secs(5));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGTERM), "{st:?}");
    assert_eq!(entries(&dir.side().join("Q")), Vec::<String>::new());
    let r = room(&dir);
    assert_eq!(
        r.len(),
        1,
        "the reader's record should still be in the room: {r:?}"
    );
    assert!(r[0].starts_with("r."), "{r:?}");
    assert!(
        dir.side().join("R").join(format!("baton.{gen}")).exists(),
        "the baton did not come back as baton.{gen}: {:?}",
        entries(&dir.side().join("R"))
    );
    let o = output(locked(
        "--read",
        &dir.lock(),
        &["--timeout", "0"],
        &["true"],
    ));
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(wait_within(&mut reader, Duration::from_secs(10)).success());
}

#[test]
fn status_shows_hostile_entries_without_following_them() {
    let dir = TempDir::new("hostile");
    let o = output(locked("--read", &dir.lock(), &[], &["true"]));
    assert_eq!(code(&o), 0);
    let room = dir.side().join("R");
    let queue = dir.side().join("Q");
    let tok = "0123456789abcdef0123456789abcdef";
    std::os::unix::fs::symlink("/etc/passwd", room.join(format!("r.{tok}"))).unwrap();
    std::fs::write(
        room.join("r.ffffffffffffffffffffffffffffffff"),
        vec![b'x'; 5000],
    )
    .unwrap();
    std::fs::write(room.join("weird\n\"name\u{1b}"), b"\xff\xfe").unwrap();
    let fifo = queue.join(format!("r.0000000000000001.{tok}"));
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    std::fs::create_dir_all(queue.join(format!("w.0000000000000002.{tok}"))).unwrap();
    // A planted copy of the baton: a file named like one that is not the file init names.
    std::fs::write(
        queue.join(format!("b.0000000000000009.{tok}")),
        std::fs::read(room.join("baton.0000000000000000")).unwrap(),
    )
    .unwrap();
    for json in [false, true] {
        let mut c = bin();
        c.arg("status").args(["--sample", "0.1"]);
        if json {
            c.arg("--json");
        }
        c.arg(dir.lock());
        let mut child = c
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let st = wait_within(&mut child, Duration::from_secs(10));
        let mut out = String::new();
        std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
        assert_eq!(st.code(), Some(0), "{out}");
        if json {
            json_check::validate(out.trim())
                .unwrap_or_else(|e| panic!("invalid JSON ({e}): {out}"));
            assert!(!out.contains("root:"), "followed the symlink: {out}");
        } else {
            assert!(out.contains("symlink"), "{out}");
            assert!(out.contains("not a regular file"), "{out}");
            assert!(out.contains("oversized"), "{out}");
            assert!(out.contains("weird\\x0a\"name\\x1b"), "{out}");
            // A claim is a file under srwl/2: a directory under a claim's name is shown as such.
            let claim_row = out
                .lines()
                .find(|l| l.contains("Q/w.0000000000000002"))
                .unwrap_or_else(|| panic!("no row for the planted claim: {out}"));
            assert!(claim_row.contains("unreadable"), "{claim_row}");
            // The real baton is told from the planted one by init's inode.
            assert!(out.contains("(generation 0?"), "{out}");
            assert!(out.contains("planted"), "{out}");
            assert!(out.contains("unexpected: "), "{out}");
        }
    }
}

#[test]
fn verify_passes_on_a_local_directory() {
    let dir = TempDir::new("verify");
    let o = output({
        let mut c = bin();
        c.args(["verify", "--duration", "1"]).arg(&dir.0);
        c
    });
    let out = text(&o.stdout);
    assert_eq!(code(&o), 0, "{out}\n{}", text(&o.stderr));
    assert!(out.contains("VERDICT: PASS"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    // It cleaned up after itself.
    assert_eq!(entries(&dir.0), Vec::<String>::new());
}

#[test]
fn verify_cross_client_with_two_processes_as_nodes() {
    let dir = TempDir::new("cross");
    let spawn = || {
        let mut c = bin();
        c.args([
            "verify",
            "--cross-client",
            "t1",
            "--nodes",
            "2",
            "--duration",
            "1",
            "--workers",
            "2",
        ])
        .arg(&dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
        c.spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for c in [a, b] {
        let o = c.wait_with_output().unwrap();
        let out = text(&o.stdout);
        assert_eq!(code(&o), 0, "{out}");
        assert!(
            out.contains("PASS  cross-client exclusion with 2 node(s)"),
            "{out}"
        );
    }
    assert_eq!(entries(&dir.0), Vec::<String>::new());
}

/// A small JSON validator (RFC 8259 grammar), so that the test needs no dependency.
mod json_check {
    pub fn validate(s: &str) -> Result<(), String> {
        let b = s.as_bytes();
        let mut i = 0;
        value(b, &mut i)?;
        ws(b, &mut i);
        if i != b.len() {
            return Err(format!("trailing data at {i}"));
        }
        Ok(())
    }

    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
            *i += 1;
        }
    }

    fn lit(b: &[u8], i: &mut usize, w: &str) -> Result<(), String> {
        if b[*i..].starts_with(w.as_bytes()) {
            *i += w.len();
            Ok(())
        } else {
            Err(format!("bad literal at {i}"))
        }
    }

    fn value(b: &[u8], i: &mut usize) -> Result<(), String> {
        ws(b, i);
        match b.get(*i) {
            Some(b'{') => {
                *i += 1;
                ws(b, i);
                if b.get(*i) == Some(&b'}') {
                    *i += 1;
                    return Ok(());
                }
                loop {
                    ws(b, i);
                    string(b, i)?;
                    ws(b, i);
                    if b.get(*i) != Some(&b':') {
                        return Err(format!("expected ':' at {i}"));
                    }
                    *i += 1;
                    value(b, i)?;
                    ws(b, i);
                    match b.get(*i) {
                        Some(b',') => *i += 1,
                        Some(b'}') => {
                            *i += 1;
                            return Ok(());
                        }
                        _ => return Err(format!("expected ',' or '}}' at {i}")),
                    }
                }
            }
            Some(b'[') => {
                *i += 1;
                ws(b, i);
                if b.get(*i) == Some(&b']') {
                    *i += 1;
                    return Ok(());
                }
                loop {
                    value(b, i)?;
                    ws(b, i);
                    match b.get(*i) {
                        Some(b',') => *i += 1,
                        Some(b']') => {
                            *i += 1;
                            return Ok(());
                        }
                        _ => return Err(format!("expected ',' or ']' at {i}")),
                    }
                }
            }
            Some(b'"') => string(b, i),
            Some(b't') => lit(b, i, "true"),
            Some(b'f') => lit(b, i, "false"),
            Some(b'n') => lit(b, i, "null"),
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = *i;
                *i += 1;
                while *i < b.len() && (b[*i].is_ascii_digit() || b".eE+-".contains(&b[*i])) {
                    *i += 1;
                }
                std::str::from_utf8(&b[start..*i])
                    .unwrap()
                    .parse::<f64>()
                    .map(|_| ())
                    .map_err(|_| format!("bad number at {start}"))
            }
            _ => Err(format!("unexpected byte at {i}")),
        }
    }

    fn string(b: &[u8], i: &mut usize) -> Result<(), String> {
        if b.get(*i) != Some(&b'"') {
            return Err(format!("expected string at {i}"));
        }
        *i += 1;
        while let Some(&c) = b.get(*i) {
            *i += 1;
            match c {
                b'"' => return Ok(()),
                b'\\' => match b.get(*i) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => *i += 1,
                    Some(b'u') => {
                        if b.len() < *i + 5 || !b[*i + 1..*i + 5].iter().all(u8::is_ascii_hexdigit)
                        {
                            return Err(format!("bad \\u escape at {i}"));
                        }
                        *i += 5;
                    }
                    _ => return Err(format!("bad escape at {i}")),
                },
                c if c < 0x20 => return Err(format!("control character in string at {i}")),
                _ => {}
            }
        }
        Err("unterminated string".into())
    }
}

/// A reader made by the CLI is a hard link of its handle's template in the sidecar; a signal
/// to the holding CLI releases and closes: neither the record nor the template is left.
#[test]
fn a_signalled_reader_leaves_no_record_and_no_template() {
    let dir = TempDir::new("sig-tmpl");
    let mut reader = hold(&dir, "--read", "30");
    let templates = || -> Vec<String> {
        entries(&dir.side())
            .into_iter()
            .filter(|n| n.starts_with("h."))
            .collect()
    };
    assert_eq!(room(&dir).len(), 1, "the reader's record is in the room");
    assert_eq!(templates().len(), 1, "{:?}", entries(&dir.side()));
    // status names it for what it is, a valid entry (its record is the last hold's).
    let table = status(&dir, false);
    let row = table
        .lines()
        .find(|l| l.starts_with("template "))
        .unwrap_or_else(|| panic!("no template row in\n{table}"));
    assert!(row.contains("reader-record template"), "{row}");
    assert!(!row.contains("does not match"), "{row}");
    let j = status(&dir, true);
    assert!(j.contains("\"role\":\"template\""), "{j}");
    assert!(j.contains("\"unexpected_entries\":0"), "{j}");
    signal(reader.id(), libc::SIGTERM);
    wait_within(&mut reader, Duration::from_secs(10));
    assert_eq!(room(&dir), Vec::<String>::new());
    assert_eq!(templates(), Vec::<String>::new());
}
