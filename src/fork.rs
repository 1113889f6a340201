//! Fork handling. POSIX fork copies only the calling thread, so the library registers
//! pthread_atfork handlers: prepare takes the heartbeat registry lock (the only lock a
//! background thread holds), parent releases it, child forgets the parent's holds and bumps
//! the fork epoch. A handle made in an earlier epoch is "forked": its acquire returns
//! SRWL_EFORKED and its release and close touch nothing on disk (the parent still holds).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

use crate::heartbeat;

static EPOCH: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();

extern "C" fn prepare() {
    heartbeat::fork_prepare();
}

extern "C" fn parent() {
    heartbeat::fork_parent();
}

extern "C" fn child() {
    crate::fs::forget_pid();
    EPOCH.fetch_add(1, Ordering::SeqCst);
    heartbeat::fork_child();
}

/// Registers the atfork handlers once per process.
pub fn ensure_registered() {
    REGISTER.call_once(|| unsafe {
        libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
    });
}

/// The current fork epoch; a handle remembers the epoch it was made in.
pub fn epoch() -> u64 {
    EPOCH.load(Ordering::SeqCst)
}
