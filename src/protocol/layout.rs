//! Names and path rules: where a lock's files are, and what each is called.
//!
//! A lock at `<dir>/<base>` lives in the sidecar directory `<dir>/<base>.srwl/` (the lock path
//! itself is never created): `init` (the initialisation marker), `Q/` (the queue: tickets,
//! claims and the held baton), `R/` (the room: reader records and the resting baton) and
//! `h.*` (reader-record templates). Entry names are built and parsed in `record.rs`.

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;

use super::Disk;
use crate::fs::Name;
use crate::record::{reader_record_name, Baton, Token};
use crate::status::{Error, Result, Status};

/// The room, in the sidecar.
pub const ROOM: &CStr = c"R";
/// The queue, in the sidecar.
pub const QUEUE: &CStr = c"Q";

/// Present once the lock is initialised: a second name of the baton's inode, never removed,
/// so that the baton is created exactly once.
pub const INIT: &CStr = c"init";

/// Where the files of the lock at a given path live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sidecar {
    /// The directory that holds the lock path, as given (it may traverse symlinks).
    pub parent: CString,
    /// `<base>.srwl`, the sidecar's name in `parent`.
    pub name: CString,
    /// The lock path, for messages.
    pub lock_display: String,
    /// `parent`, for messages.
    pub parent_display: String,
    /// `<path>.srwl`, for messages.
    pub display: String,
}

/// Splits a lock path (bytes; need not be UTF-8) into its parent directory and sidecar name.
/// SRWL_EINVAL (naming `op` and the path) if it is empty, holds a NUL byte, names a directory,
/// or its file name is too long for `<name>.srwl`.
pub fn sidecar_of(path: &[u8], op: &str) -> Result<Sidecar> {
    let display = String::from_utf8_lossy(path).into_owned();
    let invalid = |why: String| Err(Error::new(Status::SRWL_EINVAL, why));
    if path.is_empty() {
        return invalid(format!("{op}: the lock path is empty"));
    }
    if path.contains(&0) {
        return invalid(format!("{op} {display}: path contains a NUL byte"));
    }
    if path.ends_with(b"/") {
        return invalid(format!("{op} {display}: the lock path names a directory; give a file name (the library uses {display}<name>.srwl/)"));
    }
    let (parent, base): (&[u8], &[u8]) = match path.iter().rposition(|&c| c == b'/') {
        Some(0) => (b"/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (b".", path),
    };
    if base == b"." || base == b".." {
        return invalid(format!(
            "{op} {display}: the lock path must end in a file name"
        ));
    }
    if base.len() + 5 > 255 {
        return invalid(format!(
            "{op} {display}: file name too long for the sidecar name <name>.srwl"
        ));
    }
    Ok(Sidecar {
        parent: CString::new(parent).expect("checked for NUL"),
        name: CString::new([base, b".srwl"].concat()).expect("checked for NUL"),
        parent_display: OsStr::from_bytes(parent).to_string_lossy().into_owned(),
        display: format!("{display}.srwl"),
        lock_display: display,
    })
}

impl Disk {
    /// `<sidecar>/<rel>`, for messages.
    pub(super) fn path(&self, rel: &[u8]) -> String {
        format!("{}/{}", self.display, String::from_utf8_lossy(rel))
    }

    /// `<sidecar>/Q/<name>`, for messages.
    pub(super) fn qpath(&self, name: &[u8]) -> String {
        self.path(&[b"Q/", name].concat())
    }

    /// A reader's record relative to the sidecar: `R/r.<token>`.
    pub fn read_record_path(token: &Token) -> Name {
        let mut n = Name::from_bytes(&[b"R/"]);
        n.push(reader_record_name(token).as_bytes());
        n
    }

    /// Our baton relative to the sidecar while we hold it: `Q/b.<gen>.<token>`.
    pub fn baton_path(gen: u64, token: &Token) -> Name {
        let mut n = Name::from_bytes(&[b"Q/"]);
        n.push(Baton::held_name(gen, token).as_bytes());
        n
    }
}

/// `R/<name>`, relative to the sidecar: resolved by the file server when used, so that no
/// handle on the room (which every write cycle replaces) needs to be opened for it.
pub(super) fn in_room(name: &Name) -> Name {
    Name::from_bytes(&[b"R/", name.as_bytes()])
}
