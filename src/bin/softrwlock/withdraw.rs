//! Leaving the queue when a signal ends the wait for the lock.
//!
//! The library's acquire cannot be cancelled, and a waiter that simply dies leaves its queue
//! entry behind: a dead writer's claim would hold back every reader and later writer until it
//! went stale (90 s by default). So the signal thread first freezes the waiting thread (a
//! real-time signal whose handler never returns), then the library withdraws this process's
//! entries (`softrwlock::admin::Withdrawal`: queue entries removed, a held baton handed back,
//! a reader record removed), then the process dies. The frozen thread can no longer make a
//! new claim behind our back (the library re-claims at once when it finds its claim gone).
//! This file holds only the freeze.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use softrwlock::admin::Withdrawal;

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
