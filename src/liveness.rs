//! Same-host liveness of the process behind a record: a hint that lets a waiter drop the
//! claim or ticket of a process that died on this host (SIGKILL, scancel's SIGTERM, the OOM
//! killer) at once, instead of after the stale threshold.
//!
//! A record names its process by an [`Origin`]: the kernel's boot id, the pid namespace and
//! the process's start time. Only an observer on the same kernel and in the same pid
//! namespace can judge it; it reads `/proc/<pid>/stat`, and a missing pid or another start
//! time (the pid was reused) means the process is gone. A wrong verdict is possible only if
//! /proc lies, and even then it costs a live waiter its place in line, never exclusion: the
//! verdict is used only for claims and tickets, which are hints (docs/PROTOCOL.md).

use std::sync::OnceLock;

use crate::fs;

/// Where a process runs, precisely enough that another process on the same host can tell
/// whether it still runs: kernel boot id (32 hex digits), pid namespace inode, start time of
/// the process in clock ticks since boot (changes when a pid is reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    pub boot: [u8; 32],
    pub pidns: u64,
    pub start: u64,
}

/// What an observer can say about a record's process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// The process runs on this host.
    Alive,
    /// The process ran on this host and no longer does.
    Gone,
    /// Another host, another pid namespace, or no record of where it runs.
    Unknown,
}

/// The longest form of an origin: 32 + 1 + 20 + 1 + 20.
pub const MAX_ORIGIN: usize = 74;

impl Origin {
    /// `<boot>.<pidns>.<start>`, as it appears on a record's `proc` line.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}.{}",
            std::str::from_utf8(&self.boot).expect("hex"),
            self.pidns,
            self.start
        )
    }

    /// Parses `<32 lowercase hex>.<decimal>.<decimal>`; None if malformed.
    pub fn parse(s: &[u8]) -> Option<Origin> {
        if s.len() > MAX_ORIGIN {
            return None;
        }
        let mut parts = s.split(|&c| c == b'.');
        let boot = parts.next()?;
        let pidns = parse_u64(parts.next()?)?;
        let start = parse_u64(parts.next()?)?;
        if parts.next().is_some()
            || boot.len() != 32
            || !boot
                .iter()
                .all(|&c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            return None;
        }
        let mut b = [0u8; 32];
        b.copy_from_slice(boot);
        Some(Origin {
            boot: b,
            pidns,
            start,
        })
    }
}

/// A decimal u64 as records write it: no sign, no leading zero (so that a record accepted
/// is a record written: parsing and formatting again give the same bytes).
fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty()
        || s.len() > 20
        || !s.iter().all(u8::is_ascii_digit)
        || (s.len() > 1 && s[0] == b'0')
    {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// This kernel and pid namespace, if /proc describes them and is this namespace's own /proc
/// (after `unshare --pid` without a new /proc mount, /proc shows the parent namespace's pids:
/// then no pid can be judged, and None turns the fast path off).
fn here() -> Option<(&'static [u8; 32], u64)> {
    static HERE: OnceLock<Option<([u8; 32], u64)>> = OnceLock::new();
    HERE.get_or_init(|| {
        let raw = fs::read_proc(c"/proc/sys/kernel/random/boot_id").ok()?;
        let hex: Vec<u8> = raw
            .iter()
            .copied()
            .filter(|c| c.is_ascii_hexdigit())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let boot: [u8; 32] = hex.try_into().ok()?;
        let pidns = pid_namespace()?;
        Some((boot, pidns))
    })
    .as_ref()
    .map(|(b, n)| (b, *n))
}

/// The inode of our pid namespace (`readlink /proc/self/ns/pid` is `pid:[<inode>]`).
fn pid_namespace() -> Option<u64> {
    let link = fs::read_link(c"/proc/self/ns/pid").ok()?;
    let inner = link.strip_prefix(b"pid:[")?.strip_suffix(b"]")?;
    parse_u64(inner)
}

/// The start time (field 22 of /proc/<pid>/stat) of a process, if it exists in the pid
/// namespace of our /proc. The command name (field 2) may hold spaces and parentheses, so
/// the fields are counted after its last ')'.
fn start_time(pid: u32) -> Option<Option<u64>> {
    let path = std::ffi::CString::new(format!("/proc/{pid}/stat")).expect("no NUL");
    let stat = match fs::read_proc(&path) {
        Ok(s) => s,
        Err(e)
            if e.raw_os_error() == Some(libc::ENOENT) || e.raw_os_error() == Some(libc::ESRCH) =>
        {
            return Some(None)
        }
        Err(_) => return None,
    };
    let close = stat.iter().rposition(|&c| c == b')')?;
    // Fields after the name start with field 3 (state); the start time is field 22.
    let start = stat[close + 1..]
        .split(|&c| c == b' ')
        .filter(|f| !f.is_empty())
        .nth(22 - 3)?;
    // A zombie still has its start time but will never refresh anything: gone.
    let state = stat[close + 1..]
        .split(|&c| c == b' ')
        .find(|f| !f.is_empty())?;
    if state == b"Z" || state == b"X" {
        return Some(None);
    }
    parse_u64(start).map(Some)
}

/// The origin of the calling process (computed per pid, so a child of fork gets its own).
pub fn this_process() -> Option<Origin> {
    let (boot, pidns) = here()?;
    let pid = fs::getpid();
    static MINE: std::sync::Mutex<Option<(u32, Origin)>> = std::sync::Mutex::new(None);
    let mut mine = MINE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((p, o)) = *mine {
        if p == pid {
            return Some(o);
        }
    }
    let start = start_time(pid)??;
    // /proc must be our namespace's: our own pid must show our own start time there, and
    // /proc/self must be our pid.
    let self_pid = fs::read_link(c"/proc/self").ok()?;
    if parse_u64(&self_pid)? != u64::from(pid) {
        return None;
    }
    let o = Origin {
        boot: *boot,
        pidns,
        start,
    };
    *mine = Some((pid, o));
    Some(o)
}

/// Judges the process `pid` that wrote a record carrying `origin`.
pub fn check(origin: Option<&Origin>, pid: u32) -> Liveness {
    let (Some(origin), Some(me)) = (origin, this_process()) else {
        return Liveness::Unknown;
    };
    if origin.boot != me.boot || origin.pidns != me.pidns {
        return Liveness::Unknown;
    }
    match start_time(pid) {
        Some(Some(start)) if start == origin.start => Liveness::Alive,
        Some(_) => Liveness::Gone,
        None => Liveness::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_round_trips_and_rejects_junk() {
        let o = this_process().expect("this test runs with its own /proc");
        assert_eq!(Origin::parse(o.encode().as_bytes()), Some(o));
        for bad in [
            &b""[..],
            b"abc.1.2",
            b"0123456789abcdef0123456789abcdeF.1.2",
            b"0123456789abcdef0123456789abcdef.1",
            b"0123456789abcdef0123456789abcdef.1.2.3",
            b"0123456789abcdef0123456789abcdef.-1.2",
            b"0123456789abcdef0123456789abcdef.1.999999999999999999999",
        ] {
            assert_eq!(
                Origin::parse(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn this_process_is_alive_and_a_dead_child_is_gone() {
        let me = this_process().expect("origin");
        assert_eq!(check(Some(&me), fs::getpid()), Liveness::Alive);
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        let start = start_time(pid).flatten();
        child.wait().expect("wait");
        let theirs = Origin {
            start: start.unwrap_or(1),
            ..me
        };
        assert_eq!(check(Some(&theirs), pid), Liveness::Gone);
        // A reused pid: our own pid with another start time.
        let reused = Origin {
            start: me.start + 1,
            ..me
        };
        assert_eq!(check(Some(&reused), fs::getpid()), Liveness::Gone);
        let elsewhere = Origin { pidns: 1, ..me };
        assert_eq!(check(Some(&elsewhere), fs::getpid()), Liveness::Unknown);
        assert_eq!(check(None, fs::getpid()), Liveness::Unknown);
    }
}
