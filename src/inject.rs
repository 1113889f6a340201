//! Delay injection at protocol step boundaries, compiled in always and off by default.
//!
//! `SRWL_INJECT_DELAY=<seed>:<max_microseconds>` (read once per process) makes every
//! filesystem step of the protocol first do nothing, yield, or sleep up to the maximum,
//! chosen by a per-thread generator seeded from the seed, the pid and the thread. This widens
//! race windows so that schedules that are rare in production show up in seconds of testing.
//!
//! Depends on nothing else in the crate (fs.rs calls it at every step).

use std::cell::Cell;
use std::sync::OnceLock;

struct Config {
    seed: u64,
    max_us: u64,
}

fn config() -> Option<&'static Config> {
    static CONFIG: OnceLock<Option<Config>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let v = std::env::var_os("SRWL_INJECT_DELAY")?;
            parse(v.to_str()?)
        })
        .as_ref()
}

fn parse(v: &str) -> Option<Config> {
    let (seed, max) = v.split_once(':')?;
    let seed = seed.trim().parse::<u64>().ok()?;
    let max_us = max.trim().parse::<u64>().ok()?.min(10_000_000);
    if max_us == 0 {
        return None;
    }
    Some(Config { seed, max_us })
}

/// Whether delay injection is on in this process.
pub fn enabled() -> bool {
    config().is_some()
}

thread_local! {
    static STATE: Cell<u64> = const { Cell::new(0) };
}

fn next(seed: u64) -> u64 {
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            // No raw syscall here (fs.rs has them all, and calls this module): the thread is
            // told apart by a hash of its std id.
            let tid = {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                std::thread::current().id().hash(&mut h);
                h.finish()
            };
            x = (seed
                ^ (u64::from(std::process::id()) << 32)
                ^ tid.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                | 1;
        }
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// A protocol step boundary.
#[inline]
pub fn point() {
    if let Some(c) = config() {
        let r = next(c.seed);
        match r % 3 {
            0 => {}
            1 => std::thread::yield_now(),
            _ => std::thread::sleep(std::time::Duration::from_micros((r >> 8) % (c.max_us + 1))),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_seed_and_max() {
        let c = super::parse("42:1500").unwrap();
        assert_eq!((c.seed, c.max_us), (42, 1500));
        assert!(super::parse("42").is_none());
        assert!(super::parse("x:1").is_none());
        assert!(super::parse("1:0").is_none());
        assert_eq!(super::parse("1:99999999999").unwrap().max_us, 10_000_000);
    }
}
