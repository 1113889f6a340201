//! The `softrwlock` command, run as a real process: holding while a command runs, exit
//! statuses, signal forwarding, timeouts, flock(1)'s options and exit codes (and the same job
//! lines run under flock), `status`, `verify`, and the generated man pages and completions.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The command under test: this crate's, or another build of it named by
/// SOFTRWLOCK_CLI_UNDER_TEST (to run these tests against an installed or older softrwlock).
fn bin_path() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        std::env::var("SOFTRWLOCK_CLI_UNDER_TEST")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_softrwlock").to_string())
    })
}
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
    Command::new(bin_path())
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
        // As flock: a busy lock exits 1, quietly.
        assert_eq!(code(&o), 1, "{role} while held: {}", text(&o.stderr));
        assert_eq!(text(&o.stderr), "", "{role}");
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
        let o = output(locked(
            role,
            &dir.lock(),
            &["--timeout", t, "-v"],
            &["true"],
        ));
        assert_eq!(code(&o), 1, "{role}: {}", text(&o.stderr));
        // --verbose says why.
        let err = text(&o.stderr);
        assert!(
            err.contains("failed to get the") && err.contains("timed out"),
            "{err}"
        );
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
    let trailing_slash = format!("{}/", dir.0.display());
    for args in [
        vec![],
        vec!["--write"],
        vec!["--write", l],
        vec!["--write", l, "--"],
        vec!["-x", "9"],
        vec!["--write", "--timeout", "-2", l, "--", "true"],
        vec!["-w", "-1", l, "true"],
        vec!["--write", "--timeout", "soon", l, "--", "true"],
        vec!["-w", "nan", l, "true"],
        vec!["--write=1", l, "true"],
        vec!["-s=1", l, "true"],
        vec!["-E", "256", l, "true"],
        vec!["-E", "-1", l, "true"],
        vec!["-E", "x", l, "true"],
        vec![l, "-c", "true", "extra"],
        vec![l, "-c"],
        vec!["-F", l, "true"],
        vec!["-u", l, "true"],
        vec!["", "true"],
        vec![&trailing_slash, "true"],
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
        vec!["status", ""],
        vec!["status", &trailing_slash],
        vec!["status", "--sample", "61", l],
        vec!["status", "--json=1", l],
        vec!["verify"],
        vec!["verify", "--bogus", "/tmp"],
    ] {
        let o = output({
            let mut c = bin();
            c.args(&args);
            c
        });
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o.stderr));
        assert!(!text(&o.stderr).is_empty());
        // Nothing was created or run.
        assert_eq!(entries(&dir.0), Vec::<String>::new(), "{args:?}");
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
        &["sh", "-c", script, bin_path(), dir.lock().to_str().unwrap()],
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
        &["sh", "-c", script, bin_path(), dir.lock().to_str().unwrap()],
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

mod json_check {
    /// Whether `s` is one JSON value (parsed by serde_json).
    pub fn validate(s: &str) -> Result<(), String> {
        serde_json::from_str::<serde_json::Value>(s)
            .map(|_| ())
            .map_err(|e| e.to_string())
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

// ---- flock(1)'s command line ----

/// `softrwlock ARGS...` with short intervals (the lock's options first).
fn cli(args: &[&str]) -> Command {
    let mut c = bin();
    c.args(FAST).args(args);
    c
}

/// Runs `softrwlock FAST... ARGS...` and returns (status, stdout, stderr).
fn run_cli(args: &[&str]) -> (i32, String, String) {
    let o = output(cli(args));
    (code(&o), text(&o.stdout), text(&o.stderr))
}

#[test]
fn flock_options_short_long_and_combined() {
    let dir = TempDir::new("flockopts");
    let lock = dir.lock();
    let l = lock.to_str().unwrap();
    let role = "echo $SOFTRWLOCK_ROLE";
    // Exclusive is the default, as in flock; -s/--shared/--read take a read lock; of -s and
    // -x the last one counts, as in flock.
    for (args, want) in [
        (vec![l, "-c", role], "write"),
        (vec!["-x", l, "-c", role], "write"),
        (vec!["-e", l, "-c", role], "write"),
        (vec!["--exclusive", l, "-c", role], "write"),
        (vec!["--write", l, "-c", role], "write"),
        (vec!["-s", l, "-c", role], "read"),
        (vec!["--shared", l, "-c", role], "read"),
        (vec!["--read", l, "-c", role], "read"),
        (vec!["-s", "-x", l, "-c", role], "write"),
        (vec!["-x", "-s", l, "-c", role], "read"),
        (vec!["-sn", l, "-c", role], "read"),
        (vec!["-snv", l, "-c", role], "read"),
        (vec!["-o", l, "-c", role], "write"),
        (vec!["--close", "--nb", l, "-c", role], "write"),
        (vec!["-w5", l, "-c", role], "write"),
        (vec!["-w", "5", l, "-c", role], "write"),
        (vec!["--wait=0.5", l, "-c", role], "write"),
        (vec!["--timeout", "inf", l, "-c", role], "write"),
        (vec!["-w", "Infinity", l, "-c", role], "write"),
        (vec!["-E7", "-s", l, "--command", role], "read"),
    ] {
        let (c, out, err) = run_cli(&args);
        assert_eq!((c, out.trim()), (0, want), "{args:?}: {err}");
    }

    // While a writer holds: every way of saying "don't wait" or "wait a little" exits 1 (or
    // -E N) quietly, at once or after about the timeout.
    let mut holder = hold(&dir, "--write", "60");
    for (args, want, min_secs) in [
        (vec!["-n", l, "true"], 1, 0.0),
        (vec!["--nonblock", l, "true"], 1, 0.0),
        (vec!["--nb", l, "true"], 1, 0.0),
        (vec!["-sn", l, "true"], 1, 0.0),
        (vec!["-nE", "7", l, "true"], 7, 0.0),
        (vec!["-nE7", l, "true"], 7, 0.0),
        (vec!["-n", "--conflict-exit-code=0", l, "true"], 0, 0.0),
        (vec!["-w", "0", l, "true"], 1, 0.0),
        (vec!["-w0.4", l, "true"], 1, 0.35),
        (vec!["-s", "--wait", "0.4", "-E", "9", l, "true"], 9, 0.35),
        (vec!["-w", "30", "-n", l, "true"], 1, 0.0),
    ] {
        let t0 = Instant::now();
        let (c, out, err) = run_cli(&args);
        let secs = t0.elapsed().as_secs_f64();
        assert_eq!(c, want, "{args:?}: {err}");
        assert_eq!((out.as_str(), err.as_str()), ("", ""), "{args:?}");
        assert!(
            secs >= min_secs && secs < min_secs + 3.0,
            "{args:?}: {secs} s"
        );
    }
    // --verbose says why.
    let (c, _, err) = run_cli(&["-v", "-n", l, "true"]);
    assert_eq!(c, 1);
    assert!(
        err.contains("failed to get the write lock") && err.contains(l),
        "{err}"
    );
    assert_eq!(queue_beside_holder(&dir), Vec::<String>::new());

    // -w inf waits until the holder is done (SIGTERM: passed on to its command, then it
    // releases).
    let waiter = cli(&["-w", "inf", l, "echo", "granted"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // It queues (its claim beside the holder's baton), and stays until the holder is done.
    let t0 = Instant::now();
    while entries(&dir.side().join("Q")).len() < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "-w inf did not queue"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut waiter = waiter;
    assert!(waiter.try_wait().unwrap().is_none(), "-w inf did not wait");
    signal(holder.id(), libc::SIGTERM);
    let st = wait_within(&mut holder, Duration::from_secs(10));
    assert_eq!(st.code(), Some(143));
    let o = waiter.wait_with_output().unwrap();
    assert_eq!((code(&o), text(&o.stdout)), (0, "granted\n".into()));
}

#[test]
fn command_forms_c_and_double_dash() {
    let dir = TempDir::new("cforms");
    let lock = dir.lock();
    let l = lock.to_str().unwrap();
    // Everything after the command is the command's, options and "--" included.
    let (c, out, _) = run_cli(&[l, "printf", "%s|", "-n", "-c", "x", "--", "-s"]);
    assert_eq!((c, out.as_str()), (0, "-n|-c|x|--|-s|"));
    let (c, out, _) = run_cli(&[l, "--", "printf", "%s|", "-x"]);
    assert_eq!((c, out.as_str()), (0, "-x|"));
    let (c, out, _) = run_cli(&["-s", "--", l, "printf", "%s|", "a b"]);
    assert_eq!((c, out.as_str()), (0, "a b|"));
    // -c runs the string with $SHELL -c, or /bin/sh when SHELL is unset, as flock does.
    let o = output({
        let mut c = cli(&[l, "-c", "echo \"$0 $SOFTRWLOCK_ROLE\"; exit 4"]);
        c.env_remove("SHELL");
        c
    });
    assert_eq!((code(&o), text(&o.stdout)), (4, "/bin/sh write\n".into()));
    let fake = dir.0.join("fake-shell");
    std::fs::write(&fake, "#!/bin/sh\necho \"fake shell: $*\"\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let o = output({
        let mut c = cli(&["-s", l, "--command", "a b"]);
        c.env("SHELL", &fake);
        c
    });
    assert_eq!(
        (code(&o), text(&o.stdout)),
        (0, "fake shell: -c a b\n".into())
    );
}

#[test]
fn exit_codes_are_flocks() {
    let dir = TempDir::new("codes");
    let lock = dir.lock();
    let l = lock.to_str().unwrap();
    for n in [0, 1, 3, 42, 255] {
        let s = format!("exit {n}");
        let (c, _, err) = run_cli(&["-E", "7", l, "sh", "-c", &s]);
        assert_eq!(c, n, "{err}");
    }
    let (c, _, _) = run_cli(&[l, "sh", "-c", "kill -TERM $$"]);
    assert_eq!(c, 143);
    let (c, _, err) = run_cli(&[l, "no-such-command-srwl-test"]);
    assert_eq!(c, 127, "{err}");
    // Bad usage: 2, with a message (flock says 64, EX_USAGE).
    let (c, _, err) = run_cli(&["--write=1", l, "true"]);
    assert_eq!(c, 2);
    assert!(err.contains("--exclusive"), "{err}");
    // The lock's directory does not exist: 125, naming the path and the OS error.
    let (c, _, err) = run_cli(&["/nonexistent-srwl/x.lock", "true"]);
    assert_eq!(c, 125);
    assert!(
        err.contains("/nonexistent-srwl") && err.contains("ENOENT"),
        "{err}"
    );
}

/// flock -o closes the lock's descriptor in the child; softrwlock's command never holds the
/// lock at all: a background process it leaves behind does not keep the lock.
#[test]
fn the_commands_background_children_do_not_hold_the_lock() {
    let dir = TempDir::new("bg");
    let lock = dir.lock();
    let l = lock.to_str().unwrap();
    for o in [&[][..], &["-o"][..]] {
        let mut args = o.to_vec();
        args.extend([l, "sh", "-c", "sleep 3 >/dev/null 2>&1 &"]);
        let (c, _, err) = run_cli(&args);
        assert_eq!(c, 0, "{err}");
        let t0 = Instant::now();
        let (c, _, err) = run_cli(&["-n", l, "true"]);
        assert_eq!(c, 0, "{o:?}: {err}");
        assert!(t0.elapsed() < Duration::from_secs(2));
    }
}

#[test]
fn status_of_a_missing_directory_is_an_error() {
    let dir = TempDir::new("nodir");
    let missing = dir.0.join("no-such-dir").join("x.lock");
    for json in [false, true] {
        let o = output({
            let mut c = bin();
            c.arg("status");
            if json {
                c.arg("--json");
            }
            c.arg(&missing);
            c
        });
        let err = text(&o.stderr);
        assert_eq!(code(&o), 125, "{err}");
        assert!(
            err.contains(&dir.0.join("no-such-dir").display().to_string())
                && err.contains("ENOENT"),
            "{err}"
        );
        let out = text(&o.stdout);
        if json {
            let j: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(j["path"], missing.to_str().unwrap(), "{out}");
            assert!(j["error"].as_str().unwrap().contains("ENOENT"), "{out}");
            assert!(j.get("state").is_none(), "{out}");
        } else {
            assert!(
                !out.contains("free") && !out.contains("no lock state"),
                "{out}"
            );
        }
    }
    // An existing directory without lock state is not an error.
    let o = output({
        let mut c = bin();
        c.args(["status", "--json"]).arg(dir.lock());
        c
    });
    assert_eq!(code(&o), 0);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (j["exists"].as_bool(), j["state"].as_str()),
        (Some(false), Some("free"))
    );
}

#[test]
fn status_json_gives_a_non_utf8_path_back_exactly() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new("nonutf8");
    let sub = dir.0.join(OsStr::from_bytes(b"d\xff\xfe-\xc3"));
    std::fs::create_dir(&sub).unwrap();
    let lock = sub.join(OsStr::from_bytes(b"l\x80.lock"));
    let mark = dir.0.join("ready");
    let mut holder = bin()
        .args(FAST)
        .arg("-s")
        .arg(&lock)
        .args(["sh", "-c", "touch \"$0\"; exec sleep 30"])
        .arg(&mark)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_file(&mark, Duration::from_secs(10));
    let o = output({
        let mut c = bin();
        c.args(["status", "--json", "--sample", "0"]).arg(&lock);
        c
    });
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hex = j["path_hex"].as_str().expect("path_hex");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(bytes, lock.as_os_str().as_bytes());
    assert_eq!(j["path"], lock.to_string_lossy().as_ref());
    assert_eq!(j["state"], "read");
    // A UTF-8 path is given as is, without path_hex.
    let o = output({
        let mut c = bin();
        c.args(["status", "--json", "--sample", "0"])
            .arg(dir.0.join("é.lock"));
        c
    });
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["path"], dir.0.join("é.lock").to_str().unwrap());
    assert!(j.get("path_hex").is_none());
    holder.kill().unwrap();
    let _ = holder.wait();
}

#[test]
fn verify_of_a_missing_directory_fails_naming_it() {
    let o = output({
        let mut c = bin();
        c.args(["verify", "/nonexistent-srwl-verify"]);
        c
    });
    assert_eq!(code(&o), 1);
    assert!(
        text(&o.stderr).contains("/nonexistent-srwl-verify"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        text(&o.stdout).starts_with("VERDICT: FAIL: cannot open /nonexistent-srwl-verify: ENOENT"),
        "a verify that checked nothing must still give its verdict: {}",
        text(&o.stdout)
    );
}

/// The same job-script lines, run by flock(1) and by softrwlock with the same arguments, give
/// the same output and exit status (flock from util-linux, which the suite installs).
#[test]
fn job_lines_behave_as_under_flock() {
    let flock = ["/usr/bin/flock", "/bin/flock"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("flock(1) is missing: apt-get install util-linux");
    let dir = TempDir::new("interop");
    let lock = dir.lock();
    let l = lock.to_str().unwrap();
    let run = |prog: &str, args: &[&str]| -> (i32, String) {
        let mut c = Command::new(prog);
        c.args(args).env("SHELL", "/bin/sh");
        let o = output(c);
        (code(&o), text(&o.stdout))
    };
    let free: Vec<Vec<&str>> = vec![
        vec![l, "echo", "a b c"],
        vec!["-x", l, "echo", "x"],
        vec!["-e", "-w", "5", l, "true"],
        vec!["-s", l, "sh", "-c", "exit 3"],
        vec![
            "--shared",
            "--timeout",
            "1.5",
            l,
            "printf",
            "%s|",
            "-n",
            "--",
            "x",
        ],
        vec![l, "-c", "echo $((1 + 2)); exit 5"],
        vec!["-n", l, "--command", "echo nb"],
        vec!["-o", l, "echo", "o"],
        vec!["--nonblock", "--conflict-exit-code", "9", l, "true"],
        vec!["-E", "0", l, "sh", "-c", "exit 6"],
        vec!["-sn", l, "echo", "sn"],
        vec!["-w", ".007", l, "echo"],
        vec!["--", l, "echo", "dd"],
        vec![l, "sh", "-c", "kill -TERM $$"],
    ];
    for args in &free {
        let want = run(flock, args);
        let got = run(bin_path(), args);
        assert_eq!(got, want, "{args:?}");
    }
    // While each holds its lock (flock's on the file, softrwlock's in its sidecar), the
    // non-waiting and short-waiting forms fail alike.
    let ready_f = dir.0.join("ready-flock");
    let ready_s = dir.0.join("ready-srwl");
    let holders: Vec<Child> = [(flock, &ready_f), (bin_path(), &ready_s)]
        .iter()
        .map(|(prog, ready)| {
            // In a process group of its own: flock's child holds flock's lock too (it inherits
            // the descriptor), so both are killed at the end.
            Command::new(prog)
                .args([l, "sh", "-c", "touch \"$0\"; exec sleep 60"])
                .arg(ready)
                .stdin(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap()
        })
        .collect();
    wait_for_file(&ready_f, Duration::from_secs(10));
    wait_for_file(&ready_s, Duration::from_secs(10));
    let busy: Vec<Vec<&str>> = vec![
        vec!["-n", l, "echo", "no"],
        vec!["-sn", l, "echo", "no"],
        vec!["-n", "-E", "7", l, "echo", "no"],
        vec!["-xnE", "0", l, "echo", "no"],
        vec!["-w", "0.3", l, "echo", "no"],
        vec![
            "--wait",
            "0.2",
            "--conflict-exit-code",
            "42",
            l,
            "-c",
            "echo no",
        ],
        vec!["-w", "0", l, "echo", "no"],
    ];
    for args in &busy {
        let want = run(flock, args);
        let got = run(bin_path(), args);
        assert_eq!(got, want, "{args:?}");
        // The command did not run.
        assert_eq!(got.1, "", "{args:?}");
    }
    for mut h in holders {
        unsafe { libc::kill(-(h.id() as i32), libc::SIGKILL) };
        let _ = h.wait();
    }
}

// ---- Generated files: the man pages and shell completions come from the clap definitions ----

#[allow(dead_code)]
#[path = "../src/bin/softrwlock/args.rs"]
mod args;

const ENVIRONMENT: &str = r#".SH ENVIRONMENT
The command runs with
.TP
.B SOFTRWLOCK_PATH
the lock PATH;
.TP
.B SOFTRWLOCK_ROLE
.B read
or
.BR write ;
.TP
.B SOFTRWLOCK_GENERATION
the fencing generation: each write grant increments it.
.PP
.B SHELL
is the shell that runs
.B \-c
(/bin/sh if unset or empty).
"#;

/// The man page of `cmd`: clap_mangen's sections, then EXIT STATUS (the command's after_help
/// text), ENVIRONMENT (the main page) and SEE ALSO.
fn man_page(cmd: clap::Command, main: bool) -> Vec<u8> {
    let exit_status = cmd.get_after_help().map(|s| s.to_string());
    let man = clap_mangen::Man::new(cmd);
    let mut out = Vec::new();
    man.render_title(&mut out).unwrap();
    man.render_name_section(&mut out).unwrap();
    man.render_synopsis_section(&mut out).unwrap();
    man.render_description_section(&mut out).unwrap();
    man.render_options_section(&mut out).unwrap();
    if main {
        man.render_subcommands_section(&mut out).unwrap();
    }
    if let Some(text) = exit_status {
        let text = text
            .trim_start_matches("Exit status: ")
            .replace('\\', "\\\\");
        out.extend_from_slice(format!(".SH \"EXIT STATUS\"\n{text}\n").as_bytes());
    }
    if main {
        out.extend_from_slice(ENVIRONMENT.as_bytes());
    }
    let see_also = if main {
        "flock(1), softrwlock\\-status(1), softrwlock\\-verify(1)"
    } else {
        "softrwlock(1)"
    };
    out.extend_from_slice(format!(".SH \"SEE ALSO\"\n{see_also}; docs/CLI.md\n").as_bytes());
    man.render_version_section(&mut out).unwrap();
    out
}

/// (path relative to the repository, content) of every generated file.
fn generated_files() -> Vec<(String, Vec<u8>)> {
    let mut cmd = args::command();
    cmd.build();
    let mut files = vec![(
        "docs/man/softrwlock.1".to_string(),
        man_page(cmd.clone(), true),
    )];
    for (sub, name) in [
        ("status", "softrwlock-status"),
        ("verify", "softrwlock-verify"),
    ] {
        let c = cmd
            .find_subcommand(sub)
            .unwrap()
            .clone()
            .name(name)
            .version(env!("CARGO_PKG_VERSION"));
        files.push((format!("docs/man/{name}.1"), man_page(c, false)));
    }
    use clap_complete::Shell;
    for (shell, name) in [
        (Shell::Bash, "softrwlock.bash"),
        (Shell::Zsh, "_softrwlock"),
        (Shell::Fish, "softrwlock.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut args::command(), "softrwlock", &mut buf);
        files.push((format!("docs/completions/{name}"), buf));
    }
    files
}

/// The committed man pages and completions are what the clap definitions generate now.
/// Regenerate them with `SOFTRWLOCK_REGENERATE=1 cargo test --test cli generated`.
#[test]
fn generated_man_pages_and_completions_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let regenerate = std::env::var_os("SOFTRWLOCK_REGENERATE").is_some();
    let mut stale = Vec::new();
    for (rel, content) in generated_files() {
        let p = root.join(&rel);
        if regenerate {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, &content).unwrap();
        } else if std::fs::read(&p).ok().as_deref() != Some(&content[..]) {
            stale.push(rel);
        }
    }
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}; run SOFTRWLOCK_REGENERATE=1 cargo test --test cli generated"
    );
}

/// man(1) renders the pages without warnings, and the main one lists flock's options.
#[test]
fn the_man_pages_render() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/man");
    for (page, wanted) in [
        (
            "softrwlock.1",
            &[
                "--shared",
                "--exclusive",
                "--nonblock",
                "--timeout",
                "--conflict-exit-code",
                "--command",
                "EXIT STATUS",
                "SOFTRWLOCK_GENERATION",
            ][..],
        ),
        (
            "softrwlock-status.1",
            &["--json", "--sample", "EXIT STATUS"][..],
        ),
        (
            "softrwlock-verify.1",
            &["--cross-client", "EXIT STATUS"][..],
        ),
    ] {
        let o = Command::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l"])
            .arg(dir.join(page))
            .env("MANWIDTH", "200")
            .stdin(Stdio::null())
            .output()
            .expect("man(1) is missing: apt-get install man-db");
        assert!(o.status.success(), "{page}: {}", text(&o.stderr));
        assert_eq!(text(&o.stderr), "", "{page}: man warnings");
        // Without the overstrikes of bold and underlined text ("X\bX", "_\bX").
        let mut out = String::new();
        for c in text(&o.stdout).chars() {
            if c == '\u{8}' {
                out.pop();
            } else {
                out.push(c);
            }
        }
        for w in wanted {
            assert!(out.contains(w), "{w} missing from {page}:\n{out}");
        }
    }
}

#[test]
fn status_marks_an_entry_whose_process_is_gone() {
    let dir = TempDir::new("gone");
    let mut holder = hold(&dir, "--write", "30");
    let mut waiter = locked("--write", &dir.lock(), &[], &["true"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !entries(&dir.side().join("Q"))
        .iter()
        .any(|n| n.starts_with("w."))
    {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the waiter never queued"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Killed in line: it cannot withdraw, and no other waiter looks at the queue to drop it.
    let dead = waiter.id();
    signal(dead, libc::SIGKILL);
    let _ = waiter.wait();
    let table = status(&dir, false);
    let row = table
        .lines()
        .find(|l| l.starts_with("waiting-write "))
        .unwrap_or_else(|| panic!("no waiting-write row in\n{table}"));
    assert_eq!(
        row.split_whitespace().nth(2),
        Some(dead.to_string().as_str()),
        "{row}"
    );
    assert!(
        row.contains("(process gone: no longer runs on this host)"),
        "{row}"
    );
    let held = table.lines().find(|l| l.starts_with("write ")).unwrap();
    assert!(!held.contains("process gone"), "{held}");
    assert!(
        table.contains("gone:       1 entry whose process no longer runs on this host"),
        "{table}"
    );
    let j = status(&dir, true);
    let waiting = &j[j.find("\"role\":\"waiting-write\"").expect("waiting entry")..];
    assert!(waiting.contains(&format!("\"pid\":{dead},")), "{j}");
    assert!(
        waiting[..waiting.find('}').unwrap()].contains("\"process_gone\":true"),
        "{j}"
    );
    let writing = &j[j.find("\"role\":\"write\"").expect("holder entry")..];
    assert!(
        writing[..writing.find('}').unwrap()].contains("\"process_gone\":false"),
        "{j}"
    );
    holder.kill().unwrap();
    let _ = holder.wait();
}

/// `--data FILE`: begin (fadvise DONTNEED) after the grant and before the command, end (fsync)
/// after the command and before the release, seen with strace; a missing FILE at the end and a
/// symlink at the start are reported naming FILE.
#[test]
fn data_option_makes_the_file_coherent_around_the_command() {
    let dir = TempDir::new("data");
    let file = dir.0.join("counter");
    let trace = dir.0.join("strace.out");
    std::fs::write(&file, b"41\n").unwrap();
    let o = output({
        let mut c = Command::new("strace");
        c.args([
            "-f",
            "-qq",
            "-e",
            "trace=fadvise64,fsync,execve,unlinkat,rename,renameat,renameat2",
            "-o",
        ])
        .arg(&trace)
        .arg(bin_path())
        .args(FAST)
        .arg("--data")
        .arg(&file)
        .arg(dir.lock())
        .args(["--", "sh", "-c", "echo 42 > \"$0\""])
        .arg(&file);
        c
    });
    assert_eq!(
        code(&o),
        0,
        "strace (apt-get install strace): {}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"42\n");
    let t = std::fs::read_to_string(&trace).unwrap();
    let lines: Vec<&str> = t.lines().collect();
    let at = |what: &dyn Fn(&str) -> bool, name: &str| {
        lines
            .iter()
            .position(|l| what(l))
            .unwrap_or_else(|| panic!("no {name} in the trace:\n{t}"))
    };
    let grant = at(
        &|l| l.contains("\"R\", AT_REMOVEDIR") && l.ends_with("= 0"),
        "write grant (rmdir of R)",
    );
    let dontneed = at(&|l| l.contains("POSIX_FADV_DONTNEED"), "fadvise64 DONTNEED");
    let exec_sh = at(
        &|l| l.contains("execve(") && l.contains("[\"sh\"") && l.ends_with("= 0"),
        "execve of sh",
    );
    let last_fsync = lines
        .iter()
        .rposition(|l| l.contains("fsync("))
        .unwrap_or_else(|| panic!("no fsync in the trace:\n{t}"));
    let release = lines
        .iter()
        .rposition(|l| l.contains("rename") && l.contains("R/baton.") && l.ends_with("= 0"))
        .unwrap_or_else(|| panic!("no release (rename of the baton) in the trace:\n{t}"));
    assert!(
        grant < dontneed && dontneed < exec_sh && exec_sh < last_fsync && last_fsync < release,
        "expected grant < begin < command < end < release, got {grant} {dontneed} {exec_sh} {last_fsync} {release}:\n{t}"
    );

    // A FILE the command did not leave: reported, exit 125 although the command succeeded;
    // the lock is released all the same.
    let missing = dir.0.join("never-written");
    let o = output(locked(
        "--write",
        &dir.lock(),
        &["--data", missing.to_str().unwrap()],
        &["true"],
    ));
    assert_eq!(code(&o), 125, "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!(
            "--data {}: data end: open {}: ENOENT",
            missing.display(),
            missing.display()
        )),
        "{err}"
    );
    // A symlink: refused before the command runs, the lock released.
    let link = dir.0.join("link");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let ran = dir.0.join("ran");
    let o = output(locked(
        "--read",
        &dir.lock(),
        &["--data", link.to_str().unwrap()],
        &["touch", ran.to_str().unwrap()],
    ));
    assert_eq!(code(&o), 125, "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains(&format!("--data {}", link.display())), "{err}");
    assert!(
        err.contains("symlink") && err.contains("not running the command"),
        "{err}"
    );
    assert!(!ran.exists(), "the command ran although --data was refused");
    let o = output(locked("--write", &dir.lock(), &["-n"], &["true"]));
    assert_eq!(
        code(&o),
        0,
        "the lock was not released: {}",
        text(&o.stderr)
    );
}
