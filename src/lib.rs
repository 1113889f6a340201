//! libsoftrwlock: a reader/writer lock for processes on many hosts that share a network
//! filesystem. See README.md and docs/PROTOCOL.md.
//!
//! Layout, one owner for each piece of knowledge:
//!
//! | module      | owns |
//! |-------------|------|
//! | `ffi`       | the C ABI: the only `extern "C"` |
//! | `admin`     | for tools (the CLI): `inspect` (a lock's state, typed), `withdraw` (a dying waiter's exit), path and host-name rules |
//! | `lock`      | the handle: nesting, threads, fork and hold bookkeeping (`Lock`) |
//! | `protocol`  | srwl/2 on disk, one submodule per part: `layout`, `open`, `queue`, `room`, `baton`, `reader`, `writer`, `eviction`, `waiting` (see its doc) |
//! | `record`    | entry names and record bytes: building and bounded parsing |
//! | `fs`        | the only raw syscalls (openat and friends, getdents64, inotify) |
//! | `heartbeat` | the one thread per process that keeps records fresh |
//! | `fork`      | atfork handlers |
//! | `inject`    | delay injection at protocol steps, for tests |
//! | `options`   | `srwl_options`: defaults and validation |
//! | `status`    | status codes and errors |

pub mod admin;
pub mod ffi;
pub mod fork;
pub mod fs;
pub mod heartbeat;
pub mod inject;
pub mod liveness;
pub mod lock;
pub mod options;
pub mod protocol;
pub mod record;
pub mod status;

pub use lock::Lock;
pub use options::Options;
pub use protocol::Mode;
pub use record::Role;
pub use status::{Error, Status};
