//! Leaving the queue when a signal ends the wait for the lock.
//!
//! The library's acquire cannot be cancelled, and a waiter that simply dies leaves its queue
//! entry behind: a dead writer's claim would hold back every reader and later writer until it
//! went stale (90 s by default). So the signal thread first freezes the waiting thread (a
//! real-time signal whose handler never returns), then removes the queue entries whose records
//! name this pid on this host, then the process dies. The frozen thread can no longer make a
//! new claim behind our back (the library re-claims at once when it finds its claim gone).
//!
//! Queue entries order waiters but take no part in exclusion, so even removing the wrong one
//! (another host with the same name and pid) only makes that waiter queue again. A writer may
//! also be holding the baton (`Q/b.<gen>.<token>`: it took it and was waiting for the readers
//! to leave the room, or it was granted just before the freeze): the baton is never removed,
//! it is handed back to the room (`mkdir R`, `rename` into `R/baton.<gen>`), which is what a
//! release does. A baton is ours if its record names this pid on this host and the token of
//! its name. (Handing back the baton of a live process on another host with the same host
//! name and pid would evict that holder: it finds its baton gone at its next heartbeat and
//! reports the hold lost, as after any eviction. Host names must differ between the hosts
//! sharing a lock, as `status` assumes too.) A reader's record of ours in the room (made just
//! before the freeze, before its check, or granted) is removed as a reader's release does, so
//! that it does not keep writers out until it is evicted.
//!
//! After the freeze the waiting thread may be stopped anywhere (inside malloc, say): `run`
//! allocates nothing; everything is prepared before the freeze.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use softrwlock::fs::{Dir, Name};
use softrwlock::record::{parse_reader_record_name, Baton, Ticket, TicketKind, Token};

static FROZEN: AtomicBool = AtomicBool::new(false);

fn freeze_signal() -> libc::c_int {
    libc::SIGRTMIN() + 3
}

extern "C" fn on_freeze(_: libc::c_int) {
    FROZEN.store(true, Ordering::SeqCst);
    loop {
        unsafe { libc::pause() };
    }
}

/// Installs the freeze handler (every signal is blocked while it runs).
pub fn install_freeze_handler() {
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_freeze as *const () as usize;
        libc::sigfillset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        libc::sigaction(freeze_signal(), &sa, std::ptr::null_mut());
    }
}

/// Freezes thread `tid` of this process; waits at most 0.5 s for it to stop.
pub fn freeze_thread(tid: libc::pid_t) {
    let r = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, freeze_signal()) };
    if r != 0 {
        return;
    }
    let t0 = Instant::now();
    while !FROZEN.load(Ordering::SeqCst) && t0.elapsed() < Duration::from_millis(500) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// At most this many of our entries are dealt with (a waiter has one claim or ticket, and
/// perhaps the baton; more would be leftovers of an earlier process with our pid).
const MAX_OURS: usize = 16;

pub struct Withdrawal {
    side: Dir,
    queue: Dir,
    list_buf: Vec<u8>,
    read_buf: Vec<u8>,
    /// Our entries found by the listing, dealt with after it (changing a directory while
    /// listing it can make a network filesystem skip entries).
    ours: Vec<Name>,
    /// "\npid <pid>\nhost <host>\n" as it appears in our records.
    pid_host: Vec<u8>,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Whether `bytes` is a record of ours (role `role`, token `token`, our pid and host).
fn is_ours(bytes: &[u8], role: &[u8], token: &Token, pid_host: &[u8]) -> bool {
    const HEAD: &[u8] = b"srwl/2\nrole ";
    let mut tok_line = [0u8; 40];
    tok_line[..7].copy_from_slice(b"\ntoken ");
    tok_line[7..39].copy_from_slice(token.as_bytes());
    tok_line[39] = b'\n';
    bytes.starts_with(HEAD)
        && bytes[HEAD.len()..].starts_with(role)
        && bytes.get(HEAD.len() + role.len()) == Some(&b'\n')
        && contains(bytes, &tok_line)
        && contains(bytes, pid_host)
}

impl Withdrawal {
    /// Opens `<path>.srwl/Q` and prepares buffers (before the freeze).
    pub fn prepare(path: &[u8]) -> Option<Withdrawal> {
        use std::os::unix::ffi::OsStrExt;
        let (parent, side_name) = crate::status::split_path(path).ok()?;
        let parent = CString::new(parent).ok()?;
        let side_name = CString::new(side_name).ok()?;
        let side = Dir::open_path(&parent)
            .and_then(|p| p.open_dir(&side_name))
            .ok()?;
        let queue = side.open_dir(c"Q").ok()?;
        let host = hostname::get()
            .map(|h| softrwlock::record::sanitize_host(h.as_bytes()))
            .unwrap_or_else(|_| "unknown".into());
        Some(Withdrawal {
            side,
            queue,
            list_buf: vec![0; 16384],
            read_buf: Vec::with_capacity(4096),
            ours: Vec::with_capacity(MAX_OURS),
            pid_host: format!("\npid {}\nhost {host}\n", std::process::id()).into_bytes(),
        })
    }

    /// Removes our reader tickets and writer claims, hands back a baton we hold and removes
    /// our reader records from the room; returns how many entries it dealt with. Allocates
    /// nothing.
    pub fn run(self) -> usize {
        let Withdrawal {
            side,
            queue,
            mut list_buf,
            mut read_buf,
            mut ours,
            pid_host,
        } = self;
        let _ = queue.list(&mut list_buf, |name| {
            // Only names that parse are turned into a Name (fixed size: a long junk name
            // would not fit).
            let (token, role): (Token, &[u8]) = if let Some((_, tok)) = Baton::parse_held(name) {
                (tok, b"write")
            } else if let Some(t) = Ticket::parse(name) {
                match t.kind {
                    TicketKind::Reader => (t.token, b"wait"),
                    TicketKind::Writer => (t.token, b"write"),
                }
            } else {
                return;
            };
            let n = Name::from_bytes(&[name]);
            if ours.len() < MAX_OURS
                && queue.read_small(n.as_cstr(), &mut read_buf).is_ok()
                && is_ours(&read_buf, role, &token, &pid_host)
            {
                ours.push(n);
            }
        });
        let mut dealt = 0;
        for n in &ours {
            if let Some((gen, _)) = Baton::parse_held(n.as_bytes()) {
                if hand_back(&side, &queue, n, gen) {
                    dealt += 1;
                }
            } else if queue.unlink(n.as_cstr()).is_ok() {
                dealt += 1;
            }
        }
        // A reader stopped between creating its record in the room and its check (or granted
        // just before the freeze) would keep writers out until evicted: remove the record, as
        // a reader's release does.
        ours.clear();
        if let Ok(room) = side.open_dir(c"R") {
            let _ = room.list(&mut list_buf, |name| {
                let Some(token) = parse_reader_record_name(name) else {
                    return;
                };
                let n = Name::from_bytes(&[name]);
                if ours.len() < MAX_OURS
                    && room.read_small(n.as_cstr(), &mut read_buf).is_ok()
                    && is_ours(&read_buf, b"read", &token, &pid_host)
                {
                    ours.push(n);
                }
            });
            for n in &ours {
                if room.unlink(n.as_cstr()).is_ok() {
                    dealt += 1;
                }
            }
        }
        dealt
    }
}

/// Hands the baton `Q/<held>` back to the room as `R/baton.<gen>`, as a release does: makes
/// the room if it is absent (EEXIST is fine), opens it by name, renames the baton into it.
/// The baton is never removed: if this fails it stays in the queue under our name, where
/// others take it over once our record has gone unchanged past the stale threshold.
fn hand_back(side: &Dir, queue: &Dir, held: &Name, gen: u64) -> bool {
    let resting = Baton::resting_name(gen);
    for _ in 0..5 {
        let _ = side.mkdir(c"R");
        if let Ok(room) = side.open_dir(c"R") {
            match queue.rename(held.as_cstr(), &room, resting.as_cstr()) {
                Ok(()) => return true,
                Err(_) if queue.stat(held.as_cstr()).is_err() => {
                    // Gone from the queue: the rename happened after all (a network client
                    // that retried it), or someone took it over.
                    return room.stat(resting.as_cstr()).is_ok();
                }
                // Still ours: the room was removed between our mkdir and the rename (by a
                // zombie writer's rmdir), or the handle went stale. Again.
                Err(_) => {}
            }
        }
    }
    false
}
