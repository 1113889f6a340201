//! What tools need from the library beyond a lock handle (the `softrwlock` CLI uses it): the
//! state of a lock read for people, and the path and host-name rules. (A waiter that must give
//! up, as the CLI on SIGTERM, interrupts its acquire: `Lock::interrupt`.)
//! Every protocol step is the library's; tools only format and decide when.

pub mod inspect;

pub use crate::protocol::{sidecar_of, Sidecar};
pub use crate::record::{host_name, sanitize_host};
