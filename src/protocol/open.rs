//! Opening a lock: the sidecar directory and its queue, checked before use (owner, type,
//! mode), and the initialisation election that creates the baton exactly once.

use std::ffi::CStr;
use std::sync::Arc;
use std::time::Duration;

use super::baton::BatonState;
use super::eviction::Evictor;
use super::layout::{Sidecar, INIT, QUEUE, ROOM};
use super::room::Templates;
use super::waiting::Waker;
use super::{errno, fs_error, Disk, Params, Scratch};
use crate::fs::{self, describe, Dir, Kind};
use crate::record::{transit_name, Baton, Role, Token};
use crate::status::{Error, Result, Status};

impl Disk {
    /// Creates (if needed) and opens the sidecar directory `<base>.srwl` in `parent`, refusing a
    /// symlink, a non-directory or a directory owned by another user; initialises the lock
    /// (creates the baton) if no one has.
    pub fn open(parent: &Dir, sidecar: &Sidecar, params: Arc<Params>) -> Result<Disk> {
        let display = sidecar.display.clone();
        let euid = fs::geteuid();
        let (side, side_dev) = open_sidecar(parent, sidecar.name.as_c_str(), &display, euid)?;
        let queue = open_queue(&side, &display, euid)?;
        check_room(&side, &display, euid)?;
        let mut disk = Disk {
            side: Arc::new(side),
            side_dev,
            queue,
            room: None,
            display,
            lock_path: sidecar.lock_display.clone(),
            params,
            scratch: Scratch::new(),
            templates: Templates::default(),
            shares: Default::default(),
            baton: BatonState::new(),
            evictor: Evictor::new(),
            waker: Waker::default(),
        };
        disk.initialise()?;
        disk.tidy_templates();
        // What every first acquire needs, made now: a job's ranks open their handles early and
        // acquire all at once.
        disk.open_share();
        crate::liveness::this_process();
        crate::heartbeat::start(disk.side_dev, disk.params.heartbeat());
        Ok(disk)
    }

    /// Creates the baton if this lock has never had one. `link(t.<me>, init)` elects exactly
    /// one creator, ever (`init` is never removed); the elected process then moves its file
    /// into the room as `baton.0`. A creator that dies in between leaves the baton at
    /// `t.<token>`, where waiters find it (`recover_orphan_baton`).
    pub(super) fn initialise(&mut self) -> Result<()> {
        match self.side.stat(INIT) {
            Ok(st) if st.kind == Kind::File => return Ok(()),
            Ok(_) => {
                return Err(Error::new(
                    Status::SRWL_EUNSAFE,
                    format!(
                        "open {}: not a regular file (a symlink, directory or FIFO is there); refusing to use it",
                        self.path(b"init")
                    ),
                ))
            }
            Err(e) if errno(&e) == libc::ENOENT => {}
            Err(e) => return Err(fs_error("stat", &self.path(b"init"), &e)),
        }
        let me = Token::random();
        let tmp = transit_name(&me);
        let rec = self.record(Role::Write, me);
        rec.encode(&mut self.scratch.read_buf);
        self.side
            .create_excl(tmp.as_cstr(), &self.scratch.read_buf)
            .map_err(|e| fs_error("create", &self.path(tmp.as_bytes()), &e))?;
        if let Err(e) = self.side.link(tmp.as_cstr(), INIT) {
            // The link may have happened and still report an error (EEXIST from a retransmitted
            // NFS request that missed the server's duplicate-request cache, or sshfs's EPERM
            // turned into EEXIST by fs.rs; EIO or ETIMEDOUT on a soft mount): then t.<me> is
            // the baton's only other name and must not be removed. `init` holding our own
            // record's bytes (random token) is our link; compared by content, not inode: sshfs
            // invents inode numbers.
            let ours = std::mem::take(&mut self.scratch.read_buf);
            let mut found = Vec::new();
            let init = self.side.read_small(INIT, &mut found);
            self.scratch.read_buf = ours;
            match init {
                // Elected after all.
                Ok(()) if found == self.scratch.read_buf => {}
                // Another process's init (a regular file, or read_small would refuse it).
                Ok(()) => {
                    let _ = self.side.unlink(tmp.as_cstr());
                    return Ok(());
                }
                // No init, and a refusal that cannot have linked anything (a filesystem
                // without hard links): t.<me> is nobody's baton.
                Err(ie)
                    if errno(&ie) == libc::ENOENT
                        && matches!(
                            errno(&e),
                            libc::EPERM | libc::EOPNOTSUPP | libc::ENOSYS | libc::EMLINK
                        ) =>
                {
                    let _ = self.side.unlink(tmp.as_cstr());
                    return Err(fs_error(
                        "link (hard links are needed once, to initialise the lock)",
                        &self.path(b"init"),
                        &e,
                    ));
                }
                // Cannot tell: leave t.<me>. If it is the baton, waiters take it over
                // (`recover_orphan_baton`); if not, the same scan removes it as a dead
                // loser's file.
                Err(_) => {
                    return Err(fs_error(
                        "link (hard links are needed once, to initialise the lock)",
                        &self.path(b"init"),
                        &e,
                    ))
                }
            }
        }
        let mut tries = 0;
        loop {
            let r = self.open_room(true).and_then(|room| {
                self.side
                    .rename(tmp.as_cstr(), &room, Baton::resting_name(0).as_cstr())
                    .map_err(|e| fs_error("rename", &self.path(tmp.as_bytes()), &e))
            });
            match r {
                Ok(()) => {
                    self.baton.gen_guess = Some(0);
                    return Ok(());
                }
                Err(e) if tries < 50 && (e.transient || e.status == Status::SRWL_EIO) => {
                    tries += 1;
                    self.drop_room();
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// `<sidecar>/<name>`, for messages.
fn sub_path(display: &str, name: &CStr) -> String {
    format!("{display}/{}", name.to_string_lossy())
}

/// Makes (if needed) and opens the sidecar `side_name` in `parent`: a directory of ours, mode
/// 0700 (set if it is not). Returns it with its filesystem (`st_dev`).
fn open_sidecar(parent: &Dir, side_name: &CStr, display: &str, euid: u32) -> Result<(Dir, u64)> {
    match parent.mkdir(side_name) {
        Ok(()) => {}
        Err(e) if errno(&e) == libc::EEXIST => {}
        Err(e) => return Err(fs_error("mkdir", display, &e)),
    }
    let side = parent.open_dir(side_name).map_err(|e| {
        let mut err = fs_error("open sidecar directory", display, &e);
        // Absent right after our mkdir said it exists: another client made it a moment
        // ago and this client has not caught up (GlusterFS); srwl_open tries again.
        err.transient |= errno(&e) == libc::ENOENT;
        if let Ok(st) = parent.stat(side_name) {
            let what = match st.kind {
                Kind::Symlink => "it is a symlink; refusing to follow it",
                Kind::Dir => "",
                _ => "it is not a directory",
            };
            if !what.is_empty() {
                err = Error::new(
                    Status::SRWL_EUNSAFE,
                    format!("open sidecar directory {display}: {}: {what}", describe(&e)),
                );
            }
        }
        err
    })?;
    let st = side.fstat().map_err(|e| fs_error("fstat", display, &e))?;
    if st.uid != euid {
        return Err(Error::new(
            Status::SRWL_EUNSAFE,
            format!(
                "open {display}: owned by uid {}, not by this process's uid {euid}; refusing to use it",
                st.uid
            ),
        ));
    }
    if st.mode & 0o777 != 0o700 {
        side.chmod_0700()
            .map_err(|e| fs_error("chmod 0700", display, &e))?;
    }
    Ok((side, st.dev))
}

/// Makes (if needed) and opens the queue `Q`: a directory of ours.
fn open_queue(side: &Dir, display: &str, euid: u32) -> Result<Dir> {
    let path = sub_path(display, QUEUE);
    match side.mkdir(QUEUE) {
        Ok(()) => {}
        Err(e) if errno(&e) == libc::EEXIST => {}
        Err(e) => return Err(fs_error("mkdir", &path, &e)),
    }
    let queue = side.open_dir(QUEUE).map_err(|e| {
        let mut err = fs_error("open", &path, &e);
        // As for the sidecar: Q is never removed, so ENOENT after mkdir is a cache
        // that has not caught up (GlusterFS); srwl_open tries again.
        err.transient |= errno(&e) == libc::ENOENT;
        err
    })?;
    let st = queue.fstat().map_err(|e| fs_error("fstat", &path, &e))?;
    if st.uid != euid {
        return Err(Error::new(
            Status::SRWL_EUNSAFE,
            format!("open {path}: owned by uid {}, not {euid}", st.uid),
        ));
    }
    Ok(queue)
}

/// The room may be absent (a writer holds the lock); a symlink or a file there, or a room of
/// another user, is refused.
fn check_room(side: &Dir, display: &str, euid: u32) -> Result<()> {
    let path = sub_path(display, ROOM);
    match side.stat(ROOM) {
        Ok(st) if st.kind != Kind::Dir => Err(Error::new(
            Status::SRWL_EUNSAFE,
            format!(
                "open {path}: not a directory (a {}); refusing to use it",
                if st.kind == Kind::Symlink {
                    "symlink"
                } else {
                    "file"
                }
            ),
        )),
        Ok(st) if st.uid != euid => Err(Error::new(
            Status::SRWL_EUNSAFE,
            format!("open {path}: owned by uid {}, not {euid}", st.uid),
        )),
        _ => Ok(()),
    }
}
