/*
 * srwl2.pml -- Promela model of the srwl/2 ("baton") reader/writer lock protocol.
 * See docs/model/README.md for what is modelled, what is abstracted and why.
 *
 * One file, several configurations (the variant files #define a switch and #include this file):
 *   default   safety: unbounded cycles of NR readers and NW writers; an evictor that may evict
 *             anything at any time (so live processes become zombies that resume after their
 *             eviction); stale room handles; spurious ENOENT from rmdir; listings whose
 *             entries are read at different moments.
 *   LIVE      no-wedge: NCYC cycles per process, up to CB crashes (a crashed process stops for
 *             good at any step), an evictor that evicts what crashed processes left (and ZB
 *             live processes: zombies). Waiting is a blocking guard on the condition that lets
 *             the waiter progress, so a wedge shows as an invalid end state.
 *   BUG_A     readers look for the baton BEFORE creating their record.
 *   BUG_B     a writer takes ENOENT from rmdir(R) as its grant (a client's negative cache can
 *             answer ENOENT while R exists on the server).
 *   BUG_C     the reader's check does not require its own record in the listing (a listing
 *             through a stale handle that shows the baton is trusted).
 *   BUG_D     a writer is granted as soon as it holds the baton (no rmdir of the room).
 *
 * Grown with the fault campaign of issue 11 (each switch can be combined with the above):
 *   INIT      the lock starts uninitialised: every process first runs the initialisation (the
 *             link election of the process that creates the baton); an elected process may crash
 *             between its link and its rename (the orphan t.<me> is then taken over).
 *   FB=n      up to n faults of a file server: a link, rename, rmdir or mkdir that HAPPENS but
 *             reports an error (a retransmitted NFS request, a soft mount), and a hand-back
 *             whose mkdir or rename fails (ENOSPC, EDQUOT, persistent ESTALE).
 *   NE=n      n evictors (default 1): concurrent takeovers, and one evictor taking over the
 *             baton another evictor left stranded.
 *   The property "an evicted holder is told SRWL_ELOST at release" is an assertion in the
 *   writer's and the reader's release, in every configuration.
 * Known-bad variants of today's (b95c232) behaviour, each must make SPIN fail:
 *   BUG_INIT        a link that happened but reported an error is taken at its word: t.<me>, the
 *                   baton's only other name, is unlinked (issue 11, fault 2): a wedge.
 *   BUG_STRAND      an evictor whose takeover reported an error (it happened) or whose hand-back
 *                   failed abandons the baton it now holds under its own token and never looks
 *                   at it again (fault 4): a wedge when it is the only waiter.
 *   BUG_SAMENAME    an evictor hands the baton back under the generation in the dead holder's
 *                   name, R/baton.<g>, the name the holder itself gives it back under; the
 *                   holder's release takes that name for the proof that its own rename happened
 *                   (fault 3): SRWL_OK for an evicted holder.
 *   BUG_UNLINK      an evictor unlinks a held baton it cannot read, as junk (fault 1): a wedge.
 *   BUG_NOTAKEOVER  the evictor never takes over a writer's baton: a wedge (shows that the
 *                   no-wedge check can find one at all, issue 14 item 7).
 *
 * The host share (issue 13; docs/model/README.md, "The host share"; src/protocol/share.rs):
 *   SHARE     readers 0..NRS-1 (default: all) run on one host and share one room record per entry
 *             through the share file: the first enters the room (under the door) and publishes the
 *             entry (or holds alone), the others join it within its join window, the last holder
 *             closes it. An entry is open while its marker file exists: the publisher makes it,
 *             the closer removes it (holding the entry's holders lock exclusively), then the record.
 *   SWEEP     also srwl_close's sweep: a process takes the whole share file's lock when no one
 *             holds any lock in it (meanwhile every other lock attempt fails), removes every
 *             marker of the stem, and unlocks.
 *   SWEEPX    also the sweep of a process whose share file is no longer the one the name denotes
 *             (srwl_close on a nameless file, whose whole-file lock nobody else's conflicts
 *             with): any marker may be removed at any moment.
 *             Either sweep can leave an entry without a closer (a wedge until a stale eviction;
 *             bug_share_sweep.pml, bug_share_sweepx.pml). FIX_SWEEP, a proposal: a joiner that
 *             took the holders lock and finds no marker leaves as a holder too, and a leaver
 *             whose second try fails leaves only if another holder or a closer holds H(e).
 *   Known-bad variants of the share, each must make SPIN fail:
 *   BUG_NOWINDOW    a joiner does not check the join window (joins an entry whose record may
 *                   have been evicted): an exclusion violation.
 *   BUG_NOMARK      a closer unlinks the record before the marker: killed in between, it leaves an
 *                   entry that looks open without its record (no-wedge configuration, with a
 *                   crash): an exclusion violation.
 *   BUG_NORECHECK   a joiner looks at the marker before it takes the holders lock, not after: an
 *                   exclusion violation.
 *   BUG_LATEUNMARK  a closer unlocks the holders lock before it removes the marker (the lock only
 *                   decides who closes): an exclusion violation.
 *   BUG_DROPJOIN    a joiner that took the holders lock and finds the window over just drops the
 *                   lock: the entry may be left without a closer (no-wedge configuration: a
 *                   wedge, the record waits for a stale eviction).
 */

#ifndef NR
#define NR 2
#endif
#ifndef NW
#define NW 2
#endif
#ifndef NCYC
#define NCYC 1
#endif
#ifndef CB
#define CB 1
#endif
#ifndef ZB
#define ZB 1
#endif
#ifndef FB
#define FB 0
#endif
#ifndef NE
#define NE 1
#endif

/* ---------------- the file system ----------------
   Only the directory that the name S/R denotes now matters: a removed room is empty (rmdir
   succeeds only on an empty directory) and gone for good; a new one is a new inode. Reader
   records are therefore only ever in the current R. The baton is one file; where it is: */
#define INR  0            /* R/baton.<gen>: at rest in the room                           */
/* 1..NW: Q/b.<gen>.<tok of writer w-1>: held by writer w-1                               */
#define EV(e) (NW + 1 + (e)) /* Q/b.<gen>.<tok of evictor e>: held by evictor e (taking over
                                a dead holder, handing back)                               */
#define TR   (NW + 1 + NE)   /* S/t.<tok>: created, linked as init, not yet in the room (INIT) */
#define NONE (NW + 2 + NE)   /* no baton: not created yet (INIT), or destroyed (BUG_UNLINK)  */
#ifdef INIT
byte bat = NONE;          /* where the baton is                                           */
bool Rex = false;         /* S/R exists                                                   */
#else
byte bat = INR;
bool Rex = true;
#endif
bool rrec[NR];            /* R/r.<tok_i> exists (in the current R)                         */
/* The name the baton rests under, as far as it matters to a writer's release: w + 1 if writer
   w's own give-back made it (R/baton.<g_w>, the generation of w's hold), 0 for any other name
   (an evictor's hand-back under a generation the holder never uses; initialisation). */
byte restname = 0;
#if FB > 0 || defined(BUG_SAMENAME)
#define SETREST(v) restname = (v)
#else
#define SETREST(v) skip   /* without faults no writer looks its own name up after a success */
#endif
#ifdef INIT
bool init_ex = false;     /* S/init exists                                                 */
byte init_of = 255;       /* whose t.<tok> file init is a second name of                    */
#endif
byte faults = 0;          /* file-server faults so far (bounded by FB)                     */
#ifdef BUG_SAMENAME
byte lastheld[NE];        /* evictor e: the writer (w + 1) whose baton it took over last   */
#endif

#ifdef SHARE
/* ---------------- the host share ----------------
   Entries are named by slots 1..NS (0: none). A slot stands for an entry number: it is taken
   only when nothing refers to it any more (not the header's entry, no record, no reader attached
   to it; what is left of its old entry, a marker, is then forgotten: a real new number is never
   an old one), so comparing slots is comparing entry numbers, and a removed marker never comes
   back while anything refers to its entry. At most NRS entries are attached to a reader at once,
   plus the header's: NS = NRS + 1 suffices (the allocation asserts a free slot). */
#ifndef NRS
#define NRS NR
#endif
#ifndef NS
#define NS (NRS + 1)
#endif
#if NS > 4 || NR > 3
#error "the share's macros (SREC_NONE, EVS, WCL, MSW, RENT_NONE, SREF) cover NS <= 4 slots and NR <= 3 readers"
#endif
byte she = 0;             /* header: the current entry e (0: none)                          */
bool smark[NS + 1];       /* the entry's marker <stem>.<e> exists (the entry is open)       */
bool swin[NS + 1];        /* the entry's join window is open: now < entered + min(lease/2, 2 s) */
bool srec[NS + 1];        /* the entry's record R/r.<tok> exists (in the current R)         */
byte shold[NS + 1];       /* shared locks on H(e): one bit per reader                        */
byte swl[NS + 1];         /* the exclusive lock on H(e): reader + 1 (0: none)               */
byte door = 0;            /* the door (byte 0): reader + 1 (0: free)                        */
byte rent[NR];            /* the entry reader i is attached to (publisher, joiner, holder,
                             closer; 0: none). A crashed reader keeps it (for the evictor). */
#define RENT_NONE(x) (rent[0] != (x) && (NR < 2 || rent[1 % NR] != (x)) && (NR < 3 || rent[2 % NR] != (x)))
#define SFREE(x) ((x) != she && !srec[x] && RENT_NONE(x))
#define SREC_NONE (!srec[1] && (NS < 2 || !srec[2 % (NS + 1)]) && (NS < 3 || !srec[3 % (NS + 1)]) && \
                   (NS < 4 || !srec[4 % (NS + 1)]))
#ifdef SWEEP
bool sw = false;          /* the sweeper holds the whole share file's lock                    */
#ifdef LIVE
bool swept = false;       /* one sweep (a sweep that could recur for ever would hide a wedge) */
#define SWEEP_LEFT (!swept)
#define SWEEP_COUNT swept = true
#else
#define SWEEP_LEFT true
#define SWEEP_COUNT skip
#endif
#define NOSW (!sw)
#define SNOLOCK(x) (NS < x || (shold[x % (NS + 1)] == 0 && swl[x % (NS + 1)] == 0))
#define NOLOCKS (door == 0 && SNOLOCK(1) && SNOLOCK(2) && SNOLOCK(3) && SNOLOCK(4))
#else
#define NOSW true
#endif
#if defined(SWEEP) || defined(SWEEPX)
/* a record whose entry lost its closer keeps its slot until it is evicted: in the safety
   configuration (unbounded cycles) a door holder finds a free slot or waits (a bound) */
#define SANYFREE (SFREE(1) || (NS >= 2 && SFREE(2 % (NS + 1))) || (NS >= 3 && SFREE(3 % (NS + 1))) || \
                  (NS >= 4 && SFREE(4 % (NS + 1))))
#else
#define SANYFREE true
#endif
#else
#define SREC_NONE true
#endif

/* ---------------- process state ---------------- */
bool hst[NR];             /* reader i's room handle names a removed room (stale)          */
bool rhold[NR];           /* reader i believes it holds the read lock                     */
bool rev[NR];             /* reader i's record was removed by the evictor                 */
bool whold[NW];           /* writer w believes it holds the write lock                    */
bool wev[NW];             /* writer w's baton was taken over by the evictor               */
byte nrhold;              /* readers holding that were not evicted (kept by the steps)     */

bool rdead[NR];           /* crashed (LIVE; always false in the safety configuration)      */
bool wdead[NW];
#ifdef LIVE
byte crashes;             /* crashes so far (bounded by CB)                               */
byte zombies;             /* evictions of live processes so far (bounded by ZB)           */
/* in the evictors: whether process id p (readers 0..NR-1, writers NR..) has crashed */
#define PDEAD(p) ((p) < NR -> rdead[(p) % NR] : wdead[((p) - NR) % NW])
#define CRASH(dead)  :: atomic { crashes < CB -> crashes++; dead = true }; goto done
#define CRASH2(dead) if CRASH(dead) :: true fi
#else
#define CRASH(dead)
#define CRASH2(dead) skip
#endif

/* The property: a writer that believes it holds the write lock and has not been evicted is
   alone: no other such writer, no such reader. */
#define WALONE(w) (!whold[w] || wev[w] || \
    ((NW < 2 || (w == 0 -> (!whold[1 % NW] || wev[1 % NW]) : (!whold[0] || wev[0]))) && nrhold == 0))
#define INV (WALONE(0) && (NW < 2 || WALONE(1 % NW)))

/* The room is removed (a write grant, or a zombie's rmdir): every reader handle on it is
   stale from now on. */
inline room_removed() {
    Rex = false;
    for (k : 0 .. NR - 1) { hst[k] = true }
    k = 0
}

/* The room holds nothing: no baton, no reader record (an expression, usable as a guard). */
#define ROOM_EMPTY (bat != INR && !rrec[0] && (NR < 2 || !rrec[1 % NR]) && (NR < 3 || !rrec[2 % NR]) && SREC_NONE)

inline room_empty(result) {
    result = (bat != INR);
    for (k : 0 .. NR - 1) { result = result && !rrec[k] }
#ifdef SHARE
    for (k : 1 .. NS) { result = result && !srec[k] }
#endif
    k = 0
}

#ifdef SHARE
/* slot x no longer names anything: forget its window and its marker (canonical state) */
inline gc(x) {
    if
    :: (x) != 0 && SFREE(x) -> swin[x] = false; smark[x] = false
    :: else
    fi
}
/* reader i lets go of its entry (its locks are already released) */
inline detach() {
    k = rent[i]; rent[i] = 0; rev[i] = false; gc(k); k = 0
}
#if defined(LIVE) && CB > 0
/* a crash: the kernel releases the process's OFD locks (door, holders lock); a crashed holder
   holds nothing. rent[i] stays: the evictor may remove what it left. */
#define SCRASH :: atomic { crashes < CB -> crashes++; rdead[i] = true; \
        if :: rent[i] != 0 -> shold[rent[i]] = shold[rent[i]] & ~(1 << i); \
              if :: swl[rent[i]] == i + 1 -> swl[rent[i]] = 0 :: else fi \
        :: else fi; \
        if :: door == i + 1 -> door = 0 :: else fi; \
        if :: rhold[i] -> rhold[i] = false; if :: !rev[i] -> nrhold-- :: else fi :: else fi }; goto done
#define SCRASH2 if SCRASH :: true fi
#else
#define SCRASH
#define SCRASH2 skip
#endif
#endif

/* ---------------- initialisation (INIT) ----------------
   Disk::initialise: stat init; absent -> create t.<me> (a record), link(t.<me>, init): the link
   elects the one process that creates the baton (init is never removed). The link may HAPPEN and
   still report EEXIST or EIO (FB). Fixed protocol: after an error, look at what exists: if init
   and t.<me> are one inode (fstatat of both: the same st_dev/st_ino), we are elected after all;
   an EIO with init absent is an error of srwl_open (t.<me> removed, nothing else changed).
   BUG_INIT: any error unlinks t.<me> (today's code). The elected process makes R and renames
   t.<me> to R/baton.0; it may crash in between: waiters take the orphan over (evictor).
   `me`: process id; `ok` is set false if srwl_open fails (the process then stops). */
#ifdef INIT
inline initialise(me, ok, dead) {
    ok = true;
    if
    :: init_ex -> skip                       /* stat init: a regular file: initialised */
    :: else ->
        /* create t.<me>, then link(t.<me>, init): atomic, fails if init exists */
        atomic {
            if
            :: !init_ex -> init_ex = true; init_of = me; bat = TR; linked = true
            :: else -> linked = false
            fi
        }
        CRASH2(dead);
        /* the answer: the truth, or an error although it happened */
        if
        :: linked -> elected = true
        :: atomic { linked && faults < FB -> faults++ };
#ifdef BUG_INIT
            elected = false                  /* taken at its word: unlink t.<me> */
#else
            elected = (init_of == me)        /* init and t.<me> are one inode: elected */
#endif
        :: !linked -> elected = false        /* EEXIST: someone else initialised */
        fi;
        if
        :: elected ->
            atomic { if :: !Rex -> Rex = true :: else fi };  /* mkdir R (EEXIST fine) */
            CRASH2(dead);
            if
            :: atomic { bat == TR -> assert(Rex); bat = INR; SETREST(0) }  /* rename t.<me> -> R/baton.0 */
            :: bat != TR -> ok = false       /* taken over while we were stopped: open fails */
            fi
        :: !elected ->
            if
            :: bat == TR && init_of == me -> bat = NONE   /* unlinked the baton's other name (BUG_INIT) */
            :: else -> skip                  /* unlink t.<me>: not the baton */
            fi
        fi
    fi
}
#endif

/* ---------------- readers ---------------- */
proctype reader(byte i) {
    byte k;
    bool own, baton, snap;
#ifdef LIVE
    byte cyc = 0;
#endif
#ifdef INIT
    bool linked, elected, opened;
    initialise(i, opened, rdead[i]);
    if :: !opened -> goto done :: else fi;
#endif
start:
#ifdef SHARE
    if :: i < NRS -> goto sstart :: else fi;
#endif
#ifdef LIVE
    if
    :: cyc == NCYC -> goto done
    :: else
    fi;
    /* wait until entering can succeed (the retry loop, abstracted to a blocking guard) */
    (bat == INR);
#endif
    snap = (bat == INR);    /* what a listing taken now would show (see the check) */
#ifdef BUG_A
    baton = (bat == INR);   /* looks first ... */
#endif
    /* create r.<tok> through the handle */
    if
    :: hst[i] ->
        if
        :: true -> /* the create fails (ENOENT/ESTALE): reopen R by name */
            atomic { if :: Rex -> hst[i] = false :: else -> goto start fi }
            goto start
        :: Rex -> rrec[i] = true        /* lands in the current room (GlusterFS) */
        fi
    :: !hst[i] -> rrec[i] = true        /* a fresh handle names the current room */
    CRASH(rdead[i])
    fi;
    /* check: one listing through the same handle; its entries are read at different
       moments after the create, so the two observations are separate steps, either order */
#ifndef BUG_A
    if
    :: baton = (bat == INR); own = rrec[i]
    :: own = rrec[i]; baton = (bat == INR)
    :: baton = snap; own = false   /* a stale listing (a client's cache, or a handle on a
                                      removed room): taken before our create, so it cannot
                                      show our record */
    :: baton = false; own = false  /* the listing fails */
    fi;
#else
    own = rrec[i];
#endif
#ifdef BUG_C
    own = true;
#endif
#ifdef LIVE
    if
    CRASH(rdead[i])
    :: true
    fi;
#endif
    if
    :: atomic { own && baton -> rhold[i] = true; if :: !rev[i] -> nrhold++ :: else fi }
    :: !(own && baton) ->
        rrec[i] = false;   /* unlink our record (by handle, then by path) */
        rev[i] = false;
        goto start
    fi;
rheld:
    /* holding */
    atomic { rhold[i] = false; if :: !rev[i] -> nrhold-- :: else fi };
    /* release: unlink our unique name. Present: removed, SRWL_OK, and we cannot have been
       evicted (an eviction removes the name). Absent: SRWL_ELOST. (The freshness exception, an
       absence seen within half a threshold of our last write is our own unlink that reported
       an error, is timed and not modelled: the C test fault_suspend covers its clock.) */
    atomic {
        if
        :: rrec[i] -> rrec[i] = false; assert(!rev[i])
        :: else -> skip                  /* SRWL_ELOST */
        fi;
        rev[i] = false
    }
#ifdef LIVE
    cyc++;
#endif
    goto start;
#ifdef SHARE
    /* ---- a reader of the host share (src/protocol/share.rs) ----
       rent[i]: the entry we are attached to. rev[i]: its record was evicted after our evidence
       that it could not have been (the publisher: its create and listing; a joiner: its last
       clock read, inside the window). Steps that nothing else can tell apart are merged (see
       the README). */
sstart:
#ifdef LIVE
    if
    :: cyc == NCYC -> goto done
    :: else
    fi;
#endif
    if
    /* join: read the header (a published entry) and the clock: now < entered + window (a
       filter: the evidence is the clock read after the marker, below) */
#ifdef LIVE
    /* waiting is a blocking guard: here, until a join or an enter can succeed */
    :: atomic { she != 0 && swin[she] && smark[she] && swl[she] == 0 && NOSW -> rent[i] = she; rev[i] = false }
#elif defined(BUG_NOWINDOW)
    :: atomic { she != 0 -> rent[i] = she; rev[i] = false }
#elif defined(BUG_NORECHECK)
    /* the marker is looked at here, before the holders lock */
    :: atomic { she != 0 && swin[she] && smark[she] -> rent[i] = she; rev[i] = false }
#else
    :: atomic { she != 0 && swin[she] -> rent[i] = she; rev[i] = false }
#endif
    /* or (any time: hints decide when) the door: an exclusive lock, EAGAIN: back off and look
       again. Holding it, a new entry number (its marker does not exist); `entered` is read
       before the create, so the window is open from before the record exists. */
    :: atomic {
#ifdef LIVE
        bat == INR &&
#endif
        door == 0 && NOSW && SANYFREE -> door = i + 1;
        for (k : 1 .. NS) { if :: rent[i] == 0 && SFREE(k) -> rent[i] = k :: else fi };
        assert(rent[i] != 0 && shold[rent[i]] == 0 && swl[rent[i]] == 0 && !smark[rent[i]]);
        swin[rent[i]] = true; rev[i] = false; k = 0 }; goto senter
    fi;
    /* the shared lock on H(e) (F_OFD_SETLK; EAGAIN while a closer holds it exclusively: give up) */
    if
    :: atomic { swl[rent[i]] == 0 && NOSW -> shold[rent[i]] = shold[rent[i]] | (1 << i) }
    :: else -> atomic { detach() }; goto sstart
    fi;
    SCRASH2;
    /* stat the marker, then read the clock again. (One step: holding H(e) shared, no closer can
       remove the marker in between; a sweep only removes it, which the stat may then see.) */
    if
#ifndef BUG_NORECHECK
#ifdef FIX_SWEEP
    :: !smark[rent[i]] -> goto sleave   /* (proposed) leave as a holder: a sweep may have removed it */
#else
    :: atomic { !smark[rent[i]] -> shold[rent[i]] = shold[rent[i]] & ~(1 << i); detach() };
       goto sstart   /* closed: unlock, give up */
#endif
#ifdef BUG_NOWINDOW
    :: atomic { smark[rent[i]] ->
#else
    :: atomic { smark[rent[i]] && swin[rent[i]] ->
#endif
#else
    :: atomic { swin[rent[i]] ->
#endif
        /* joined: the evidence that the record is in the room is this clock read */
        rev[i] = false; rhold[i] = true; nrhold++ }
#if defined(BUG_NOWINDOW)
    :: false ->
#elif !defined(BUG_NORECHECK)
    :: atomic { smark[rent[i]] && !swin[rent[i]] } ->
#else
    :: !swin[rent[i]] ->
#endif
#ifdef BUG_DROPJOIN
        /* too late: just drop the lock (a holder that saw it and left expects us to close) */
        atomic { shold[rent[i]] = shold[rent[i]] & ~(1 << i); detach() };
        goto sstart
#else
        /* too late: we hold H(e), so a holder that saw our lock may have left counting on us:
           leave as a holder does (close the entry if we turn out to be its last) */
        goto sleave
#endif
    fi;
#ifdef LIVE
    cyc++;
#endif
    goto sheld;
senter:
    /* enter the room as today: create the record through the handle, one listing */
    snap = (bat == INR);
    if
    :: hst[i] ->
        if
        :: true -> /* the create fails: reopen R by name; unlock the door, wait, try again */
            atomic { if :: Rex -> hst[i] = false :: else fi; door = 0; detach(); snap = false };
            goto sstart
        :: Rex -> srec[rent[i]] = true
        fi
    :: !hst[i] -> srec[rent[i]] = true
    SCRASH
    fi;
    if
    :: baton = (bat == INR); own = srec[rent[i]]
    :: own = srec[rent[i]]; baton = (bat == INR)
    :: baton = snap; own = false   /* a stale listing */
    :: baton = false; own = false  /* the listing fails */
    fi;
    SCRASH2;
    if
    :: atomic { own && baton ->
        rhold[i] = true; if :: !rev[i] -> nrhold++ :: else fi;
        own = false; baton = false; snap = false;
        if
        :: /* publish: make the marker, take H(e) shared, write the header {e, record,
              entered}; unlock the door (one step: nothing can observe the entry before the
              header names it) */
           smark[rent[i]] = true; shold[rent[i]] = shold[rent[i]] | (1 << i);
           k = she; she = rent[i]; door = 0; gc(k); k = 0
        :: /* or hold alone (nobody waits, the room is not crowded): the record is ours, the
              release a plain reader's; unlock the door */
           rrec[i] = srec[rent[i]]; srec[rent[i]] = false; door = 0;
           k = rent[i]; rent[i] = 0; gc(k); k = 0;
           goto rheld
        fi }
    :: !(own && baton) ->
        /* shut: unlink our record, unlock the door, wait */
        atomic { srec[rent[i]] = false; door = 0; detach(); own = false; baton = false; snap = false };
        goto sstart
    fi;
#ifdef LIVE
    cyc++;
#endif
sheld:
    SCRASH2;   /* the publisher, or a joiner, dies while the others hold */
sleave:
    /* release (or a joiner too late): the hold ends. Not fresh: look the record up, still
       holding (no one closes it meanwhile); present: SRWL_OK as far as the look-up goes, and
       then we cannot have been evicted. Then convert H(e) to exclusive (atomic; EAGAIN while
       another process has its shared lock). A lost hold (abandon: its record is gone) leaves
       the same way and skips the record's unlink, which would find nothing: the same steps. */
    if
    :: atomic { shold[rent[i]] == (1 << i) ->   /* (no sweep: we hold a lock) */
                if :: srec[rent[i]] -> assert(!rev[i]) :: else fi;
                shold[rent[i]] = 0; swl[rent[i]] = i + 1;
                if :: rhold[i] -> rhold[i] = false; if :: !rev[i] -> nrhold-- :: else fi :: else fi };
       goto sclose
    :: atomic { shold[rent[i]] != (1 << i) ->
                if :: srec[rent[i]] -> assert(!rev[i]) :: else fi;
                if :: rhold[i] -> rhold[i] = false; if :: !rev[i] -> nrhold-- :: else fi :: else fi }
    fi;
    /* EAGAIN: unlock, try the exclusive lock again */
    shold[rent[i]] = shold[rent[i]] & ~(1 << i);
    if
    :: atomic { shold[rent[i]] == 0 && swl[rent[i]] == 0 && NOSW -> swl[rent[i]] = i + 1 }; goto sclose
#ifdef FIX_SWEEP
    /* (proposed) F_OFD_GETLK: leave only if the conflicting lock is another holder's or a
       closer's; the sweeper's whole-file lock is waited out */
    :: atomic { shold[rent[i]] != 0 || swl[rent[i]] != 0 -> detach() }; goto sstart
#else
    :: else -> atomic { detach() }; goto sstart   /* another holder is left, who closes */
#endif
    fi;
sclose:
    /* holding H(e) exclusively: no holder left, and no joiner can get in. Remove the marker
       (no one joins from now on), then the record (release_read: removed, SRWL_OK, and we
       cannot have been evicted; ENOENT: evicted, or a second closer, whose bytes are fresh:
       timed, not modelled), then unlock. */
#if defined(BUG_LATEUNMARK)
    swl[rent[i]] = 0;                 /* unlocked first */
    smark[rent[i]] = false;
    atomic { if :: srec[rent[i]] -> srec[rent[i]] = false; assert(!rev[i]) :: else fi; detach() };
#elif defined(BUG_NOMARK)
    atomic { if :: srec[rent[i]] -> srec[rent[i]] = false; assert(!rev[i]) :: else fi };
    SCRASH2;
    atomic { smark[rent[i]] = false; swl[rent[i]] = 0; detach() };
#elif defined(LIVE)
    SCRASH2;                          /* the entry stays open: joiners join its record */
    smark[rent[i]] = false;
    SCRASH2;                          /* the record is left to the evictor */
    atomic { if :: srec[rent[i]] -> srec[rent[i]] = false; assert(!rev[i]) :: else fi;
             swl[rent[i]] = 0; detach() };
#else
    /* without crashes one step: while we hold H(e) exclusively only a joiner could tell the
       removals apart, and it cannot take the lock */
    atomic { smark[rent[i]] = false;
             if :: srec[rent[i]] -> srec[rent[i]] = false; assert(!rev[i]) :: else fi;
             swl[rent[i]] = 0; detach() };
#endif
    goto sstart;
#endif
done: skip
}

/* ---------------- writers ---------------- */
proctype writer(byte w) {
    byte k;
    bool isempty;
#ifdef LIVE
    byte cyc = 0;
#endif
#ifdef INIT
    bool linked, elected, opened;
    initialise(NR + w, opened, wdead[w]);
    if :: !opened -> goto done :: else fi;
#endif
start:
#ifdef LIVE
    if
    :: cyc == NCYC -> goto done
    :: else
    fi;
#endif
    /* take: rename(R/baton, Q/b.<tok>): succeeds for one taker only. If it reports an error
       although it happened, fstatat(Q/b.<g+1>.<tok>) finds it (a positive answer is true):
       the same state. */
    atomic { bat == INR -> bat = w + 1; wev[w] = false; SETREST(0) }
#ifdef LIVE
    if
    CRASH(wdead[w])
    :: true
    fi;
#endif
#ifdef BUG_D
    goto granted;
#endif
close:
    /* rmdir(R): refused while anything is inside */
    if
    :: atomic { Rex -> room_empty(isempty);
                if
                :: isempty -> room_removed(); goto granted
                :: else -> skip   /* ENOTEMPTY: wait (below) */
                fi }
    :: atomic { Rex ->   /* ENOENT answered from a client's cache although R exists */
#ifdef BUG_B
                goto granted
#else
                skip      /* mkdir R: EEXIST; try the rmdir again */
#endif
              }
    :: atomic { !Rex -> Rex = true }  /* ENOENT: mkdir R (a new, empty room), rmdir again */
    :: atomic { Rex && faults < FB -> room_empty(isempty);
                if
                :: isempty -> faults++; room_removed()
                :: else -> skip
                fi };
       /* the rmdir happened (or not) and reported EIO: the acquire fails and gives the baton
          back (the release steps; it may have been taken over meanwhile) */
       goto giveup
#ifdef LIVE
    CRASH(wdead[w])
#endif
    fi;
    /* waiting for the room to drain; taken over meanwhile (we were stopped)? back in line */
    if
    :: bat != w + 1 -> goto start
#ifdef LIVE
    :: bat == w + 1 && (ROOM_EMPTY || !Rex)  /* blocks while the room is occupied */
#else
    :: bat == w + 1
#endif
    fi;
    goto close;
granted:
    /* the check after a late grant (a hint: it may miss that we were taken over) */
    if
    :: bat != w + 1 -> goto start      /* noticed: SRWL_ELOST, not granted */
    :: true                            /* not noticed: a zombie's grant */
    fi;
    whold[w] = true;
#ifdef LIVE
    if
    CRASH(wdead[w])
    :: true
    fi;
#endif
    whold[w] = false;
release:
    /* mkdir R (EEXIST is fine), then rename Q/b.<g>.<tok> -> R/baton.<g> */
    atomic { if :: !Rex -> Rex = true :: else fi };
#ifdef LIVE
    if
    CRASH(wdead[w])
    :: true
    fi;
#endif
    if
    :: atomic { bat == w + 1 && Rex -> bat = INR; SETREST(w + 1) };
        if
        :: true                                       /* SRWL_OK */
        :: atomic { faults < FB -> faults++ }; goto lookup  /* happened, reported an error */
        fi
    :: atomic { bat == w + 1 && !Rex -> skip }; goto release   /* R vanished: again */
    :: bat != w + 1 -> goto lookup                              /* the rename failed: ENOENT */
    fi;
released:
#ifdef LIVE
    cyc++;
#endif
    goto start;
lookup:
    /* our baton name is gone: did our own rename happen after all? The baton resting under the
       name only our give-back uses, R/baton.<g of our hold>, proves it: SRWL_OK. Anything else:
       SRWL_ELOST (after the absence has lasted; no state changes). An evicted writer must never
       be told SRWL_OK. */
    atomic {
        if
        :: bat == INR && restname == w + 1 -> assert(!wev[w])
        :: else -> skip
        fi
    }
    goto released;
giveup:
    /* a failed acquire hands the baton back (Lock::acquire_write_disk): the release steps */
    atomic { if :: !Rex -> Rex = true :: else fi };
    if
    :: atomic { bat == w + 1 && Rex -> bat = INR; SETREST(w + 1) }
    :: atomic { bat == w + 1 && !Rex -> skip }; goto giveup
    :: bat != w + 1 -> skip
    fi;
    goto start;
done: skip
}

/* ---------------- the evictors ----------------
   Any waiting process may evict a record it judged dead. In the safety configuration the
   judgement is arbitrary (a live but stopped process is judged dead: a zombie that resumes
   later). A judgement made on an entry that cannot be read is no different: the fixed protocol
   never unlinks a held baton (BUG_UNLINK does: fault 1), it takes it over by rename. */
#ifdef LIVE
#define MAY_EVICT(dead) (dead || zombies < ZB)
#define COUNT_ZOMBIE(dead) if :: !dead -> zombies++ :: else fi
#else
#define MAY_EVICT(dead) true
#define COUNT_ZOMBIE(dead) skip
#endif

/* evict reader k's record: unlink its unique name */
#define EVR(k) :: atomic { NR > k && rrec[k % NR] && MAY_EVICT(RDEAD(k % NR)) -> \
        COUNT_ZOMBIE(RDEAD(k % NR)); rrec[k % NR] = false; \
        if :: rhold[k % NR] && !rev[k % NR] -> nrhold-- :: else fi; rev[k % NR] = true }
/* take over writer k's baton: rename Q/b.<gen>.<k> -> Q/b.<gen>.<evictor> */
#ifndef BUG_NOTAKEOVER
#define EVW(k) :: atomic { NW > k && bat == (k % NW) + 1 && MAY_EVICT(WDEAD(k % NW)) -> \
        COUNT_ZOMBIE(WDEAD(k % NW)); bat = EV(e); wev[k % NW] = true; SAMENAME(k) }; goto handback
#else
#define EVW(k)
#endif
#ifdef BUG_UNLINK
/* an unreadable held baton judged as junk and unlinked: the lock has no baton any more */
#define EVU(k) :: atomic { NW > k && bat == (k % NW) + 1 && MAY_EVICT(WDEAD(k % NW)) -> \
        COUNT_ZOMBIE(WDEAD(k % NW)); bat = NONE; wev[k % NW] = true }
#else
#define EVU(k)
#endif
#ifdef BUG_SAMENAME
#define SAMENAME(k) lastheld[e] = (k % NW) + 1
#else
#define SAMENAME(k) skip
#endif
#ifdef LIVE
#define RDEAD(k) rdead[k]
#define WDEAD(k) wdead[k]
#else
#define RDEAD(k) false
#define WDEAD(k) false
#endif

#ifdef SHARE
/* The entry's record: no observer can evict it before c + lease (c: its create, after `entered`),
   and the window ends at entered + min(lease/2, 2 s): only a record whose window has closed is
   evicted. The window closes at any moment. In the no-wedge configuration a record is evicted
   if a crashed process was attached to its entry and no live one is (nobody refreshes it), or
   as a zombie's (ZB): never a record that live processes left behind without a closer. */
#ifdef LIVE
#define SREF(x, d) ((rent[0] == (x) && rdead[0] == d) || (NR > 1 && rent[1 % NR] == (x) && rdead[1 % NR] == d) || \
                    (NR > 2 && rent[2 % NR] == (x) && rdead[2 % NR] == d))
#define MAY_EVICT_S(x) ((!SREF(x, false) && SREF(x, true)) || (SREF(x, false) && zombies < ZB))
#define COUNT_ZOMBIE_S(x) if :: SREF(x, false) -> zombies++ :: else fi
#else
#define MAY_EVICT_S(x) true
#define COUNT_ZOMBIE_S(x) skip
#endif
#define EVS(x) :: atomic { NS >= x && srec[x % (NS + 1)] && !swin[x % (NS + 1)] && MAY_EVICT_S(x % (NS + 1)) -> \
        COUNT_ZOMBIE_S(x % (NS + 1)); srec[x % (NS + 1)] = false; \
        for (j : 0 .. NR - 1) { \
            if :: rent[j] == x % (NS + 1) -> if :: rhold[j] && !rev[j] -> nrhold-- :: else fi; rev[j] = true \
            :: else fi }; \
        j = 0; gc(x % (NS + 1)) }
#define WCL(x) :: atomic { NS >= x && swin[x % (NS + 1)] -> swin[x % (NS + 1)] = false }
#ifdef SWEEPX
/* srwl_close of a process whose share file lost its name to a newer one: its whole-file lock
   succeeds (no one else uses that file) and it removes every marker of the stem */
#define MSW(x) :: atomic { NS >= x && smark[x % (NS + 1)] -> smark[x % (NS + 1)] = false }
#else
#define MSW(x)
#endif
#else
#define MSW(x)
#define EVS(x)
#define WCL(x)
#endif

proctype evictor(byte e) {
#ifdef SHARE
    byte j;
#endif
end_idle:
    do
    EVR(0)
    EVR(1)
    EVR(2)
    EVS(1)
    EVS(2)
    EVS(3)
    EVS(4)
    WCL(1)
    WCL(2)
    WCL(3)
    WCL(4)
    MSW(1)
    MSW(2)
    MSW(3)
    MSW(4)
#if defined(SHARE) && defined(SWEEP)
    /* srwl_close: the whole-file lock (no one holds any lock), every marker removed, unlock */
    :: atomic { !sw && NOLOCKS && SWEEP_LEFT -> SWEEP_COUNT; sw = true; for (j : 1 .. NS) { smark[j] = false }; j = 0 }
    :: atomic { sw -> sw = false }
#endif
    EVW(0)
    EVW(1)
    EVW(2)
    EVU(0)
    EVU(1)
#if NE > 1
    /* another evictor's baton, stranded (never refreshed: an evictor writes no heartbeat into
       the baton it hands back, so to everyone else it ages like a dead holder's) */
    :: atomic { bat >= EV(0) && bat < EV(NE) && bat != EV(e) -> bat = EV(e) }; goto handback
#endif
#ifdef INIT
    /* an orphan t.<tok> (same inode as init), unchanged for the threshold: its initialiser
       died (or is stopped: a zombie whose rename will fail) between link and rename */
    :: atomic { bat == TR && MAY_EVICT(PDEAD(init_of)) -> COUNT_ZOMBIE(PDEAD(init_of)); bat = EV(e) };
       goto handback
#endif
#ifndef BUG_STRAND
    /* fixed: our own scan does not skip a baton named with our evictor token: one that we hold
       outside a hand-back (a takeover that reported an error, a hand-back that failed) is
       handed back again */
    :: bat == EV(e) -> goto handback
#endif
    od;
handback:
    /* hand the baton back: mkdir R (EEXIST is fine), rename it into R, under a generation no
       holder uses for its own give-back (fixed: g+1), or under the dead holder's g (BUG_SAMENAME) */
    do
#ifdef BUG_SAMENAME
    :: atomic { Rex && bat == EV(e) -> bat = INR; SETREST(lastheld[e]); break }
#else
    :: atomic { Rex && bat == EV(e) -> bat = INR; SETREST(0); break }
#endif
    :: atomic { !Rex -> Rex = true }
    /* the hand-back fails (mkdir R or the rename: ENOSPC, EDQUOT, persistent ESTALE), or the
       takeover rename happened but reported an error (take_over returns at once): either way
       the baton stays Q/b.<g>.<evictor> and the evictor goes back to waiting */
    :: atomic { faults < FB -> faults++ }; goto end_idle
    :: bat != EV(e) -> break   /* another evictor took it over from us (NE > 1) */
    od;
    goto end_idle
}

/* The safety monitor: fires as soon as the invariant does not hold. */
active proctype monitor() {
end_watch:
    atomic { !(INV) -> assert(false) }
}

init {
    byte i;
    atomic {
        for (i : 0 .. NR - 1) { run reader(i) };
        for (i : 0 .. NW - 1) { run writer(i) };
        for (i : 0 .. NE - 1) { run evictor(i) }
    }
}
