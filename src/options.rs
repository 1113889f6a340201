//! Lock options and their validation.
#![allow(non_camel_case_types)]

use crate::status::{Error, Result, Status};

/// Options of a lock handle. Initialise with srwl_options_init(), then change fields.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct srwl_options {
    /// Size of this struct in bytes, set by srwl_options_init(); lets the struct grow. Fields
    /// are only ever appended: a caller built against an older, smaller struct passes its own
    /// size, and the fields it does not have take their defaults (derived from its
    /// heartbeat_interval as srwl_options_init_heartbeat() does). A size that does not reach the
    /// end of heartbeat_interval (16 bytes on 64-bit Linux) is SRWL_EINVAL. Fields of a newer, larger
    /// struct are ignored.
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
/// The smallest `size` accepted from a caller: the struct up to and with heartbeat_interval.
pub const MIN_SIZE: usize =
    std::mem::offset_of!(Options, heartbeat_interval) + std::mem::size_of::<f64>();

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

    /// The options of a C caller whose struct is `size` bytes (its `size` field): the fields it
    /// has (`stale_threshold` and `poll_interval` are None if its struct ends before them),
    /// the others defaulted from its heartbeat. The only check of `size`: SRWL_EINVAL below
    /// MIN_SIZE (an uninitialised struct, most likely).
    pub fn from_caller(
        size: u32,
        heartbeat_interval: f64,
        stale_threshold: Option<f64>,
        poll_interval: Option<f64>,
    ) -> Result<Options> {
        if (size as usize) < MIN_SIZE {
            return Err(Error::new(
                Status::SRWL_EINVAL,
                format!(
                    "srwl_options.size = {size}: initialise the struct with srwl_options_init()"
                ),
            ));
        }
        let mut o = Options::with_heartbeat(heartbeat_interval);
        if let Some(s) = stale_threshold {
            o.stale_threshold = s;
        }
        if let Some(p) = poll_interval {
            o.poll_interval = p;
        }
        Ok(o)
    }

    /// Whether a caller's struct of `size` bytes holds the field at `offset` (an f64).
    pub fn caller_has(size: u32, offset: usize) -> bool {
        offset + std::mem::size_of::<f64>() <= size as usize
    }

    /// Checks every field; the message names the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, why: &str, v: f64| {
            Err(Error::new(
                Status::SRWL_EINVAL,
                format!("srwl_options.{field} = {v}: {why}"),
            ))
        };
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
    fn an_older_smaller_struct_is_accepted_with_defaults_derived_from_its_heartbeat() {
        // A caller whose struct ends after heartbeat_interval.
        let o = Options::from_caller(MIN_SIZE as u32, 2.0, None, None).unwrap();
        o.validate().unwrap();
        assert_eq!(o, Options::with_heartbeat(2.0));
        assert_eq!((o.stale_threshold, o.poll_interval), (6.0, 1.0));
        // Ending after stale_threshold: poll from the heartbeat, stale as given.
        let o = Options::from_caller(24, 0.5, Some(4.0), None).unwrap();
        assert_eq!((o.stale_threshold, o.poll_interval), (4.0, 0.25));
        assert_eq!(o.size as usize, std::mem::size_of::<Options>());
        assert!(Options::caller_has(
            24,
            std::mem::offset_of!(Options, stale_threshold)
        ));
        assert!(!Options::caller_has(
            24,
            std::mem::offset_of!(Options, poll_interval)
        ));
    }

    #[test]
    fn a_size_below_the_first_option_is_refused_and_named() {
        for size in [0, 4, 8, 15] {
            let e = Options::from_caller(size, 30.0, None, None).unwrap_err();
            assert_eq!(e.status, Status::SRWL_EINVAL);
            assert!(e.message.contains("srwl_options.size"), "{}", e.message);
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
