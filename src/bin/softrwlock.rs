//! `softrwlock`: run a command while holding a libsoftrwlock read or write lock (what
//! flock(1) is on one machine, for processes on many hosts sharing a network filesystem),
//! show who holds or waits for a lock (`status`), and check that a filesystem behaves the way
//! the protocol needs (`verify`). The command line speaks flock(1); see docs/CLI.md.

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

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser as _;

/// Exit statuses of softrwlock itself (the command's own status is passed through; a busy
/// lock or a timeout exits with -E N, 1 by default, as flock does).
pub mod exit {
    /// Bad usage (unknown option, missing argument, invalid number or path).
    pub const USAGE: u8 = 2;
    /// `verify`: at least one check failed.
    pub const VERIFY_FAILED: u8 = 1;
    /// The command ran, but the hold was lost (evicted) while it ran, and the command
    /// itself succeeded.
    pub const LOST: u8 = 122;
    /// The lock could not be opened, taken or released (a filesystem or safety error).
    pub const LOCK_ERROR: u8 = 125;
    /// The command was found but could not be executed.
    pub const NOT_EXECUTABLE: u8 = 126;
    /// The command was not found.
    pub const NOT_FOUND: u8 = 127;
}

/// The help text (`verify --help` prints it).
pub struct Usage;

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", args::command().render_help())
    }
}

pub const USAGE: Usage = Usage;

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    // verify's worker processes (re-executions of this program) are not part of the CLI.
    match argv.get(1).and_then(|a| a.to_str()) {
        Some(verify::WORKER_CMD) => return ExitCode::from(verify::worker_main(&argv[2..])),
        Some(verify::HOLD_CMD) => return ExitCode::from(verify::hold_main(&argv[2..])),
        _ => {}
    }
    let cli = match args::Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                // --help, --version: end quietly when the reader goes away (`| head`).
                unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
            }
            let _ = e.print();
            // clap's usage errors exit 2, help and version 0.
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    let code = match cli.sub {
        Some(sub) => {
            // Reports end quietly when their reader goes away (`softrwlock status P | head`).
            unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
            match sub {
                args::Sub::Status(a) => status::main(&a.path, a.json, a.sample),
                args::Sub::Verify(v) => verify::main(&v),
            }
        }
        None => run::main(cli.run),
    };
    ExitCode::from(code)
}

/// Prints a usage error and returns the usage exit status.
pub fn usage_error(msg: &str) -> u8 {
    eprintln!("softrwlock: {msg}\nTry 'softrwlock --help' for more information.");
    exit::USAGE
}
