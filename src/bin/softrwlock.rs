//! `softrwlock`: run a command while holding a libsoftrwlock read or write lock (what
//! flock(1) is on one machine, for processes on many hosts sharing a network filesystem),
//! show who holds or waits for a lock (`status`), and check that a filesystem behaves the way
//! the protocol needs (`verify`). See docs/CLI.md.
//!
//! Arguments are parsed by hand (the crate keeps its dependencies to libc, rand, hostname).

#[path = "softrwlock/args.rs"]
mod args;
#[path = "softrwlock/json.rs"]
mod json;
#[path = "softrwlock/run.rs"]
mod run;
#[path = "softrwlock/status.rs"]
mod status;
#[path = "softrwlock/verify.rs"]
mod verify;
#[path = "softrwlock/withdraw.rs"]
mod withdraw;

use std::ffi::OsString;
use std::process::ExitCode;

/// Exit statuses of softrwlock itself (the command's own status is passed through).
pub mod exit {
    /// Bad usage (unknown option, missing argument, invalid number).
    pub const USAGE: u8 = 2;
    /// `verify`: at least one check failed.
    pub const VERIFY_FAILED: u8 = 1;
    /// The command ran, but the hold was lost (evicted) while it ran, and the command
    /// itself succeeded.
    pub const LOST: u8 = 122;
    /// The lock could not be taken within --timeout.
    pub const TIMEOUT: u8 = 124;
    /// The lock could not be opened, taken or released (a filesystem or safety error).
    pub const LOCK_ERROR: u8 = 125;
    /// The command was found but could not be executed.
    pub const NOT_EXECUTABLE: u8 = 126;
    /// The command was not found.
    pub const NOT_FOUND: u8 = 127;
}

pub const USAGE: &str = "\
Usage:
  softrwlock (--read|--write) [OPTIONS] PATH [--] COMMAND [ARGS...]
  softrwlock status [--json] [--sample S] PATH
  softrwlock verify [--keep] [--duration S] [--workers K] DIR
  softrwlock verify --cross-client NAME --nodes N [--duration S] [--workers K] DIR
  softrwlock --help | --version

Runs COMMAND while holding a read (shared) or write (exclusive) lock on PATH, for processes
on many hosts sharing a network filesystem. The lock state lives in PATH.srwl/; PATH itself
is never created. The exit status is the command's (128+N if it died of signal N).

Lock options:
  -r, --read, --shared      take a read lock (many readers at once, no writer)
  -w, --write, --exclusive  take a write lock (one writer, no reader)
  -t, --timeout S           wait at most S seconds (0: try once; -1: forever, the default)
      --heartbeat S         seconds between heartbeats (default 30)
      --stale S             seconds a holder's record may go unchanged before others evict
                            it (default 3 x heartbeat); every process sharing the lock
                            should use the same values
      --poll S              longest pause between retries while waiting (default
                            min(1, heartbeat/2))
      --kill-on-lost        send SIGTERM to the command if the hold is lost while it runs
  -v, --verbose             report acquire and release on stderr

status options:
      --json                one JSON object on stdout, for scripts
      --sample S            read each record twice, S seconds apart (default 0.5), to tell
                            live (changing) records from quiet ones

verify options:
      --keep                keep the scratch directory (for inspection)
      --cross-client NAME   run the shared exclusion test with other nodes under DIR/NAME
      --nodes N             number of nodes taking part in --cross-client (default 2)
      --duration S          seconds of the exclusion test (default 3; cross-client 20)
      --workers K           worker processes per node (default 4)
      --join-timeout S      how long to wait for the other nodes (default 600)

Exit status: the command's; 122 hold lost while the command ran (command succeeded);
124 timed out; 125 lock error; 126 command not executable; 127 command not found;
2 bad usage. status: 0, or 125 if the lock state cannot be read. verify: 0 all checks
passed, 1 a check failed.
";

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let first = argv.first().map(|a| a.to_string_lossy().into_owned());
    if matches!(
        first.as_deref(),
        Some("status" | "verify" | "-h" | "--help" | "-V" | "--version")
    ) {
        // Reports end quietly when their reader goes away (`softrwlock status P | head`).
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let code = match first.as_deref() {
        None => {
            eprint!("softrwlock: missing arguments\n\n{USAGE}");
            exit::USAGE
        }
        Some("-h") | Some("--help") => {
            print!("{USAGE}");
            0
        }
        Some("-V") | Some("--version") => {
            println!("softrwlock {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Some("status") => status::main(&argv[1..]),
        Some("verify") => verify::main(&argv[1..]),
        Some(verify::WORKER_CMD) => verify::worker_main(&argv[1..]),
        Some(verify::HOLD_CMD) => verify::hold_main(&argv[1..]),
        Some(_) => run::main(&argv),
    };
    ExitCode::from(code)
}

/// Prints a usage error and returns the usage exit status.
pub fn usage_error(msg: &str) -> u8 {
    eprintln!("softrwlock: {msg}\nTry 'softrwlock --help' for more information.");
    exit::USAGE
}
