//! What tools need from the library beyond a lock handle (the `softrwlock` CLI uses it): the
//! state of a lock read for people, a waiter's withdrawal, and the path and host-name rules.
//! Every protocol step is the library's; tools only format and decide when.

pub mod inspect;
pub mod withdraw;

pub use crate::protocol::{sidecar_of, Sidecar};
pub use crate::record::{host_name, sanitize_host};
pub use withdraw::Withdrawal;
