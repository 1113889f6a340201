//! Status codes and the library's error type.
#![allow(non_camel_case_types)]

use std::fmt;

/// Result of every libsoftrwlock call. Values are part of the ABI and are never renumbered.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum srwl_status {
    /// Success.
    SRWL_OK = 0,
    /// The timeout expired before the lock could be taken; nothing was left on disk.
    SRWL_TIMEOUT = 1,
    /// An argument was invalid (NULL pointer, bad timeout, bad option).
    SRWL_EINVAL = 2,
    /// A filesystem operation failed; srwl_last_error() names the operation, path and OS error.
    SRWL_EIO = 3,
    /// The call does not fit the handle's state (release without a hold, upgrade, downgrade,
    /// release of a write hold from a thread that does not own it).
    SRWL_ESTATE = 4,
    /// The handle was inherited across fork(); open a new handle in the child.
    SRWL_EFORKED = 5,
    /// Refused for safety: a symlink, a file of the wrong type, a directory owned by another user,
    /// or a filesystem that cannot keep exclusion (an object-store mount such as s3fs).
    SRWL_EUNSAFE = 6,
    /// The hold was lost: another process evicted it (this process was stopped or starved past
    /// the stale threshold). Nothing belonging to the new holder was touched.
    SRWL_ELOST = 7,
    /// A bug in libsoftrwlock (a caught panic). Please report it.
    SRWL_EINTERNAL = 8,
    /// The acquire was interrupted (srwl_interrupt(), or the handle's interrupt descriptor
    /// became readable); nothing was left on disk, as after a timeout.
    SRWL_EINTR = 9,
}

pub use srwl_status as Status;

impl Status {
    /// A short, static, NUL-terminated description.
    pub fn as_cstr(self) -> &'static std::ffi::CStr {
        match self {
            Status::SRWL_OK => c"success",
            Status::SRWL_TIMEOUT => c"timed out",
            Status::SRWL_EINVAL => c"invalid argument",
            Status::SRWL_EIO => c"filesystem error",
            Status::SRWL_ESTATE => c"operation not valid in the handle's state",
            Status::SRWL_EFORKED => c"handle inherited across fork",
            Status::SRWL_EUNSAFE => c"refused: unsafe filesystem object",
            Status::SRWL_ELOST => c"hold lost (evicted)",
            Status::SRWL_EINTERNAL => c"internal error",
            Status::SRWL_EINTR => c"interrupted",
        }
    }

    /// The name as the header spells it, e.g. "SRWL_TIMEOUT".
    pub fn name(self) -> &'static std::ffi::CStr {
        match self {
            Status::SRWL_OK => c"SRWL_OK",
            Status::SRWL_TIMEOUT => c"SRWL_TIMEOUT",
            Status::SRWL_EINVAL => c"SRWL_EINVAL",
            Status::SRWL_EIO => c"SRWL_EIO",
            Status::SRWL_ESTATE => c"SRWL_ESTATE",
            Status::SRWL_EFORKED => c"SRWL_EFORKED",
            Status::SRWL_EUNSAFE => c"SRWL_EUNSAFE",
            Status::SRWL_ELOST => c"SRWL_ELOST",
            Status::SRWL_EINTERNAL => c"SRWL_EINTERNAL",
            Status::SRWL_EINTR => c"SRWL_EINTR",
        }
    }

    pub fn from_i32(v: i32) -> Option<Status> {
        Some(match v {
            0 => Status::SRWL_OK,
            1 => Status::SRWL_TIMEOUT,
            2 => Status::SRWL_EINVAL,
            3 => Status::SRWL_EIO,
            4 => Status::SRWL_ESTATE,
            5 => Status::SRWL_EFORKED,
            6 => Status::SRWL_EUNSAFE,
            7 => Status::SRWL_ELOST,
            8 => Status::SRWL_EINTERNAL,
            9 => Status::SRWL_EINTR,
            _ => return None,
        })
    }
}

/// An error with the status the C API returns and a message for srwl_last_error().
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub status: Status,
    pub message: String,
    /// A condition that passes by itself (ESTALE on a network filesystem: a name another
    /// client replaced). Waiting loops retry instead of failing.
    pub transient: bool,
}

impl Error {
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
            transient: false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.status.as_cstr().to_string_lossy(),
            self.message
        )
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
