//! The srwl/2 protocol on one sidecar directory (see docs/PROTOCOL.md).
//!
//! Safety rests only on operations the file server performs atomically: exclusive create,
//! rmdir of the room (refused while the room holds anything: the write grant), rename of the
//! one baton file (of two renames of the same source only one succeeds), unlink of a uniquely
//! named record. No directory is ever renamed: on GlusterFS 10.3 a directory rename that
//! fails damages the directory (bug 2752). Listings, stats and reads are hints: a stale one
//! may delay a grant, never cause a wrong one.
//!
//! One participant's state is a [`Disk`]; each part of the protocol is one module holding the
//! `impl Disk` block of its steps and the state only it uses:
//!
//! | module     | owns |
//! |------------|------|
//! | `layout`   | names and path rules: `R`, `Q`, `init`, record and baton paths, where a lock path's sidecar is |
//! | `open`     | opening the sidecar (ownership and type checks) and the initialisation election |
//! | `queue`    | tickets and claims: listing, enqueueing, refreshing, leaving; keeping a place in line |
//! | `room`     | the room and reader records: entry, reader-record templates, reader release |
//! | `baton`    | the baton: take, close the room (the write grant), give back, still-ours checks |
//! | `share`    | the host share: readers of one host holding through one record (local file, kernel locks) |
//! | `reader`   | the reader's acquire loop and its policy (when to enter, wait, scan) |
//! | `writer`   | the writer's acquire loop and its policy (when to take, close, scan) |
//! | `eviction` | observing entries, evicting dead ones, taking over a dead holder's baton |
//! | `waiting`  | timeouts, backoff and same-host wakeups (inotify) |

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::fs::{self, describe, BootInstant, Dir, Name};
use crate::heartbeat::{self, Registration};
use crate::interrupt::Interrupt;
use crate::options::Options;
use crate::record::{Record, Role, Ticket, Token};
use crate::status::{Error, Result, Status};

mod baton;
mod eviction;
pub mod layout;
mod open;
mod queue;
mod reader;
mod room;
mod share;
pub mod waiting;
mod writer;

pub use eviction::{remove_tree, Absence, ABSENCE_CONFIRM};
pub use layout::{sidecar_of, Sidecar, INIT, QUEUE, ROOM};
pub use waiting::Wait;

/// What an acquire asks for: shared (read) or exclusive (write). The public acquire mode;
/// the record format's `Role` is another thing (a waiting reader's record says `wait`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Read,
    Write,
}

impl Mode {
    /// The operation's name in messages: `acquire_read` or `acquire_write`.
    pub fn acquire_op(self) -> &'static str {
        match self {
            Mode::Read => "acquire_read",
            Mode::Write => "acquire_write",
        }
    }
}

pub(crate) fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// An error from a filesystem step: names the operation, the path and the OS error.
pub fn fs_error(op: &str, path: &str, e: &io::Error) -> Error {
    let status = match errno(e) {
        libc::ELOOP | libc::ENOTDIR => Status::SRWL_EUNSAFE,
        _ => Status::SRWL_EIO,
    };
    let hint = match errno(e) {
        libc::ELOOP => ": a symlink is there, refusing to follow it",
        libc::ENOTDIR => ": expected a directory (a symlink or a file is there)",
        _ => "",
    };
    let mut err = Error::new(status, format!("{op} {path}: {}{hint}", describe(e)));
    err.transient = errno(e) == libc::ESTALE;
    err
}

/// SRWL_TIMEOUT for `op` on the lock at `path`.
pub fn timeout_error(op: &str, path: &str) -> Error {
    Error::new(Status::SRWL_TIMEOUT, format!("{op} {path}: timed out"))
}

/// SRWL_EINTR for `op` on the lock at `path`.
pub fn interrupted_error(op: &str, path: &str) -> Error {
    Error::new(
        Status::SRWL_EINTR,
        format!("{op} {path}: interrupted (srwl_interrupt, or the interrupt descriptor became readable); nothing was left on disk"),
    )
}

/// SRWL_ELOST for `op` on the lock at `path`.
pub fn lost_error(op: &str, path: &str, params: &Params) -> Error {
    Error::new(
        Status::SRWL_ELOST,
        format!("{op} {path}: the hold was lost: another process evicted it after its record went unchanged past the stale threshold ({} s); this process was stopped or starved", params.opts.stale_threshold),
    )
}

/// Settings of one participant, made once at open from the validated options: every option
/// value has this one owner (the handle and its `Disk` share it).
pub struct Params {
    pub opts: Options,
    /// This host's name as records carry it (`record::sanitize_host`).
    pub host: String,
    /// The handle's interrupt (srwl_interrupt), seen by every wait of its acquires.
    pub interrupt: Interrupt,
}

impl Params {
    pub fn new(opts: Options, host: String) -> Params {
        Params {
            opts,
            host,
            interrupt: Interrupt::default(),
        }
    }

    /// How long an entry may stay unchanged before it is evicted.
    pub fn stale(&self) -> Duration {
        Duration::from_secs_f64(self.opts.stale_threshold)
    }

    /// The lease our records announce: the stale threshold in whole milliseconds, rounded up.
    pub fn lease_ms(&self) -> u64 {
        (self.opts.stale_threshold * 1000.0).ceil() as u64
    }

    /// How often our records are rewritten (the heartbeat; also how often a place in line is
    /// refreshed, at half of it).
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs_f64(self.opts.heartbeat_interval)
    }

    /// The longest pause between two looks while waiting.
    pub fn poll_max(&self) -> Duration {
        Duration::from_secs_f64(self.opts.poll_interval).min(self.heartbeat())
    }

    /// How long a ticket or claim may stay unchanged before other waiters drop it. Places in
    /// line are hints, so they need not live as long as a hold: a waiter that died on another
    /// host delays the line by seconds, not by the holders' stale threshold (90 s by default).
    /// At least 5 s and four poll steps (a waiter refreshes its place from its wait loop),
    /// at most the stale threshold.
    pub fn place_lease(&self) -> Duration {
        self.stale()
            .min(Duration::from_secs(5).max(self.poll_max() * 4))
    }

    /// How often a waiter rewrites its ticket or claim: three times per place lease.
    pub fn place_refresh(&self) -> Duration {
        (self.heartbeat() / 2).min(self.place_lease() / 3)
    }
}

/// A hold granted on disk, kept fresh by the heartbeat until it is released.
pub struct Hold {
    pub mode: Mode,
    /// When our record was written (the heartbeat knows later rewrites).
    pub written: BootInstant,
    pub token: Token,
    /// Where the record is, relative to the sidecar: `R/r.<token>` for a reader, the baton
    /// `Q/b.<gen>.<token>` for a writer.
    pub rel: Name,
    pub registration: Registration,
    /// A writer's grant; for a reader, the generation of the baton it found in the room.
    pub generation: u64,
    /// A reader holding through an entry of the host share: its number (share.rs).
    pub share: Option<u64>,
}

/// Reusable buffers: no allocation per acquire.
struct Scratch {
    tickets: Vec<Ticket>,
    list_buf: Vec<u8>,
    read_buf: Vec<u8>,
    names: Vec<Vec<u8>>,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            tickets: Vec::with_capacity(16),
            list_buf: Vec::new(),
            read_buf: Vec::with_capacity(fs::READ_CAP + 1),
            names: Vec::new(),
        }
    }
}

/// One participant's view of a sidecar directory: handles, buffers and observations. The
/// state of each part of the protocol is a field owned by that part's module.
pub struct Disk {
    pub side: Arc<Dir>,
    /// The sidecar's filesystem (`st_dev`): its heartbeat thread refreshes our records.
    side_dev: u64,
    queue: Dir,
    /// The room as last opened. Every write cycle replaces the room (rmdir, mkdir), so this
    /// handle may name a removed room; it is opened again when an operation through it fails.
    room: Option<Arc<Dir>>,
    /// The sidecar path, for messages.
    pub display: String,
    /// The lock path, for the messages of acquire.
    lock_path: String,
    params: Arc<Params>,
    scratch: Scratch,
    templates: room::Templates,
    shares: share::Shares,
    baton: baton::BatonState,
    evictor: eviction::Evictor,
    waker: waiting::Waker,
}

impl Disk {
    /// A record of ours. Its first nonce comes from the token (random already; no second
    /// getrandom per acquire); every heartbeat increments it.
    pub fn record(&self, role: Role, token: Token) -> Record {
        Record {
            role,
            token,
            pid: fs::getpid(),
            host: self.params.host.clone(),
            origin: crate::liveness::this_process(),
            lease_ms: self.params.lease_ms(),
            nonce: nonce_of(&token),
        }
    }

    /// The record of a ticket or claim of ours: it announces the place lease, not the stale
    /// threshold of holds.
    pub fn place_record(&self, role: Role, token: Token) -> Record {
        Record {
            lease_ms: self.params.place_lease().as_millis().max(1) as u64,
            ..self.record(role, token)
        }
    }

    /// Starts the heartbeat of a record of ours at `rel` (relative to the sidecar).
    fn register(&self, record: Record, rel: Name, written: BootInstant) -> Registration {
        heartbeat::register(
            self.side.clone(),
            self.side_dev,
            rel,
            record,
            self.params.heartbeat(),
            written,
        )
    }

    /// Ends a hold on disk: removes its record (a reader) or hands the baton back to the room
    /// (a writer). False if the hold was gone (evicted). `written`: when its bytes were last
    /// written (from the heartbeat).
    pub fn release(&mut self, hold: &Hold, written: BootInstant) -> Result<bool> {
        match hold.mode {
            Mode::Write => self.give_back(hold.generation, &hold.token, written),
            Mode::Read => match hold.share {
                Some(e) => self.release_shared(e, &hold.token, written),
                None => self.release_read(&hold.token, written),
            },
        }
    }

    /// Forgets a hold that was lost (evicted): nothing on the file server is touched, but a
    /// hold through the host share leaves it (the last one out removes the entry's marker).
    pub fn abandon(&mut self, hold: &Hold) {
        if let Some(e) = hold.share {
            self.leave_share(e);
        }
    }

    /// Whether bytes we wrote at `written` are too recent for any observer to have judged them
    /// dead: observers evict only what they saw unchanged for the stale threshold, on their
    /// own clock, after we wrote it. Half the threshold leaves room for clock rate drift.
    pub fn fresh(&self, written: BootInstant) -> bool {
        written.elapsed() < self.params.stale() / 2
    }
}

/// A record's first nonce, from the first 16 hex digits of a random token (no second
/// getrandom per acquire).
fn nonce_of(token: &Token) -> u64 {
    token.as_bytes()[..16].iter().fold(0u64, |n, &c| {
        (n << 4) | u64::from((c as char).to_digit(16).unwrap_or(0))
    })
}
