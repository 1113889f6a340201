//! The command line, defined with clap (derive): the run form that speaks flock(1), and the
//! `status` and `verify` subcommands. The man page and the shell completions are generated
//! from these definitions (tests/cli.rs checks that the committed copies are current).
//!
//! The small hand-written helpers at the end (`Parser`, `seconds`, `count`) remain for
//! `verify`, which parses its own arguments after clap has checked their names.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use clap::builder::OsStringValueParser;

pub const ABOUT: &str =
    "Run a command while holding a read/write lock shared by many hosts over a network filesystem";

const LONG_ABOUT: &str = "\
Runs COMMAND while holding a shared (read) or exclusive (write) lock on PATH, the way flock(1) \
does on one machine, for processes on many hosts that share a network filesystem (NFS, Lustre, \
GPFS, BeeGFS, GlusterFS), with no lock server and no kernel locks on the shared filesystem. The lock's \
state lives in the directory PATH.srwl/; PATH itself is never created or opened.

The lock is exclusive unless -s is given. softrwlock waits for the lock (forever unless -n or \
-w), starts COMMAND as its child, keeps the lock alive with a heartbeat while COMMAND runs, \
releases it when COMMAND ends and exits with COMMAND's status. With -c, COMMAND_STRING is run \
by $SHELL -c (/bin/sh if SHELL is unset), as flock -c does.";

const EXIT_STATUS: &str = "\
Exit status: COMMAND's status (128+N if it died of signal N); 1 (or -E N) when the lock is busy \
with -n or not granted within -w; 2 bad usage; 122 the hold was lost while COMMAND ran (and \
COMMAND succeeded); 125 lock error (the message names the path and the OS error); 126 COMMAND \
not executable; 127 COMMAND not found. See docs/CLI.md.";

const USAGE: &str = "\
softrwlock [OPTIONS] PATH COMMAND [ARGS]...
       softrwlock [OPTIONS] PATH -c COMMAND_STRING
       softrwlock [OPTIONS] PATH -- COMMAND [ARGS]...
       softrwlock status [--json] [--sample S] PATH
       softrwlock verify [OPTIONS] DIR";

#[derive(clap::Parser, Debug)]
#[command(
    name = "softrwlock",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    override_usage = USAGE,
    after_help = EXIT_STATUS,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    subcommand_value_name = "SUBCOMMAND",
    disable_help_subcommand = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub sub: Option<Sub>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum Sub {
    /// Show who holds and who waits for the lock on PATH (changes nothing on disk)
    Status(StatusArgs),
    /// Check that the filesystem under DIR behaves the way the lock protocol needs
    Verify(VerifyArgs),
}

/// The run form: `softrwlock [OPTIONS] PATH COMMAND [ARGS]...`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Take a shared (read) lock: many readers at once, no writer
    ///
    /// Also --read.
    #[arg(
        short = 's',
        long = "shared",
        visible_alias = "read",
        overrides_with = "exclusive"
    )]
    pub shared: bool,

    /// Take an exclusive (write) lock: one writer, no reader. The default
    ///
    /// Also -e (as in flock) and --write.
    #[arg(
        short = 'x',
        visible_short_alias = 'e',
        long = "exclusive",
        visible_alias = "write",
        overrides_with = "shared"
    )]
    pub exclusive: bool,

    /// Fail at once (exit 1, or -E N) if the lock cannot be taken right away
    ///
    /// Also --nb (as in flock).
    #[arg(short = 'n', long = "nonblock", visible_alias = "nb")]
    pub nonblock: bool,

    /// Fail (exit 1, or -E N) if the lock is not granted within SECONDS (fractions allowed;
    /// 0 is -n; inf waits forever, the default)
    ///
    /// Also --wait (as in flock). Negative values are refused.
    #[arg(
        short = 'w',
        long = "timeout",
        visible_alias = "wait",
        value_name = "SECONDS",
        allow_negative_numbers = true,
        value_parser = timeout_seconds
    )]
    pub timeout: Option<f64>,

    /// Exit status when the lock is busy (-n) or the wait timed out (-w): 0 to 255
    #[arg(
        short = 'E',
        long = "conflict-exit-code",
        value_name = "N",
        default_value_t = 1,
        allow_negative_numbers = true
    )]
    pub conflict_exit_code: u8,

    /// Accepted for flock compatibility; always in effect: COMMAND and its children never hold
    /// the lock (softrwlock holds it, and releases it when COMMAND ends)
    #[arg(short = 'o', long = "close")]
    pub close: bool,

    /// Report the wait, the grant and the release on stderr, and why the lock was not granted
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Seconds between heartbeats [default: 30]
    #[arg(long, value_name = "S", value_parser = interval_seconds)]
    pub heartbeat: Option<f64>,

    /// Seconds a holder's record may go unchanged before others evict it [default: 3 x
    /// heartbeat]; every process sharing the lock should use the same values
    #[arg(long, value_name = "S", value_parser = interval_seconds)]
    pub stale: Option<f64>,

    /// Longest pause between retries while waiting [default: min(1, heartbeat/2)]
    #[arg(long, value_name = "S", value_parser = interval_seconds)]
    pub poll: Option<f64>,

    /// Send SIGTERM to COMMAND if the hold is lost while it runs
    #[arg(long)]
    pub kill_on_lost: bool,

    /// Make FILE coherent for this hold (repeatable): after the lock is granted and before
    /// COMMAND starts, drop this host's cached pages of FILE (a missing FILE is fine: COMMAND
    /// may create it); after COMMAND ends and before the release, fsync FILE (it must exist
    /// then). See "Your data under the lock" in the README
    #[arg(
        long = "data",
        value_name = "FILE",
        action = clap::ArgAction::Append,
        value_parser = OsStringValueParser::new()
    )]
    pub data: Vec<OsString>,

    /// flock's -F (exec COMMAND in place of flock) is refused: softrwlock must keep running to
    /// hold the lock
    #[arg(short = 'F', long = "no-fork", hide = true)]
    pub no_fork: bool,

    /// flock's -u (unlock a file descriptor) is refused: softrwlock has no descriptor form
    #[arg(short = 'u', long = "unlock", hide = true)]
    pub unlock: bool,

    /// Run COMMAND_STRING with $SHELL -c (/bin/sh if SHELL is unset), as flock -c does
    #[arg(
        short = 'c',
        long = "command",
        value_name = "COMMAND_STRING",
        conflicts_with = "command",
        allow_hyphen_values = true,
        value_parser = OsStringValueParser::new()
    )]
    pub command_string: Option<OsString>,

    /// The lock's name: its state lives in PATH.srwl/ (PATH itself is never created)
    #[arg(value_name = "PATH", required = true, value_parser = OsStringValueParser::new())]
    pub path: Option<OsString>,

    /// The command to run, and its arguments (not through a shell)
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_parser = OsStringValueParser::new()
    )]
    pub command: Vec<OsString>,
}

/// `softrwlock status [--json] [--sample S] PATH`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: 0 shown; 2 bad usage; 125 the lock's directory or state \
    cannot be opened or read (the message names the path and the OS error)."
)]
pub struct StatusArgs {
    /// Print one JSON object on stdout, for scripts
    #[arg(long)]
    pub json: bool,

    /// Read each record twice, S seconds apart (at most 60), to tell live (changing) records
    /// from quiet ones
    #[arg(long, value_name = "S", default_value = "0.5", value_parser = sample_seconds)]
    pub sample: f64,

    /// The lock's name, as given to the run form
    #[arg(value_name = "PATH", value_parser = OsStringValueParser::new())]
    pub path: OsString,
}

/// `softrwlock verify [OPTIONS] DIR`. The values are checked by `verify` itself.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: 0 every check passed; 1 a check failed, or DIR cannot be \
    used; 2 bad usage."
)]
pub struct VerifyArgs {
    /// Keep the scratch directory (for inspection)
    #[arg(long)]
    pub keep: bool,

    /// Run the shared exclusion test with other nodes under DIR/NAME
    #[arg(long, value_name = "NAME")]
    pub cross_client: Option<String>,

    /// Number of nodes taking part in --cross-client [default: 2]
    #[arg(long, value_name = "N")]
    pub nodes: Option<String>,

    /// Seconds of the exclusion test [default: 3; with --cross-client 20]
    #[arg(long, value_name = "S")]
    pub duration: Option<String>,

    /// Worker processes per node [default: 4]
    #[arg(long, value_name = "K")]
    pub workers: Option<String>,

    /// How long to wait for the other nodes, in seconds [default: 600]
    #[arg(long, value_name = "S")]
    pub join_timeout: Option<String>,

    /// The same directory through another mount (a second client): race through both
    #[arg(long, value_name = "DIR2", value_parser = OsStringValueParser::new())]
    pub second_mount: Option<OsString>,

    /// A directory on the filesystem to check
    #[arg(value_name = "DIR", value_parser = OsStringValueParser::new())]
    pub dir: OsString,
}

/// The clap command (for the man page and completions, generated in tests/cli.rs).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

fn number(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .map_err(|_| format!("{s:?} is not a number of seconds"))
}

/// `-w`: seconds, fractions allowed; `inf`/`infinity` (any case) waits forever. Negative
/// values and NaN are refused.
pub fn timeout_seconds(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if v.is_nan() || v < 0.0 {
        return Err(format!(
            "{s:?}: expected a number of seconds >= 0, or inf to wait forever"
        ));
    }
    Ok(v)
}

/// --heartbeat, --stale, --poll: positive, finite (the library checks the limits).
pub fn interval_seconds(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!("{s:?}: expected a positive number of seconds"));
    }
    Ok(v)
}

/// --sample: 0 to 60 seconds.
pub fn sample_seconds(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    if !(0.0..=60.0).contains(&v) {
        return Err(format!("{s:?}: expected 0 to 60 seconds"));
    }
    Ok(v)
}

// ---- Checks of `verify`'s option values (clap parses them as text). ----

/// Parses a number of seconds (a decimal number; -1 only where `allow_forever`).
pub fn seconds(name: &str, s: &str, allow_forever: bool) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{name} {s:?}: expected a number of seconds"))?;
    if allow_forever && v == -1.0 {
        return Ok(v);
    }
    if !v.is_finite() || v < 0.0 {
        let extra = if allow_forever {
            " (or -1 for forever)"
        } else {
            ""
        };
        return Err(format!(
            "{name} {s:?}: expected a non-negative number of seconds{extra}"
        ));
    }
    Ok(v)
}

/// Parses a positive integer no larger than `max`.
pub fn count(name: &str, s: &str, max: u64) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(v) if v >= 1 && v <= max => Ok(v),
        _ => Err(format!(
            "{name} {s:?}: expected a whole number from 1 to {max}"
        )),
    }
}

/// Bytes of a path argument (need not be UTF-8).
pub fn path_bytes(p: &OsStr) -> &[u8] {
    p.as_bytes()
}
