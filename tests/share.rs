//! The host share (docs/PROTOCOL.md, "Host share"): once the room is crowded, the readers of
//! one host hold through one record. Real processes (the test binary re-executes itself),
//! SIGKILL, SIGSTOP and fork, and what an operator sees on disk: the room's records and the
//! entry markers in /dev/shm/softrwlock-<euid>/.
//!
//! A room is crowded once an entry's listing went through 32 names; a listing reads a whole
//! getdents batch (over a hundred names), so 40 planted records make every entry find a crowd.

mod common;
use common::*;
use softrwlock::record::Token;
use softrwlock::{Lock, Mode, Options, Status};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "SRWL_SHARE_CHILD";
/// Records planted to make the room crowded (the crowd starts at 32 names).
const CROWD: usize = 40;

/// The tests time evictions and join windows: one at a time, so that a 60-process test does
/// not starve another's timing.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Heartbeat a quarter of the threshold; the join window is min(stale / 2, 2 s).
fn opts(stale: f64) -> Options {
    Options {
        heartbeat_interval: stale / 4.0,
        stale_threshold: stale,
        poll_interval: 0.02,
        ..Options::default()
    }
}

fn sidecar(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".srwl");
    s.into()
}

fn share_dir() -> PathBuf {
    PathBuf::from(format!("/dev/shm/softrwlock-{}", unsafe {
        libc::geteuid()
    }))
}

/// Reader records in the room (no baton check: the room is absent while a writer holds).
fn records(side: &Path) -> Vec<String> {
    entries(&side.join("R"))
        .into_iter()
        .filter(|n| n.starts_with("r."))
        .collect()
}

/// The host share of one lock: its stem `<dev>-<ino>-<time ns>` (of the sidecar, and of our
/// time namespace, as in /proc/self/ns/time; 0 without one) names the share file
/// and the entry markers `<stem>.<e>`. Dropping it removes what dead holders left behind.
struct ShareFiles {
    stem: String,
}

impl ShareFiles {
    /// For an opened lock (its sidecar exists). Markers under this stem are leftovers of a
    /// removed sidecar that had the same inode: removed first.
    fn of(path: &Path) -> ShareFiles {
        let m = std::fs::metadata(sidecar(path)).unwrap();
        let time_ns = std::fs::read_link("/proc/self/ns/time")
            .ok()
            .and_then(|l| {
                let d: String = l
                    .to_string_lossy()
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                d.parse::<u64>().ok()
            })
            .unwrap_or(0);
        let s = ShareFiles {
            stem: format!("{:x}-{:x}-{:x}", m.dev(), m.ino(), time_ns),
        };
        s.clean();
        s
    }
    fn markers(&self) -> Vec<String> {
        let prefix = format!("{}.", self.stem);
        entries(&share_dir())
            .into_iter()
            .filter(|n| n.starts_with(&prefix))
            .collect()
    }
    fn clean(&self) {
        for m in self.markers() {
            let _ = std::fs::remove_file(share_dir().join(m));
        }
    }
}

impl Drop for ShareFiles {
    fn drop(&mut self) {
        self.clean();
        let _ = std::fs::remove_file(share_dir().join(&self.stem));
    }
}

/// A lock in a fresh directory, with a writer's handle on it (stale threshold `stale`), its
/// sidecar and its host share's files.
struct Scene {
    dir: TempDir,
    path: PathBuf,
    side: PathBuf,
    files: ShareFiles,
    w: Lock,
}

fn scene(name: &str, stale: f64) -> Scene {
    let dir = TempDir::new(name);
    let path = dir.lock_path();
    let w = open(&path, &opts(stale));
    let side = sidecar(&path);
    let files = ShareFiles::of(&path);
    Scene {
        dir,
        path,
        side,
        files,
        w,
    }
}

/// Plants `n` valid reader records of a process elsewhere (no `proc` line: judged only by
/// age), so that the room is crowded; returns their paths.
fn plant_crowd(side: &Path, n: usize, lease_ms: u64) -> Vec<PathBuf> {
    (0..n)
        .map(|_| {
            let t = Token::random();
            let p = side.join("R").join(format!("r.{}", t.as_str()));
            let rec = format!(
                "srwl/2\nrole read\ntoken {}\npid 4242\nhost fake-crowd\nlease_ms {lease_ms}\nnonce 0000000000000000\n",
                t.as_str()
            );
            std::fs::write(&p, rec).unwrap();
            p
        })
        .collect()
}

fn remove_all(paths: &[PathBuf]) {
    for p in paths {
        std::fs::remove_file(p).unwrap();
    }
}

fn spawn_child(spec: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        "child_process_entry",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, spec);
    c
}

/// Child side. `SRWL_SHARE_CHILD=<kind>:<stale>:<path>[:<arg>...]`:
/// - `cmd`: opens the lock, says "@@ready", then runs one command per stdin line (`read <t>`,
///   `write <t>`, `check`, `release`, `exit`) and answers "@@ok" or "@@err <status>".
/// - `churn-read:<ms>:<threads>`, `churn-write:<ms>`: cycles for `ms` (`churn_reader`, `churn_writer`;
///   `SRWL_CHURN_HOLD_US`: reader holds of up to that long, back to back).
/// - `ns`: the unusable share directory scenarios, in a private mount namespace.
#[test]
fn child_process_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let stale: f64 = parts[1].parse().unwrap();
    let path = Path::new(parts[2]);
    match parts[0] {
        "cmd" => command_loop(path, stale),
        "churn-read" => churn_reader(
            path,
            stale,
            parts[3].parse().unwrap(),
            parts[4].parse().unwrap(),
        ),
        "churn-write" => churn_writer(path, stale, parts[3].parse().unwrap()),
        "ns" => unusable_share_dir_scenarios(stale),
        k => panic!("unknown child kind {k}"),
    }
    std::process::exit(0);
}

fn command_loop(path: &Path, stale: f64) {
    let l = open(path, &opts(stale));
    say("@@ready\n");
    let answer = |r: softrwlock::status::Result<()>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("err {:?}", e.status),
    };
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            ["read", t] => answer(l.acquire(Mode::Read, t.parse().unwrap())),
            ["write", t] => answer(l.acquire(Mode::Write, t.parse().unwrap())),
            ["check"] => answer(l.check()),
            ["release"] => answer(l.release()),
            ["exit"] => break,
            other => panic!("unknown command {other:?}"),
        };
        say(&format!("@@{reply}\n"));
    }
}

/// A child process driven line by line (`cmd`). Killed when dropped.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    out: BufReader<ChildStdout>,
}

impl Proc {
    /// Starts a child; `ready` waits until it has opened the lock.
    fn spawn(path: &Path, stale: f64) -> Proc {
        let mut child = spawn_child(&format!("cmd:{stale}:{}", path.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        Proc { child, stdin, out }
    }
    fn ready(mut self) -> Proc {
        assert_eq!(self.reply(), "ready");
        self
    }
    fn send(&mut self, cmd: &str) {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
    }
    /// The next answer ("@@..." anywhere in a line: libtest may have printed before it).
    fn reply(&mut self) -> String {
        loop {
            let mut line = String::new();
            assert!(
                self.out.read_line(&mut line).unwrap() > 0,
                "child {} exited without answering",
                self.child.id()
            );
            if let Some((_, r)) = line.split_once("@@") {
                return r.trim_end().to_string();
            }
        }
    }
    fn ask(&mut self, cmd: &str) -> String {
        self.send(cmd);
        self.reply()
    }
    fn signal(&self, sig: i32) {
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }
    fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        self.child.wait().unwrap();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `n` children, all ready.
fn ready_procs(path: &Path, stale: f64, n: usize) -> Vec<Proc> {
    let procs: Vec<Proc> = (0..n).map(|_| Proc::spawn(path, stale)).collect();
    procs.into_iter().map(Proc::ready).collect()
}

/// Sends `cmd` to all at once, then collects the answers.
fn ask_all(procs: &mut [Proc], cmd: &str) -> Vec<String> {
    for p in procs.iter_mut() {
        p.send(cmd);
    }
    procs.iter_mut().map(|p| p.reply()).collect()
}

fn assert_all_ok(answers: &[String], what: &str) {
    let bad: Vec<(usize, &String)> = answers
        .iter()
        .enumerate()
        .filter(|(_, a)| *a != "ok")
        .collect();
    assert!(bad.is_empty(), "{what}: not ok: {bad:?}");
}

/// A maker and `joiners` ready processes holding through one published entry: the maker reads
/// in a crowded room (planted records, removed again once it published), the others join.
/// Returns (maker, joiners, the entry's record).
fn share_held_by_processes(
    path: &Path,
    files: &ShareFiles,
    stale: f64,
    joiners: usize,
) -> (Proc, Vec<Proc>, String) {
    let side = sidecar(path);
    let mut procs = ready_procs(path, stale, joiners + 1);
    let crowd = plant_crowd(&side, CROWD, (stale * 1000.0) as u64);
    let mut maker = procs.remove(0);
    assert_eq!(maker.ask("read 10"), "ok");
    assert_eq!(
        files.markers().len(),
        1,
        "the reader that found {CROWD} records in the room published its entry"
    );
    remove_all(&crowd);
    let entry = records(&side);
    assert_eq!(entry.len(), 1, "the maker's record: {entry:?}");
    assert_all_ok(&ask_all(&mut procs, "read 10"), "joiners");
    assert_eq!(
        records(&side),
        entry,
        "the joiners hold through the maker's record: no record of their own"
    );
    (maker, procs, entry[0].clone())
}

/// Sixty reader processes at once: all hold together, the room holds far fewer records
/// than readers, and after the last release nothing is left (no record, no marker).
#[test]
fn a_crowd_of_reader_processes_holds_through_few_records() {
    let _g = serial();
    let stale = 4.0;
    let Scene {
        dir: _dir,
        path,
        side,
        files,
        w,
    } = scene("share-crowd", stale);
    // Each asks as soon as it has started, as the processes of a job array do.
    let t = Instant::now();
    let mut procs: Vec<Proc> = (0..60)
        .map(|_| {
            let mut p = Proc::spawn(&path, stale);
            p.send("read 30");
            p
        })
        .collect();
    for p in procs.iter_mut() {
        assert_eq!(p.reply(), "ready");
    }
    assert_all_ok(
        &procs.iter_mut().map(|p| p.reply()).collect::<Vec<_>>(),
        "acquire",
    );
    let took = t.elapsed();
    // Every one holds now (none has been told to release): a check each, and a writer waits.
    assert_all_ok(&ask_all(&mut procs, "check"), "check while all hold");
    let held = records(&side);
    let markers = files.markers();
    eprintln!(
        "60 readers got in within {took:?}; the room holds {} records; open entries {markers:?}",
        held.len()
    );
    assert!(
        held.len() <= 42,
        "60 readers hold through {} records: the crowd did not share",
        held.len()
    );
    assert!(!markers.is_empty(), "no open entry while 60 readers hold");
    assert_eq!(
        w.acquire(Mode::Write, 0.0).unwrap_err().status,
        Status::SRWL_TIMEOUT
    );
    assert_all_ok(&ask_all(&mut procs, "release"), "release");
    assert_all_gone(&side, &files, &w);
}

/// Churn child, reader: `threads` handles each cycle short holds for `ms`; each checks the
/// flag a writer sets while inside and marks its hold in `H/` for the sampler. Says
/// "@@reads <n> bad <n>".
fn churn_reader(path: &Path, stale: f64, ms: u64, threads: usize) {
    let dir = path.parent().unwrap();
    let end = Instant::now() + Duration::from_millis(ms);
    // SRWL_CHURN_HOLD_US: holds of up to that long, and no pause between them.
    let hold_us: Option<u64> = std::env::var("SRWL_CHURN_HOLD_US")
        .ok()
        .and_then(|v| v.parse().ok());
    let (reads, bad) = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|i| {
                s.spawn(move || {
                    let l = open(path, &opts(stale));
                    let mark = dir.join("H").join(format!("{}.{i}", std::process::id()));
                    let flag = dir.join("flag");
                    let (mut reads, mut bad) = (0u64, 0u64);
                    while Instant::now() < end {
                        l.acquire(Mode::Read, 30.0).unwrap();
                        // The hold is intact: its record (ours or our entry's) is in the room.
                        if let Err(e) = l.check() {
                            panic!("check right after the grant: {}", e.message);
                        }
                        bad += u64::from(!std::fs::read(&flag).unwrap().is_empty());
                        std::fs::write(&mark, b"").unwrap();
                        std::thread::sleep(match hold_us {
                            Some(us) => Duration::from_micros(rand_below(us + 1)),
                            None => Duration::from_millis(5 + rand_below(20)),
                        });
                        bad += u64::from(!std::fs::read(&flag).unwrap().is_empty());
                        std::fs::remove_file(&mark).unwrap();
                        l.release().unwrap();
                        reads += 1;
                        if hold_us.is_none() {
                            std::thread::sleep(Duration::from_millis(rand_below(10)));
                        }
                    }
                    (reads, bad)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    say(&format!("@@reads {reads} bad {bad}\n"));
}

/// Churn child, writer: for `ms`, takes the write lock, sets the flag, increments the counter,
/// clears the flag, releases. Says "@@writes <n> bad <n>" (bad: the flag was set on entry).
fn churn_writer(path: &Path, stale: f64, ms: u64) {
    let dir = path.parent().unwrap();
    let (flag, counter) = (dir.join("flag"), dir.join("counter"));
    let l = open(path, &opts(stale));
    let end = Instant::now() + Duration::from_millis(ms);
    let (mut writes, mut bad) = (0u64, 0u64);
    while Instant::now() < end {
        l.acquire(Mode::Write, 30.0).unwrap();
        bad += u64::from(!std::fs::read(&flag).unwrap().is_empty());
        std::fs::write(&flag, b"W").unwrap();
        let n: u64 = std::fs::read_to_string(&counter).unwrap().parse().unwrap();
        std::fs::write(&counter, (n + 1).to_string()).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        std::fs::write(&flag, b"").unwrap();
        l.release().unwrap();
        writes += 1;
        std::thread::sleep(Duration::from_millis(20 + rand_below(40)));
    }
    say(&format!("@@writes {writes} bad {bad}\n"));
}

/// Stops a sampler thread however its scope ends (a failed assertion too: the scope waits for
/// the thread).
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

fn rand_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    softrwlock::fs::random_bytes(&mut b);
    u64::from_ne_bytes(b) % n
}

/// Waits for a churn child's summary: (count, bad).
fn churn_summary(child: Child, what: &str) -> (u64, u64) {
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{what} child failed: {text}");
    let (_, r) = text
        .split_once("@@")
        .unwrap_or_else(|| panic!("{what} child said {text:?}"));
    let w: Vec<&str> = r.split_whitespace().collect();
    (w[1].parse().unwrap(), w[3].parse().unwrap())
}

/// Once every holder has left: nothing in the room, no entry marker, and a writer gets in at once.
fn assert_all_gone(side: &Path, files: &ShareFiles, w: &Lock) {
    assert_eq!(room_entries(side), Vec::<String>::new(), "left in the room");
    assert_eq!(files.markers(), Vec::<String>::new(), "markers left");
    w.acquire(Mode::Write, 0.0)
        .expect("a writer gets in at once after the readers left");
    w.release().unwrap();
}

/// A scene for the churn children: the writer's flag, its counter and the readers' `H/`.
fn churn_scene(name: &str, stale: f64) -> Scene {
    let scene = scene(name, stale);
    std::fs::write(scene.dir.0.join("flag"), b"").unwrap();
    std::fs::write(scene.dir.0.join("counter"), b"0").unwrap();
    std::fs::create_dir(scene.dir.0.join("H")).unwrap();
    scene
}

/// Starts a churn child (`churn-read:...`, `churn-write:...`) with `env` added; its summary
/// comes on stdout.
fn spawn_churn(spec: String, env: &[(&str, String)]) -> Child {
    spawn_child(&spec)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

/// Exclusion under a crowd with churn: 60 readers (10 processes of 6 handles) cycle short
/// holds while 2 writer processes increment a counter under the write lock. No reader sees a
/// writer inside, no writer another, no increment is lost; and shares did happen.
#[test]
fn readers_sharing_under_churn_never_meet_a_writer() {
    let _g = serial();
    let stale = 2.0;
    let Scene {
        dir,
        path,
        side,
        files,
        w,
    } = churn_scene("share-churn", stale);
    let ms = 6000;
    let readers: Vec<Child> = (0..10)
        .map(|_| spawn_churn(format!("churn-read:{stale}:{}:{ms}:6", path.display()), &[]))
        .collect();
    let writers: Vec<Child> = (0..2)
        .map(|_| spawn_churn(format!("churn-write:{stale}:{}:{ms}", path.display()), &[]))
        .collect();

    // Sampler: markers seen, and the largest excess of holders (H/) over records (R/ listed
    // before and after, the larger count taken: only a hold that began and ended between the
    // two listings can pass for a join, and holds last 5 ms or more).
    let stop = AtomicBool::new(false);
    let (marker_samples, max_excess) = std::thread::scope(|s| {
        let stopper = StopOnDrop(&stop);
        let sampler = s.spawn(|| {
            let (mut marker_samples, mut max_excess) = (0u32, 0i64);
            while !stop.load(SeqCst) {
                if !files.markers().is_empty() {
                    marker_samples += 1;
                }
                let r1 = records(&side).len();
                let h = entries(&dir.0.join("H")).len();
                let r2 = records(&side).len();
                max_excess = max_excess.max(h as i64 - r1.max(r2) as i64);
                std::thread::sleep(Duration::from_millis(3));
            }
            (marker_samples, max_excess)
        });
        let reads: Vec<(u64, u64)> = readers
            .into_iter()
            .map(|c| churn_summary(c, "reader"))
            .collect();
        let writes: Vec<(u64, u64)> = writers
            .into_iter()
            .map(|c| churn_summary(c, "writer"))
            .collect();
        drop(stopper);
        let sampled = sampler.join().unwrap();
        let total_reads: u64 = reads.iter().map(|r| r.0).sum();
        let total_writes: u64 = writes.iter().map(|r| r.0).sum();
        eprintln!(
            "churn: {total_reads} read holds, writes {writes:?}; samples with an open entry: {}, \
             most holders over records: {}",
            sampled.0, sampled.1
        );
        assert_eq!(
            reads.iter().map(|r| r.1).sum::<u64>(),
            0,
            "readers saw a writer inside: {reads:?}"
        );
        assert!(
            writes.iter().all(|w| w.1 == 0),
            "a writer saw another inside: {writes:?}"
        );
        let counter: u64 = std::fs::read_to_string(dir.0.join("counter"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(counter, total_writes, "increments lost");
        assert!(
            writes.iter().all(|w| w.0 >= 5),
            "a writer starved: {writes:?}"
        );
        assert!(total_reads >= 600, "only {total_reads} read holds");
        sampled
    });
    assert!(marker_samples > 0, "no entry was ever published");
    assert!(
        max_excess >= 3,
        "at no sample did the readers hold through fewer records than readers (excess \
         {max_excess}): no joins"
    );
    assert_all_gone(&side, &files, &w);
}

/// Entries opened and closed all the time, every file step delayed at random
/// (`SRWL_INJECT_DELAY`): 6 reader processes cycle holds of up to 3 ms and a writer comes
/// every 20-60 ms, so readers queue and enter together. Entry numbers are never used twice
/// (inotify on the share directory sees no marker made twice), and every hold is checked right
/// after its grant (its entry's record is in the room). An entry numbered from a header read
/// before the door was taken reused the number of an entry published and closed meanwhile, and
/// a late joiner of the old entry joined the new one through a record that was gone: a marker
/// made twice in 7 of 8 runs, SRWL_ELOST at the check in some.
#[test]
fn entry_numbers_are_never_reused_under_churn_and_delays() {
    let _g = serial();
    let stale = 0.5;
    let Scene {
        dir: _dir,
        path,
        side,
        files,
        w,
    } = churn_scene("share-churn-delays", stale);
    let ms = 5000;
    let env = |seed: usize| {
        [
            ("SRWL_INJECT_DELAY", format!("{seed}:2000")),
            ("SRWL_CHURN_HOLD_US", "3000".to_string()),
        ]
    };
    let readers: Vec<Child> = (0..6)
        .map(|i| {
            let spec = format!("churn-read:{stale}:{}:{ms}:1", path.display());
            spawn_churn(spec, &env(7 + i))
        })
        .collect();
    let writer = spawn_churn(
        format!("churn-write:{stale}:{}:{ms}", path.display()),
        &env(5),
    );
    let stop = AtomicBool::new(false);
    let stop = &stop;
    let (made, back, overflow) = std::thread::scope(|s| {
        let stopper = StopOnDrop(stop);
        // Every creation of a name in the share directory, as inotify reports it.
        let ino = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(
            ino >= 0,
            "inotify_init1: {}",
            std::io::Error::last_os_error()
        );
        let dir_c =
            std::ffi::CString::new(share_dir().into_os_string().into_encoded_bytes()).unwrap();
        let wd = unsafe { libc::inotify_add_watch(ino, dir_c.as_ptr(), libc::IN_CREATE) };
        assert!(
            wd >= 0,
            "inotify_add_watch: {}",
            std::io::Error::last_os_error()
        );
        let prefix = format!("{}.", files.stem);
        let sampler = s.spawn(move || {
            use std::collections::HashSet;
            let (mut made, mut back, mut overflow) = (HashSet::new(), Vec::new(), false);
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let stopping = stop.load(SeqCst);
                let mut pfd = libc::pollfd {
                    fd: ino,
                    events: libc::POLLIN,
                    revents: 0,
                };
                unsafe { libc::poll(&mut pfd, 1, 20) };
                let n = unsafe { libc::read(ino, buf.as_mut_ptr().cast(), buf.len()) };
                let mut at = 0usize;
                while n > 0 && at + 16 <= n as usize {
                    let word =
                        |k: usize| u32::from_ne_bytes(buf[at + k..at + k + 4].try_into().unwrap());
                    let (mask, len) = (word(4), word(12) as usize);
                    overflow |= mask & libc::IN_Q_OVERFLOW != 0;
                    let name = &buf[at + 16..at + 16 + len];
                    let name = String::from_utf8_lossy(name.split(|&b| b == 0).next().unwrap())
                        .into_owned();
                    if name.starts_with(&prefix) && !made.insert(name.clone()) {
                        back.push(name);
                    }
                    at += 16 + len;
                }
                if stopping && n <= 0 {
                    break;
                }
            }
            unsafe { libc::close(ino) };
            (made.len(), back, overflow)
        });
        let reads: Vec<(u64, u64)> = readers
            .into_iter()
            .map(|c| churn_summary(c, "reader"))
            .collect();
        let writes = churn_summary(writer, "writer");
        drop(stopper);
        let total: u64 = reads.iter().map(|r| r.0).sum();
        eprintln!("churn under delays: {total} read holds, writes {writes:?}");
        assert_eq!(
            reads.iter().map(|r| r.1).sum::<u64>(),
            0,
            "readers saw a writer"
        );
        assert_eq!(writes.1, 0, "the writer saw a writer");
        assert!(total >= 200, "only {total} read holds: {reads:?}");
        sampler.join().unwrap()
    });
    eprintln!("{made} entry markers made");
    assert!(
        !overflow,
        "inotify's queue overflowed: creations were missed"
    );
    assert!(made >= 20, "only {made} entries were published");
    assert_eq!(
        back,
        Vec::<String>::new(),
        "entry markers made twice (entry numbers reused)"
    );
    assert_all_gone(&side, &files, &w);
}

/// The maker of the share is killed while joiners hold: the joiners keep the entry's record
/// fresh (a writer waiting longer than the stale threshold stays out), and the last of them
/// closes the entry (a writer then gets in at once, not after an eviction).
#[test]
fn joiners_outlive_a_killed_maker_and_the_last_closes_the_entry() {
    let _g = serial();
    let stale = 2.0;
    let Scene {
        dir: _dir,
        path,
        side,
        files,
        w,
    } = scene("share-maker-killed", stale);
    let (mut maker, mut joiners, entry) = share_held_by_processes(&path, &files, stale, 3);
    maker.kill();
    let t = Instant::now();
    let e = w.acquire(Mode::Write, 1.5 * stale).unwrap_err();
    assert_eq!(e.status, Status::SRWL_TIMEOUT, "{}", e.message);
    assert!(t.elapsed() >= Duration::from_secs_f64(1.5 * stale));
    assert_eq!(records(&side), vec![entry.clone()], "the entry's record");
    assert_all_ok(
        &ask_all(&mut joiners, "check"),
        "joiners after the maker died",
    );
    assert_all_ok(&ask_all(&mut joiners, "release"), "joiners' release");
    let t = Instant::now();
    w.acquire(Mode::Write, 10.0).unwrap();
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs_f64(stale / 2.0),
        "the writer waited {took:?} after the joiners left: the entry was not closed"
    );
    assert_eq!(files.markers(), Vec::<String>::new(), "markers left");
    w.release().unwrap();
}

/// Every holder of a share is killed: nobody refreshes or removes the record, and a writer
/// gets in once it has gone stale, not before.
#[test]
fn a_share_whose_holders_all_died_is_evicted_after_the_threshold() {
    let _g = serial();
    let stale = 2.0;
    let Scene {
        dir: _dir,
        path,
        side,
        files,
        w,
    } = scene("share-all-killed", stale);
    let (mut maker, mut joiners, entry) = share_held_by_processes(&path, &files, stale, 2);
    maker.kill();
    for j in joiners.iter_mut() {
        j.kill();
    }
    let t = Instant::now();
    w.acquire(Mode::Write, 30.0).unwrap();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_secs_f64(0.8 * stale),
        "the entry's record {entry} was evicted after {took:?}, before the threshold ({stale} s)"
    );
    assert!(took < Duration::from_secs_f64(stale + 8.0), "took {took:?}");
    // Nobody closed the entry: its marker stays in /dev/shm (ShareFiles removes it).
    eprintln!(
        "evicted after {took:?}; markers left by the dead: {:?}",
        files.markers()
    );
    assert!(records(&side).is_empty());
    w.release().unwrap();
}

/// A joiner stopped past the threshold while the others left: a waiting writer evicts the
/// entry's record; the stopped joiner, continued, is told it lost its hold.
#[test]
fn a_stopped_joiner_is_evicted_and_told_at_release() {
    let _g = serial();
    let stale = 2.0;
    let Scene {
        dir: _dir,
        path,
        side,
        files,
        w,
    } = scene("share-stopped", stale);
    let (mut maker, mut joiners, entry) = share_held_by_processes(&path, &files, stale, 2);
    let mut stopped = joiners.pop().unwrap();
    stopped.signal(libc::SIGSTOP);
    assert_eq!(maker.ask("release"), "ok");
    assert_all_ok(&ask_all(&mut joiners, "release"), "the other joiner");
    assert_eq!(
        records(&side),
        vec![entry],
        "the stopped joiner still holds through the record"
    );
    let t = Instant::now();
    w.acquire(Mode::Write, 30.0).unwrap();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_secs_f64(0.8 * stale),
        "evicted after {took:?}, before the threshold ({stale} s)"
    );
    stopped.signal(libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(stopped.ask("check"), "err SRWL_ELOST");
    assert_eq!(stopped.ask("release"), "err SRWL_ELOST");
    // (Its entry's marker stays: see a_lost_share_holds_release_leaves_no_marker.)
    // Its release touched nothing of the writer's.
    w.check().unwrap();
    let r = open(&path, &opts(stale));
    assert_eq!(
        r.acquire(Mode::Read, 0.0).unwrap_err().status,
        Status::SRWL_TIMEOUT
    );
    w.release().unwrap();
    r.acquire(Mode::Read, 0.0).unwrap();
    r.release().unwrap();
}

/// The release of a hold through a share that was lost (its record evicted) still closes the
/// entry it was the last holder of: no marker stays in /dev/shm. (It failed while a release of
/// a hold known lost, through check or the heartbeat, returned SRWL_ELOST before it reached the
/// share: the marker and the handle's holders lock stayed.)
#[test]
fn a_lost_share_holds_release_leaves_no_marker() {
    let _g = serial();
    let dir = TempDir::new("share-lost-marker");
    let path = dir.lock_path();
    let stale = 4.0;
    let o = opts(stale);
    let (a, j) = (open(&path, &o), open(&path, &o));
    let side = sidecar(&path);
    let files = ShareFiles::of(&path);
    let (_, a_rec) = publish(&a, &path, &files, stale);
    j.acquire(Mode::Read, 0.0).unwrap();
    a.release().unwrap();
    // An evictor's unlink, as after a stop past the threshold; the holder learns it (from
    // check here, or from its heartbeat) before it releases.
    std::fs::remove_file(side.join("R").join(&a_rec)).unwrap();
    assert_eq!(j.check().unwrap_err().status, Status::SRWL_ELOST);
    assert_eq!(j.release().unwrap_err().status, Status::SRWL_ELOST);
    assert_eq!(files.markers(), Vec::<String>::new(), "markers left");
}

/// In this process: handle `a` reads in a crowded room and publishes its entry; the planted
/// records are removed again. Returns when it was published and its record.
fn publish(a: &Lock, path: &Path, files: &ShareFiles, stale: f64) -> (Instant, String) {
    let side = sidecar(path);
    let crowd = plant_crowd(&side, CROWD, (stale * 1000.0) as u64);
    let t = Instant::now();
    a.acquire(Mode::Read, 5.0).unwrap();
    assert_eq!(files.markers().len(), 1, "the entry was not published");
    remove_all(&crowd);
    let rec = records(&side);
    assert_eq!(rec.len(), 1, "{rec:?}");
    (t, rec[0].clone())
}

/// An entry whose last holder left (marker and record removed) is not joined, even within
/// its join window: the next reader makes its own record and holds for real.
#[test]
fn a_closed_entry_is_not_joined_within_its_window() {
    let _g = serial();
    let dir = TempDir::new("share-closed");
    let path = dir.lock_path();
    let stale = 4.0; // join window 2 s
    let o = opts(stale);
    let (a, b, w) = (open(&path, &o), open(&path, &o), open(&path, &o));
    let side = sidecar(&path);
    let files = ShareFiles::of(&path);
    let (published, a_rec) = publish(&a, &path, &files, stale);
    a.release().unwrap();
    assert_eq!(files.markers(), Vec::<String>::new(), "the closer's marker");
    assert_eq!(records(&side), Vec::<String>::new(), "the closer's record");
    b.acquire(Mode::Read, 5.0).unwrap();
    assert!(
        published.elapsed() < Duration::from_millis(1500),
        "too slow to test inside the join window (2 s): {:?}",
        published.elapsed()
    );
    let held = records(&side);
    let writer = w.acquire(Mode::Write, 0.0).map_err(|e| e.status);
    assert_eq!(
        writer,
        Err(Status::SRWL_TIMEOUT),
        "a writer got in while a reader holds (records in the room: {held:?})"
    );
    assert_eq!(held.len(), 1, "the new reader's own record: {held:?}");
    assert_ne!(held[0], a_rec);
    b.release().unwrap();
    w.acquire(Mode::Write, 0.0).unwrap();
    w.release().unwrap();
}

/// Writer preference: an open entry (within its window) is not joined by a reader that
/// arrives after a writer started waiting; that reader holds after the writer.
#[test]
fn a_waiting_writer_goes_before_readers_that_could_join() {
    let _g = serial();
    let dir = TempDir::new("share-writer-first");
    let path = dir.lock_path();
    let stale = 4.0; // join window 2 s
    let o = opts(stale);
    let (a, b, c, w) = (
        open(&path, &o),
        open(&path, &o),
        open(&path, &o),
        open(&path, &o),
    );
    let side = sidecar(&path);
    let files = ShareFiles::of(&path);
    let (published, a_rec) = publish(&a, &path, &files, stale);
    // The entry is joinable: c joins it (no record of its own).
    c.acquire(Mode::Read, 0.0).unwrap();
    assert_eq!(records(&side), vec![a_rec.clone()]);
    c.release().unwrap();
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            w.acquire(Mode::Write, 20.0).unwrap();
            let granted = Instant::now();
            std::thread::sleep(Duration::from_millis(300));
            let leaving = Instant::now();
            w.release().unwrap();
            (granted, leaving)
        });
        let queue = side.join("Q");
        let t = Instant::now();
        while !entries(&queue)
            .iter()
            .any(|n| n.starts_with("b.") || n.starts_with("w."))
        {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the writer never waited"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        let e = b.acquire(Mode::Read, 0.0).unwrap_err();
        assert_eq!(e.status, Status::SRWL_TIMEOUT, "{}", e.message);
        assert!(
            published.elapsed() < Duration::from_millis(1500),
            "too slow to test inside the join window (2 s): {:?}",
            published.elapsed()
        );
        assert_eq!(files.markers().len(), 1, "the entry is still open");
        let reader = s.spawn(|| {
            b.acquire(Mode::Read, 20.0).unwrap();
            Instant::now()
        });
        std::thread::sleep(Duration::from_millis(100));
        a.release().unwrap();
        let (granted, leaving) = writer.join().unwrap();
        let read_at = reader.join().unwrap();
        assert!(
            read_at > leaving,
            "the reader held at {:?}, before the writer left (granted {:?}, left {:?})",
            read_at - published,
            granted - published,
            leaving - published
        );
    });
    b.release().unwrap();
}

/// An unusable share directory (a symlink, group/other access, another owner, a file): the
/// lock works without a share (each reader of a crowd has its own record) and nothing is made
/// through it. Runs in a child in a private mount namespace with its own /dev/shm, so that the
/// real share directory, used by every other test, is never touched. Needs root.
#[test]
fn an_unusable_share_directory_means_no_share() {
    let _g = serial();
    let unshare_works = unsafe { libc::geteuid() } == 0
        && Command::new("unshare")
            .args(["-m", "true"])
            .status()
            .is_ok_and(|s| s.success());
    if !unshare_works {
        assert!(
            std::env::var_os("SRWL_ALLOW_SKIPS").is_some(),
            "this test needs root and unshare(1) (a private /dev/shm); run as root or set \
             SRWL_ALLOW_SKIPS=1"
        );
        eprintln!("SKIP: cannot make a mount namespace (not root, or no unshare)");
        return;
    }
    let ns = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "ns:4:-")
        .env("SRWL_SHARE_PARENT_NS", ns)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "namespace child failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("@@ns done"), "{text}");
}

/// The child of test 8, in its own mount namespace.
fn unusable_share_dir_scenarios(stale: f64) {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let parent = std::env::var_os("SRWL_SHARE_PARENT_NS").unwrap();
    assert_ne!(
        std::fs::read_link("/proc/self/ns/mnt").unwrap().as_os_str(),
        parent,
        "not in a mount namespace of its own: /dev/shm left alone"
    );
    let rc = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            c"/dev/shm".as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            c"mode=1777".as_ptr().cast(),
        )
    };
    assert_eq!(rc, 0, "mount tmpfs: {}", std::io::Error::last_os_error());
    let shm = Path::new("/dev/shm");
    let share = share_dir();
    let target = shm.join("target");

    // Control: a usable directory (made by the library) shares: one record for 20 readers.
    assert_eq!(
        crowd_records(stale),
        1,
        "20 readers in a crowd share one record"
    );
    std::fs::remove_dir_all(&share).unwrap();

    let cases: [(&str, &dyn Fn()); 4] = [
        ("a symlink to a directory of ours", &|| {
            std::fs::create_dir(&target).unwrap();
            std::fs::set_permissions(&target, PermissionsExt::from_mode(0o700)).unwrap();
            symlink(&target, &share).unwrap();
        }),
        ("a directory of mode 0755", &|| {
            std::fs::create_dir(&share).unwrap();
            std::fs::set_permissions(&share, PermissionsExt::from_mode(0o755)).unwrap();
        }),
        ("a directory of another user", &|| {
            std::fs::create_dir(&share).unwrap();
            std::fs::set_permissions(&share, PermissionsExt::from_mode(0o700)).unwrap();
            std::os::unix::fs::chown(&share, Some(65534), Some(65534)).unwrap();
        }),
        ("a regular file", &|| std::fs::write(&share, b"").unwrap()),
    ];
    for (what, make) in cases {
        make();
        let before = std::fs::symlink_metadata(&share).unwrap();
        assert_eq!(
            crowd_records(stale),
            20,
            "share directory {what}: each reader has its own record"
        );
        let after = std::fs::symlink_metadata(&share).unwrap();
        assert_eq!(
            (after.mode(), after.uid(), after.ino()),
            (before.mode(), before.uid(), before.ino()),
            "share directory {what}: changed"
        );
        if after.is_dir() {
            assert_eq!(entries(&share), Vec::<String>::new(), "made in {what}");
        }
        assert_eq!(
            entries(&target),
            Vec::<String>::new(),
            "made through {what}"
        );
        if after.is_dir() {
            std::fs::remove_dir(&share).unwrap();
        } else {
            std::fs::remove_file(&share).unwrap();
        }
        let _ = std::fs::remove_dir(&target);
        let left: Vec<String> = entries(shm);
        assert_eq!(left, Vec::<String>::new(), "left in /dev/shm after {what}");
    }
    say("@@ns done\n");
}

/// 20 handles of this process read in a crowded room; how many records hold them. Checks that
/// they exclude a writer and that the room empties after them.
fn crowd_records(stale: f64) -> usize {
    let dir = TempDir::new("share-ns");
    let path = dir.lock_path();
    let o = opts(stale);
    let w = open(&path, &o);
    let side = sidecar(&path);
    let crowd = plant_crowd(&side, CROWD, (stale * 1000.0) as u64);
    let readers: Vec<Lock> = (0..20).map(|_| open(&path, &o)).collect();
    for r in &readers {
        r.acquire(Mode::Read, 5.0).unwrap();
    }
    remove_all(&crowd);
    let n = records(&side).len();
    assert_eq!(
        w.acquire(Mode::Write, 0.0).unwrap_err().status,
        Status::SRWL_TIMEOUT
    );
    for r in &readers {
        r.release().unwrap();
    }
    assert_eq!(
        room_entries(&side),
        Vec::<String>::new(),
        "left in the room"
    );
    w.acquire(Mode::Write, 0.0).unwrap();
    w.release().unwrap();
    n
}

/// A holder through a share forks a child that lives on (it inherits the share file and so
/// the descriptions that own the locks). The parent's release, as the last holder, still closes
/// the entry: the record goes at once and a writer gets in.
#[test]
fn a_forked_child_does_not_keep_the_entry_open() {
    let _g = serial();
    let dir = TempDir::new("share-fork");
    let path = dir.lock_path();
    let stale = 4.0;
    let o = opts(stale);
    let (a, p, w) = (open(&path, &o), open(&path, &o), open(&path, &o));
    let side = sidecar(&path);
    let files = ShareFiles::of(&path);
    let (_, a_rec) = publish(&a, &path, &files, stale);
    p.acquire(Mode::Read, 0.0).unwrap();
    assert_eq!(records(&side), vec![a_rec.clone()], "p joined a's entry");

    struct Reap(libc::pid_t);
    impl Drop for Reap {
        fn drop(&mut self) {
            unsafe {
                libc::kill(self.0, libc::SIGKILL);
                libc::waitpid(self.0, std::ptr::null_mut(), 0);
            }
        }
    }
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            libc::sleep(30);
            libc::_exit(0);
        }
    }
    assert!(pid > 0);
    let child = Reap(pid);

    a.release().unwrap();
    assert_eq!(
        records(&side),
        vec![a_rec],
        "p still holds through the record"
    );
    assert_eq!(files.markers().len(), 1, "the entry is still open");
    p.release().unwrap();
    assert_eq!(records(&side), Vec::<String>::new(), "the last release");
    assert_eq!(files.markers(), Vec::<String>::new(), "markers left");
    assert_eq!(unsafe { libc::kill(child.0, 0) }, 0, "the child lives on");
    w.acquire(Mode::Write, 0.0)
        .expect("a writer gets in at once although the child lives");
    w.release().unwrap();
}
