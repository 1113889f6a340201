//! `softrwlock verify DIR`: does the filesystem under DIR behave the way the srwl/2 protocol
//! needs? Checks the atomic operations the protocol's safety rests on, then runs the real lock
//! from several processes (exclusion) and kills holders (eviction). Everything happens in a
//! fresh scratch directory under DIR that is removed afterwards.
//!
//! `--cross-client NAME --nodes N` runs, in addition, one exclusion test shared by N nodes:
//! every node runs the same command with the same NAME; they meet under DIR/NAME/, run worker
//! processes against one lock and one counter for --duration seconds, each writes its grant
//! counts to DIR/NAME/done/<node>, and every node checks that the shared counter equals
//! twice the sum of all nodes' write grants (no lost update, so never two writers at once) and
//! that no reader anywhere saw a writer inside.

use std::ffi::{CString, OsString};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use softrwlock::fs::{describe, random_bytes, Dir};
use softrwlock::fstype::{self, Mount};
use softrwlock::{Lock, Mode, Options, Status};

use crate::args;
use crate::{exit, usage_error};

pub const WORKER_CMD: &str = "__verify-worker";
pub const HOLD_CMD: &str = "__verify-hold";

/// Intervals of the local exclusion test: generous, so that a slow server does not make a
/// live holder look dead (that would be an eviction, not an exclusion failure).
const EXCL_OPTS: (f64, f64, f64) = (0.5, 5.0, 0.05);
/// Intervals of the cross-client test.
const CROSS_OPTS: (f64, f64, f64) = (1.0, 10.0, 0.1);
/// Intervals of the eviction tests: short, so that they take seconds.
const EVICT_OPTS: (f64, f64, f64) = (0.2, 1.0, 0.05);

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    random_bytes(&mut b);
    u64::from_ne_bytes(b)
}

fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

fn opts(o: (f64, f64, f64)) -> Options {
    Options {
        heartbeat_interval: o.0,
        stale_threshold: o.1,
        poll_interval: o.2,
        ..Options::default()
    }
}

fn hostname() -> String {
    hostname::get()
        .map(|h| softrwlock::record::sanitize_host(h.as_bytes()))
        .unwrap_or_else(|_| "unknown".into())
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap_or_else(|_| CString::from(c"/nonexistent"))
}

/// Prints PASS/FAIL lines and counts them.
struct Report {
    passed: u32,
    failed: u32,
    undecided: u32,
}

impl Report {
    fn check(&mut self, what: &str, r: Result<String, String>) {
        match r {
            Ok(detail) => {
                self.passed += 1;
                if detail.is_empty() {
                    println!("PASS  {what}");
                } else {
                    println!("PASS  {what}: {detail}");
                }
            }
            Err(why) => {
                self.failed += 1;
                println!("FAIL  {what}: {why}");
            }
        }
    }

    /// A check that this run could not decide (neither PASS nor FAIL).
    fn undecided(&mut self, what: &str, why: &str) {
        self.undecided += 1;
        println!("UNDECIDED  {what}: {why}");
    }
}

/// Expects `r` to fail with one of `want`.
fn expect_err(r: std::io::Result<()>, want: &[i32], op: &str) -> Result<String, String> {
    match r {
        Ok(()) => Err(format!("{op} succeeded")),
        Err(e) if want.contains(&errno(&e)) => Ok(format!("{op} failed with {}", describe(&e))),
        Err(e) => Err(format!(
            "{op} failed with {}, expected another error",
            describe(&e)
        )),
    }
}

fn must(r: std::io::Result<()>, op: &str) -> Result<(), String> {
    r.map_err(|e| format!("{op}: {}", describe(&e)))
}

/// The filesystem under `dir`, as mountinfo names it: type, what it is, source, mount point.
fn filesystem_of(dir: &Dir) -> (String, Option<Mount>) {
    match fstype::mount_of(dir) {
        Some(m) => (m.describe(), Some(m)),
        None => (
            "unknown (no mount in /proc/self/mountinfo matches)".into(),
            None,
        ),
    }
}

// ---- the filesystem checks -----------------------------------------------------------------

fn fs_checks(rep: &mut Report, d: &Dir, dpath: &Path) {
    let rec = b"srwl verify\n";

    rep.check("directories created here are owned by this user", {
        (|| {
            must(d.mkdir(c"own"), "mkdir own")?;
            let sub = d.open_dir(c"own").map_err(|e| format!("open own: {}", describe(&e)))?;
            let st = sub.fstat().map_err(|e| format!("fstat own: {}", describe(&e)))?;
            let me = softrwlock::fs::geteuid();
            if st.uid != me {
                return Err(format!(
                    "owned by uid {}, not {me}: the library refuses such a lock directory (check NFSv4 id mapping / root squash)",
                    st.uid
                ));
            }
            Ok(format!("uid {me}"))
        })()
    });

    rep.check(
        "exclusive create (O_CREAT|O_EXCL) fails with EEXIST on an existing name",
        {
            (|| {
                must(d.create_excl(c"excl", rec), "first create of excl")?;
                expect_err(
                    d.create_excl(c"excl", rec),
                    &[libc::EEXIST],
                    "second create",
                )
            })()
        },
    );

    rep.check("mkdir fails with EEXIST on an existing name", {
        (|| {
            must(d.mkdir(c"dir"), "first mkdir of dir")?;
            let a = expect_err(d.mkdir(c"dir"), &[libc::EEXIST], "second mkdir")?;
            expect_err(
                d.create_excl(c"dir", rec),
                &[libc::EEXIST],
                "exclusive create over it",
            )?;
            Ok(a)
        })()
    });

    rep.check(
        "rename of a FILE moves it intact and consumes its source (a second rename of it fails: the baton is never duplicated)",
        (|| {
            must(d.mkdir(c"room"), "mkdir room")?;
            let room = d
                .open_dir(c"room")
                .map_err(|e| format!("open room: {}", describe(&e)))?;
            must(room.create_excl(c"baton.0", rec), "create room/baton.0")?;
            must(
                room.rename(c"baton.0", d, c"held.1"),
                "rename room/baton.0 to held.1 (a writer takes the baton)",
            )?;
            let r = expect_err(
                room.rename(c"baton.0", d, c"held.2"),
                &[libc::ENOENT],
                "second rename of the same source",
            )?;
            let mut buf = Vec::new();
            d.read_small(c"held.1", &mut buf)
                .map_err(|e| format!("read held.1: {}", describe(&e)))?;
            if buf != rec {
                return Err("the renamed file did not arrive intact".into());
            }
            if d.stat(c"held.2").is_ok() {
                return Err("the failed rename created its target: two batons".into());
            }
            must(
                d.rename(c"held.1", &room, c"baton.1"),
                "rename held.1 back into room (a release)",
            )?;
            Ok(r)
        })(),
    );

    rep.check(
        "rmdir of a non-empty directory fails, of an empty one succeeds (the write grant)",
        (|| {
            must(d.mkdir(c"room2"), "mkdir room2")?;
            let room2 = d
                .open_dir(c"room2")
                .map_err(|e| format!("open room2: {}", describe(&e)))?;
            must(
                room2.create_excl(c"r.1", rec),
                "create room2/r.1 (a reader inside)",
            )?;
            let r = expect_err(
                d.rmdir(c"room2"),
                &[libc::ENOTEMPTY, libc::EEXIST],
                "rmdir room2 with a reader inside",
            )?;
            room2
                .stat(c"r.1")
                .map_err(|_| "the reader's record vanished".to_string())?;
            must(room2.unlink(c"r.1"), "unlink room2/r.1")?;
            must(d.rmdir(c"room2"), "rmdir of the emptied room2")?;
            Ok(r)
        })(),
    );

    rep.check(
        "link of a file works, and fails with EEXIST on an existing name (used once, to initialise a lock)",
        (|| {
            must(d.create_excl(c"t.1", rec), "create t.1")?;
            must(d.link(c"t.1", c"init"), "link t.1 to init")?;
            must(d.create_excl(c"t.2", rec), "create t.2")?;
            expect_err(
                d.link(c"t.2", c"init"),
                &[libc::EEXIST],
                "second link to init",
            )
        })(),
    );

    rep.check(
        "unlink removes a name (and exclusive create works again)",
        {
            (|| {
                must(d.unlink(c"excl"), "unlink excl")?;
                match d.stat(c"excl") {
                    Err(e) if errno(&e) == libc::ENOENT => {}
                    Ok(_) => return Err("excl is still there after unlink".into()),
                    Err(e) => return Err(format!("stat after unlink: {}", describe(&e))),
                }
                expect_err(d.unlink(c"excl"), &[libc::ENOENT], "second unlink")?;
                must(d.create_excl(c"excl", rec), "create after unlink")?;
                Ok(String::new())
            })()
        },
    );

    rep.check(
        "a create through a handle to a directory removed and made again fails or lands in the new one",
        stale_handle_check(d, rec),
    );

    rep.check("O_NOFOLLOW refuses symlinks", {
        (|| {
            must(d.create_excl(c"target", rec), "create target")?;
            let link = dpath.join("link");
            let dlink = dpath.join("dlink");
            std::os::unix::fs::symlink("target", &link).map_err(|e| format!("symlink: {e}"))?;
            std::os::unix::fs::symlink("dir", &dlink).map_err(|e| format!("symlink: {e}"))?;
            let mut buf = Vec::new();
            let a = match d.read_small(c"link", &mut buf) {
                Ok(()) => return Err("reading through a symlink to a file followed it".into()),
                Err(e) => describe(&e),
            };
            if d.open_dir(c"dlink").is_ok() {
                return Err("opening a symlink to a directory followed it".into());
            }
            expect_err(
                d.create_excl(c"link", rec),
                &[libc::EEXIST],
                "exclusive create over a symlink",
            )?;
            must(d.unlink(c"link"), "unlink the symlink")?;
            d.stat(c"target")
                .map_err(|_| "unlinking the symlink removed its target".to_string())?;
            Ok(format!("open refused with {a}"))
        })()
    });
}

/// Opens a handle on `room3`, removes `room3` (rmdir, a write grant) and makes it again
/// (mkdir, the release) with the baton inside, then creates through the old handle.
/// Acceptable: the create fails (ENOENT/ESTALE: the library reopens and retries), or it lands
/// in the new directory and a listing through the same handle then shows it and the baton (as
/// on GlusterFS: the reader's check is then made in the room that holds its record). Not
/// acceptable: it succeeds somewhere else.
fn stale_handle_check(d: &Dir, rec: &[u8]) -> Result<String, String> {
    must(d.mkdir(c"room3"), "mkdir room3")?;
    let old = d
        .open_dir(c"room3")
        .map_err(|e| format!("open room3: {}", describe(&e)))?;
    must(d.rmdir(c"room3"), "rmdir room3")?;
    must(d.mkdir(c"room3"), "mkdir room3 again")?;
    let n = d
        .open_dir(c"room3")
        .map_err(|e| format!("open the new room3: {}", describe(&e)))?;
    must(n.create_excl(c"baton.1", rec), "create room3/baton.1")?;
    match old.create_excl(c"r.probe", rec) {
        Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) => Ok(format!(
            "the create failed with {} (the library reopens and retries)",
            describe(&e)
        )),
        Err(e) => Err(format!("the create failed with {}", describe(&e))),
        Ok(()) => {
            if n.stat(c"r.probe").is_err() {
                return Err("the create succeeded but the file is not in the new directory: a reader's record would be somewhere no writer looks".into());
            }
            let mut names = Vec::new();
            let mut buf = Vec::new();
            old.list(&mut buf, |x| names.push(x.to_vec()))
                .map_err(|e| format!("list through the old handle: {}", describe(&e)))?;
            if !names.iter().any(|x| x == b"r.probe") || !names.iter().any(|x| x == b"baton.1") {
                return Err("the create landed in the new directory but a listing through the same handle does not show it and the baton: a reader would wait for ever".into());
            }
            Ok("the create landed in the new directory and the same handle lists its content (as on GlusterFS)".into())
        }
    }
}

// ---- workers (re-executions of this binary) --------------------------------------------------

fn read_counter(path: &Path) -> Result<u64, String> {
    let mut f = File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    let mut buf = [0u8; 64];
    let mut got = 0;
    loop {
        let n = f
            .read(&mut buf[got..])
            .map_err(|e| format!("read {}: {e}", path.display()))?;
        if n == 0 || got + n == buf.len() {
            got += n;
            break;
        }
        got += n;
    }
    let s = std::str::from_utf8(&buf[..got]).unwrap_or("");
    s.trim()
        .parse()
        .map_err(|_| format!("{}: malformed counter {s:?}", path.display()))
}

fn write_counter(path: &Path, v: u64) -> Result<(), String> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| format!("open {}: {e}", path.display()))?;
    f.write_all_at(format!("{v:020}\n").as_bytes(), 0)
        .map_err(|e| format!("write {}: {e}", path.display()))
}

fn init_counter(path: &Path) -> Result<(), String> {
    std::fs::write(path, format!("{:020}\n", 0))
        .map_err(|e| format!("create {}: {e}", path.display()))
}

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    reads: u64,
    writes: u64,
    violations: u64,
    lost: u64,
    errors: u64,
}

impl Counts {
    fn line(&self) -> String {
        format!(
            "reads={} writes={} violations={} lost={} errors={}",
            self.reads, self.writes, self.violations, self.lost, self.errors
        )
    }

    fn parse(s: &str) -> Option<Counts> {
        let mut c = Counts::default();
        let mut seen = 0;
        for kv in s.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            let v: u64 = v.parse().ok()?;
            match k {
                "reads" => c.reads = v,
                "writes" => c.writes = v,
                "violations" => c.violations = v,
                "lost" => c.lost = v,
                "errors" => c.errors = v,
                _ => continue,
            }
            seen += 1;
        }
        (seen == 5).then_some(c)
    }

    fn add(&mut self, o: &Counts) {
        self.reads += o.reads;
        self.writes += o.writes;
        self.violations += o.violations;
        self.lost += o.lost;
        self.errors += o.errors;
    }
}

fn short_sleep(rng: &mut u64, max_us: u64) {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    std::thread::sleep(Duration::from_micros(*rng % max_us.max(1)));
}

/// `__verify-worker LOCK COUNTER DURATION WRITE_PERMILLE HEARTBEAT STALE POLL`: cycles of
/// read and write holds for DURATION seconds; prints one "result ..." line.
pub fn worker_main(argv: &[OsString]) -> u8 {
    if argv.len() != 7 {
        eprintln!("softrwlock {WORKER_CMD}: internal subcommand, 7 arguments");
        return exit::USAGE;
    }
    let lock_path = argv[0].as_bytes();
    let counter = PathBuf::from(&argv[1]);
    let num = |i: usize| argv[i].to_string_lossy().parse::<f64>().unwrap_or(f64::NAN);
    let (duration, permille) = (num(2), num(3) as u64);
    let o = opts((num(4), num(5), num(6)));
    let lock = match Lock::open(lock_path, &o) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("softrwlock {WORKER_CMD}: {e}");
            println!(
                "result {}",
                Counts {
                    errors: 1,
                    ..Counts::default()
                }
                .line()
            );
            return 0;
        }
    };
    let mut c = Counts::default();
    let mut rng = rand_u64() | 1;
    let deadline = Instant::now() + Duration::from_secs_f64(duration.max(0.0));
    let mut first_error: Option<String> = None;
    while Instant::now() < deadline {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let write = rng % 1000 < permille;
        let role = if write { Mode::Write } else { Mode::Read };
        if let Err(e) = lock.acquire(role, 60.0) {
            c.errors += 1;
            first_error.get_or_insert(e.to_string());
            if e.status != Status::SRWL_TIMEOUT {
                break;
            }
            continue;
        }
        let section = if write {
            (|| {
                let mut bad = 0;
                let n = read_counter(&counter)?;
                if n % 2 == 1 {
                    bad += 1; // another writer is inside
                }
                write_counter(&counter, n + 1)?;
                short_sleep(&mut rng, 1000);
                if read_counter(&counter)? != n + 1 {
                    bad += 1; // someone wrote meanwhile
                }
                write_counter(&counter, n + 2)?;
                Ok::<u64, String>(bad)
            })()
        } else {
            (|| {
                let mut bad = 0;
                let n = read_counter(&counter)?;
                if n % 2 == 1 {
                    bad += 1; // a writer is inside
                }
                short_sleep(&mut rng, 500);
                if read_counter(&counter)? != n {
                    bad += 1; // a writer came in while we read
                }
                Ok::<u64, String>(bad)
            })()
        };
        match section {
            Ok(bad) => c.violations += bad,
            Err(m) => {
                c.errors += 1;
                first_error.get_or_insert(m);
            }
        }
        if write {
            c.writes += 1;
        } else {
            c.reads += 1;
        }
        match lock.release() {
            Ok(()) => {}
            Err(e) if e.status == Status::SRWL_ELOST => {
                c.lost += 1;
                first_error.get_or_insert(e.to_string());
            }
            Err(e) => {
                c.errors += 1;
                first_error.get_or_insert(e.to_string());
            }
        }
        short_sleep(&mut rng, 300);
    }
    if let Some(e) = first_error {
        eprintln!("softrwlock {WORKER_CMD} (pid {}): {e}", std::process::id());
    }
    println!("result {}", c.line());
    0
}

/// `__verify-hold LOCK ROLE HEARTBEAT STALE POLL`: takes the lock, prints "held", sleeps.
pub fn hold_main(argv: &[OsString]) -> u8 {
    if argv.len() != 5 {
        eprintln!("softrwlock {HOLD_CMD}: internal subcommand, 5 arguments");
        return exit::USAGE;
    }
    let num = |i: usize| argv[i].to_string_lossy().parse::<f64>().unwrap_or(f64::NAN);
    let role = if argv[1] == "write" {
        Mode::Write
    } else {
        Mode::Read
    };
    let lock = match Lock::open(argv[0].as_bytes(), &opts((num(2), num(3), num(4)))) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("softrwlock {HOLD_CMD}: {e}");
            return exit::LOCK_ERROR;
        }
    };
    if let Err(e) = lock.acquire(role, 30.0) {
        eprintln!("softrwlock {HOLD_CMD}: {e}");
        return exit::LOCK_ERROR;
    }
    println!("held");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn self_exe() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"))
}

fn spawn_worker(
    lock: &Path,
    counter: &Path,
    duration: f64,
    permille: u32,
    o: (f64, f64, f64),
) -> std::io::Result<Child> {
    Command::new(self_exe())
        .arg(WORKER_CMD)
        .arg(lock)
        .arg(counter)
        .arg(duration.to_string())
        .arg(permille.to_string())
        .arg(o.0.to_string())
        .arg(o.1.to_string())
        .arg(o.2.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
}

/// Runs `workers` worker processes for `duration` seconds; returns each one's counts.
/// `paths`: the lock and the counter; `second`: the same through a second mount, which every
/// other worker uses.
fn run_workers(
    paths: (&Path, &Path),
    second: Option<(&Path, &Path)>,
    workers: u32,
    duration: f64,
    o: (f64, f64, f64),
) -> Result<Vec<Counts>, String> {
    let mut children = Vec::new();
    for i in 0..workers {
        // A mix: worker 0 writes often, the others mostly read.
        let permille = if i == 0 { 500 } else { 150 };
        let (lock, counter) = match second {
            Some(p) if i % 2 == 1 => p,
            _ => paths,
        };
        match spawn_worker(lock, counter, duration, permille, o) {
            Ok(c) => children.push(c),
            Err(e) => {
                for mut c in children {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                return Err(format!("cannot start a worker process: {e}"));
            }
        }
    }
    let mut out = Vec::new();
    let mut problem = None;
    for mut c in children {
        let mut text = String::new();
        if let Some(mut s) = c.stdout.take() {
            let _ = s.read_to_string(&mut text);
        }
        let st = c.wait();
        match text
            .lines()
            .find_map(|l| l.strip_prefix("result "))
            .and_then(Counts::parse)
        {
            Some(counts) => out.push(counts),
            None => {
                problem.get_or_insert(format!("a worker ended without a result ({st:?})"));
            }
        }
    }
    match problem {
        Some(p) => Err(p),
        None => Ok(out),
    }
}

/// Judges the counts of an exclusion run against the counter's final value.
fn judge(
    who: &str,
    counts: &[Counts],
    total: &Counts,
    counter: u64,
    duration: f64,
) -> Result<String, String> {
    let mut why = Vec::new();
    if total.violations > 0 {
        why.push(format!(
            "{} time(s) a process saw another writer inside",
            total.violations
        ));
    }
    if counter != 2 * total.writes {
        why.push(format!(
            "the counter is {counter}, expected 2 x {} write grants = {} (lost or extra updates)",
            total.writes,
            2 * total.writes
        ));
    }
    if total.lost > 0 {
        why.push(format!(
            "{} hold(s) were evicted while held (the file server stalled past the stale threshold?)",
            total.lost
        ));
    }
    if total.errors > 0 {
        why.push(format!(
            "{} lock or I/O error(s) (see the messages above)",
            total.errors
        ));
    }
    if total.writes == 0 || total.reads == 0 {
        why.push("no write grants or no read grants at all".into());
    }
    if counts.iter().any(|c| c.reads + c.writes == 0) {
        why.push("a process got no grant at all (starved)".into());
    }
    if why.is_empty() {
        Ok(format!(
            "{who}, {duration} s: {} read grants, {} write grants, counter {counter} = 2 x {}, no reader saw a writer inside",
            total.reads,
            total.writes,
            total.writes
        ))
    } else {
        Err(why.join("; "))
    }
}

fn exclusion_check(
    scratch: &Path,
    second: Option<&Path>,
    workers: u32,
    duration: f64,
) -> Result<String, String> {
    let dir = scratch.join("excl");
    std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let lock = dir.join("lock");
    let counter = dir.join("counter");
    init_counter(&counter)?;
    let other = second.map(|s| (s.join("excl").join("lock"), s.join("excl").join("counter")));
    let t0 = Instant::now();
    let counts = run_workers(
        (&lock, &counter),
        other.as_ref().map(|(l, c)| (l.as_path(), c.as_path())),
        workers,
        duration,
        EXCL_OPTS,
    )?;
    let mut total = Counts::default();
    counts.iter().for_each(|c| total.add(c));
    let value = read_counter(&counter)?;
    let verdict = judge(
        &format!("{workers} processes"),
        &counts,
        &total,
        value,
        duration,
    );
    // Workers stop asking at the end of the run; one still waiting then is granted within 60 s
    // or gives up. Safe is not enough: a lock whose waiters wait that long is not live.
    let overrun = t0.elapsed().as_secs_f64() - duration;
    match verdict {
        Ok(_) if overrun > LIVENESS_SLACK => Err(format!(
            "the {duration} s run took {overrun:.1} s longer: a process waited that long for a grant ({} read, {} write grants in all; exclusion held). On sshfs, mount with -o cache=no",
            total.reads, total.writes
        )),
        v => v,
    }
}

/// How much longer than its duration the exclusion run may take (a waiter's last wait).
const LIVENESS_SLACK: f64 = 30.0;

/// The entries of a released lock's sidecar other than `init`, `R`, `Q`, and the batons at
/// rest in `R/`.
fn sidecar_entries(side: &Path) -> Result<(Vec<String>, Vec<String>), String> {
    let mut left = Vec::new();
    let mut batons = Vec::new();
    for sub in ["", "R", "Q"] {
        let p = side.join(sub);
        let rd = std::fs::read_dir(&p).map_err(|e| format!("list {}: {e}", p.display()))?;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            match (sub, name.as_str()) {
                ("", "init" | "R" | "Q") => {}
                ("R", n) if n.starts_with("baton.") => batons.push(n.to_string()),
                ("", n) => left.push(n.to_string()),
                (_, n) => left.push(format!("{sub}/{n}")),
            }
        }
    }
    Ok((left, batons))
}

/// After the exclusion test every lock is released: the sidecar holds `init`, `R` and `Q`;
/// `Q` is empty; `R` holds the baton at rest and nothing else, and the baton is still the file
/// `init` names (it was only ever renamed, never copied or made again).
fn leftovers_check(scratch: &Path) -> Result<String, String> {
    use std::os::unix::fs::MetadataExt;
    let side = scratch.join("excl").join("lock.srwl");
    // A file unlinked while a process on this client had it open is renamed by the client
    // (`.fuse_hidden*` on FUSE, `.nfs*` on NFS) and removed at the last close, which the
    // kernel sends to the client after the process has gone: such names may linger a moment.
    let t0 = Instant::now();
    let (left, batons) = loop {
        let (left, batons) = sidecar_entries(&side)?;
        let lingering = |n: &String| {
            let base = n.rsplit('/').next().unwrap_or(n);
            base.starts_with(".fuse_hidden") || base.starts_with(".nfs")
        };
        if left.is_empty() || !left.iter().all(lingering) || t0.elapsed() > Duration::from_secs(3) {
            break (left, batons);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let is_litter = |n: &String| {
        let base = n.rsplit('/').next().unwrap_or(n);
        base.starts_with(".fuse_hidden") || base.starts_with(".nfs")
    };
    if !left.iter().all(is_litter) {
        return Err(format!("left behind: {}", left.join(", ")));
    }
    // Left by the client, not by the lock (libfuse: an unlink racing with the release of the
    // file's last close): in R/ or Q/ waiting writers evict it after the stale threshold like
    // any leftover; elsewhere it blocks nothing.
    let litter = if left.is_empty() {
        String::new()
    } else {
        format!(
            "; the client left {} (a file renamed because it was open when unlinked; blocks no one for longer than the stale threshold)",
            left.join(", ")
        )
    };
    let [baton] = batons.as_slice() else {
        return Err(format!(
            "expected one baton at rest in R/, found {}",
            if batons.is_empty() {
                "none".to_string()
            } else {
                batons.join(", ")
            }
        ));
    };
    let meta = |p: PathBuf| {
        std::fs::symlink_metadata(&p).map_err(|e| format!("stat {}: {e}", p.display()))
    };
    let (b, i) = (meta(side.join("R").join(baton))?, meta(side.join("init"))?);
    if (b.dev(), b.ino()) == (i.dev(), i.ino()) {
        return Ok(format!("R/{baton}, the file init names{litter}"));
    }
    // Different inode numbers are no proof: sshfs (and other FUSE filesystems) invent them
    // per name. Ask the file itself: bytes written through `init` must show through the
    // baton's name (the lock is released and no longer used).
    same_file_by_content(&side.join("init"), &side.join("R").join(baton))
        .map(|()| {
            format!(
                "R/{baton}, the file init names (their inode numbers differ, {} and {}: this filesystem makes them up; a write through init shows through the baton){litter}",
                b.ino(),
                i.ino()
            )
        })
        .map_err(|m| format!("R/{baton} is not the file init names: {m}: the baton was copied or made again"))
}

/// Whether `a` and `b` are one file: a random marker written through `a` is read through `b`.
fn same_file_by_content(a: &Path, b: &Path) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let marker = format!("srwl verify identity {:016x}\n", rand_u64());
    let open = |p: &Path, write: bool| {
        OpenOptions::new()
            .read(!write)
            .write(write)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(p)
            .map_err(|e| format!("open {}: {e}", p.display()))
    };
    open(a, true)?
        .write_all_at(marker.as_bytes(), 0)
        .map_err(|e| format!("write {}: {e}", a.display()))?;
    let mut got = vec![0u8; marker.len()];
    open(b, false)?
        .read_exact_at(&mut got, 0)
        .map_err(|e| format!("read {}: {e}", b.display()))?;
    if got == marker.as_bytes() {
        Ok(())
    } else {
        Err(format!(
            "a marker written through {} did not show through {}",
            a.display(),
            b.display()
        ))
    }
}

fn read_line_within(child: &mut Child, within: Duration) -> Option<String> {
    let out = child.stdout.take()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(within).ok()
}

/// A holder of `role` is SIGKILLed; a writer must get the lock within the stale threshold
/// plus a margin.
/// With a second mount, the holder works through the first and the evicting writer through
/// the second (a dead host's lock taken over by another host).
fn eviction_check(scratch: &Path, second: Option<&Path>, role: &str) -> Result<String, String> {
    let sub = format!("evict-{role}");
    let dir = scratch.join(&sub);
    std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let lock_path = dir.join("lock");
    let other_path = second.map_or_else(|| lock_path.clone(), |s| s.join(&sub).join("lock"));
    let o = EVICT_OPTS;
    let mut child = Command::new(self_exe())
        .arg(HOLD_CMD)
        .arg(&lock_path)
        .arg(role)
        .args([o.0.to_string(), o.1.to_string(), o.2.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the holder process: {e}"))?;
    let line = read_line_within(&mut child, Duration::from_secs(30));
    let result = (|| {
        if line.as_deref().map(str::trim) != Some("held") {
            return Err("the holder process did not take the lock".to_string());
        }
        let lock =
            Lock::open(other_path.as_os_str().as_bytes(), &opts(o)).map_err(|e| e.to_string())?;
        match lock.acquire(Mode::Write, 0.0) {
            Err(e) if e.status == Status::SRWL_TIMEOUT => {}
            Ok(()) => {
                let _ = lock.release();
                return Err("a writer got the lock while the holder was alive".into());
            }
            Err(e) => return Err(e.to_string()),
        }
        let _ = child.kill();
        let _ = child.wait();
        let t0 = Instant::now();
        let limit = o.1 * 3.0 + 2.0;
        match lock.acquire(Mode::Write, limit + 5.0) {
            Ok(()) => {
                let took = t0.elapsed().as_secs_f64();
                let _ = lock.release();
                if took <= limit {
                    Ok(format!(
                        "a writer got the lock {took:.2} s after the SIGKILL (stale threshold {} s)",
                        o.1
                    ))
                } else {
                    Err(format!(
                        "a writer got the lock only {took:.2} s after the SIGKILL (stale threshold {} s, limit {limit} s)",
                        o.1
                    ))
                }
            }
            Err(e) => Err(format!("no writer got the lock after the SIGKILL: {e}")),
        }
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}

// ---- the command ---------------------------------------------------------------------------

struct VerifyArgs {
    dir: OsString,
    keep: bool,
    cross: Option<String>,
    /// The same directory through another mount of the filesystem (a second client).
    second: Option<OsString>,
    nodes: u64,
    duration: Option<f64>,
    workers: u64,
    join_timeout: f64,
}

/// Checks the values of the options clap has parsed (`args::VerifyArgs`).
fn parse(c: &args::VerifyArgs) -> Result<VerifyArgs, String> {
    let mut a = VerifyArgs {
        dir: c.dir.clone(),
        keep: c.keep,
        cross: None,
        second: c.second_mount.clone(),
        nodes: 2,
        duration: None,
        workers: 4,
        join_timeout: 600.0,
    };
    if let Some(v) = &c.cross_client {
        let ok = !v.is_empty()
            && v.len() <= 64
            && !v.starts_with('.')
            && v.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c));
        if !ok {
            return Err(format!(
                "--cross-client {v:?}: use letters, digits, '.', '_' and '-' (not starting with '.')"
            ));
        }
        a.cross = Some(v.clone());
    }
    if let Some(v) = &c.nodes {
        a.nodes = args::count("--nodes", v, 10_000)?;
    }
    if let Some(v) = &c.workers {
        a.workers = args::count("--workers", v, 64)?;
    }
    if let Some(v) = &c.duration {
        let v = args::seconds("--duration", v, false)?;
        if !(0.1..=3600.0).contains(&v) {
            return Err("--duration: from 0.1 to 3600 seconds".into());
        }
        a.duration = Some(v);
    }
    if let Some(v) = &c.join_timeout {
        a.join_timeout = args::seconds("--join-timeout", v, false)?;
    }
    Ok(a)
}

/// `softrwlock verify [OPTIONS] DIR` (the options parsed by clap).
pub fn main(c: &args::VerifyArgs) -> u8 {
    let a = match parse(c) {
        Ok(a) => a,
        Err(m) => return usage_error(&m),
    };
    let dir_path = PathBuf::from(&a.dir);
    let root = match Dir::open_path(&cpath(&dir_path)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "softrwlock: verify: open {}: {}",
                dir_path.display(),
                describe(&e)
            );
            println!(
                "VERDICT: FAIL: cannot open {}: {}: nothing was checked",
                dir_path.display(),
                describe(&e)
            );
            return exit::VERIFY_FAILED;
        }
    };
    let host = hostname();
    println!("softrwlock verify {}", dir_path.display());
    let (fs_name, mount) = filesystem_of(&root);
    println!("host {host}, filesystem {fs_name}");
    let second = match &a.second {
        Some(p) => match open_second(p, &root) {
            Ok(x) => Some(x),
            Err(m) => {
                eprintln!("softrwlock: verify: --second-mount: {m}");
                return exit::VERIFY_FAILED;
            }
        },
        None => None,
    };
    if let Some((p, _, name)) = &second {
        println!("second mount {}, filesystem {name}", p.display());
    }
    if mount.as_ref().is_some_and(|m| m.fstype == "fuse.sshfs") {
        // Not visible in mountinfo, and not decidable from one client.
        println!(
            "note: sshfs must be mounted with -o cache=no on every client: with its default 20 s cache \
             a client sees the others' changes late, and waiters on it can wait that long per handoff"
        );
    }
    // Refused by the library: the lock checks cannot run; the racing checks show why.
    let refusal = mount.as_ref().and_then(fstype::refusal);

    let scratch_name = format!(
        "softrwlock-verify.{host}.{}.{:08x}",
        std::process::id(),
        rand_u64() as u32
    );
    let scratch = dir_path.join(&scratch_name);
    let scratch_c = CString::new(scratch_name.clone()).expect("no NUL");
    if let Err(e) = root.mkdir(&scratch_c) {
        eprintln!(
            "softrwlock: verify: mkdir {}: {}",
            scratch.display(),
            describe(&e)
        );
        return exit::VERIFY_FAILED;
    }
    let mut rep = Report {
        passed: 0,
        failed: 0,
        undecided: 0,
    };
    match root.open_dir(&scratch_c) {
        Ok(d) => {
            let fs_dir = scratch.join("fs");
            match d.mkdir(c"fs").and_then(|_| d.open_dir(c"fs")) {
                Ok(fsd) => fs_checks(&mut rep, &fsd, &fs_dir),
                Err(e) => rep.check(
                    "scratch directory",
                    Err(format!("mkdir {}: {}", fs_dir.display(), describe(&e))),
                ),
            }
            // Before any thread is started: the racing processes are forked.
            match d.mkdir(c"race").and_then(|_| d.open_dir(c"race")) {
                Ok(r1) => match &second {
                    Some((p, sroot, _)) => {
                        match open_within(sroot, &[&scratch_name, "race"], p, 30.0) {
                            Ok(r2) => race_checks(&mut rep, [&r1, &r2], true),
                            Err(m) => rep.check("racing operations from two clients", Err(m)),
                        }
                    }
                    None => race_checks(&mut rep, [&r1, &r1], false),
                },
                Err(e) => rep.check(
                    "scratch directory",
                    Err(format!(
                        "mkdir {}/race: {}",
                        scratch.display(),
                        describe(&e)
                    )),
                ),
            }
        }
        Err(e) => rep.check(
            "scratch directory",
            Err(format!("open {}: {}", scratch.display(), describe(&e))),
        ),
    }

    let duration = if a.cross.is_some() {
        3.0
    } else {
        a.duration.unwrap_or(3.0)
    };
    if let Some(why) = &refusal {
        rep.check(
            "the library can be used on this filesystem",
            Err(format!("srwl_open refuses it (SRWL_EUNSAFE): {why}")),
        );
        println!("SKIP  exclusion, leftovers and eviction with the real lock: the library refuses this filesystem");
    } else {
        let second_scratch = second.as_ref().map(|(p, _, _)| p.join(&scratch_name));
        lock_checks(&mut rep, &scratch, second_scratch.as_deref(), &a, duration);
    }
    let local = mount.as_ref().is_some_and(Mount::is_local);
    if second.is_none() && a.cross.is_none() && !local {
        rep.undecided(
            "atomicity between two clients",
            "every racing operation above went through one mount, where the kernel serialises \
             creates, renames and links of one name: that says nothing about two hosts. Give \
             --second-mount (the same directory through a second mount of the filesystem) or \
             run --cross-client from two nodes",
        );
    }

    if let (Some(name), None) = (&a.cross, &refusal) {
        let r = cross_client(&dir_path, &root, name, &a, &host);
        rep.check(
            &format!(
                "cross-client exclusion with {} node(s) under {}",
                a.nodes,
                dir_path.join(name).display()
            ),
            r,
        );
    }

    if a.keep {
        println!("kept {}", scratch.display());
    } else if let Err(e) = remove_scratch(&scratch) {
        println!("note: could not remove {}: {e}", scratch.display());
    }
    let total = rep.passed + rep.failed;
    if rep.failed == 0 && rep.undecided > 0 {
        println!(
            "VERDICT: PASS: all {total} checks passed, {} undecided (see UNDECIDED above): softrwlock can be used on {} from this host",
            rep.undecided,
            dir_path.display()
        );
        0
    } else if rep.failed == 0 {
        println!(
            "VERDICT: PASS: all {total} checks passed: softrwlock can be used on {}",
            dir_path.display()
        );
        0
    } else {
        println!(
            "VERDICT: FAIL: {} of {total} checks failed: do NOT rely on softrwlock on {}",
            rep.failed,
            dir_path.display()
        );
        exit::VERIFY_FAILED
    }
}

/// The checks with the real lock: exclusion between worker processes (half of them through
/// the second mount, if given), what a released lock leaves, eviction of killed holders.
fn lock_checks(
    rep: &mut Report,
    scratch: &Path,
    second: Option<&Path>,
    a: &VerifyArgs,
    duration: f64,
) {
    let through = if second.is_some() {
        " (half of them through the second mount)"
    } else {
        ""
    };
    rep.check(
        &format!(
            "exclusion: {} processes mixing readers and writers on one lock{through}",
            a.workers
        ),
        exclusion_check(scratch, second, a.workers as u32, duration),
    );
    rep.check(
        "released locks leave the baton at rest in R/ and nothing else behind",
        leftovers_check(scratch),
    );
    rep.check(
        "eviction: a SIGKILLed writer's lock is taken over after the stale threshold",
        eviction_check(scratch, second, "write"),
    );
    rep.check(
        "eviction: a SIGKILLed reader's lock is taken over after the stale threshold",
        eviction_check(scratch, second, "read"),
    );
}

/// `--second-mount P`: opens P, checks that it is another mount (another device) showing the
/// same directory as `root` (a file made through `root` appears there). Returns P, its handle
/// and the description of its filesystem.
fn open_second(p: &OsString, root: &Dir) -> Result<(PathBuf, Dir, String), String> {
    let path = PathBuf::from(p);
    let d = Dir::open_path(&cpath(&path))
        .map_err(|e| format!("open {}: {}", path.display(), describe(&e)))?;
    let (st1, st2) = (root.fstat(), d.fstat());
    if let (Ok(a), Ok(b)) = (&st1, &st2) {
        if a.dev == b.dev {
            return Err(format!(
                "{} is on the same mount as DIR (device {}:{}): give the same directory through another mount of the filesystem (a second client)",
                path.display(),
                libc::major(a.dev),
                libc::minor(a.dev)
            ));
        }
    }
    let probe = format!(
        "softrwlock-verify-probe.{}.{:08x}",
        std::process::id(),
        rand_u64() as u32
    );
    let pc = CString::new(probe.clone()).expect("no NUL");
    root.create_excl(&pc, b"probe")
        .map_err(|e| format!("create {probe} in DIR: {}", describe(&e)))?;
    let seen = (0..150).any(|i| {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(200));
        }
        d.stat(&pc).is_ok()
    });
    let _ = root.unlink(&pc);
    if !seen {
        return Err(format!(
            "a file created in DIR did not appear in {} within 30 s: not the same directory",
            path.display()
        ));
    }
    let name = filesystem_of(&d).0;
    Ok((path, d, name))
}

/// Opens `parts` below `root` (made through another mount: it may take a while to appear).
fn open_within(root: &Dir, parts: &[&str], display: &Path, within: f64) -> Result<Dir, String> {
    let t0 = Instant::now();
    loop {
        let mut r: Option<std::io::Result<Dir>> = None;
        for part in parts {
            let c = CString::new(*part).expect("no NUL");
            r = Some(match r {
                None => root.open_dir(&c),
                Some(prev) => prev.and_then(|d| d.open_dir(&c)),
            });
        }
        match r.unwrap_or_else(|| Dir::open_path(&cpath(display))) {
            Ok(d) => return Ok(d),
            Err(e) if t0.elapsed().as_secs_f64() > within => {
                return Err(format!(
                    "open {}/{}: {}",
                    display.display(),
                    parts.join("/"),
                    describe(&e)
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Removes the scratch directory; tries again for a while where a client lists a directory
/// from a cache that does not show what another mount removed (sshfs, 20 s by default).
fn remove_scratch(scratch: &Path) -> std::io::Result<()> {
    let t0 = Instant::now();
    loop {
        match std::fs::remove_dir_all(scratch) {
            Err(e)
                if t0.elapsed() < Duration::from_secs(30)
                    && e.kind() != std::io::ErrorKind::NotFound =>
            {
                std::thread::sleep(Duration::from_millis(500))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            r => return r,
        }
    }
}

// ---- cross-client ----------------------------------------------------------------------------

fn list_names(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.retain(|n| !n.starts_with('.'));
    v.sort();
    v
}

/// Waits until `dir` holds at least `n` entries; Err on timeout.
fn wait_for(dir: &Path, n: usize, timeout: f64, what: &str) -> Result<Vec<String>, String> {
    let t0 = Instant::now();
    let mut last_note = Instant::now();
    loop {
        let names = list_names(dir);
        if names.len() >= n {
            return Ok(names);
        }
        if t0.elapsed().as_secs_f64() > timeout {
            return Err(format!(
                "timed out after {timeout} s waiting for {what}: {} of {n} in {}",
                names.len(),
                dir.display()
            ));
        }
        if last_note.elapsed() >= Duration::from_secs(10) {
            println!("      waiting for {what}: {} of {n}...", names.len());
            last_note = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn create_file(dir: &Dir, name: &str, data: &[u8], display: &Path) -> Result<(), String> {
    let c = CString::new(name).map_err(|_| "bad name".to_string())?;
    dir.create_excl(&c, data)
        .map_err(|e| format!("create {}: {}", display.join(name).display(), describe(&e)))
}

fn open_or_make(parent: &Dir, name: &str, display: &Path) -> Result<Dir, String> {
    let c = CString::new(name).map_err(|_| "bad name".to_string())?;
    match parent.mkdir(&c) {
        Ok(()) => {}
        Err(e) if errno(&e) == libc::EEXIST => {}
        Err(e) => return Err(format!("mkdir {}: {}", display.display(), describe(&e))),
    }
    parent
        .open_dir(&c)
        .map_err(|e| format!("open {}: {}", display.display(), describe(&e)))
}

fn cross_client(
    dir: &Path,
    root: &Dir,
    name: &str,
    a: &VerifyArgs,
    host: &str,
) -> Result<String, String> {
    let base = dir.join(name);
    let d = open_or_make(root, name, &base)?;
    let join = open_or_make(&d, "join", &base.join("join"))?;
    let done = open_or_make(&d, "done", &base.join("done"))?;
    let verified = open_or_make(&d, "verified", &base.join("verified"))?;
    if !list_names(&base.join("done")).is_empty() {
        return Err(format!(
            "{} holds results of an earlier run: use a new NAME or remove it",
            base.display()
        ));
    }
    let counter = base.join("counter");
    match d.create_excl(c"counter", format!("{:020}\n", 0).as_bytes()) {
        Ok(()) => {}
        Err(e) if errno(&e) == libc::EEXIST => {}
        Err(e) => return Err(format!("create {}: {}", counter.display(), describe(&e))),
    }
    let me = format!("{host}.{}.{:08x}", std::process::id(), rand_u64() as u32);
    create_file(&join, &me, b"", &base.join("join"))?;
    let n = a.nodes as usize;
    println!(
        "      {me} joined {}; waiting for {n} node(s)",
        base.display()
    );
    let joined = wait_for(&base.join("join"), n, a.join_timeout, "nodes to join")?;
    if joined.len() > n {
        return Err(format!(
            "{} nodes joined {} but --nodes is {n}: NAME reused?",
            joined.len(),
            base.display()
        ));
    }
    let duration = a.duration.unwrap_or(20.0);
    println!(
        "      all {n} node(s) joined; running {} workers for {duration} s",
        a.workers
    );
    let lock = base.join("lock");
    let counts = run_workers(
        (&lock, &counter),
        None,
        a.workers as u32,
        duration,
        CROSS_OPTS,
    )?;
    let mut mine = Counts::default();
    counts.iter().for_each(|c| mine.add(c));
    let starved = counts.iter().filter(|c| c.reads + c.writes == 0).count();
    create_file(
        &done,
        &me,
        format!("{} starved={starved}\n", mine.line()).as_bytes(),
        &base.join("done"),
    )?;
    println!("      this node: {}", mine.line());
    let finished = wait_for(
        &base.join("done"),
        n,
        a.join_timeout + duration,
        "nodes to finish",
    )?;
    let mut total = Counts::default();
    let mut per_node = Vec::new();
    let mut any_starved = 0;
    for node in &finished {
        let text = std::fs::read_to_string(base.join("done").join(node))
            .map_err(|e| format!("read done/{node}: {e}"))?;
        let c = Counts::parse(text.trim())
            .ok_or_else(|| format!("done/{node}: malformed result {:?}", text.trim()))?;
        any_starved += text
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("starved="))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        total.add(&c);
        per_node.push(c);
        println!("      node {node}: {}", c.line());
    }
    // Read the shared counter under a read lock (every worker has finished by now).
    let l =
        Lock::open(lock.as_os_str().as_bytes(), &opts(CROSS_OPTS)).map_err(|e| e.to_string())?;
    l.acquire(Mode::Read, 60.0).map_err(|e| e.to_string())?;
    let value = read_counter(&counter);
    let _ = l.release();
    let value = value?;
    let who = format!("{n} nodes x {} processes", a.workers);
    let mut r = judge(&who, &per_node, &total, value, duration);
    if any_starved > 0 && r.is_ok() {
        r = Err(format!(
            "{any_starved} worker process(es) got no grant at all (starved)"
        ));
    }
    // The last node to finish checking removes the shared directory.
    let _ = create_file(&verified, &me, b"", &base.join("verified"));
    if list_names(&base.join("verified")).len() >= n {
        let _ = std::fs::remove_dir_all(&base);
    }
    r
}

// ---- racing operations from two processes ------------------------------------------------------

/// Rounds of each racing operation.
const RACE_ROUNDS: u32 = 30;

#[derive(Clone, Copy, PartialEq, Eq)]
enum RaceOp {
    Create,
    Rename,
    Link,
}

impl RaceOp {
    const ALL: [RaceOp; 3] = [RaceOp::Create, RaceOp::Rename, RaceOp::Link];

    fn code(self) -> u8 {
        match self {
            RaceOp::Create => b'c',
            RaceOp::Rename => b'r',
            RaceOp::Link => b'l',
        }
    }
}

/// Names of round `round` for the process on `side` (0 or 1): what it creates, renames from
/// and to, links from and to.
fn race_names(round: u32, side: usize) -> [CString; 5] {
    let c = |s: String| CString::new(s).expect("no NUL");
    [
        c(format!("c.{round}")),
        c(format!("src.{round}")),
        c(format!("dst.{round}.{side}")),
        c(format!("t.{round}.{side}")),
        c(format!("l.{round}")),
    ]
}

/// The racing side: waits for an operation code on `go`, does round `n`'s operation through
/// `dir`, answers the errno (0: success) on `out`, until `go` closes. Runs in a forked child.
fn race_child(dir: &Dir, side: usize, go: libc::c_int, out: libc::c_int) -> ! {
    let mut round = [0u32; 3];
    loop {
        let mut b = [0u8; 1];
        if unsafe { libc::read(go, b.as_mut_ptr().cast(), 1) } != 1 {
            unsafe { libc::_exit(0) };
        }
        let slot = RaceOp::ALL
            .iter()
            .position(|o| o.code() == b[0])
            .unwrap_or(0);
        let n = race_names(round[slot], side);
        round[slot] += 1;
        let r = match RaceOp::ALL[slot] {
            RaceOp::Create => dir.create_excl(&n[0], b"x"),
            RaceOp::Rename => dir.rename(&n[1], dir, &n[2]),
            RaceOp::Link => dir.link(&n[3], &n[4]),
        };
        let code: i32 = match r {
            Ok(()) => 0,
            Err(e) => errno(&e).max(1),
        };
        let bytes = code.to_ne_bytes();
        if unsafe { libc::write(out, bytes.as_ptr().cast(), 4) } != 4 {
            unsafe { libc::_exit(1) };
        }
    }
}

/// The outcome of racing one operation for many rounds.
#[derive(Default)]
struct RaceTally {
    both: u32,
    one: u32,
    none: u32,
    errors: Vec<i32>,
}

/// Races exclusive creates of one name, renames of one file and links to one name between
/// two processes, each through its own directory handle (`dirs`: one per process, through
/// two mounts if the user gave two). Forks: call it while this process has one thread.
fn race_ops(dirs: [&Dir; 2]) -> Result<[RaceTally; 3], String> {
    // Each round's files, made beforehand through the first handle.
    for round in 0..RACE_ROUNDS {
        for side in 0..2 {
            let n = race_names(round, side);
            if side == 0 {
                must(
                    dirs[0].create_excl(&n[1], b"baton"),
                    "create a file to rename",
                )?;
            }
            must(dirs[0].create_excl(&n[3], b"x"), "create a file to link")?;
        }
    }
    let mut pipes = Vec::new();
    let mut kids = Vec::new();
    for (side, dir) in dirs.iter().enumerate() {
        let (mut go, mut out) = ([0; 2], [0; 2]);
        if unsafe { libc::pipe2(go.as_mut_ptr(), libc::O_CLOEXEC) } != 0
            || unsafe { libc::pipe2(out.as_mut_ptr(), libc::O_CLOEXEC) } != 0
        {
            return Err(format!("pipe: {}", std::io::Error::last_os_error()));
        }
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork: {}", std::io::Error::last_os_error()));
        }
        if pid == 0 {
            // Only its own ends: a copy of another child's `go` would keep that one from
            // seeing the end.
            unsafe {
                libc::close(go[1]);
                libc::close(out[0]);
                for &(g, o) in &pipes {
                    libc::close(g);
                    libc::close(o);
                }
            }
            race_child(dir, side, go[0], out[1]);
        }
        unsafe {
            libc::close(go[0]);
            libc::close(out[1]);
        }
        pipes.push((go[1], out[0]));
        kids.push(pid);
    }
    let mut tallies: [RaceTally; 3] = Default::default();
    let mut broken = None;
    'rounds: for _ in 0..RACE_ROUNDS {
        for (slot, op) in RaceOp::ALL.iter().enumerate() {
            // Both told at once: they race for the same name.
            for &(go, _) in &pipes {
                if unsafe { libc::write(go, [op.code()].as_ptr().cast(), 1) } != 1 {
                    broken = Some("a racing process went away".to_string());
                    break 'rounds;
                }
            }
            let mut ok = 0;
            for &(_, out) in &pipes {
                let mut b = [0u8; 4];
                if unsafe { libc::read(out, b.as_mut_ptr().cast(), 4) } != 4 {
                    broken = Some("a racing process went away".to_string());
                    break 'rounds;
                }
                match i32::from_ne_bytes(b) {
                    0 => ok += 1,
                    e => tallies[slot].errors.push(e),
                }
            }
            let t = &mut tallies[slot];
            match ok {
                2 => t.both += 1,
                1 => t.one += 1,
                _ => t.none += 1,
            }
        }
    }
    for (go, out) in pipes {
        unsafe {
            libc::close(go);
            libc::close(out);
        }
    }
    for pid in kids {
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
    match broken {
        Some(b) => Err(b),
        None => Ok(tallies),
    }
}

/// The errno values of the losers, as "EEXIST x29, EPERM x1".
fn loser_errors(t: &RaceTally) -> String {
    let mut seen: Vec<(i32, u32)> = Vec::new();
    for &e in &t.errors {
        match seen.iter_mut().find(|(x, _)| *x == e) {
            Some((_, n)) => *n += 1,
            None => seen.push((e, 1)),
        }
    }
    seen.iter()
        .map(|(e, n)| {
            let d = describe(&std::io::Error::from_raw_os_error(*e));
            format!("{} x{n}", d.split(' ').next().unwrap_or(&d))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reports the racing checks. `two_clients`: the processes went through two mounts.
fn race_checks(rep: &mut Report, dirs: [&Dir; 2], two_clients: bool) {
    let how = if two_clients {
        "two processes through two mounts (two clients)"
    } else {
        "two processes through one mount"
    };
    let tallies = match race_ops(dirs) {
        Ok(t) => t,
        Err(e) => {
            rep.check(&format!("racing operations from {how}"), Err(e));
            return;
        }
    };
    let what = [
        "racing exclusive creates (O_CREAT|O_EXCL) of one name: never both succeed",
        "racing renames of one file to two names: never both succeed (the baton is never duplicated)",
        "racing links to one name: never both succeed (one process initialises a lock)",
    ];
    for (i, t) in tallies.iter().enumerate() {
        let detail = format!(
            "{how}, {RACE_ROUNDS} rounds: one succeeded {}, both {}, neither {}; the losers got {}",
            t.one,
            t.both,
            t.none,
            if t.errors.is_empty() {
                "nothing".to_string()
            } else {
                loser_errors(t)
            }
        );
        let r = if t.both > 0 {
            Err(format!(
                "BOTH SUCCEEDED in {} of {RACE_ROUNDS} rounds: {detail}",
                t.both
            ))
        } else if t.one == 0 {
            Err(format!("the operation never succeeded: {detail}"))
        } else {
            Ok(detail)
        };
        rep.check(what[i], r);
    }
}
