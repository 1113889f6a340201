//! Lock options and their validation.
#![allow(non_camel_case_types)]

use crate::status::{Error, Result, Status};

/// Options of a lock handle. Initialise with srwl_options_init(), then change fields.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct srwl_options {
    /// Size of this struct in bytes, set by srwl_options_init(); lets the struct grow.
    pub size: u32,
    /// Seconds between heartbeat refreshes of this process's records. Default 30.
    pub heartbeat_interval: f64,
    /// Seconds a record may go unchanged before other processes evict it.
    /// Default 3 x heartbeat_interval. Must exceed heartbeat_interval.
    pub stale_threshold: f64,
    /// Longest pause in seconds between retries while waiting. Default 1.
    /// Must be > 0 and below stale_threshold.
    pub poll_interval: f64,
}

pub use srwl_options as Options;

pub const DEFAULT_HEARTBEAT: f64 = 30.0;
pub const DEFAULT_POLL: f64 = 1.0;
/// Longest accepted interval: a day. Longer leases would let a dead node wedge the lock for days.
pub const MAX_SECONDS: f64 = 86_400.0;
/// Shortest accepted interval: 1 ms.
pub const MIN_SECONDS: f64 = 0.001;

impl Default for Options {
    fn default() -> Self {
        Options {
            size: std::mem::size_of::<Options>() as u32,
            heartbeat_interval: DEFAULT_HEARTBEAT,
            stale_threshold: 3.0 * DEFAULT_HEARTBEAT,
            poll_interval: DEFAULT_POLL,
        }
    }
}

impl Options {
    /// Options with a heartbeat interval and the other fields derived as srwl_options_init does.
    pub fn with_heartbeat(heartbeat: f64) -> Options {
        Options {
            heartbeat_interval: heartbeat,
            stale_threshold: 3.0 * heartbeat,
            poll_interval: DEFAULT_POLL.min(heartbeat / 2.0),
            ..Options::default()
        }
    }

    /// Checks every field; the message names the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, why: &str, v: f64| {
            Err(Error::new(
                Status::SRWL_EINVAL,
                format!("srwl_options.{field} = {v}: {why}"),
            ))
        };
        if (self.size as usize) < std::mem::size_of::<Options>() {
            return Err(Error::new(
                Status::SRWL_EINVAL,
                format!(
                    "srwl_options.size = {}: initialise the struct with srwl_options_init()",
                    self.size
                ),
            ));
        }
        for (name, v) in [
            ("heartbeat_interval", self.heartbeat_interval),
            ("stale_threshold", self.stale_threshold),
            ("poll_interval", self.poll_interval),
        ] {
            if !v.is_finite() {
                return bad(name, "must be a finite number of seconds", v);
            }
            if v < MIN_SECONDS {
                return bad(name, "must be at least 0.001 s", v);
            }
            if v > MAX_SECONDS {
                return bad(name, "must be at most 86400 s", v);
            }
        }
        if self.stale_threshold <= self.heartbeat_interval {
            return bad(
                "stale_threshold",
                "must be greater than heartbeat_interval",
                self.stale_threshold,
            );
        }
        if self.poll_interval >= self.stale_threshold {
            return bad(
                "poll_interval",
                "must be less than stale_threshold",
                self.poll_interval,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented() {
        let o = Options::default();
        o.validate().unwrap();
        assert_eq!(o.heartbeat_interval, 30.0);
        assert_eq!(o.stale_threshold, 90.0);
        assert_eq!(o.size as usize, std::mem::size_of::<Options>());
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(Options, &str)> = vec![
            (
                Options {
                    heartbeat_interval: f64::NAN,
                    ..Options::default()
                },
                "heartbeat_interval",
            ),
            (
                Options {
                    heartbeat_interval: 0.0,
                    ..Options::default()
                },
                "heartbeat_interval",
            ),
            (
                Options {
                    heartbeat_interval: -1.0,
                    ..Options::default()
                },
                "heartbeat_interval",
            ),
            (
                Options {
                    stale_threshold: f64::INFINITY,
                    ..Options::default()
                },
                "stale_threshold",
            ),
            (
                Options {
                    stale_threshold: 30.0,
                    ..Options::default()
                },
                "stale_threshold",
            ),
            (
                Options {
                    poll_interval: 0.0,
                    ..Options::default()
                },
                "poll_interval",
            ),
            (
                Options {
                    poll_interval: 90.0,
                    ..Options::default()
                },
                "poll_interval",
            ),
            (
                Options {
                    poll_interval: f64::NAN,
                    ..Options::default()
                },
                "poll_interval",
            ),
            (
                Options {
                    size: 4,
                    ..Options::default()
                },
                "size",
            ),
        ];
        for (o, field) in cases {
            let e = o.validate().unwrap_err();
            assert_eq!(e.status, Status::SRWL_EINVAL);
            assert!(
                e.message.contains(field),
                "{} does not name {}",
                e.message,
                field
            );
        }
    }

    #[test]
    fn short_test_intervals_are_valid() {
        let o = Options {
            heartbeat_interval: 0.1,
            stale_threshold: 0.5,
            poll_interval: 0.02,
            ..Options::default()
        };
        o.validate().unwrap();
    }
}
