//! libsoftrwlock: a reader/writer lock for processes on many hosts that share a network
//! filesystem. See README.md and docs/PROTOCOL.md.
//!
//! Layout: `ffi` (the only `extern "C"`), `lock` (the handle), `protocol` (srwl/2 steps and
//! eviction), `record` (names and records), `fs` (the only raw syscalls), `fstype` (which
//! filesystem a lock is on, and the refusal of those that cannot keep exclusion), `heartbeat`,
//! `fork`, `inject` (delay injection for tests), `options`, `status`.

pub mod ffi;
pub mod fork;
pub mod fs;
pub mod fstype;
pub mod heartbeat;
pub mod inject;
pub mod lock;
pub mod options;
pub mod protocol;
pub mod record;
pub mod status;

pub use lock::Lock;
pub use options::Options;
pub use record::Role;
pub use status::{Error, Status};
