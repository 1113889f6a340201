//! The filesystem layer: every raw syscall the library makes lives here.
//!
//! Everything works relative to directory handles (openat and friends), never by re-resolving
//! a path; every open carries O_NOFOLLOW (a planted symlink is refused, never followed),
//! O_CLOEXEC, and O_NONBLOCK where a FIFO could be planted. Files are created 0600 and
//! directories 0700.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::inject;

/// Largest number of bytes read from any file: records are far smaller.
pub const READ_CAP: usize = 512;

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Runs a syscall again while it fails with EINTR (a signal handler without SA_RESTART in the
/// application). Safe for every call here: the protocol already treats a repeated call whose
/// first attempt happened (EEXIST of our own unique name, ENOENT of a rename source followed by a
/// stat of its unique target, an absent record confirmed over time).
fn retry_eintr<F: FnMut() -> libc::c_int>(mut f: F) -> io::Result<libc::c_int> {
    loop {
        match cvt(f()) {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            other => return other,
        }
    }
}

/// A NUL-terminated name built in place (no heap allocation on the hot path).
#[derive(Clone, Copy)]
pub struct Name {
    buf: [u8; 112],
    len: usize,
}

impl Name {
    pub fn new() -> Name {
        Name {
            buf: [0; 112],
            len: 0,
        }
    }

    pub fn from_bytes(parts: &[&[u8]]) -> Name {
        let mut n = Name::new();
        for p in parts {
            n.push(p);
        }
        n
    }

    pub fn push(&mut self, bytes: &[u8]) -> &mut Self {
        assert!(self.len + bytes.len() < self.buf.len(), "name too long");
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        self.buf[self.len] = 0;
        self
    }

    pub fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).expect("name has no interior NUL")
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn display(&self) -> String {
        String::from_utf8_lossy(self.as_bytes()).into_owned()
    }
}

impl Default for Name {
    fn default() -> Self {
        Name::new()
    }
}

/// A directory handle.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    /// List by opening the directory afresh instead of rewinding this handle: on sshfs a
    /// handle rewound with lseek(fd, 0) lists nothing once the directory has changed since
    /// the last listing (the kernel's cached listing is dropped, and sshfs's own read of the
    /// directory is at its end). Inherited by directories opened through this one.
    reopen_to_list: bool,
    /// What the client may cache of a name in this directory that another client replaced
    /// (fstype.rs decides). Inherited.
    name_cache: NameCache,
}

/// What a client may remember of a name that another client replaced, and how the room's
/// name is asked about afresh (see `Disk::room`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameCache {
    /// A cached "no such name" (an NFS client, up to acdirmax): a waiting reader asks the
    /// server with a mkdir, at most once a second (`room_absence_is_cached`).
    Absence,
    /// A directory's name resolved to the directory that another client removed, for the
    /// kernel's entry timeout (MooseFS: mfsdirentrycacheto, 1 s): every open of the room by
    /// name first refreshes the name (`refresh_name`). A mkdir probe here would make a room
    /// that the other clients' caches then resolve wrongly.
    Directories,
}

impl AsRawFd for Dir {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Type of an object as seen by lstat (no symlink followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

pub struct Stat {
    pub kind: Kind,
    pub uid: u32,
    pub mode: u32,
    pub dev: u64,
    pub ino: u64,
    /// Modification time, seconds since the epoch by the file server's clock.
    pub mtime: f64,
    /// Size, mtime and ctime (s, ns): any write (a heartbeat) changes them.
    pub stamp: [i64; 5],
}

fn stat_of(st: &libc::stat) -> Stat {
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => Kind::File,
        libc::S_IFDIR => Kind::Dir,
        libc::S_IFLNK => Kind::Symlink,
        _ => Kind::Other,
    };
    Stat {
        kind,
        uid: st.st_uid,
        mode: st.st_mode & 0o7777,
        dev: st.st_dev,
        ino: st.st_ino,
        mtime: st.st_mtime as f64 + st.st_mtime_nsec as f64 * 1e-9,
        stamp: [
            st.st_size,
            st.st_mtime,
            st.st_mtime_nsec,
            st.st_ctime,
            st.st_ctime_nsec,
        ],
    }
}

/// What `Dir::look` found in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// Its bytes.
    Bytes,
    /// A regular file whose bytes could not be read: a stamp of its metadata instead.
    Stamp,
}

/// Errors that say what an entry is, not that the file server had a moment: not a regular
/// file (EINVAL from `read_small`), a symlink (ELOOP), a FIFO without writer (ENXIO), a directory.
fn is_type_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ELOOP | libc::ENXIO | libc::EISDIR)
    )
}

impl Dir {
    /// Opens a directory by a path that may traverse symlinks (the caller's own parent
    /// directory path): used once, to find the directory that holds the lock path.
    pub fn open_path(path: &CStr) -> io::Result<Dir> {
        let fd = retry_eintr(|| unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        })?;
        Ok(Dir {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            reopen_to_list: false,
            name_cache: NameCache::Absence,
        })
    }

    /// Opens the directory `name` inside this one; a symlink there is refused (ELOOP or ENOTDIR).
    pub fn open_dir(&self, name: &CStr) -> io::Result<Dir> {
        inject::point();
        let fd = retry_eintr(|| unsafe {
            libc::openat(
                self.as_raw_fd(),
                name.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })?;
        Ok(Dir {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            reopen_to_list: self.reopen_to_list,
            name_cache: self.name_cache,
        })
    }

    /// Makes every later listing through this handle, and through the directories opened
    /// through it, open the directory afresh instead of rewinding the kept handle (see
    /// `reopen_to_list`; fstype.rs decides where).
    pub fn list_by_reopening(&mut self) {
        self.reopen_to_list = true;
    }

    /// Whether listings reopen the directory: a FUSE filesystem such as sshfs (fstype.rs).
    pub fn reopens_to_list(&self) -> bool {
        self.reopen_to_list
    }

    /// Sets what the client may cache of replaced names, for this handle and those opened
    /// through it (fstype.rs).
    pub fn set_name_cache(&mut self, cache: NameCache) {
        self.name_cache = cache;
    }

    pub fn name_cache(&self) -> NameCache {
        self.name_cache
    }

    /// Makes the kernel ask the file server what `name` is now, changing nothing: a rename of
    /// the name onto itself with RENAME_NOREPLACE looks the target up afresh (the kernel
    /// revalidates a rename's target even within its entry timeout) and, the name existing,
    /// fails with EEXIST before any request to rename is sent. Absent, nothing is renamed
    /// either (ENOENT; a FUSE daemon without RENAME_NOREPLACE refuses it with EINVAL). The
    /// result says nothing the caller needs: it is ignored.
    pub fn refresh_name(&self, name: &CStr) {
        inject::point();
        let _ = retry_eintr(|| unsafe {
            libc::renameat2(
                self.as_raw_fd(),
                name.as_ptr(),
                self.as_raw_fd(),
                name.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        });
    }

    pub fn mkdir(&self, name: &CStr) -> io::Result<()> {
        inject::point();
        let r = retry_eintr(|| unsafe { libc::mkdirat(self.as_raw_fd(), name.as_ptr(), 0o700) })
            .map(|_| ());
        self.eexist_if_there(r, name)
    }

    /// sshfs reports the loser of a racing exclusive create, mkdir or link with EPERM, not
    /// EEXIST (SFTP version 3 has no "exists" status, only a generic failure): an EPERM is
    /// turned into EEXIST when the name exists now, so that callers that handle EEXIST do the
    /// right thing. A name that is not there leaves the EPERM as it was.
    fn eexist_if_there<T>(&self, r: io::Result<T>, name: &CStr) -> io::Result<T> {
        match r {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) && self.stat(name).is_ok() => {
                Err(io::Error::from_raw_os_error(libc::EEXIST))
            }
            r => r,
        }
    }

    /// openat(2) of a file in this directory with `flags`, always adding O_NOFOLLOW (a symlink
    /// is refused), O_NONBLOCK (a planted FIFO cannot block us) and O_CLOEXEC; mode 0600 if
    /// it creates.
    fn open_file(&self, name: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
        let fd = retry_eintr(|| unsafe {
            libc::openat(
                self.as_raw_fd(),
                name.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
                0o600 as libc::c_uint,
            )
        })?;
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Opens (creating it 0600 if absent) a file of ours in this directory for reading and
    /// writing: the host share's local file (protocol/share.rs). Refused unless it is a
    /// regular file owned by `uid` (EPERM), a symlink is refused (ELOOP).
    pub fn open_local_rw(&self, name: &CStr, uid: u32) -> io::Result<OwnedFd> {
        let fd = self.open_file(name, libc::O_RDWR | libc::O_CREAT)?;
        let st = fstat(fd.as_raw_fd())?;
        if st.kind != Kind::File || st.uid != uid {
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
        Ok(fd)
    }

    /// Makes an empty 0600 regular file `name` (mknodat: no descriptor); EEXIST if the name
    /// exists. The host share's entry markers.
    pub fn make_empty(&self, name: &CStr) -> io::Result<()> {
        retry_eintr(|| unsafe {
            libc::mknodat(self.as_raw_fd(), name.as_ptr(), libc::S_IFREG | 0o600, 0)
        })
        .map(|_| ())
    }

    /// Exclusive create of a 0600 file holding `data`. EEXIST if the name exists (of any type).
    /// If the write fails the file is removed again.
    pub fn create_excl(&self, name: &CStr, data: &[u8]) -> io::Result<()> {
        inject::point();
        let fd = self.eexist_if_there(
            self.open_file(name, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL),
            name,
        )?;
        if let Err(e) = write_all_at(fd.as_raw_fd(), data) {
            drop(fd);
            let _ = self.unlink(name);
            return Err(e);
        }
        Ok(())
    }

    /// linkat(2) of `from` in this directory to `to` in `to_dir` (never following a symlink):
    /// fails with EEXIST if `to` exists. One atomic operation makes a reader record.
    pub fn link_into(&self, from: &CStr, to_dir: &Dir, to: &CStr) -> io::Result<()> {
        inject::point();
        let r = retry_eintr(|| unsafe {
            libc::linkat(
                self.as_raw_fd(),
                from.as_ptr(),
                to_dir.as_raw_fd(),
                to.as_ptr(),
                0,
            )
        })
        .map(|_| ());
        to_dir.eexist_if_there(r, to)
    }

    /// Rewrites an existing regular file in place (same length records: no truncate needed).
    /// ENOENT if it is gone; EINVAL if it is not a regular file.
    pub fn rewrite(&self, name: &CStr, data: &[u8]) -> io::Result<()> {
        inject::point();
        let fd = self.open_file(name, libc::O_WRONLY)?;
        let st = fstat(fd.as_raw_fd())?;
        if st.kind != Kind::File {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        write_all_at(fd.as_raw_fd(), data)
    }

    /// `rewrite`, publishing the descriptor in `open_fd` while it is open (-1 otherwise), so
    /// that a child of `fork` made meanwhile can close its copy (heartbeat.rs).
    pub fn rewrite_tracked(
        &self,
        name: &CStr,
        data: &[u8],
        open_fd: &std::sync::atomic::AtomicI32,
    ) -> io::Result<()> {
        use std::sync::atomic::Ordering;
        inject::point();
        let fd = self.open_file(name, libc::O_WRONLY)?;
        open_fd.store(fd.as_raw_fd(), Ordering::SeqCst);
        let result = fstat(fd.as_raw_fd()).and_then(|st| {
            if st.kind != Kind::File {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            write_all_at(fd.as_raw_fd(), data)
        });
        open_fd.store(-1, Ordering::SeqCst);
        drop(fd);
        result
    }

    /// Replaces the content of an existing file (no create): used once per write grant, on
    /// the baton just taken, whose previous content may be longer. Written in place, then cut
    /// to length unless the caller knows the old content had this length (`cut` false). Never
    /// truncated to zero first: on ext4 a file truncated to zero and rewritten is flushed at
    /// close (auto_da_alloc), which tripled the cost of a write cycle. A symlink is refused
    /// (ELOOP), a FIFO without reader fails (ENXIO), a directory fails (EISDIR).
    pub fn overwrite(&self, name: &CStr, data: &[u8], cut: bool) -> io::Result<()> {
        inject::point();
        let fd = self.open_file(name, libc::O_WRONLY)?;
        write_all_at(fd.as_raw_fd(), data)?;
        if cut {
            retry_eintr(|| unsafe { libc::ftruncate(fd.as_raw_fd(), data.len() as libc::off_t) })?;
        }
        Ok(())
    }

    /// link(2) of `from` to `to`, both in this directory (never following a symlink): fails
    /// with EEXIST if `to` exists. Used once per lock, to elect the process that creates the
    /// baton.
    pub fn link(&self, from: &CStr, to: &CStr) -> io::Result<()> {
        inject::point();
        let r = retry_eintr(|| unsafe {
            libc::linkat(
                self.as_raw_fd(),
                from.as_ptr(),
                self.as_raw_fd(),
                to.as_ptr(),
                0,
            )
        })
        .map(|_| ());
        self.eexist_if_there(r, to)
    }

    /// Reads at most READ_CAP + 1 bytes of a regular file (so an oversized file shows as such).
    /// A non-regular file is reported as EINVAL, never read (a FIFO would block).
    pub fn read_small(&self, name: &CStr, out: &mut Vec<u8>) -> io::Result<()> {
        inject::point();
        out.clear();
        let fd = self.open_file(name, libc::O_RDONLY)?;
        if fstat(fd.as_raw_fd())?.kind != Kind::File {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        drop_cached_pages(fd.as_raw_fd());
        let mut buf = [0u8; READ_CAP + 1];
        let got = pread_upto(fd.as_raw_fd(), &mut buf)?;
        out.extend_from_slice(&buf[..got]);
        Ok(())
    }

    /// Looks at a file for an observer: its bytes as `read_small` reads them, or, for a regular
    /// file whose bytes cannot be read (EIO from a split-brain, a soft-mount timeout, EMFILE),
    /// a stamp of its metadata in `out` (inode, size, mtime, ctime): from `fstat` of the
    /// descriptor just opened (an open revalidates attributes on NFS), or from `fstatat` if
    /// the open failed. A live holder's heartbeat changes the stamp as it changes the bytes.
    /// Errors: ENOENT/ESTALE (gone), a type error (not a regular file: EINVAL, ELOOP, ENXIO,
    /// EISDIR), or any error when not even the metadata could be had.
    pub fn look(&self, name: &CStr, out: &mut Vec<u8>) -> io::Result<Look> {
        inject::point();
        out.clear();
        let (st, read) = match self.open_file(name, libc::O_RDONLY) {
            Ok(fd) => {
                let st = fstat(fd.as_raw_fd())?;
                if st.kind != Kind::File {
                    return Err(io::Error::from_raw_os_error(libc::EINVAL));
                }
                drop_cached_pages(fd.as_raw_fd());
                let mut buf = [0u8; READ_CAP + 1];
                let read = pread_upto(fd.as_raw_fd(), &mut buf).map(|got| {
                    out.extend_from_slice(&buf[..got]);
                });
                (st, read)
            }
            Err(e) if is_type_error(&e) => return Err(e),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESTALE)) => {
                return Err(e)
            }
            Err(e) => match self.stat(name) {
                Ok(st) if st.kind == Kind::File => (st, Err(e)),
                Ok(_) => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
                Err(_) => return Err(e),
            },
        };
        match read {
            Ok(()) => Ok(Look::Bytes),
            Err(_) => {
                out.clear();
                out.extend_from_slice(format!("\0stamp {} {:?}", st.ino, st.stamp).as_bytes());
                Ok(Look::Stamp)
            }
        }
    }

    pub fn unlink(&self, name: &CStr) -> io::Result<()> {
        inject::point();
        retry_eintr(|| unsafe { libc::unlinkat(self.as_raw_fd(), name.as_ptr(), 0) }).map(|_| ())
    }

    pub fn rmdir(&self, name: &CStr) -> io::Result<()> {
        inject::point();
        retry_eintr(|| unsafe {
            libc::unlinkat(self.as_raw_fd(), name.as_ptr(), libc::AT_REMOVEDIR)
        })
        .map(|_| ())
    }

    /// rename(2) between two names relative to two directory handles. Used only on regular
    /// files (the baton): of two renames of the same source, one fails with ENOENT.
    pub fn rename(&self, from: &CStr, to_dir: &Dir, to: &CStr) -> io::Result<()> {
        inject::point();
        retry_eintr(|| unsafe {
            libc::renameat(
                self.as_raw_fd(),
                from.as_ptr(),
                to_dir.as_raw_fd(),
                to.as_ptr(),
            )
        })
        .map(|_| ())
    }

    /// lstat of a name in this directory (no symlink followed).
    pub fn stat(&self, name: &CStr) -> io::Result<Stat> {
        inject::point();
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        retry_eintr(|| unsafe {
            libc::fstatat(
                self.as_raw_fd(),
                name.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })?;
        Ok(stat_of(&st))
    }

    pub fn fstat(&self) -> io::Result<Stat> {
        fstat(self.as_raw_fd())
    }

    pub fn chmod_0700(&self) -> io::Result<()> {
        retry_eintr(|| unsafe { libc::fchmod(self.as_raw_fd(), 0o700) }).map(|_| ())
    }

    /// Lists the directory from its start, calling `f(name, kind_hint)` for each entry other
    /// than "." and "..", reading until getdents64 returns 0: a short batch is not the end
    /// (through GlusterFS a batch holds at most 33 entries whatever the buffer size). Callers
    /// that must see every entry (eviction scans, tidy-ups) use this; a caller that needs only
    /// positive evidence, such as the reader's grant (its own record and the baton), stops
    /// early with `list_until`. `buf` is the caller's reusable buffer. A listing is a hint: it
    /// may be stale on a network filesystem.
    pub fn list(&self, buf: &mut Vec<u8>, mut f: impl FnMut(&[u8])) -> io::Result<()> {
        self.list_typed(buf, |name, _| f(name))
    }

    /// Like `list`, also passing whether the entry may be a regular file (its d_type is
    /// DT_REG, or DT_UNKNOWN where the filesystem does not say).
    pub fn list_typed(&self, buf: &mut Vec<u8>, f: impl FnMut(&[u8], bool)) -> io::Result<()> {
        self.list_until(buf, f, |_| false)
    }

    /// Like `list_typed`, but after each getdents64 batch asks `enough(entries in the batch)`
    /// and stops early if it says so: for a caller that already has what it looks for (a
    /// positive answer), or a hint that may be partial.
    pub fn list_until(
        &self,
        buf: &mut Vec<u8>,
        mut f: impl FnMut(&[u8], bool),
        mut enough: impl FnMut(usize) -> bool,
    ) -> io::Result<()> {
        inject::point();
        if buf.len() < 8192 {
            buf.resize(8192, 0);
        }
        // A fresh handle where rewinding a kept one may list nothing (sshfs).
        let fresh = match self.reopen_to_list {
            true => Some(self.open_dir(c".")?),
            false => None,
        };
        let fd = fresh.as_ref().map_or(self.as_raw_fd(), |d| d.as_raw_fd());
        if fresh.is_none() {
            // lseek returns off_t; only its sign matters here.
            retry_eintr(|| unsafe { libc::lseek(fd, 0, libc::SEEK_SET) }.signum() as libc::c_int)?;
        }
        loop {
            let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                return Ok(());
            }
            let n = n as usize;
            let mut off = 0;
            let mut in_batch = 0;
            // struct linux_dirent64 { u64 ino; i64 off; u16 reclen; u8 type; char name[]; }
            while off + 19 <= n {
                let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
                if reclen < 19 || off + reclen > n {
                    return Err(io::Error::from_raw_os_error(libc::EIO));
                }
                let name_area = &buf[off + 19..off + reclen];
                let name_len = name_area
                    .iter()
                    .position(|&b| b == 0)
                    .unwrap_or(name_area.len());
                let name = &name_area[..name_len];
                let d_type = buf[off + 18];
                if name != b"." && name != b".." {
                    f(name, d_type == libc::DT_REG || d_type == libc::DT_UNKNOWN);
                }
                in_batch += 1;
                off += reclen;
            }
            if enough(in_batch) {
                return Ok(());
            }
        }
    }
}

pub fn fstat(fd: RawFd) -> io::Result<Stat> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    retry_eintr(|| unsafe { libc::fstat(fd, &mut st) })?;
    Ok(stat_of(&st))
}

/// Drops the client's cached pages of a file so that the next read asks the file server.
/// Network filesystem clients (GlusterFS, measured) may serve a file that another client
/// rewrote in place from their page cache for seconds; a record or counter read must not be.
pub fn drop_cached_pages(fd: RawFd) {
    unsafe { libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED) };
}

/// posix_fadvise(DONTNEED) over the whole file, with its error (for a user's descriptor).
pub fn advise_dontneed(fd: RawFd) -> io::Result<()> {
    match unsafe { libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED) } {
        0 => Ok(()),
        code => Err(io::Error::from_raw_os_error(code)),
    }
}

/// statx(2) with AT_STATX_FORCE_SYNC: asks the file server for the file's attributes instead
/// of trusting the client's attribute cache (a size cached before another client grew the
/// file cuts reads short; NFS also drops its cached pages when the change attribute moved).
pub fn refresh_attributes(fd: RawFd) -> io::Result<()> {
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    retry_eintr(|| unsafe {
        libc::statx(
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_STATX_FORCE_SYNC,
            libc::STATX_TYPE | libc::STATX_SIZE | libc::STATX_MTIME,
            &mut stx,
        )
    })
    .map(|_| ())
}

/// fsync(2): the file's data and metadata reach the file server before it returns.
pub fn fsync(fd: RawFd) -> io::Result<()> {
    retry_eintr(|| unsafe { libc::fsync(fd) }).map(|_| ())
}

/// Opens a user's file by path, read-only, for the data helpers (fsync and fadvise act on the
/// file, whatever descriptor they come through). The last component must not be a symlink
/// (ELOOP); O_NONBLOCK so that a FIFO planted there cannot block the open.
pub fn open_user_file(path: &CStr) -> io::Result<OwnedFd> {
    let fd = retry_eintr(|| unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// pwrite all of `data` at offset 0. ESPIPE on a FIFO.
pub fn write_all_at(fd: RawFd, data: &[u8]) -> io::Result<()> {
    write_at(fd, data, 0)
}

/// pwrite all of `data` at `offset`.
pub fn write_at(fd: RawFd, data: &[u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < data.len() {
        let n = unsafe {
            libc::pwrite(
                fd,
                data[done..].as_ptr().cast(),
                data.len() - done,
                (offset + done as u64) as libc::off_t,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        done += n as usize;
    }
    Ok(())
}

/// A byte-range lock of an open file description (Linux OFD locks: they belong to the
/// description, not the process, so threads and handles of one process are separate owners,
/// and closing any other descriptor of the file leaves them alone; they go when the
/// description's last descriptor is closed, as at a process's death).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeLock {
    Shared,
    Exclusive,
    Unlock,
}

/// F_OFD_SETLK of `kind` on `len` bytes at `start` (0: to the end of any file), never
/// waiting: false if another description holds a conflicting lock.
fn set_lock(fd: RawFd, kind: RangeLock, start: u64, len: u64) -> io::Result<bool> {
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = match kind {
        RangeLock::Shared => libc::F_RDLCK,
        RangeLock::Exclusive => libc::F_WRLCK,
        RangeLock::Unlock => libc::F_UNLCK,
    } as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = start as libc::off_t;
    fl.l_len = len as libc::off_t;
    match retry_eintr(|| unsafe { libc::fcntl(fd, libc::F_OFD_SETLK, &fl) }) {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Sets `kind` on the one byte at `offset`. Converting our own shared lock to exclusive is
/// atomic: it fails, keeping the shared lock, while anyone else holds one.
pub fn lock_byte(fd: RawFd, kind: RangeLock, offset: u64) -> io::Result<bool> {
    set_lock(fd, kind, offset, 1)
}

/// An exclusive lock of the whole file: false if any other description holds any lock in it.
pub fn lock_whole(fd: RawFd) -> io::Result<bool> {
    set_lock(fd, RangeLock::Exclusive, 0, 0)
}

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

/// A 32-bit word in the first page of a small local file, mapped shared, that processes wait
/// on with a futex and bump to wake each other (the host share's door), and beside it the
/// number of processes waiting, so that a bump with no one waiting makes no syscall. Waiting
/// this way costs no CPU, is bounded by a timeout, and needs no inotify instance (128 per user
/// by default: a crowd of thousands would run out). A waiter killed while waiting leaves the
/// count high: later bumps then make one futex call each, nothing worse.
pub struct SharedWord {
    page: *mut u8,
    offset: usize,
}

// The mapping is plain shared memory, used only through atomics.
unsafe impl Send for SharedWord {}

const PAGE: usize = 4096;

impl SharedWord {
    /// Maps the first page of `fd` (growing the file to a page first: a mapping beyond its
    /// end would fault) and names the word at `offset` (a multiple of 4, below a page; the
    /// count of waiters is the word before it).
    pub fn map(fd: RawFd, offset: usize) -> io::Result<SharedWord> {
        assert!(offset % 4 == 0 && (4..=PAGE - 4).contains(&offset));
        if fstat(fd)?.stamp[0] < PAGE as i64 {
            retry_eintr(|| unsafe { libc::ftruncate(fd, PAGE as libc::off_t) })?;
        }
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if page == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(SharedWord {
            page: page.cast(),
            offset,
        })
    }

    fn at(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: inside the mapped page, aligned (offset % 4 == 0), alive as long as self.
        unsafe { &*self.page.add(offset).cast::<AtomicU32>() }
    }

    fn word(&self) -> &AtomicU32 {
        self.at(self.offset)
    }

    fn waiting(&self) -> &AtomicU32 {
        self.at(self.offset - 4)
    }

    pub fn load(&self) -> u32 {
        self.word().load(SeqCst)
    }

    /// Counts this process among the waiters: before it first reads the word it may wait on.
    pub fn start_waiting(&self) {
        self.waiting().fetch_add(1, SeqCst);
    }

    /// Whether another process than ours is counted among the waiters (we are).
    pub fn others_waiting(&self) -> bool {
        self.waiting().load(SeqCst) > 1
    }

    pub fn done_waiting(&self) {
        self.waiting().fetch_sub(1, SeqCst);
    }

    /// Changes the word and wakes every process waiting on it. A waiter counted itself before
    /// it read the word: if it read the old value it is counted here (and woken); if the new
    /// one, its wait returns at once. With no one counted, no syscall.
    pub fn bump(&self) {
        self.word().fetch_add(1, SeqCst);
        if self.waiting().load(SeqCst) == 0 {
            return;
        }
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word().as_ptr(),
                libc::FUTEX_WAKE,
                i32::MAX,
                std::ptr::null::<libc::timespec>(),
            )
        };
    }

    /// Sleeps until the word is no longer `seen` (a bump), or `timeout` passes, or a signal.
    pub fn wait(&self, seen: u32, timeout: std::time::Duration) {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word().as_ptr(),
                libc::FUTEX_WAIT,
                seen,
                &ts as *const libc::timespec,
            )
        };
    }
}

impl Drop for SharedWord {
    fn drop(&mut self) {
        unsafe { libc::munmap(self.page.cast(), PAGE) };
    }
}

/// Whether no process with this pid exists in our pid namespace (kill(pid, 0) says ESRCH).
/// Used only to tidy up files whose loss costs their owner nothing (read-record templates).
pub fn process_gone(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    pid > 0
        && unsafe { libc::kill(pid, 0) } != 0
        && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// Reads from offset 0 until `buf` is full or the file ends; the number of bytes read.
pub fn pread_upto(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = unsafe {
            libc::pread(
                fd,
                buf[got..].as_mut_ptr().cast(),
                buf.len() - got,
                got as libc::off_t,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            break;
        }
        got += n as usize;
    }
    Ok(got)
}

/// Reads a small file of the kernel's (/proc, /sys): at most 4 KiB, by absolute path. These
/// paths are the kernel's, not the user's, but the last component is still never followed.
pub fn read_proc(path: &CStr) -> io::Result<Vec<u8>> {
    let fd = retry_eintr(|| unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    })?;
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut buf = vec![0u8; 4096];
    let got = pread_upto(fd.as_raw_fd(), &mut buf)?;
    buf.truncate(got);
    Ok(buf)
}

/// readlink(2) of a kernel path (/proc/self, /proc/self/ns/pid), at most 255 bytes.
pub fn read_link(path: &CStr) -> io::Result<Vec<u8>> {
    let mut buf = [0u8; 256];
    let n = unsafe { libc::readlink(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(buf[..n as usize].to_vec())
}

pub fn geteuid() -> u32 {
    unsafe { libc::geteuid() }
}

/// This process's pid, cached (it goes into records, for people; no decision uses it). The
/// cache is cleared in a child of fork (fork.rs).
pub fn getpid() -> u32 {
    match PID.load(std::sync::atomic::Ordering::Relaxed) {
        0 => {
            let pid = unsafe { libc::getpid() as u32 };
            PID.store(pid, std::sync::atomic::Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

static PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Forgets the cached pid (atfork child handler).
pub fn forget_pid() {
    PID.store(0, std::sync::atomic::Ordering::Relaxed);
}

/// Fills `buf` with random bytes from the kernel (getrandom(2)).
pub fn random_bytes(buf: &mut [u8]) {
    let mut done = 0;
    while done < buf.len() {
        let n = unsafe { libc::getrandom(buf[done..].as_mut_ptr().cast(), buf.len() - done, 0) };
        if n > 0 {
            done += n as usize;
        } else if n < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // getrandom cannot fail on Linux >= 3.17 with flags 0 except EINTR; be safe.
            use rand::RngCore;
            rand::thread_rng().fill_bytes(&mut buf[done..]);
            return;
        }
    }
}

/// Closes a descriptor this process inherited at fork from a thread it does not have (a child
/// of `fork` closing the record a hung heartbeat refresh had open).
pub fn close_inherited(fd: RawFd) {
    unsafe { libc::close(fd) };
}

/// A point on CLOCK_BOOTTIME, which counts the time a host spends suspended (CLOCK_MONOTONIC,
/// behind `Instant`, does not). For the stamps of our own writes ("too recent for anyone to have
/// judged them dead"): observers on other hosts kept counting while we were suspended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BootInstant(u64);

impl BootInstant {
    pub fn now() -> BootInstant {
        let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
        // Cannot fail for a valid clock id and pointer (Linux >= 2.6.39).
        unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
        BootInstant(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }

    pub fn elapsed(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(BootInstant::now().0.saturating_sub(self.0))
    }

    /// Nanoseconds since boot: how a stamp is shared between processes of one host.
    pub fn nanos(&self) -> u64 {
        self.0
    }

    pub fn from_nanos(ns: u64) -> BootInstant {
        BootInstant(ns)
    }
}

/// Describes an io::Error the way users read it: "ENOENT (No such file or directory)".
pub fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => format!("{} ({})", errno_name(code), strerror(code)),
        None => e.to_string(),
    }
}

fn strerror(code: i32) -> String {
    let s = unsafe { CStr::from_ptr(libc::strerror(code)) };
    s.to_string_lossy().into_owned()
}

fn errno_name(code: i32) -> &'static str {
    match code {
        libc::ENOENT => "ENOENT",
        libc::EEXIST => "EEXIST",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::ELOOP => "ELOOP",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::ESTALE => "ESTALE",
        libc::EIO => "EIO",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::EXDEV => "EXDEV",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::EDQUOT => "EDQUOT",
        libc::ESPIPE => "ESPIPE",
        libc::EAGAIN => "EAGAIN",
        libc::EBUSY => "EBUSY",
        libc::ENOTCONN => "ENOTCONN",
        libc::EBADF => "EBADF",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENOSYS => "ENOSYS",
        libc::EMLINK => "EMLINK",
        libc::EINTR => "EINTR",
        libc::ETIMEDOUT => "ETIMEDOUT",
        _ => "errno",
    }
}

/// Same-host wakeups: an inotify instance watching the lock's directories, so that a waiter
/// wakes as soon as a process on this host changes the queue or the room. Processes on other
/// hosts are not seen (the kernel only knows of changes made through this client); waiters
/// still poll for those.
pub struct Watch {
    fd: OwnedFd,
}

impl Watch {
    pub fn new() -> io::Result<Watch> {
        let fd = cvt(unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) })?;
        Ok(Watch {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Watches the directory behind a handle for names disappearing: only that unblocks a
    /// waiter (the baton leaving the queue for the room, a claim or ticket ahead gone, a reader
    /// leaving the room). A name appearing (a new claim, a baton taken) or a rewrite in place
    /// (a heartbeat) wakes no one. The handle is named through /proc/self/fd, so no path is
    /// resolved again.
    pub fn add(&self, dir: &Dir) -> io::Result<i32> {
        let path =
            std::ffi::CString::new(format!("/proc/self/fd/{}", dir.as_raw_fd())).expect("no NUL");
        let mask = libc::IN_DELETE | libc::IN_MOVED_FROM | libc::IN_DELETE_SELF | libc::IN_ONLYDIR;
        cvt(unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), path.as_ptr(), mask) })
    }

    /// Waits up to `timeout` for an event that `wakes(wd, name)` accepts (`wd`: the watch it
    /// came from, -1 for a queue overflow, which always wakes; `name`: the entry that left, empty
    /// for the directory itself); drains what is queued. Also returns, without reading them,
    /// as soon as one of `also` (interrupt descriptors) is readable.
    pub fn wait(
        &self,
        timeout: std::time::Duration,
        also: &[RawFd],
        mut wakes: impl FnMut(i32, &[u8]) -> bool,
    ) -> Woken {
        let deadline = std::time::Instant::now() + timeout;
        // struct inotify_event { i32 wd; u32 mask; u32 cookie; u32 len; char name[len]; }
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match poll_readable(Some(self.fd.as_raw_fd()), also, left) {
                Ready::Also => return Woken::Interrupt,
                Ready::First => {}
                Ready::Nothing if std::time::Instant::now() >= deadline => return Woken::Timeout,
                // A signal (EINTR): wait on.
                Ready::Nothing => continue,
            }
            let mut woken = false;
            loop {
                let n =
                    unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n <= 0 {
                    break;
                }
                let events = &buf[..n as usize];
                let mut at = 0;
                while at + 16 <= events.len() {
                    let field = |o: usize| {
                        u32::from_ne_bytes(events[at + o..at + o + 4].try_into().expect("4 bytes"))
                    };
                    let (wd, mask, len) = (field(0) as i32, field(4), field(12) as usize);
                    let name = events.get(at + 16..at + 16 + len).unwrap_or(&[]);
                    let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
                    woken |= mask & libc::IN_Q_OVERFLOW != 0 || wakes(wd, name);
                    at += 16 + len;
                }
            }
            if woken {
                return Woken::Change;
            }
            if std::time::Instant::now() >= deadline {
                return Woken::Timeout;
            }
        }
    }
}

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Woken {
    Change,
    Interrupt,
    Timeout,
}

/// Which descriptors poll_readable found readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ready {
    /// One of `also` (checked first: an interrupt wins over a change).
    Also,
    /// `first`.
    First,
    /// Neither, within the timeout (or a signal interrupted the poll).
    Nothing,
}

/// One poll (no retry on EINTR: the caller looks at its interrupt flag first) for `first`
/// and `also` to be readable (or hung up: an interrupt descriptor whose writer closed counts
/// as readable), up to `timeout`.
pub fn poll_readable(first: Option<RawFd>, also: &[RawFd], timeout: std::time::Duration) -> Ready {
    let mut pfds = [libc::pollfd {
        fd: -1,
        events: libc::POLLIN,
        revents: 0,
    }; 4];
    let n = 1 + also.len().min(3);
    pfds[0].fd = first.unwrap_or(-1);
    for (p, &fd) in pfds[1..n].iter_mut().zip(also) {
        p.fd = fd;
    }
    let ms = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), n as libc::nfds_t, ms) };
    if r <= 0 {
        return Ready::Nothing;
    }
    if pfds[1..n].iter().any(|p| p.revents != 0) {
        Ready::Also
    } else if pfds[0].revents != 0 {
        Ready::First
    } else {
        Ready::Nothing
    }
}

/// An eventfd that wakes a waiting thread: rung from any thread or a signal handler.
pub struct Doorbell {
    fd: OwnedFd,
}

impl Doorbell {
    pub fn new() -> io::Result<Doorbell> {
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        Ok(Doorbell {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Gives up ownership: the descriptor stays open until `close_raw`.
    pub fn into_raw(self) -> RawFd {
        use std::os::fd::IntoRawFd;
        self.fd.into_raw_fd()
    }
}

/// Rings the eventfd `fd`: async-signal-safe (one write; a full counter is already ringing).
pub fn ring_raw(fd: RawFd) {
    let one: u64 = 1;
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

/// Resets the eventfd `fd` (non-blocking: does nothing if it is not ringing).
pub fn silence_raw(fd: RawFd) {
    let mut n: u64 = 0;
    unsafe { libc::read(fd, (&mut n as *mut u64).cast(), 8) };
}

/// Closes a descriptor given up by `Doorbell::into_raw`.
pub fn close_raw(fd: RawFd) {
    unsafe { libc::close(fd) };
}

/// Blocks every signal in the calling thread, returning the mask to restore: threads started
/// meanwhile inherit the full mask, so process-directed signals go to the application's own
/// threads (whose handlers may call srwl_interrupt), never to a library thread.
pub fn block_all_signals() -> libc::sigset_t {
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        old
    }
}

/// Restores a mask that `block_all_signals` returned.
pub fn restore_signals(old: &libc::sigset_t) {
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(tag: &str) -> (std::path::PathBuf, Dir) {
        let path = std::env::temp_dir().join(format!("srwl-fs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).unwrap();
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        let dir = Dir::open_path(&c).unwrap();
        (path, dir)
    }

    #[test]
    fn refresh_name_changes_nothing() {
        let (path, dir) = scratch_dir("refresh");
        // Present: the same directory, with what it holds, stays under the name.
        dir.mkdir(c"R").unwrap();
        std::fs::write(path.join("R/baton.0000000000000001"), b"x").unwrap();
        let before = dir.stat(c"R").unwrap().ino;
        dir.refresh_name(c"R");
        assert_eq!(dir.stat(c"R").unwrap().ino, before);
        assert!(path.join("R/baton.0000000000000001").exists());
        // Absent: nothing is made.
        std::fs::remove_dir_all(path.join("R")).unwrap();
        dir.refresh_name(c"R");
        assert_eq!(errno_of(dir.stat(c"R")), Some(libc::ENOENT));
        std::fs::remove_dir_all(&path).unwrap();
    }

    fn errno_of<T>(r: io::Result<T>) -> Option<i32> {
        r.err().and_then(|e| e.raw_os_error())
    }
}
