//! Which filesystem a lock lives on, and whether it can keep exclusion at all.
//!
//! statfs(2) cannot tell: every FUSE filesystem (GlusterFS, MooseFS, sshfs, s3fs, ...) reports
//! the same magic. The type is read from `/proc/self/mountinfo` instead: the mount whose device
//! (major:minor) is the device of the lock's directory, the longest mount point that is a
//! prefix of the directory's path breaking ties (bind mounts of one device). FUSE filesystems
//! show there as `fuse.<subtype>` (`fuse.glusterfs`, `fuse.sshfs`, `fuse.s3fs`), or as `fuse`
//! with the program's name in the source (MooseFS: `fuse`, source `mfs#host:port`).
//!
//! Object-store mounts (s3fs, goofys, gcsfuse, mountpoint-s3, rclone mount) turn a create or a
//! rename into requests to an object store that does not make them exclusive: two clients'
//! racing `O_EXCL` creates of one name, or renames of one file, both succeed. The protocol's
//! safety rests on exactly those operations, so `srwl_open` refuses such a mount
//! (SRWL_EUNSAFE) rather than hand out a lock that does not exclude.

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

use crate::fs::{Dir, NameCache};
use crate::status::{Error, Result, Status};

/// At most this much of /proc/self/mountinfo is read (a node with thousands of mounts has a
/// few hundred KiB); what lies beyond is not searched.
const MOUNTINFO_CAP: usize = 4 << 20;
/// A line longer than this is skipped (the kernel escapes blanks, so a line is one mount).
const LINE_CAP: usize = 16 << 10;

/// One mount, as /proc/self/mountinfo describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// The filesystem type, e.g. `ext4`, `nfs4`, `fuse.glusterfs`, `fuse.s3fs`.
    pub fstype: String,
    /// The mount source, e.g. `server:/export`, `mfs#host:9421`, `s3fs`.
    pub source: String,
    /// Where it is mounted (unescaped; may not be UTF-8).
    pub mount_point: Vec<u8>,
}

/// What the library makes of a filesystem type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Exclusion cannot hold there: `srwl_open` refuses it. `reason` says why; `tested` says
    /// whether that was measured here (tests/fsbeds/) or follows from the type alone.
    Refused {
        name: &'static str,
        reason: &'static str,
        tested: bool,
    },
    /// A filesystem whose create, rename, link and rmdir are atomic on the server.
    Known { name: &'static str },
    /// Not known either way: used, and `softrwlock verify` is the way to find out.
    Unknown,
}

const OBJECT_STORE: &str = "an object-store mount: a create or rename is a sequence of \
    requests to the store, so exclusive creates and renames of one name from two clients can \
    both succeed";

/// Classifies a filesystem by its mountinfo type (and, for a FUSE mount that shows no
/// subtype, by its source, which is then the program's name).
pub fn classify(fstype: &str, source: &str) -> Class {
    // A FUSE mount without a subtype shows as `fuse` with the program's name in its source:
    // mfsmount (MooseFS 3.0.117) as `fuse mfs\043127.0.0.1:9421`, i.e. `mfs#host:port`, or `MFS`.
    let sub = match fstype {
        "fuse" | "fuseblk" => source
            .split(['#', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase(),
        t => t.strip_prefix("fuse.").unwrap_or(t).to_string(),
    };
    match sub.as_str() {
        "s3fs" => Class::Refused {
            name: "s3fs",
            reason: "concurrent renames and O_EXCL creates of one name from two clients both \
                succeed (measured: tests/fsbeds/s3fs.sh), so two writers can hold at once",
            tested: true,
        },
        "goofys" | "gcsfuse" | "mountpoint-s3" | "rclone" | "blobfuse" | "blobfuse2" => {
            Class::Refused {
                name: match sub.as_str() {
                    "goofys" => "goofys",
                    "gcsfuse" => "gcsfuse",
                    "mountpoint-s3" => "mountpoint-s3",
                    "rclone" => "rclone mount",
                    _ => "blobfuse",
                },
                reason: OBJECT_STORE,
                tested: false,
            }
        }
        "glusterfs" => Class::Known { name: "GlusterFS" },
        "mfs" | "mfsmount" | "moosefs" => Class::Known { name: "MooseFS" },
        "sshfs" => Class::Known { name: "sshfs" },
        "nfs" | "nfs4" => Class::Known { name: "NFS" },
        "lustre" => Class::Known { name: "Lustre" },
        "gpfs" => Class::Known {
            name: "GPFS (IBM Storage Scale)",
        },
        "beegfs" => Class::Known { name: "BeeGFS" },
        "ceph" | "ceph-fuse" => Class::Known { name: "CephFS" },
        "ext4" | "ext3" | "ext2" | "xfs" | "btrfs" | "zfs" | "tmpfs" | "f2fs" => Class::Known {
            name: "a local filesystem",
        },
        _ => Class::Unknown,
    }
}

impl Mount {
    /// `fuse.s3fs (s3fs, source s3fs, mounted on /mnt/s3)`: the type as mountinfo shows it,
    /// then what it is, where it comes from and where it is mounted.
    pub fn describe(&self) -> String {
        let what = match classify(&self.fstype, &self.source) {
            Class::Refused { name, .. } | Class::Known { name } => format!("{name}, "),
            Class::Unknown => String::new(),
        };
        format!(
            "{} ({what}source {}, mounted on {})",
            self.fstype,
            self.source,
            String::from_utf8_lossy(&self.mount_point)
        )
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\' && i + 4 <= field.len() {
            let oct = &field[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct.iter().fold(0u32, |v, &c| v * 8 + u32::from(c - b'0'));
                if let Ok(b) = u8::try_from(v) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(field[i]);
        i += 1;
    }
    out
}

/// Parses one mountinfo line into (major, minor, mount) or None if it is malformed:
/// `id parent major:minor root mount_point options [optional...] - fstype source superopts`.
fn parse_line(line: &[u8]) -> Option<(u32, u32, Mount)> {
    let mut fields = line.split(|&c| c == b' ').filter(|f| !f.is_empty());
    let _id = fields.next()?;
    let _parent = fields.next()?;
    let devno = std::str::from_utf8(fields.next()?).ok()?;
    let (major, minor) = devno.split_once(':')?;
    let (major, minor) = (major.parse().ok()?, minor.parse().ok()?);
    let _root = fields.next()?;
    let mount_point = unescape(fields.next()?);
    let _options = fields.next()?;
    // Optional fields (shared:N, master:N, ...) up to the separator "-"; at most a handful.
    let mut n = 0;
    loop {
        let f = fields.next()?;
        if f == b"-" {
            break;
        }
        n += 1;
        if n > 32 {
            return None;
        }
    }
    let fstype = String::from_utf8_lossy(&unescape(fields.next()?)).into_owned();
    let source = String::from_utf8_lossy(&unescape(fields.next()?)).into_owned();
    Some((
        major,
        minor,
        Mount {
            fstype,
            source,
            mount_point,
        },
    ))
}

/// Whether mount point `mp` is `path` or a directory above it.
fn is_prefix(mp: &[u8], path: &[u8]) -> bool {
    mp == b"/"
        || (path.starts_with(mp) && (path.len() == mp.len() || path.get(mp.len()) == Some(&b'/')))
}

/// Finds, in mountinfo text, the mount of device `major:minor`; among several (bind mounts),
/// the one with the longest mount point that is a prefix of `path`. If no line has that device
/// (btrfs subvolumes report devices of their own), the longest mount point that is a prefix
/// of `path`. None if neither is found.
pub fn find_mount(text: &[u8], major: u32, minor: u32, path: Option<&[u8]>) -> Option<Mount> {
    let mut by_dev: Option<Mount> = None;
    let mut by_path: Option<Mount> = None;
    let longer = |best: &Option<Mount>, m: &Mount| {
        best.as_ref()
            .is_none_or(|b| m.mount_point.len() >= b.mount_point.len())
    };
    for line in text.split(|&c| c == b'\n') {
        if line.len() > LINE_CAP {
            continue;
        }
        let Some((ma, mi, m)) = parse_line(line) else {
            continue;
        };
        let under = path.is_some_and(|p| is_prefix(&m.mount_point, p));
        if ma == major && mi == minor {
            // Among mounts of the device, prefer one above the path; then the longest.
            let better = match &by_dev {
                None => true,
                Some(b) => {
                    let b_under = path.is_some_and(|p| is_prefix(&b.mount_point, p));
                    (under && !b_under) || (under == b_under && longer(&by_dev, &m))
                }
            };
            if better {
                by_dev = Some(m.clone());
            }
        }
        if under && longer(&by_path, &m) {
            by_path = Some(m);
        }
    }
    by_dev.or(by_path)
}

/// Reads /proc/self/mountinfo (at most MOUNTINFO_CAP bytes).
fn read_mountinfo() -> io::Result<Vec<u8>> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open("/proc/self/mountinfo")?;
    let mut text = Vec::with_capacity(64 << 10);
    f.take(MOUNTINFO_CAP as u64).read_to_end(&mut text)?;
    Ok(text)
}

/// The mount that holds the directory behind `dir`; None if /proc is not mounted or no mount
/// matches.
pub fn mount_of(dir: &Dir) -> Option<Mount> {
    let st = dir.fstat().ok()?;
    let path = std::fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd())).ok();
    let text = read_mountinfo().ok()?;
    let (major, minor) = (libc::major(st.dev), libc::minor(st.dev));
    find_mount(
        &text,
        major,
        minor,
        path.as_ref()
            .map(|p| std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str())),
    )
}

/// At `srwl_open`, on the directory `dir` that holds the lock: refuses (SRWL_EUNSAFE) a
/// filesystem that cannot keep exclusion, naming the filesystem and why; on a FUSE filesystem
/// not known to rewind directory handles correctly, makes listings through `dir` (and the
/// directories opened through it) reopen the directory. `display` is the lock path as the
/// caller gave it. A filesystem that cannot be identified is used as it is.
pub fn check_open(dir: &mut Dir, display: &str) -> Result<()> {
    let Some(mount) = mount_of(dir) else {
        return Ok(());
    };
    if let Some(why) = refusal(&mount) {
        return Err(Error::new(
            Status::SRWL_EUNSAFE,
            format!("open {display}: {why}"),
        ));
    }
    if mount.may_not_rewind() {
        dir.list_by_reopening();
    }
    if mount.is_moosefs() {
        // mfsmount gives directory entries a kernel entry timeout (mfsdirentrycacheto, 1 s):
        // after another client's write cycle replaced the room, `R` resolved to the removed
        // one and the next grant waited up to 1 s (issue 13: 995 ms handoff median). MooseFS
        // caches no negative entries, and a reader's mkdir probe of an absent room made a room
        // that the other clients then resolved wrongly (a CI campaign saw 3 acquire timeouts
        // of 10 s in 12 s with it).
        dir.set_name_cache(NameCache::Directories);
    }
    Ok(())
}

impl Mount {
    /// MooseFS (`mfsmount`).
    pub fn is_moosefs(&self) -> bool {
        classify(&self.fstype, &self.source) == (Class::Known { name: "MooseFS" })
    }

    /// A filesystem of one machine (one client: what one host sees is all there is).
    pub fn is_local(&self) -> bool {
        classify(&self.fstype, &self.source)
            == (Class::Known {
                name: "a local filesystem",
            })
    }

    /// Whether a listing through a kept, rewound directory handle may miss entries here. On
    /// sshfs it lists nothing once the directory has changed (measured: tests/fsbeds/sshfs.sh,
    /// a dead holder was never evicted). Other FUSE filesystems built like it (the high-level
    /// libfuse API, whose readdir may ignore offsets) may do the same, so every FUSE mount but
    /// GlusterFS (whose client honours offsets, measured by the campaign) lists by reopening:
    /// one openat and close more per listing.
    pub fn may_not_rewind(&self) -> bool {
        let fuse = self.fstype == "fuse" || self.fstype.starts_with("fuse.");
        fuse && self.fstype != "fuse.glusterfs"
    }
}

/// Why a lock on `mount` is refused, or None if it is not.
pub fn refusal(mount: &Mount) -> Option<String> {
    match classify(&mount.fstype, &mount.source) {
        Class::Refused { reason, tested, .. } => Some(format!(
            "the filesystem is {}, which cannot keep exclusion: {reason}{}; refusing to use \
             it. Put the lock on a filesystem shared by the hosts that makes these operations \
             atomic (NFS, Lustre, GPFS, GlusterFS, MooseFS, a local disk for one host)",
            mount.describe(),
            if tested {
                ""
            } else {
                " (refused by its type; not measured here)"
            }
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"\
22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
45 22 0:40 / /mnt/s3 rw,nosuid,nodev,relatime - fuse.s3fs s3fs rw,user_id=0,group_id=0
47 22 0:42 / /mnt/my\\040ssh rw,nosuid,nodev,relatime shared:5 master:2 - fuse.sshfs root@127.0.0.1:/srv rw
50 22 0:44 / /gluster rw - fuse.glusterfs localhost:/vol rw
51 22 0:44 / /gluster-bind rw - fuse.glusterfs localhost:/vol rw
52 22 0:45 / /mfs rw - fuse mfs\\043127.0.0.1:9421 rw,allow_other
53 22 0:46 / /legacy rw - fuse s3fs rw
garbage line
";

    fn find(major: u32, minor: u32, path: &str) -> Option<Mount> {
        find_mount(SAMPLE, major, minor, Some(path.as_bytes()))
    }

    #[test]
    fn finds_the_mount_of_a_device() {
        let m = find(0, 40, "/mnt/s3/x").unwrap();
        assert_eq!(
            (m.fstype.as_str(), m.source.as_str()),
            ("fuse.s3fs", "s3fs")
        );
        let m = find(0, 42, "/mnt/my ssh/d").unwrap();
        assert_eq!(m.mount_point, b"/mnt/my ssh");
        assert_eq!(m.fstype, "fuse.sshfs");
        assert_eq!(find(252, 1, "/home/u").unwrap().fstype, "ext4");
    }

    #[test]
    fn bind_mounts_tie_break_on_the_longest_prefix() {
        assert_eq!(
            find(0, 44, "/gluster-bind/a").unwrap().mount_point,
            b"/gluster-bind"
        );
        assert_eq!(find(0, 44, "/gluster/a").unwrap().mount_point, b"/gluster");
    }

    #[test]
    fn an_unknown_device_falls_back_to_the_path() {
        let m = find(0, 99, "/mfs/sub/x").unwrap();
        assert_eq!(
            (m.fstype.as_str(), m.source.as_str()),
            ("fuse", "mfs#127.0.0.1:9421")
        );
        assert_eq!(
            classify(&m.fstype, &m.source),
            Class::Known { name: "MooseFS" }
        );
        assert!(m.is_moosefs());
        assert!(!find(0, 42, "/mnt/my ssh/d").unwrap().is_moosefs());
        assert_eq!(find(0, 99, "/srv").unwrap().fstype, "ext4");
        assert!(find_mount(SAMPLE, 0, 99, None).is_none());
    }

    #[test]
    fn object_stores_are_refused_and_the_message_names_them() {
        let m = find(0, 40, "/mnt/s3/x").unwrap();
        let why = refusal(&m).unwrap();
        assert!(why.starts_with("the filesystem is fuse.s3fs (s3fs, source s3fs, mounted on /mnt/s3), which cannot keep exclusion: concurrent renames and O_EXCL creates"), "{why}");
        assert!(refusal(&find(0, 46, "/legacy").unwrap()).is_some());
        for t in [
            "fuse.goofys",
            "fuse.gcsfuse",
            "fuse.mountpoint-s3",
            "fuse.rclone",
        ] {
            let c = classify(t, "x");
            assert!(
                matches!(c, Class::Refused { tested: false, .. }),
                "{t}: {c:?}"
            );
        }
        for t in [
            "fuse.glusterfs",
            "fuse.mfs",
            "fuse.sshfs",
            "nfs4",
            "lustre",
            "ext4",
            "foo",
        ] {
            assert!(!matches!(classify(t, "x"), Class::Refused { .. }), "{t}");
        }
        for (t, src) in [
            ("fuse.mfs", "mfs#h:9421"),
            ("fuse", "mfs#h:9421"),
            ("fuse", "MFS"),
        ] {
            assert_eq!(
                classify(t, src),
                Class::Known { name: "MooseFS" },
                "{t} {src}"
            );
        }
    }

    #[test]
    fn fuse_mounts_but_glusterfs_list_by_reopening() {
        assert!(find(0, 42, "/mnt/my ssh").unwrap().may_not_rewind());
        assert!(find(0, 46, "/legacy").unwrap().may_not_rewind());
        assert!(!find(0, 44, "/gluster").unwrap().may_not_rewind());
        assert!(!find(252, 1, "/home").unwrap().may_not_rewind());
        assert!(find(252, 1, "/home").unwrap().is_local());
        assert!(!find(0, 42, "/mnt/my ssh").unwrap().is_local());
    }

    /// The real thing: the directory of this test is on some mount, and a FUSE type is never
    /// refused here unless it is an object store.
    #[test]
    fn the_mount_of_a_real_directory_is_found() {
        let d = Dir::open_path(c"/proc").unwrap();
        let m = mount_of(&d).expect("/proc is in mountinfo");
        assert_eq!(
            (m.fstype.as_str(), m.mount_point.as_slice()),
            ("proc", &b"/proc"[..])
        );
        let mut tmp = Dir::open_path(c"/tmp").unwrap();
        check_open(&mut tmp, "/tmp/x").unwrap();
    }

    #[test]
    fn malformed_and_huge_lines_are_skipped() {
        let mut text = vec![b'7'; LINE_CAP + 10];
        text.extend_from_slice(b"\n45 22 0:40 / /x rw - fuse.s3fs s3fs rw\n1 2 3\n- - -\n");
        assert_eq!(find_mount(&text, 0, 40, None).unwrap().mount_point, b"/x");
        assert_eq!(unescape(b"a\\040b\\134\\9"), b"a b\\\\9");
    }
}
