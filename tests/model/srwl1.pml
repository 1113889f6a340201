/*
 * srwl1.pml -- Promela model of the srwl/1 reader/writer lock protocol.
 * See docs/model/README.md for what is modelled, what is abstracted and why.
 *
 * One file, several configurations (the variant files #define a switch and
 * #include this file):
 *   default          safety configuration: every hint (listing of Q, lookup of
 *                    R/closed in reader step 1, ticket wait in writer step 2) is
 *                    nondeterministic, so it is left out entirely; unbounded
 *                    cycles; evictions of anything at any time (zombies).
 *   LIVE             wedge ("no wedge") configuration: hints read the current
 *                    state (plus SB stale hint/listing results), tickets and
 *                    keys, NCYCR/NCYCW cycles per process, crashes (CB), the
 *                    evictor removes what crashed processes left, plus ZB
 *                    evictions of live processes (zombies).
 *   ASIS_STEP3       reader step 3 exactly as written in the brief: ENOENT from
 *                    the lookup of `closed` through a stale handle counts as
 *                    "closed does not exist"  (flaw: unsafe).
 *   ASIS_NO_CLEANUP  nobody removes an empty R/closed whose record is gone,
 *                    as written in the brief (flaw: wedge).
 *   BUG_A            readers look for `closed` BEFORE creating their record.
 *   BUG_B            an evictor of a writer removes R/closed as a whole (rm -r
 *                    by path) instead of unlinking the judged record by name.
 *   NO_LEMMAS        check only the exclusion invariant (not the lemmas).
 */

#ifndef NR
#define NR 2
#endif
#ifndef NW
#define NW 2
#endif
#ifndef NCYCR
#define NCYCR 2
#endif
#ifndef NCYCW
#define NCYCW 2
#endif
#ifndef ZB
#define ZB 1
#endif
#ifndef SB
#define SB 1
#endif
#ifndef CB
#define CB 4
#endif

/* ---------------- the file system ----------------
   Only the directory that the name S/R denotes now matters: every reader
   record is in it (records are created only in the current R, and R is only
   replaced while empty), a replaced room is deleted, a dead claim (dead.*) is
   out of the picture. Other directories are represented by what refers to
   them: a handle's directory is "stale" (no longer R), a claim is "in Q". */
bool Rclosed;             /* R/closed/ exists                                 */
bool Rwrec;               /* R/closed/w.<tok> exists ...                      */
byte Rown;                /* ... and belongs to writer Rown (0 if !Rwrec)     */

/* ---------------- readers ---------------- */
bool hst[NR];             /* reader i's directory handle is stale             */
bool rrec[NR];            /* R/r.<tok_i> exists                               */
bool rhold[NR];           /* reader i believes it holds the read lock         */
bool rev[NR];             /* reader i's record was removed by an eviction     */

/* ---------------- writers ---------------- */
bool cl[NW];              /* Q/w.<seq>.<tok_w>/ (with closed/w.<tok_w>) exists */
bool whold[NW];           /* writer w believes it holds the write lock        */
bool wev[NW];             /* writer w's record was removed by an eviction     */

#ifdef LIVE
#define NP (NR + NW)
bool tk[NR];              /* Q/r.<seq>.<tok> of reader i exists               */
/* Queue keys (seq, token) are all distinct (tokens are unique) and only their
   order matters, so a key is kept as its rank 1..n among the keys that some
   process still uses (n <= NP); 0 = no key. key[i]: reader i's ticket,
   key[NR + w]: writer w's claim. A key stays while its owner believes in it,
   even if the ticket or claim was evicted. */
byte key[NP];
byte kx; byte kp; byte kh; /* scratch, always 0 between steps                 */
bool rdead[NR];           /* reader i crashed                                 */
bool wdead[NW];           /* writer w crashed                                 */
byte zb = ZB;             /* evictions of live records left (zombies)         */
byte sb = SB;             /* stale hint / stale listing results left          */
byte cb = CB;             /* crashes left                                     */
#endif

/* ---------------- derived predicates ---------------- */
#if NR == 2
#define READERS_IN (rrec[0] || rrec[1])
#define ALL_STALE  hst[0] = 1; hst[1] = 1
#elif NR == 3
#define READERS_IN (rrec[0] || rrec[1] || rrec[2])
#define ALL_STALE  hst[0] = 1; hst[1] = 1; hst[2] = 1
#else
#error "NR must be 2 or 3"
#endif
#if NW != 2 && NW != 3
#error "NW must be 2 or 3"
#endif

/* rename(claim, R) succeeds only if R is an empty directory */
#define REMPTY     (!Rclosed && !READERS_IN)

/* holders that have not been evicted */
#define RH(i) (rhold[i] && !rev[i])
#define WH(w) (whold[w] && !wev[w])
#if NR == 2
#define ANY_RH (RH(0) || RH(1))
#else
#define ANY_RH (RH(0) || RH(1) || RH(2))
#endif
#if NW == 2
#define EXCL (!(WH(0) && (WH(1) || ANY_RH)) && !(WH(1) && ANY_RH))
#else
#define EXCL (!(WH(0) && (WH(1) || WH(2) || ANY_RH)) && \
              !(WH(1) && (WH(2) || ANY_RH)) && !(WH(2) && ANY_RH))
#endif

/* Lemmas (the argument in the README), checked in the main model:
   L1 a non-evicted reading reader's record is in R;
   L2 a non-evicted writing writer's record is in R/closed (R is its room);
   L3 a writer record is only ever in R together with R/closed. */
#define L1(i) (!RH(i) || rrec[i])
#define L2(w) (!WH(w) || (Rwrec && Rown == w))
#if NR == 2
#define LR (L1(0) && L1(1))
#else
#define LR (L1(0) && L1(1) && L1(2))
#endif
#if NW == 2
#define LW (L2(0) && L2(1))
#else
#define LW (L2(0) && L2(1) && L2(2))
#endif
#ifdef NO_LEMMAS
#define LEMMAS 1
#else
#define LEMMAS (LR && LW && (!Rwrec || Rclosed))
#endif

/* ---------------- crashes and eviction judgements ---------------- */
#ifdef LIVE
/* a crashed process holds nothing; what it leaves on disk stays until evicted */
#define RCRASH :: atomic { cb > 0 -> cb--; rdead[i] = 1; rhold[i] = 0; rev[i] = 0; \
                           n = 0; havetk = 0; if :: !tk[i] -> key_drop(i) :: else -> skip fi }; \
                  goto crashed
#define WCRASH :: atomic { cb > 0 -> cb--; wdead[w] = 1; whold[w] = 0; wev[w] = 0; \
                           n = 0; if :: !cl[w] -> key_drop(NR + w) :: else -> skip fi }; \
                  goto crashed
/* "judged dead": a crashed process, or (zombie) a live one while zb lasts */
#define JUDGE_R(x) (rdead[x] || zb > 0)
#define JUDGE_W(x) (wdead[x] || zb > 0)
#define CHARGE_R(x) if :: !rdead[x] -> zb-- :: else -> skip fi
#define CHARGE_W(x) if :: !wdead[x] -> zb-- :: else -> skip fi
#else
/* safety: a crash is a process that is never scheduled again; judgement of
   "dead" is arbitrary, so any record may be evicted at any time */
#define RCRASH :: goto crashed
#define WCRASH :: goto crashed
#define JUDGE_R(x) 1
#define JUDGE_W(x) 1
#define CHARGE_R(x) skip
#define CHARGE_W(x) skip
#endif

#ifdef LIVE
#define INQE(e) ((e) < NR -> tk[e] : cl[(e) - NR])

/* forget key[e]; close the gap */
inline key_drop(e) {
  if
  :: key[e] != 0 ->
     kp = key[e]; key[e] = 0; kx = 0;
     do
     :: kx < NP -> if :: key[kx] > kp -> key[kx]-- :: else -> skip fi; kx++
     :: else -> break
     od;
     kp = 0; kx = 0
  :: else -> skip
  fi
}

/* new key for entry e: seq = (max seq in a listing of Q) + 1, so a fresh
   listing puts it above every key now in Q (and anywhere among keys that are
   no longer in Q); a stale listing (while sb lasts) may put it anywhere */
inline key_new(e) {
  kx = 0; kp = 0; kh = 0;
  do
  :: kx < NP ->
     if :: key[kx] != 0 -> kp++ :: else -> skip fi;
     if :: key[kx] != 0 && INQE(kx) && key[kx] > kh -> kh = key[kx] :: else -> skip fi;
     kx++
  :: else -> break
  od;
  kp++;                         /* top position n + 1 */
  if
  :: kh++                       /* fresh: lowest position allowed */
  :: sb > 0 -> sb--; kh = 1     /* stale listing */
  fi;
  do                            /* any position kh .. kp */
  :: kh < kp -> kh++
  :: break
  od;
  kx = 0;
  do
  :: kx < NP -> if :: key[kx] >= kh -> key[kx]++ :: else -> skip fi; kx++
  :: else -> break
  od;
  key[e] = kh;
  kx = 0; kp = 0; kh = 0
}

#if NW == 2
#define ANYCLAIM (cl[0] || cl[1])
#define LOWCLAIM(i) ((cl[0] && key[NR] < key[i]) || (cl[1] && key[NR + 1] < key[i]))
#else
#define ANYCLAIM (cl[0] || cl[1] || cl[2])
#define LOWCLAIM(i) ((cl[0] && key[NR] < key[i]) || (cl[1] && key[NR + 1] < key[i]) || \
                     (cl[2] && key[NR + 2] < key[i]))
#endif
#if NR == 2
#define LOWTICKET(w) ((tk[0] && key[0] < key[NR + w]) || (tk[1] && key[1] < key[NR + w]))
#else
#define LOWTICKET(w) ((tk[0] && key[0] < key[NR + w]) || (tk[1] && key[1] < key[NR + w]) || \
                      (tk[2] && key[2] < key[NR + w]))
#endif
#endif

/* =============================== reader =============================== */
proctype reader(byte i) {
#ifdef LIVE
  byte n;            /* cycles done */
  bool havetk;       /* I took a ticket (it may have been evicted since) */
#define RBLOCK ((havetk -> LOWCLAIM(i) : ANYCLAIM) || Rclosed)
/* on grant: remove my ticket if any (ENOENT if it was evicted: fine); done in
   the grant step (a crash right after the grant leaves the ticket, which is
   then evicted with the record: no different from a crash before removal) */
#define GRANT_TK if :: havetk -> tk[i] = 0; key_drop(i); havetk = 0 :: else -> skip fi
#else
#define GRANT_TK skip
#endif

cycle:
#ifdef LIVE
  if
  :: n == NCYCR -> goto finished
  :: else -> skip
  fi;
#endif

r1: /* step 1 (hints): claims in Q, R/closed */
#ifdef LIVE
  if
  :: atomic { RBLOCK && !havetk -> key_new(i); tk[i] = 1; havetk = 1 }; goto r1
                                                             /* take a ticket, wait */
  :: atomic { !RBLOCK -> skip }                              /* go on */
  :: atomic { sb > 0 -> sb-- }                               /* stale: go on */
  :: atomic { sb > 0 && !havetk -> sb--; key_new(i); tk[i] = 1; havetk = 1 }; goto r1
                                                             /* stale: wait */
  RCRASH
  fi;
#else
  /* every outcome of the hints is possible, and "wait, go to 1" changes
     nothing: the reader may go on at any time */
  skip;
#endif

#ifdef BUG_A
r2a: /* BUG: look for `closed` through the handle BEFORE creating the record */
  if
  :: atomic { hst[i] -> hst[i] = 0 }; goto r2a            /* stale: ENOENT; reopen */
  :: atomic { Rclosed }; goto r1                          /* closed: wait */
  :: atomic { !Rclosed }                                  /* open: go on */
  RCRASH
  fi;
#endif

r2: /* step 2: create r.<tok> with O_CREAT|O_EXCL through the handle */
  if
  :: atomic { !hst[i] -> rrec[i] = 1; rev[i] = 0 }          /* created (or EEXIST: mine) */
  :: atomic { hst[i] -> hst[i] = 0 }; goto r2               /* stale: ENOENT; reopen, retry */
  :: atomic { hst[i] -> rrec[i] = 1; rev[i] = 0 }           /* stale: landed in current R */
  :: atomic { hst[i] -> rrec[i] = 1; rev[i] = 0; hst[i] = 0 }; goto r2
                                    /* stale: landed but said ENOENT; reopen, retry */
  RCRASH
  fi;

#ifdef BUG_A
  atomic { rhold[i] = 1; GRANT_TK };
  goto granted;
#endif

r3: /* step 3: THEN look for `closed` through the same handle */
#ifdef ASIS_STEP3
  /* as written: "if it exists: back off; else: granted". Through a stale
     handle the lookup may fail with ENOENT, which reads as "no closed". */
  if
  :: atomic { hst[i] -> rhold[i] = 1; GRANT_TK }; goto granted      /* stale: ENOENT */
  :: atomic { !Rclosed -> rhold[i] = 1; GRANT_TK }; goto granted    /* handle's dir = R, or acted on R */
  :: atomic { Rclosed }; goto backoff
  RCRASH
  fi;
#else
  /* fixed: an ENOENT from a lookup through a handle that may be stale is not
     an answer. Either implementation is covered (see README):
     (i)  list the room through the handle: grant only if the listing shows my
          own r.<tok> and no `closed` (ENOENT: reopen, list again);
     (ii) on ENOENT, reopen the handle on R by name and look up `closed` again:
          a handle opened after my record was created names the room holding
          my record, which cannot be replaced while it holds it. */
  if
  :: atomic { hst[i] -> hst[i] = 0 }; goto r3              /* stale: ENOENT; reopen, again */
  :: atomic { !Rclosed -> rhold[i] = 1; GRANT_TK }; goto granted
                            /* no `closed` in R (if my record was evicted meanwhile,
                               (ii) grants a zombie: it learns at release) */
  :: atomic { Rclosed }; goto backoff
  :: atomic { hst[i] && !rrec[i] -> rhold[i] = 1; GRANT_TK }; goto granted
                            /* (ii): ENOENT through the re-opened handle: it can be
                               stale only once my record was evicted (zombie) */
  :: atomic { !rrec[i] }; goto r1        /* (i): listing lacks my record: evicted, start over */
  RCRASH
  fi;
#endif

backoff: /* unlink my record (by name), wait, go to 1 */
  if
  :: atomic { rrec[i] = 0 }; goto r1
  RCRASH
  fi;

granted:
release: /* holding; release: unlink R/r.<tok> by name (ENOENT: lost) */
  if
  :: atomic { rrec[i] = 0; rhold[i] = 0; rev[i] = 0 }
  RCRASH
  fi;
#ifdef LIVE
  n++;
#endif
  goto cycle;

#ifdef LIVE
finished:
  skip;
#endif
crashed:
  skip
}

/* =============================== writer =============================== */
proctype writer(byte w) {
#ifdef LIVE
  byte n;
#endif

cycle:
#ifdef LIVE
  if
  :: n == NCYCW -> goto finished
  :: else -> skip
  fi;
#endif

w1: /* step 1: list Q, create Q/w.<seq>.<tok>/closed/w.<tok> (one step: see README) */
  if
  :: atomic { cl[w] = 1;
#ifdef LIVE
              key_drop(NR + w); key_new(NR + w)
#endif
            }
  WCRASH
  fi;

w2: /* step 2 (hint): wait until no ticket with a lower key than mine is in Q */
#ifdef LIVE
  if
  :: atomic { !LOWTICKET(w) -> skip }
  :: atomic { sb > 0 -> sb-- }                               /* stale: go on */
  WCRASH
  fi;
#else
  skip;
#endif

w3: /* step 3: rename(Q/w.<seq>.<tok>, R): atomic, only onto an empty R */
  if
  :: atomic { !cl[w] }; goto w1                             /* ENOENT: claim evicted */
  :: atomic { cl[w] && REMPTY ->                            /* granted */
              cl[w] = 0; Rclosed = 1; Rwrec = 1; Rown = w; ALL_STALE;
              whold[w] = 1; wev[w] = 0;
#ifdef LIVE
              key_drop(NR + w)
#endif
            }
#ifdef LIVE
  :: atomic { cl[w] && !REMPTY && LOWTICKET(w) }; goto w2   /* ENOTEMPTY: wait, go to 2 */
#endif
  /* otherwise (ENOTEMPTY) the writer waits and tries again: blocked here */
  WCRASH
  fi;

release: /* holding; release: unlink R/closed/w.<tok> resolving R by name now */
  if
  :: atomic {
       if
       :: Rwrec && Rown == w -> Rwrec = 0; Rown = 0; whold[w] = 0; wev[w] = 0
       :: else -> whold[w] = 0; wev[w] = 0; goto done   /* ENOENT: evicted, told: lost */
       fi }
  WCRASH
  fi;

  /* rmdir R/closed: ENOENT or ENOTEMPTY are fine */
  if
  :: atomic { if :: Rclosed && !Rwrec -> Rclosed = 0 :: else -> skip fi }
  WCRASH
  fi;

done:
#ifdef LIVE
  n++;
#endif
  goto cycle;

#ifdef LIVE
finished:
  skip;
#endif
crashed:
  skip
}

/* =============================== evictor ===============================
   Eviction "by any process": every eviction step is one operation on the
   current state, so one evictor process that may run between any two steps
   of the others covers them all (see README). */

#define EVICT_RREC(x) \
  :: atomic { rrec[x] && JUDGE_R(x) -> CHARGE_R(x); rrec[x] = 0; rev[x] = 1 }
#ifdef LIVE
/* the key of a crashed process whose entry is gone is of no use to anyone */
#define EVICT_CLAIM(x) \
  :: atomic { cl[x] && JUDGE_W(x) -> CHARGE_W(x); cl[x] = 0; \
              if :: wdead[x] -> key_drop(NR + x) :: else -> skip fi }
#define EVICT_TICKET(x) \
  :: atomic { tk[x] && JUDGE_R(x) -> CHARGE_R(x); tk[x] = 0; \
              if :: rdead[x] -> key_drop(x) :: else -> skip fi }
#else
#define EVICT_CLAIM(x) \
  :: atomic { cl[x] && JUDGE_W(x) -> CHARGE_W(x); cl[x] = 0 }
#endif

proctype evictor() {
#ifdef BUG_B
  byte t;
#endif
end_idle:
  do
  /* reader record: unlink R/r.<tok> by its unique name */
  EVICT_RREC(0)
  EVICT_RREC(1)
#if NR > 2
  EVICT_RREC(2)
#endif
#ifndef BUG_B
  /* writer record: unlink R/closed/w.<tok> by its unique name, then rmdir R/closed */
  :: atomic { Rwrec && JUDGE_W(Rown) -> CHARGE_W(Rown); wev[Rown] = 1; Rwrec = 0; Rown = 0 };
#ifdef ASIS_NO_CLEANUP
     if
     :: atomic { if :: Rclosed && !Rwrec -> Rclosed = 0 :: else -> skip fi }
     :: skip   /* this evicting process died before its rmdir */
     fi
#else
     skip      /* its rmdir R/closed is the cleanup step below, at any later time
                  (or never, if this evicting process dies first) */
#endif
#else
  /* BUG: judge the writer whose record is in R/closed dead; later `rm -r R/closed` */
  :: atomic { Rwrec && JUDGE_W(Rown) -> t = Rown + 1 };
     atomic {
       if
       :: Rclosed ->
            if :: Rwrec && Rown + 1 == t -> wev[Rown] = 1 :: else -> skip fi;
            Rwrec = 0; Rown = 0; Rclosed = 0
       :: else -> skip
       fi;
       t = 0 }
#endif
  /* writer claim: rename Q/w.<seq>.<tok> to S/dead.<my tok>, then empty it */
  EVICT_CLAIM(0)
  EVICT_CLAIM(1)
#if NW > 2
  EVICT_CLAIM(2)
#endif
#ifndef ASIS_NO_CLEANUP
  /* fix: rmdir R/closed when no writer record is left in it (fails otherwise) */
  :: atomic { Rclosed && !Rwrec -> Rclosed = 0 }
#endif
#ifdef LIVE
  /* reader ticket: unlink */
  EVICT_TICKET(0)
  EVICT_TICKET(1)
#if NR > 2
  EVICT_TICKET(2)
#endif
  /* from here on no more crashes, zombie evictions or stale results, so that
     a wedge shows up as a state in which nothing can move */
  :: atomic { zb + sb + cb > 0 -> zb = 0; sb = 0; cb = 0 }
#endif
  od
}

/* =============================== monitor =============================== */
proctype monitor() {
end_watch:
  atomic { !(EXCL && LEMMAS) -> assert(EXCL); assert(LEMMAS) }
}

init {
  atomic {
    run monitor();
    run evictor();
    run reader(0); run reader(1);
#if NR > 2
    run reader(2);
#endif
    run writer(0); run writer(1);
#if NW > 2
    run writer(2);
#endif
  }
}
