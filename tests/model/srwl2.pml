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

/* ---------------- the file system ----------------
   Only the directory that the name S/R denotes now matters: a removed room is empty (rmdir
   succeeds only on an empty directory) and gone for good; a new one is a new inode. Reader
   records are therefore only ever in the current R. The baton is one file; where it is: */
#define INR  0            /* R/baton.<gen>: at rest in the room                           */
#define EV   (NW + 1)     /* held by the evictor (taking over a dead holder, handing back)  */
/* 1..NW: Q/b.<gen>.<tok of writer w-1>: held by writer w-1                               */
byte bat = INR;           /* where the baton is                                           */
bool Rex = true;          /* S/R exists                                                   */
bool rrec[NR];            /* R/r.<tok_i> exists (in the current R)                         */

/* ---------------- process state ---------------- */
bool hst[NR];             /* reader i's room handle names a removed room (stale)          */
bool rhold[NR];           /* reader i believes it holds the read lock                     */
bool rev[NR];             /* reader i's record was removed by the evictor                 */
bool whold[NW];           /* writer w believes it holds the write lock                    */
bool wev[NW];             /* writer w's baton was taken over by the evictor               */
byte nrhold;              /* readers holding that were not evicted (kept by the steps)     */

#ifdef LIVE
byte crashes;             /* crashes so far (bounded by CB)                               */
byte zombies;             /* evictions of live processes so far (bounded by ZB)           */
bool rdead[NR];
bool wdead[NW];
#define CRASH(dead)  :: atomic { crashes < CB -> crashes++; dead = true }; goto done
#else
#define CRASH(dead)
#endif

/* The property: a writer that believes it holds the write lock and has not been evicted is
   alone: no other such writer, no such reader. */
#define WALONE(w) (!whold[w] || wev[w] || \
    ((NW < 2 || (w == 0 -> (!whold[1] || wev[1]) : (!whold[0] || wev[0]))) && nrhold == 0))
#define INV (WALONE(0) && WALONE(1))

/* The room is removed (a write grant, or a zombie's rmdir): every reader handle on it is
   stale from now on. */
inline room_removed() {
    Rex = false;
    for (k : 0 .. NR - 1) { hst[k] = true }
    k = 0
}

/* The room holds nothing: no baton, no reader record (an expression, usable as a guard). */
#define ROOM_EMPTY (bat != INR && !rrec[0] && (NR < 2 || !rrec[1 % NR]) && (NR < 3 || !rrec[2 % NR]))

inline room_empty(result) {
    result = (bat != INR);
    for (k : 0 .. NR - 1) { result = result && !rrec[k] }
    k = 0
}

/* ---------------- readers ---------------- */
proctype reader(byte i) {
    byte k;
    bool own, baton, snap;
#ifdef LIVE
    byte cyc = 0;
#endif
start:
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
    /* holding */
    atomic { rhold[i] = false; if :: !rev[i] -> nrhold-- :: else fi };
    rrec[i] = false;       /* release: unlink our unique name */
    rev[i] = false;
#ifdef LIVE
    cyc++;
#endif
    goto start;
done: skip
}

/* ---------------- writers ---------------- */
proctype writer(byte w) {
    byte k;
    bool isempty;
#ifdef LIVE
    byte cyc = 0;
#endif
start:
#ifdef LIVE
    if
    :: cyc == NCYC -> goto done
    :: else
    fi;
#endif
    /* take: rename(R/baton, Q/b.<tok>): succeeds for one taker only */
    atomic { bat == INR -> bat = w + 1; wev[w] = false }
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
    /* mkdir R (EEXIST is fine), then rename Q/b.<tok> -> R/baton */
    atomic { if :: !Rex -> Rex = true :: else fi };
#ifdef LIVE
    if
    CRASH(wdead[w])
    :: true
    fi;
#endif
    if
    :: atomic { bat == w + 1 && Rex -> bat = INR }
    :: atomic { bat == w + 1 && !Rex -> skip }; goto release   /* R vanished: again */
    :: bat != w + 1 -> skip                                     /* taken over: ELOST */
    fi;
#ifdef LIVE
    cyc++;
#endif
    goto start;
done: skip
}

/* ---------------- the evictor ----------------
   Any process may evict a record it judged dead. In the safety configuration the judgement
   is arbitrary (a live but stopped process is judged dead: a zombie that resumes later). */
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
#define EVW(k) :: atomic { NW > k && bat == (k % NW) + 1 && MAY_EVICT(WDEAD(k % NW)) -> \
        COUNT_ZOMBIE(WDEAD(k % NW)); bat = EV; wev[k % NW] = true }; goto handback
#ifdef LIVE
#define RDEAD(k) rdead[k]
#define WDEAD(k) wdead[k]
#else
#define RDEAD(k) false
#define WDEAD(k) false
#endif

proctype evictor() {
end_idle:
    do
    EVR(0)
    EVR(1)
    EVR(2)
    EVW(0)
    EVW(1)
    EVW(2)
    od;
handback:
    /* hand the baton back: mkdir R (EEXIST is fine), rename it into R */
    do
    :: atomic { Rex -> bat = INR; break }
    :: atomic { !Rex -> Rex = true }
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
        run evictor()
    }
}
