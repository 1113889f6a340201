//! The room `R/` and reader records: a reader enters by making its record in the room and
//! seeing the resting baton beside it in one listing; it leaves by unlinking its record.
//! Records are hard links of a per-handle template where the filesystem allows.

use std::cell::Cell;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fs::BootInstant;

use super::eviction::Absence;
use super::layout::ROOM;
use super::{errno, fs_error, Disk};
use crate::fs::{self, Dir, Name, NameCache};
use crate::record::{parse_template, reader_record_name, template_name, Baton, Record, Token};
use crate::status::Result;

/// What happened when a reader tried to enter the room.
pub enum Entry {
    /// Granted; the generation of the baton resting in the room.
    Entered(u64),
    /// No baton in the room (a writer holds it, or is closing the room), or no room at all.
    Shut,
}

/// A handle's reader-record template, `h.<token>.<pid>.<host>` in the sidecar, written once
/// when it is made (and closed). A reader record is made by hard-linking it into the room: one
/// linkat (one metadata round trip on a network filesystem) instead of an exclusive create, a
/// write and a close. The link is as atomic as the create was: it fails with EEXIST if the name
/// exists, and the name is still the hold's unique identity. The bytes need not name the hold:
/// an observer times a record from the moment it first sees its name, which is never used
/// again, and the hold's heartbeat rewrites them with its own record (by name).
struct Template {
    name: Name,
}

/// This handle's reader-record template, made at the first read acquire.
#[derive(Default)]
pub(super) struct Templates {
    current: Option<Template>,
    /// Hard links did not work here (EXDEV, EPERM, ...): reader records are created as files.
    no_links: bool,
    /// When `room` last probed an absent room with mkdir (see there).
    last_absence_probe: Option<Instant>,
    /// How many names the last entry's listing went through before it saw our record and the
    /// baton: about two thirds of the room. The host share (share.rs) starts at a crowd.
    pub(super) room_seen: usize,
}

impl Disk {
    /// Forgets the cached room handle: the field is cleared before the descriptor is closed,
    /// so that a fork in between never leaves a child a closed descriptor marked open.
    pub(super) fn drop_room(&mut self) {
        let old = self.room.take();
        drop(old);
    }

    /// Opens the room by name (a fresh handle). With `create`, makes it first if it is absent
    /// (EEXIST is fine: an `R` without a baton is harmless). ENOENT without `create`: no room.
    pub(super) fn open_room(&mut self, create: bool) -> Result<Arc<Dir>> {
        if create {
            match self.side.mkdir(ROOM) {
                Ok(()) => {}
                Err(e) if errno(&e) == libc::EEXIST => {}
                Err(e) => return Err(fs_error("mkdir", &self.path(b"R"), &e)),
            }
        }
        let room = self.open_room_dir().map_err(|e| {
            let mut err = fs_error("open", &self.path(b"R"), &e);
            // Absent right after our mkdir: another process removed it (a grant); try again.
            err.transient |= errno(&e) == libc::ENOENT;
            err
        })?;
        let room = Arc::new(room);
        self.drop_room();
        self.room = Some(room.clone());
        Ok(room)
    }

    /// Opens `R` by name. Where a client may resolve a directory's name to one that another
    /// client removed (MooseFS), the name is refreshed first: else, after another client's
    /// write cycle, a handle to the removed room lists nothing and takes no link.
    pub(super) fn open_room_dir(&self) -> io::Result<Dir> {
        if self.side.name_cache() == NameCache::Directories {
            self.side.refresh_name(ROOM);
        }
        self.side.open_dir(ROOM)
    }

    /// The cached room handle, or a fresh one; None if there is no room (a writer holds).
    pub(super) fn room(&mut self) -> Result<Option<Arc<Dir>>> {
        if let Some(r) = &self.room {
            return Ok(Some(r.clone()));
        }
        match self.open_room(false) {
            Ok(r) => Ok(Some(r)),
            Err(_) if matches!(self.side.stat(ROOM), Err(ref e) if errno(e) == libc::ENOENT) => {
                if self.room_absence_is_cached() {
                    return self.open_room(false).map(Some);
                }
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether an absent room is only the client's cache: an NFS client trusts a cached "no
    /// such name" for up to acdirmax (60 s by default) and would stall a handoff from another
    /// host that long. A mkdir asks the server: EEXIST makes the client drop its negative
    /// entry (true: open again); a mkdir that succeeds made an empty room, which is removed at
    /// once (an rmdir removes only an empty room: a baton or record put there meanwhile keeps
    /// it, which is what their makers want anyway). At most once a second per handle; only
    /// where clients cache absent names (`NameCache::Absence`; not MooseFS, fstype.rs).
    fn room_absence_is_cached(&mut self) -> bool {
        if self.side.name_cache() != NameCache::Absence {
            return false;
        }
        let now = Instant::now();
        if Self::throttled(
            &mut self.templates.last_absence_probe,
            now,
            Duration::from_secs(1),
        ) {
            return false;
        }
        match self.side.mkdir(ROOM) {
            Ok(()) => {
                let _ = self.side.rmdir(ROOM);
                false
            }
            Err(e) => errno(&e) == libc::EEXIST,
        }
    }

    /// Reader entry: create our record through the room handle, THEN look in ONE listing
    /// through the same handle: granted only if it shows our own record and the baton. Either
    /// a writer took the baton before our listing (we do not see it) or after our record was
    /// created (its rmdir of the room fails while our record is there): no third ordering.
    pub fn enter_room(&mut self, token: &Token, rec: &Record) -> Result<Entry> {
        let name = reader_record_name(token);
        let r = self.create_in_room(&name, rec);
        if r.is_err() {
            // The link may have happened although it reported an error.
            self.retire_template();
        }
        let Some(room) = r? else {
            return Ok(Entry::Shut);
        };
        // The listing vouches for itself: our never-reused name in it means it was taken after
        // our create, in the room that holds our record, which cannot be removed while it does.
        // A batch of a listing is not the whole listing (see Dir::list).
        // The grant needs positive evidence only (our record and the baton): a listing cut
        // short can hide them and delay us, never grant us wrongly, so it may stop as soon as
        // both were seen.
        let (own, odd, gen) = (Cell::new(false), Cell::new(false), Cell::new(None));
        let seen = Cell::new(0usize);
        let listed = room.list_until(
            &mut self.scratch.list_buf,
            |n, file| {
                seen.set(seen.get() + 1);
                if n == name.as_bytes() {
                    // A hard link of a template replaced by a symlink or FIFO is not ours.
                    if file {
                        own.set(true);
                    } else {
                        odd.set(true);
                    }
                }
                if let Some(g) = Baton::parse_resting(n).filter(|_| file) {
                    gen.set(Some(g));
                }
            },
            |_| own.get() && gen.get().is_some(),
        );
        let (own, odd, gen) = (own.get(), odd.get(), gen.get());
        self.templates.room_seen = seen.get();
        if listed.is_ok() && own {
            if let Some(g) = gen {
                self.baton.gen_guess = Some(g);
                return Ok(Entry::Entered(g));
            }
        }
        let removed = (own || odd || listed.is_err()) && room.unlink(name.as_cstr()).is_ok();
        if !removed {
            // The handle may name a removed room while our record sits in the current one
            // (GlusterFS: a create lands there, an unlink through the handle fails): remove it
            // by path, so that a stray record does not keep writers out.
            self.drop_room();
            self.discard_read_record(token);
        }
        if !removed || odd {
            self.retire_template();
        }
        Ok(Entry::Shut)
    }

    /// Makes our record `name` holding `data` in the room: a hard link of this handle's
    /// template (see `Template`), or an exclusive create where hard links do not work. None if
    /// there is no room.
    pub(super) fn create_in_room(&mut self, name: &Name, rec: &Record) -> Result<Option<Arc<Dir>>> {
        // The record's bytes, encoded only where a file is written: a link of the template
        // (every read cycle but a handle's first) writes none.
        let mut data = std::mem::take(&mut self.scratch.read_buf);
        data.clear();
        let r = self.create_in_room_with(name, rec, &mut data);
        self.scratch.read_buf = data;
        r
    }

    fn create_in_room_with(
        &mut self,
        name: &Name,
        rec: &Record,
        data: &mut Vec<u8>,
    ) -> Result<Option<Arc<Dir>>> {
        let mut attempt = 0;
        loop {
            let Some(room) = self.room()? else {
                return Ok(None);
            };
            let linked = self.template_ready(rec, data);
            let r = match &self.templates.current {
                Some(t) if linked => self.side.link_into(t.name.as_cstr(), &room, name.as_cstr()),
                _ => {
                    rec.encode(data);
                    room.create_excl(name.as_cstr(), data)
                }
            };
            match r {
                Ok(()) => return Ok(Some(room)),
                // A create may report an error and still have happened: the retry finds our
                // own unique name (EEXIST on a fresh 128-bit random name), which is success.
                Err(e) if errno(&e) == libc::EEXIST => {
                    if !linked {
                        let _ = room.rewrite(name.as_cstr(), data);
                    }
                    return Ok(Some(room));
                }
                Err(e) if linked && link_unsupported(&e) => {
                    self.templates.no_links = true;
                    self.retire_template();
                }
                // The room was removed under our handle (a writer's grant), or our template's
                // name is gone (removed by a tidy-up that guessed wrong, or by hand). A stat
                // cannot tell which: a GlusterFS client answers a stat of a file that another
                // client removed from its cache. So reopen the room first and, if the link
                // fails again, make a new template too.
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) && attempt < 4 => {
                    self.drop_room();
                    if linked && attempt > 0 {
                        self.retire_template();
                    }
                    attempt += 1;
                    if errno(&e) == libc::ESTALE {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) => {
                    self.drop_room();
                    return Ok(None);
                }
                Err(e) => {
                    return Err(fs_error(
                        if linked { "link" } else { "create" },
                        &self.path(&[b"R/", name.as_bytes()].concat()),
                        &e,
                    ))
                }
            }
        }
    }

    /// Whether this handle has a template to link, making one that holds `rec` (encoded into
    /// `data`) if there is none; false if reader records must be created as files instead. An
    /// existing template is not rewritten (see `Template`).
    fn template_ready(&mut self, rec: &Record, data: &mut Vec<u8>) -> bool {
        if self.templates.no_links {
            return false;
        }
        if self.templates.current.is_some() {
            return true;
        }
        let name = template_name(&Token::random(), fs::getpid(), &self.params.host);
        rec.encode(data);
        match self.side.create_excl(name.as_cstr(), data) {
            Ok(()) => {
                self.templates.current = Some(Template { name });
                true
            }
            Err(_) => false,
        }
    }

    /// Stops using this handle's template: removes its name. Called whenever a record linked
    /// from it may have been left behind (an unlink that failed or was not confirmed): such a
    /// stray shares the template's inode, and the heartbeats of this handle's later holds,
    /// which rewrite their records (other names of that inode), would keep it looking alive
    /// to the evictors. Retired, it never changes again and is evicted like any dead record.
    pub(super) fn retire_template(&mut self) {
        if let Some(t) = self.templates.current.take() {
            let _ = self.side.unlink(t.name.as_cstr());
        }
    }

    /// Removes the templates left by dead processes on this host: its name says this host,
    /// and its pid no longer exists here. Removing a template never harms its owner, so a
    /// wrong guess (another pid namespace under the same host name) costs that handle one
    /// create. A dead process's template that bears our own pid is left to the next open by
    /// another process; templates of other hosts to those hosts' next open. One listing per
    /// open.
    pub(super) fn tidy_templates(&mut self) {
        let mut names = std::mem::take(&mut self.scratch.names);
        names.clear();
        let host = self.params.host.as_bytes();
        let me = fs::getpid();
        let _ = self.side.list(&mut self.scratch.list_buf, |n| {
            if let Some((_, pid, h)) = parse_template(n) {
                if h == host && pid != me && fs::process_gone(pid) {
                    names.push(n.to_vec());
                }
            }
        });
        for n in names.iter() {
            let _ = self.side.unlink(Name::from_bytes(&[n]).as_cstr());
        }
        self.scratch.names = names;
    }

    /// Removes a reader record that a failed acquire may have left (a create that reported an
    /// error and still happened). Best effort; the name is unique.
    pub fn discard_read_record(&mut self, token: &Token) {
        let _ = self.side.unlink(Self::read_record_path(token).as_cstr());
    }

    /// Reader release: unlink our record by its unique name. False if it was already gone
    /// and we were evicted. A record found gone although we wrote it less than half a
    /// threshold ago (`written`) was not evicted: our own unlink removed it and reported an
    /// error (a GlusterFS client answered ENOENT through a handle on a removed room).
    pub fn release_read(&mut self, token: &Token, written: BootInstant) -> Result<bool> {
        let name = reader_record_name(token);
        let mut tries = 0;
        let mut gone = Absence::new();
        let mut fresh_when_missed = None;
        loop {
            let r = match self.room.as_ref() {
                Some(room) => room.unlink(name.as_cstr()),
                None => self.side.unlink(Self::read_record_path(token).as_cstr()),
            };
            match r {
                Ok(()) => return Ok(true),
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ENOTDIR) => {
                    // Through a stale handle ENOENT proves nothing: ask by name before
                    // concluding that the hold was lost.
                    if self.room.take().is_some() {
                        continue;
                    }
                    // Freshness is judged when the absence is first seen, not after the wait.
                    let fresh = *fresh_when_missed.get_or_insert_with(|| self.fresh(written));
                    if gone.confirmed() {
                        return Ok(fresh);
                    }
                }
                Err(e) if errno(&e) == libc::ESTALE && tries < 100 => {
                    tries += 1;
                    self.drop_room();
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    // Our record may still be there: a stray link of the template.
                    self.retire_template();
                    return Err(fs_error(
                        "unlink",
                        &self.path(Self::read_record_path(token).as_bytes()),
                        &e,
                    ));
                }
            }
        }
    }
}

/// What linkat reports on filesystems (or mounts) where hard links cannot be made.
fn link_unsupported(e: &io::Error) -> bool {
    matches!(
        errno(e),
        libc::EXDEV | libc::EPERM | libc::EMLINK | libc::ENOSYS | libc::EOPNOTSUPP
    )
}

impl Drop for Disk {
    /// srwl_close: the handle's template goes with it, and the host share's file if unused. (A handle inherited across fork is
    /// never dropped: the parent still uses the template.)
    fn drop(&mut self) {
        self.retire_template();
        self.close_share();
    }
}
