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
//! also have been holding the baton (`Q/b.<gen>.<token>`: it took it and was waiting for the
//! readers to leave the room): the baton is never removed, it is handed back to the room
//! (`mkdir R`, `rename` into `R/baton.<gen>`), which is what a release does. If the waiting
//! thread was granted just before it was frozen, its record is evicted after the stale
//! threshold as for any dead holder.
//!
//! After the freeze the waiting thread may be stopped anywhere (inside malloc, say): `run`
//! allocates nothing; everything is prepared before the freeze.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use softrwlock::fs::{Dir, Name};
use softrwlock::record::{Baton, Ticket, TicketKind};

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

pub struct Withdrawal {
    side: Dir,
    queue: Dir,
    list_buf: Vec<u8>,
    read_buf: Vec<u8>,
    /// "\npid <pid>\nhost <host>\n" as it appears in our records.
    pid_host: Vec<u8>,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
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
            pid_host: format!("\npid {}\nhost {host}\n", std::process::id()).into_bytes(),
        })
    }

    /// Removes our reader tickets and writer claims and hands back a baton we hold; returns
    /// how many entries it dealt with. Allocates nothing.
    pub fn run(self) -> usize {
        let Withdrawal {
            side,
            queue,
            mut list_buf,
            mut read_buf,
            pid_host,
        } = self;
        let mut removed = 0;
        let mine = |bytes: &[u8], role: &[u8]| {
            bytes.starts_with(b"srwl/2\nrole ")
                && bytes[12..].starts_with(role)
                && bytes.get(12 + role.len()) == Some(&b'\n')
                && contains(bytes, &pid_host)
        };
        let _ = queue.list(&mut list_buf, |name| {
            let n = Name::from_bytes(&[name]);
            if let Some((gen, _)) = Baton::parse_held(name) {
                if queue.read_small(n.as_cstr(), &mut read_buf).is_ok() && mine(&read_buf, b"write")
                {
                    // Hand the baton back to the room, as a release does; never remove it.
                    let _ = side.mkdir(c"R");
                    if let Ok(room) = side.open_dir(c"R") {
                        let resting = Baton::resting_name(gen);
                        if queue.rename(n.as_cstr(), &room, resting.as_cstr()).is_ok() {
                            removed += 1;
                        }
                    }
                }
                return;
            }
            let Some(t) = Ticket::parse(name) else { return };
            let role: &[u8] = match t.kind {
                TicketKind::Reader => b"wait",
                TicketKind::Writer => b"write",
            };
            if queue.read_small(n.as_cstr(), &mut read_buf).is_ok()
                && mine(&read_buf, role)
                && queue.unlink(n.as_cstr()).is_ok()
            {
                removed += 1;
            }
        });
        removed
    }
}
