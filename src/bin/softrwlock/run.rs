//! `softrwlock [-s|-x] [-n|-w S] PATH COMMAND...` (flock(1)'s form): take the lock, run the
//! command as a child, pass signals on to it, release, and exit with the command's status.
//!
//! Signals: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are blocked in every thread
//! before any thread exists (the library's heartbeat thread inherits the mask), and one thread
//! takes them with sigwaitinfo(): no code runs in signal-handler context. The child unblocks
//! them between fork and exec (a signal mask survives exec).
//!
//! What a signal does depends on the phase:
//! - waiting for the lock: the acquire is interrupted (`Lock::interrupt`, srwl_interrupt): it
//!   returns at once having left nothing on disk (its ticket or claim removed, a baton it had
//!   taken handed back), and softrwlock ends, killed by that signal;
//! - holding, command not started yet: remembered; the lock is released and softrwlock then
//!   ends killed by that signal, without starting the command;
//! - command running: sent on to the command (except a signal the kernel sent to the whole
//!   foreground process group, such as Ctrl-C on a terminal: the command has it already);
//! - command ended, releasing: the first one is ignored (the release is quick and should not be
//!   cut short); a second one ends softrwlock at once.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use softrwlock::{Error, Lock, Mode, Options, Status};

use crate::args::{self, RunArgs};
use crate::{exit, usage_error};

pub const FORWARDED: [libc::c_int; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// What to do, from the command line.
struct Job {
    role: Mode,
    /// Seconds, as the library takes them (infinity: forever).
    timeout: f64,
    conflict_exit_code: u8,
    opts: Options,
    kill_on_lost: bool,
    verbose: bool,
    path: OsString,
    command: Vec<OsString>,
    /// --data FILEs: made coherent for the hold (`softrwlock::data`).
    data: Vec<CString>,
}

/// Lock options from the command line: the library's defaults for a heartbeat
/// (`Options::with_heartbeat`); with only --stale, a heartbeat of a third of it.
pub fn make_options(
    heartbeat: Option<f64>,
    stale: Option<f64>,
    poll: Option<f64>,
) -> Result<Options, String> {
    let mut o = match (heartbeat, stale) {
        (Some(hb), _) => Options::with_heartbeat(hb),
        (None, Some(s)) => Options::with_heartbeat(s / 3.0),
        (None, None) => Options::default(),
    };
    if let Some(s) = stale {
        o.stale_threshold = s;
    }
    if let Some(p) = poll {
        o.poll_interval = p;
    }
    o.validate().map_err(|e| {
        e.message
            .replace("srwl_options.heartbeat_interval", "--heartbeat")
            .replace("srwl_options.stale_threshold", "--stale")
            .replace("srwl_options.poll_interval", "--poll")
            .replace("heartbeat_interval", "--heartbeat")
    })?;
    Ok(o)
}

/// The shell that runs `-c COMMAND_STRING`: $SHELL, or /bin/sh if it is unset or empty (as
/// flock does).
fn shell() -> OsString {
    match std::env::var_os("SHELL") {
        Some(s) if !s.is_empty() => s,
        _ => OsString::from("/bin/sh"),
    }
}

fn job(a: RunArgs) -> Result<Job, String> {
    if a.no_fork {
        return Err("-F/--no-fork is not supported: softrwlock must keep running to hold the lock (its heartbeat keeps the lock alive), so the command always runs as its child".into());
    }
    if a.unlock {
        return Err("-u/--unlock is not supported: softrwlock has no file-descriptor form; the lock is released when the command ends".into());
    }
    let path = a.path.ok_or("missing PATH")?;
    let command = match a.command_string {
        Some(s) => vec![shell(), OsString::from("-c"), s],
        None => a.command,
    };
    if command.is_empty() {
        let fd_form = !path.is_empty() && path.as_bytes().iter().all(u8::is_ascii_digit);
        return Err(format!(
            "missing COMMAND after PATH (softrwlock [OPTIONS] PATH COMMAND [ARGS]... or PATH -c COMMAND_STRING){}",
            if fd_form {
                "; flock's file-descriptor form (flock [OPTIONS] NUMBER) is not supported"
            } else {
                ""
            }
        ));
    }
    Ok(Job {
        role: if a.shared { Mode::Read } else { Mode::Write },
        timeout: if a.nonblock {
            0.0
        } else {
            a.timeout.unwrap_or(f64::INFINITY)
        },
        conflict_exit_code: a.conflict_exit_code,
        opts: make_options(a.heartbeat, a.stale, a.poll)?,
        kill_on_lost: a.kill_on_lost,
        verbose: a.verbose,
        path,
        command,
        data: a
            .data
            .iter()
            .map(|f| CString::new(f.as_bytes()).map_err(|_| "--data: FILE contains a NUL byte"))
            .collect::<Result<_, _>>()?,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Holding,
    Running(libc::pid_t),
    Finished,
}

struct Ctl {
    phase: Phase,
    /// A signal received while holding before the command started, or after it ended.
    pending: Option<libc::c_int>,
}

struct Shared {
    ctl: Mutex<Ctl>,
    path: String,
    /// The handle, once open (set under `ctl`): a signal while waiting interrupts its acquire.
    /// Weak: the main thread's drop closes the handle (which removes its record template).
    lock: OnceLock<Weak<Lock>>,
}

/// How long a signal while waiting gives the interrupted acquire to end (it takes
/// milliseconds; only a hung file server makes it longer) before softrwlock dies anyway.
const INTERRUPT_GRACE: Duration = Duration::from_secs(5);

impl Shared {
    fn ctl(&self) -> MutexGuard<'_, Ctl> {
        self.ctl.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The signal's name (borrowed for the usual ones: no allocation needed).
pub fn signal_name(sig: libc::c_int) -> std::borrow::Cow<'static, str> {
    let n = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        _ => return format!("signal {sig}").into(),
    };
    n.into()
}

fn forwarded_set() -> libc::sigset_t {
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in FORWARDED {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Ends the process as if killed by `sig` (so that a parent shell sees 128+sig), falling
/// back to exit(128+sig).
pub fn die_by_signal(sig: libc::c_int) -> ! {
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
    std::process::exit(128 + sig)
}

fn signal_thread(shared: Arc<Shared>, set: libc::sigset_t) {
    loop {
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let sig = unsafe { libc::sigwaitinfo(&set, &mut info) };
        if sig < 0 {
            continue; // EINTR
        }
        let mut ctl = shared.ctl();
        match ctl.phase {
            Phase::Waiting => {
                let Some(lock) = shared.lock.get().and_then(Weak::upgrade) else {
                    // Not open yet: nothing of ours is in the queue.
                    eprintln!(
                        "softrwlock: {} while opening the lock on {}: giving up",
                        signal_name(sig),
                        shared.path
                    );
                    die_by_signal(sig);
                };
                // The acquire ends with SRWL_EINTR, having withdrawn from the queue; the main
                // thread then dies of the signal. Granted meanwhile, it finds the signal
                // pending and releases before it dies.
                ctl.pending.get_or_insert(sig);
                lock.interrupt();
                drop(ctl);
                std::thread::sleep(INTERRUPT_GRACE);
                eprintln!(
                    "softrwlock: {} while waiting for the lock on {}: the interrupted wait did not end within {} s; giving up (entries left in the queue are dropped by the next waiter on this host, or after the place lease on others)",
                    signal_name(sig),
                    shared.path,
                    INTERRUPT_GRACE.as_secs()
                );
                die_by_signal(sig);
            }
            Phase::Holding => {
                ctl.pending.get_or_insert(sig);
            }
            Phase::Running(pid) => {
                // A signal the kernel sent to the whole foreground process group (Ctrl-C,
                // Ctrl-\, terminal hangup) has reached the command too: do not send it twice.
                if info.si_code != libc::SI_KERNEL {
                    unsafe { libc::kill(pid, sig) };
                }
            }
            Phase::Finished => {
                if ctl.pending.is_some() {
                    eprintln!(
                        "softrwlock: {} again while releasing the lock on {}: giving up (the record is removed by other processes after the stale threshold)",
                        signal_name(sig),
                        shared.path
                    );
                    die_by_signal(sig);
                }
                ctl.pending = Some(sig);
            }
        }
    }
}

fn role_name(r: Mode) -> &'static str {
    if r == Mode::Write {
        "write"
    } else {
        "read"
    }
}

fn lock_error(e: &Error) -> u8 {
    eprintln!("softrwlock: {e}");
    exit::LOCK_ERROR
}

/// Waits for `pid` to end without reaping it (so its pid cannot be reused while the signal
/// thread may still send to it).
fn wait_exit_no_reap(pid: libc::pid_t) {
    loop {
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

pub fn main(args: RunArgs) -> u8 {
    let a = match job(args) {
        Ok(a) => a,
        Err(msg) => return usage_error(&msg),
    };
    let path_display = a.path.to_string_lossy().into_owned();
    let role = role_name(a.role);

    // Block the forwarded signals before any thread exists, then take them in one thread.
    let set = forwarded_set();
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    let shared = Arc::new(Shared {
        ctl: Mutex::new(Ctl {
            phase: Phase::Waiting,
            pending: None,
        }),
        path: path_display.clone(),
        lock: OnceLock::new(),
    });
    {
        let shared = shared.clone();
        if let Err(e) = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || signal_thread(shared, set))
        {
            eprintln!("softrwlock: cannot start the signal thread: {e}");
            return exit::LOCK_ERROR;
        }
    }

    let lock = match Lock::open(args::path_bytes(&a.path), &a.opts) {
        Ok(l) => Arc::new(l),
        // The options are valid (checked above): an invalid argument is the path (empty,
        // ending in '/' or '.', a NUL byte).
        Err(e) if e.status == Status::SRWL_EINVAL => return usage_error(&e.to_string()),
        Err(e) => return lock_error(&e),
    };
    {
        let _ctl = shared.ctl();
        let _ = shared.lock.set(Arc::downgrade(&lock));
    }
    let started = Instant::now();
    if let Err(e) = lock.acquire(a.role, a.timeout) {
        if e.status == Status::SRWL_EINTR {
            if let Some(sig) = shared.ctl().pending {
                eprintln!(
                    "softrwlock: {} while waiting for the lock on {path_display}: giving up (withdrew from the queue)",
                    signal_name(sig)
                );
                die_by_signal(sig);
            }
        }
        if e.status == Status::SRWL_TIMEOUT {
            // As flock: busy (-n) or timed out (-w) is quiet unless --verbose, and exits -E N.
            if a.verbose {
                eprintln!(
                    "softrwlock: failed to get the {role} lock on {path_display} after {:.3} s: {e}",
                    started.elapsed().as_secs_f64()
                );
            }
            return a.conflict_exit_code;
        }
        return lock_error(&e);
    }
    shared.ctl().phase = Phase::Holding;
    let generation = lock.generation().ok();
    if a.verbose {
        let g = generation.map_or_else(|| "unknown".to_string(), |g| g.to_string());
        eprintln!(
            "softrwlock: acquired {role} lock on {path_display} (generation {g}) after {:.3} s",
            started.elapsed().as_secs_f64()
        );
    }

    // --data: before the command reads, drop what this host cached of each file. A failure
    // (a symlink, not a regular file, an I/O error) stops here: the command is not run.
    for f in &a.data {
        if let Err(e) = softrwlock::data::begin_path_for_job(f) {
            shared.ctl().phase = Phase::Finished;
            eprintln!(
                "softrwlock: --data {}: {}; not running the command",
                f.to_string_lossy(),
                e.message
            );
            if let Err(e) = lock.release() {
                eprintln!("softrwlock: {e}");
            }
            return exit::LOCK_ERROR;
        }
    }

    let mut cmd = std::process::Command::new(&a.command[0]);
    cmd.args(&a.command[1..])
        .env("SOFTRWLOCK_PATH", &a.path)
        .env("SOFTRWLOCK_ROLE", role);
    match generation {
        Some(g) => cmd.env("SOFTRWLOCK_GENERATION", g.to_string()),
        None => cmd.env_remove("SOFTRWLOCK_GENERATION"),
    };
    // The child inherits the signal mask across fork and exec (std does not reset it): give
    // the command the signals we blocked. pthread_sigmask is async-signal-safe.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }

    // Spawn under the control mutex: the signal thread sees either "holding" (and the
    // command is not started) or the command's pid.
    let mut child = {
        let mut ctl = shared.ctl();
        if let Some(sig) = ctl.pending {
            ctl.phase = Phase::Finished;
            drop(ctl);
            eprintln!(
                "softrwlock: {} before the command started: releasing the lock on {path_display}",
                signal_name(sig)
            );
            let _ = lock.release();
            die_by_signal(sig);
        }
        match cmd.spawn() {
            Ok(c) => {
                ctl.phase = Phase::Running(c.id() as libc::pid_t);
                c
            }
            Err(e) => {
                ctl.phase = Phase::Finished;
                drop(ctl);
                let name = a.command[0].to_string_lossy();
                let code = if e.kind() == std::io::ErrorKind::NotFound {
                    eprintln!("softrwlock: {name}: command not found");
                    exit::NOT_FOUND
                } else {
                    eprintln!("softrwlock: {name}: cannot execute: {e}");
                    exit::NOT_EXECUTABLE
                };
                if let Err(e) = lock.release() {
                    eprintln!("softrwlock: {e}");
                }
                return code;
            }
        }
    };
    let pid = child.id() as libc::pid_t;

    // Watch the hold while the command runs: warn (and optionally stop the command) as soon
    // as the heartbeat finds the hold lost.
    let lost_seen = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let watcher = {
        let lock = lock.clone();
        let shared = shared.clone();
        let lost_seen = lost_seen.clone();
        let interval = Duration::from_secs_f64(a.opts.heartbeat_interval.clamp(0.05, 10.0));
        let kill_on_lost = a.kill_on_lost;
        let (role, path) = (role, path_display.clone());
        std::thread::Builder::new()
            .name("watch".into())
            .spawn(move || loop {
                match stop_rx.recv_timeout(interval) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                if let Err(e) = lock.check() {
                    if e.status == Status::SRWL_ELOST {
                        lost_seen.store(true, Ordering::SeqCst);
                        eprintln!(
                            "softrwlock: WARNING: the {role} lock on {path} was LOST while the command runs: another process evicted it (this host or process was stalled past the stale threshold). Other processes may now hold the lock.{}",
                            if kill_on_lost { " Sending SIGTERM to the command (--kill-on-lost)." } else { "" }
                        );
                        if kill_on_lost {
                            let ctl = shared.ctl();
                            if ctl.phase == Phase::Running(pid) {
                                unsafe { libc::kill(pid, libc::SIGTERM) };
                            }
                        }
                        return;
                    }
                }
            })
            .ok()
    };

    wait_exit_no_reap(pid);
    shared.ctl().phase = Phase::Finished;
    let status = child.wait();
    drop(stop_tx);
    if let Some(w) = watcher {
        let _ = w.join();
    }
    let code: u8 = match status {
        Ok(st) => {
            use std::os::unix::process::ExitStatusExt;
            match (st.code(), st.signal()) {
                (Some(c), _) => c as u8,
                (None, Some(sig)) => (128 + sig) as u8,
                _ => exit::LOCK_ERROR,
            }
        }
        Err(e) => {
            eprintln!("softrwlock: waiting for the command: {e}");
            exit::LOCK_ERROR
        }
    };

    // --data: the command's writes reach the file server before the next holder may read.
    let mut code = code;
    for f in &a.data {
        if let Err(e) = softrwlock::data::end_path(f) {
            eprintln!(
                "softrwlock: --data {}: {} (the command had ended with status {code}); its writes to the file may not have reached the file server",
                f.to_string_lossy(),
                e.message
            );
            if code == 0 {
                code = exit::LOCK_ERROR;
            }
        }
    }

    match lock.release() {
        Ok(()) => {
            if a.verbose {
                eprintln!(
                    "softrwlock: released {role} lock on {path_display} after {:.3} s",
                    started.elapsed().as_secs_f64()
                );
            }
            code
        }
        Err(e) if e.status == Status::SRWL_ELOST => {
            if !lost_seen.load(Ordering::SeqCst) {
                eprintln!("softrwlock: WARNING: {e}");
            }
            eprintln!(
                "softrwlock: WARNING: the command ran (status {code}) but did NOT hold the {role} lock on {path_display} all the time"
            );
            if code == 0 {
                exit::LOST
            } else {
                code
            }
        }
        Err(e) => {
            eprintln!("softrwlock: {e}");
            if code == 0 {
                exit::LOCK_ERROR
            } else {
                code
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_librarys() {
        assert_eq!(make_options(None, None, None), Ok(Options::default()));
        assert_eq!(
            make_options(Some(0.1), None, None),
            Ok(Options::with_heartbeat(0.1))
        );
        // Only --stale: a heartbeat of a third of it, and the library's poll for that.
        let o = make_options(None, Some(0.6), None).unwrap();
        assert_eq!(
            o,
            Options {
                stale_threshold: 0.6,
                ..Options::with_heartbeat(0.6 / 3.0)
            }
        );
        let o = make_options(Some(0.1), Some(0.6), Some(0.02)).unwrap();
        assert_eq!(
            (o.heartbeat_interval, o.stale_threshold, o.poll_interval),
            (0.1, 0.6, 0.02)
        );
        let e = make_options(Some(2.0), Some(1.0), None).unwrap_err();
        assert!(e.contains("--stale"), "{e}");
    }
}
