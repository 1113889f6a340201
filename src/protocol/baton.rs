//! The baton `R/baton.<gen>` / `Q/b.<gen>.<token>`: the one file that is only ever renamed.
//! A writer takes it from the room, closes the room (its rmdir is the write grant) and gives
//! it back; the generation in its name is the fencing token.

use std::time::Duration;

use super::eviction::Absence;
use super::layout::{in_room, ROOM};
use super::{errno, fs_error, Disk};
use crate::fs::{BootInstant, Dir, Name};
use crate::record::{Baton, Record, Token};
use crate::status::{Result, Status};

/// What this handle knows of the baton.
pub(super) struct BatonState {
    /// The generation of the baton as last seen at rest (a guess: a wrong one costs a listing).
    pub(super) gen_guess: Option<u64>,
    /// (generation, length) of the record we wrote into the baton at our last take.
    pub(super) written_len: Option<(u64, usize)>,
    /// The token in the name of the baton while this handle holds it, `Q/b.<gen>.<token>`,
    /// and in the record written into it. One per handle: a held baton's name is still unique
    /// because only a take raises the generation, and a take of a baton that still holds our
    /// own record (nobody took it since our last hold) then needs no write at all.
    pub(super) token: Token,
}

impl BatonState {
    pub(super) fn new() -> BatonState {
        BatonState {
            gen_guess: None,
            written_len: None,
            token: Token::random(),
        }
    }
}

/// What happened when a writer tried to take the baton.
pub enum Take {
    /// We hold the baton as `Q/b.<gen>.<token>`; `gen` is the generation of our grant.
    Taken(u64),
    /// The baton is not in the room: someone else holds it.
    NotThere,
}

/// What happened when the baton holder tried to close the room.
pub enum Close {
    /// The room is gone and nobody can enter: the write lock is ours.
    Granted,
    /// Readers (or leftovers) are still inside.
    Occupied,
}

impl Disk {
    /// Takes the baton from the room: `rename(R/baton.<g>, Q/b.<g+1>.<token>)`, then writes our
    /// record into it unless it still holds it (`took`). Only one of any number of concurrent takers succeeds; the baton stays
    /// one file. `g` is our guess (the last generation seen); a wrong guess costs a listing.
    pub fn take_baton(&mut self, token: &Token, rec: &Record) -> Result<Take> {
        // With a guess, by path first: no room handle to open (every write cycle replaces
        // the room, so a handle kept from the last cycle names a removed room).
        if let Some(g) = self.baton.gen_guess {
            let gen = g.saturating_add(1);
            let held = Baton::held_name(gen, token);
            let resting = in_room(&Baton::resting_name(g));
            let r = self
                .side
                .rename(resting.as_cstr(), &self.queue, held.as_cstr());
            if let Some(done) = self.after_take(r, gen, &held, rec, resting.as_bytes()) {
                return done;
            }
        }
        for _ in 0..2 {
            // Through a fresh handle (the cached one may name a removed room, whose listing
            // is empty), with the name a listing shows.
            let Some(room) = self.room()? else {
                return Ok(Take::NotThere);
            };
            let Some(g) = self.resting_gen(&room)? else {
                self.drop_room();
                continue;
            };
            let gen = g.saturating_add(1);
            let held = Baton::held_name(gen, token);
            let resting = Baton::resting_name(g);
            let r = room.rename(resting.as_cstr(), &self.queue, held.as_cstr());
            let shown = [b"R/", resting.as_bytes()].concat();
            if let Some(done) = self.after_take(r, gen, &held, rec, &shown) {
                return done;
            }
        }
        Ok(Take::NotThere)
    }

    /// The outcome of a take's rename of the resting baton (`resting`, relative to the
    /// sidecar, for messages) to `held`; None if it found no baton there (try again with a
    /// listing).
    fn after_take(
        &mut self,
        renamed: std::io::Result<()>,
        gen: u64,
        held: &Name,
        rec: &Record,
        resting: &[u8],
    ) -> Option<Result<Take>> {
        match renamed {
            Ok(()) => Some(self.took(gen, held, rec)),
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) => {
                // A rename can report an error and still have happened (a network client that
                // retried it): then the baton is ours under our unique name.
                if self.queue.stat(held.as_cstr()).is_ok() {
                    return Some(self.took(gen, held, rec));
                }
                self.baton.gen_guess = None;
                self.drop_room();
                None
            }
            Err(e) => Some(Err(fs_error(
                "rename",
                &format!("{} to {}", self.path(resting), self.qpath(held.as_bytes())),
                &e,
            ))),
        }
    }

    pub(super) fn took(&mut self, gen: u64, held: &Name, rec: &Record) -> Result<Take> {
        rec.encode(&mut self.scratch.read_buf);
        // Only a take moves the baton to a new generation, and only the taker writes it: if
        // we took generation gen - 1 ourselves, the baton still holds the record we wrote then
        // (our writer token, lease, pid and host; only its nonce differs, and our first
        // heartbeat changes that), so nothing needs writing. That saves three syscalls, and
        // three round trips on a network filesystem, per uncontended write cycle.
        let len = self.scratch.read_buf.len();
        let ours = self.baton.written_len == Some((gen.wrapping_sub(1), len));
        self.baton.written_len = None;
        if !ours {
            if let Err(e) = self
                .queue
                .overwrite(held.as_cstr(), &self.scratch.read_buf, true)
            {
                // Without our record an observer would judge us by the previous holder's
                // lease: hand the baton back rather than hold it unrecorded.
                let err = fs_error("write", &self.qpath(held.as_bytes()), &e);
                let _ = self.give_back_name(gen, held, BootInstant::now());
                return Err(err);
            }
        }
        self.baton.gen_guess = Some(gen);
        self.baton.written_len = Some((gen, len));
        Ok(Take::Taken(gen))
    }

    /// The generation of the baton resting in `room`, from a listing; None if it is not there.
    pub(super) fn resting_gen(&mut self, room: &Dir) -> Result<Option<u64>> {
        let mut gen = None;
        match room.list_typed(&mut self.scratch.list_buf, |n, file| {
            if let Some(g) = Baton::parse_resting(n).filter(|_| file) {
                gen = Some(gen.map_or(g, |o: u64| o.max(g)));
            }
        }) {
            Ok(()) => Ok(gen),
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::ESTALE) => {
                self.drop_room();
                Ok(None)
            }
            Err(e) => Err(fs_error("list", &self.path(b"R"), &e)),
        }
    }

    /// The baton holder closes the room: `rmdir(R)`, which the server refuses while anything
    /// is inside. A grant rests on our own successful rmdir made after our take: an ENOENT may
    /// come from a client's cache, so an absent room is made and removed again.
    pub fn close_room(&mut self) -> Result<Close> {
        self.drop_room();
        for _ in 0..2 {
            match self.side.rmdir(ROOM) {
                Ok(()) => return Ok(Close::Granted),
                Err(e) if matches!(errno(&e), libc::ENOTEMPTY | libc::EEXIST | libc::EBUSY) => {
                    return Ok(Close::Occupied)
                }
                Err(e) if errno(&e) == libc::ENOENT => match self.side.mkdir(ROOM) {
                    Ok(()) => {}
                    Err(e) if errno(&e) == libc::EEXIST => {}
                    Err(e) => return Err(fs_error("mkdir", &self.path(b"R"), &e)),
                },
                Err(e) => return Err(fs_error("rmdir", &self.path(b"R"), &e)),
            }
        }
        Ok(Close::Occupied)
    }

    /// Writer release (also: giving the baton back after a timeout): make the room if it is
    /// absent, then rename the baton into it, `Q/b.<gen>.<token>` to `R/baton.<gen>`. False if
    /// our baton was gone: an evictor took it over (we were stopped past the threshold), and
    /// then nothing else is touched.
    pub fn give_back(&mut self, gen: u64, token: &Token, written: BootInstant) -> Result<bool> {
        self.give_back_name(gen, &Baton::held_name(gen, token), written)
    }

    pub(super) fn give_back_name(
        &mut self,
        gen: u64,
        held: &Name,
        written: BootInstant,
    ) -> Result<bool> {
        let resting = Baton::resting_name(gen);
        let mut tries = 0;
        let mut gone = Absence::new();
        let mut fresh_when_missed = None;
        let resting_path = in_room(&resting);
        loop {
            // By path: the room our grant removed is made again and the baton renamed into
            // whatever `R` is now; no handle on the new room is opened for it.
            let r = match self.side.mkdir(ROOM) {
                Err(e) if errno(&e) != libc::EEXIST => Err(fs_error("mkdir", &self.path(b"R"), &e)),
                _ => self
                    .queue
                    .rename(held.as_cstr(), &self.side, resting_path.as_cstr())
                    .map_err(|e| fs_error("rename", &self.qpath(held.as_bytes()), &e)),
            };
            let err = match r {
                Ok(()) => {
                    self.baton.gen_guess = Some(gen);
                    return Ok(true);
                }
                Err(e) => e,
            };
            // Is our baton still ours? If so the failure was about the room (removed under
            // us, or ESTALE): try again. If not, either the rename happened after all (the
            // baton rests in the room) or an evictor took it over.
            match self.queue.stat(held.as_cstr()) {
                Ok(_) => {
                    if !(err.transient || err.status == Status::SRWL_EIO) || tries >= 100 {
                        return Err(err);
                    }
                    tries += 1;
                    self.drop_room();
                    std::thread::sleep(Duration::from_millis(if tries < 5 { 1 } else { 50 }));
                }
                Err(_) => {
                    if self.side.stat(resting_path.as_cstr()).is_ok() {
                        self.baton.gen_guess = Some(gen);
                        return Ok(true);
                    }
                    let fresh = *fresh_when_missed.get_or_insert_with(|| self.fresh(written));
                    if gone.confirmed() {
                        return Ok(fresh);
                    }
                    self.drop_room();
                }
            }
        }
    }

    /// Whether our baton is still ours, checked right after the grant: a writer stopped
    /// between its take and its rmdir may have been taken over meanwhile; its grant would then
    /// be a zombie's (its generation is smaller than its successor's, so fencing refuses it),
    /// and it is reported lost rather than granted.
    pub fn baton_still_ours(&self, gen: u64, token: &Token, written: BootInstant) -> bool {
        self.fresh(written) || Self::record_exists(&self.side, &Self::baton_path(gen, token))
    }

    /// Whether our record is still there (srwl_check): `rel` under `dir`. An absence must
    /// last to count.
    pub fn record_exists(dir: &Dir, rel: &Name) -> bool {
        let mut gone = Absence::new();
        loop {
            match dir.stat(rel.as_cstr()) {
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ENOTDIR) => {
                    if gone.confirmed() {
                        return false;
                    }
                }
                _ => return true,
            }
        }
    }
}
