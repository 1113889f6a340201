//! Shared helpers for the Rust integration tests: temporary directories and short intervals.
#![allow(dead_code)]

use std::path::PathBuf;

use softrwlock::{Lock, Options};

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let mut raw = [0u8; 8];
        softrwlock::fs::random_bytes(&mut raw);
        let p = std::env::temp_dir().join(format!("srwl-{tag}-{:016x}", u64::from_ne_bytes(raw)));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn lock_path(&self) -> PathBuf {
        self.0.join("lock")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Heartbeat 0.1 s, stale 0.6 s, poll 0.02 s: evictions in tests happen within a second.
pub fn fast() -> Options {
    Options {
        heartbeat_interval: 0.1,
        stale_threshold: 0.6,
        poll_interval: 0.02,
        ..Options::default()
    }
}

pub fn open(path: &std::path::Path, o: &Options) -> Lock {
    use std::os::unix::ffi::OsStrExt;
    Lock::open(path.as_os_str().as_bytes(), o).unwrap()
}

/// Names in a directory (sorted), empty if missing.
/// The room's entries other than the resting baton (`baton.<gen>`), which is always there
/// while no writer holds the lock; panics if the baton is missing or doubled.
pub fn room_entries(side: &std::path::Path) -> Vec<String> {
    let all = entries(&side.join("R"));
    let batons = all.iter().filter(|n| n.starts_with("baton.")).count();
    assert_eq!(
        batons, 1,
        "expected exactly one baton at rest in {side:?}/R: {all:?}"
    );
    all.into_iter()
        .filter(|n| !n.starts_with("baton."))
        .collect()
}

pub fn entries(p: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Writes straight to fd 1, for a test binary re-executed as a child process: the harness
/// captures println! even there.
pub fn say(s: &str) {
    unsafe { libc::write(1, s.as_ptr().cast(), s.len()) };
}
