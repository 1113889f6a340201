//! The user's own data under the lock: making a file coherent for one hold.
//!
//! The lock orders the holders; it does not move their bytes. A network filesystem client
//! may serve a read from pages it cached before the previous holder (on another host)
//! rewrote the file, and may still hold a writer's bytes after its close() returned
//! (GlusterFS write-behind and flush-behind). So a holder:
//!
//! - after acquiring, before reading: [`begin`] refreshes the client's attributes of the file
//!   (fsync, whose reply refreshes GlusterFS's md-cache, then statx AT_STATX_FORCE_SYNC: a
//!   size cached before another host grew the file would cut reads short) and drops the
//!   client's cached pages of it (posix_fadvise DONTNEED), so that the next read asks the
//!   file server;
//! - after writing, before releasing: [`end`] makes the file's bytes reach the file server
//!   (fsync), so that the next holder, wherever it runs, can read them.
//!
//! What no call on a client can reach: GlusterFS's quick-read keeps whole files of up to 64 KB
//! and serves them (O_DIRECT reads too) for up to 1 s; the README tells users to mount without
//! it or switch it off on the volume.
//!
//! Both act on the file, not on one descriptor: the `_path` forms open the file read-only for
//! the moment of the call, for callers that have no descriptor (Fortran units, shell jobs).
//! Measured on GlusterFS and MooseFS by tests/netfs/data-test.py (README: "Your data under the
//! lock").

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

use crate::fs;
use crate::status::{Error, Result, Status};

fn fail(op: &str, what: &str, e: &io::Error) -> Error {
    let status = match e.raw_os_error() {
        Some(libc::EBADF) => Status::SRWL_EINVAL,
        Some(libc::ELOOP) => Status::SRWL_EUNSAFE,
        _ => Status::SRWL_EIO,
    };
    let hint = match e.raw_os_error() {
        Some(libc::ELOOP) => ": a symlink is there, refusing to follow it",
        _ => "",
    };
    Error::new(status, format!("{op} {what}: {}{hint}", fs::describe(e)))
}

/// Before reading a file under the lock: refreshes this client's view of the file and drops
/// its cached pages, so that the next read asks the file server. `what` names the file in
/// errors.
fn begin_on(fd: RawFd, what: &str) -> Result<()> {
    // fsync first: its reply carries the file's attributes fresh from the server, and
    // GlusterFS's md-cache takes them (measured: a grown file read short in 18 of 20 rounds
    // without it, 0 of 20 with it). EINVAL (a special file that cannot be synced) is no
    // reason to refuse the read.
    match fs::fsync(fd) {
        Err(e) if e.raw_os_error() != Some(libc::EINVAL) => {
            return Err(fail("data begin: fsync", what, &e))
        }
        _ => {}
    }
    fs::refresh_attributes(fd).map_err(|e| fail("data begin: statx", what, &e))?;
    fs::advise_dontneed(fd).map_err(|e| fail("data begin: posix_fadvise", what, &e))
}

/// Before releasing the lock after writing a file: its bytes reach the file server.
fn end_on(fd: RawFd, what: &str) -> Result<()> {
    fs::fsync(fd).map_err(|e| fail("data end: fsync", what, &e))
}

/// After acquiring, before reading the file open on `fd` (any access mode).
pub fn begin(fd: RawFd) -> Result<()> {
    begin_on(fd, &format!("fd {fd}"))
}

/// After writing the file open on `fd`, before releasing.
pub fn end(fd: RawFd) -> Result<()> {
    end_on(fd, &format!("fd {fd}"))
}

/// Opens a regular file by path (the last component not a symlink) and runs `f` on it.
fn with_path(op: &str, path: &CStr, f: fn(RawFd, &str) -> Result<()>) -> Result<()> {
    let shown = path.to_string_lossy();
    let file = fs::open_user_file(path).map_err(|e| fail(op, &format!("open {shown}"), &e))?;
    let st = fs::fstat(file.as_raw_fd()).map_err(|e| fail(op, &format!("fstat {shown}"), &e))?;
    if st.kind != fs::Kind::File {
        return Err(Error::new(
            Status::SRWL_EUNSAFE,
            format!("{op} {shown}: not a regular file, refusing it"),
        ));
    }
    f(file.as_raw_fd(), &shown)
}

/// [`begin`] for a file named by its path.
pub fn begin_path(path: &CStr) -> Result<()> {
    with_path("data begin:", path, begin_on)
}

/// [`end`] for a file named by its path (fsync of the file, whoever wrote it on this host).
pub fn end_path(path: &CStr) -> Result<()> {
    with_path("data end:", path, end_on)
}

/// For job scripts (the CLI's option that names a data file): [`begin_path`], where a file
/// that does not exist yet is no error (the command may create it; no client has cached it).
pub fn begin_path_for_job(path: &CStr) -> Result<()> {
    match fs::open_user_file(path) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        _ => begin_path(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    #[test]
    fn job_begin_accepts_a_missing_file_and_refuses_a_symlink() {
        let dir = std::env::temp_dir().join(format!("srwl-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = CString::new(dir.join("missing").to_str().unwrap()).unwrap();
        assert!(begin_path_for_job(&missing).is_ok());
        assert_eq!(begin_path(&missing).unwrap_err().status, Status::SRWL_EIO);
        let file = dir.join("data");
        std::fs::write(&file, b"42\n").unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let file_c = CString::new(file.to_str().unwrap()).unwrap();
        let link_c = CString::new(link.to_str().unwrap()).unwrap();
        assert!(begin_path_for_job(&file_c).is_ok());
        assert!(end_path(&file_c).is_ok());
        let err = begin_path_for_job(&link_c).unwrap_err();
        assert_eq!(err.status, Status::SRWL_EUNSAFE, "{}", err.message);
        assert!(err.message.contains("link"), "{}", err.message);
        assert_eq!(std::fs::read(&file).unwrap(), b"42\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
