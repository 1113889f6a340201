/*
 * Dead and paused holders.
 *
 * kill-writer / kill-reader: a process holding the lock is killed with SIGKILL. While it was
 * alive, its heartbeat kept the lock (another process timed out after 3 stale thresholds);
 * after the kill another process takes the write lock once the record has gone unchanged for
 * the stale threshold: not before (stale - heartbeat), and not long after (stale + 2 s). The
 * holder is seen on disk first (a writer's baton Q/b.<gen>.<token> whose record names its pid,
 * a reader's record R/r.<token>); the new writer's generation is the next one after the
 * baton's (a dead writer's baton is taken over and handed back under the next generation, so
 * the next writer's is two above the dead one's).
 *
 * stop-writer / stop-reader: a holder is stopped with SIGSTOP past the threshold; another
 * process takes the write lock (with the next generation). After SIGCONT the stopped one gets
 * SRWL_ELOST from srwl_check and from srwl_release, and its release does not disturb the new
 * holder: the new holder's srwl_check is still OK, its baton is still in the queue with its
 * record, the room stays closed, and a third process still cannot get in.
 *
 * kill-waiting-writer / kill-waiting-reader: a process waiting in the queue (a writer holding
 * the baton while the room drains, a reader's ticket) is killed; it keeps its place while
 * alive; once dead, the writer's baton blocks the next in line for the threshold (not less,
 * not much more), and the reader's ticket (a place in line of a process gone on this host)
 * for less than the threshold: it is dropped at once.
 *
 * stop-waiting-writer: a waiting writer is stopped past the threshold (its claim is evicted,
 * the next one gets in), then resumed: it waits again and gets the lock only once it is free,
 * with a larger generation.
 *
 * Every mode ends with nothing left behind: the queue empty, the room holding only the baton.
 */
#include "testutil.h"

#include <pthread.h>

static char dir[512], lockpath[1024], side[1100];

/* Child: hold the lock; with "zombie", report check/release/close statuses after "go". Its
 * generation (a reader's: that of the baton it found in the room) goes to dir/gen. */
static int holder(const char *mode, int zombie)
{
    srwl_lock *l = tu_open(lockpath);
    uint64_t gen = 0;
    if (strcmp(mode, "write") == 0)
        EXPECT_OK(srwl_acquire_write(l, 10));
    else
        EXPECT_OK(srwl_acquire_read(l, 10));
    EXPECT_OK(srwl_generation(l, &gen));
    tu_write_text(tu_fmt("%s/gen", dir), tu_fmt("%llu\n", (unsigned long long)gen));
    tu_touch(tu_fmt("%s/ready", dir));
    if (!zombie) {
        for (;;)
            pause();
    }
    /* Wait for "go" (we are stopped meanwhile), then look at our hold. */
    while (!tu_exists(tu_fmt("%s/go", dir)))
        tu_sleep(0.005);
    {
        int c = srwl_check(l);
        char msg[512];
        int r, x;
        snprintf(msg, sizeof msg, "%s", srwl_last_error());
        r = srwl_release(l);
        x = srwl_close(l);
        tu_write_text(tu_fmt("%s/result", dir), tu_fmt("%d %d %d\n%s\n", c, r, x, msg));
    }
    return 0;
}

/* A thread that reads the holder's record about every millisecond and notes when its bytes
 * last changed (the heartbeat rewrites it in place): the lower bound of an eviction is
 * "unchanged for the stale threshold", measured from there, not from the kill. The change
 * happened after the start of the last read that still saw the old bytes (change_after) and
 * before the read that saw the new ones (last_change). An eviction is judged early only if
 * even the longest the record can have been unchanged, grant - change_after, is below the
 * threshold: a watcher delayed on a loaded machine then makes the check more lenient, never
 * a false failure. */
struct watch {
    char path[1200];
    volatile int stop;
    double last_change, change_after;
    int changes;
    pthread_t thread;
};

/* The longest the watched record can have gone unchanged before time `t`. */
static double unchanged_at_most(const struct watch *w, double t)
{
    return t - w->change_after;
}

static void *watch_run(void *arg)
{
    struct watch *w = arg;
    char prev[600], cur[600];
    ssize_t np = -1;
    double same_at = tu_now(); /* the start of the last read that saw the current bytes */
    while (!w->stop) {
        ssize_t nc = -1;
        double t_read = tu_now();
        int fd = open(w->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            struct stat opened, named;
            nc = read(fd, cur, sizeof cur);
            /* The file may have been renamed away between our open and our read, and then
             * rewritten under its new name (an evictor takes the dead holder's baton, hands it
             * back, and the next writer takes it and writes its own record into the same
             * inode): bytes read from a file that no longer has this name are not a change
             * of the holder's record. */
            if (nc >= 0 && (fstat(fd, &opened) != 0 || stat(w->path, &named) != 0 || opened.st_ino != named.st_ino ||
                            opened.st_dev != named.st_dev))
                nc = -1;
            close(fd);
        }
        if (nc >= 0 && (nc != np || memcmp(cur, prev, (size_t)nc) != 0)) {
            if (np >= 0) {
                w->change_after = same_at;
                w->last_change = tu_now();
                w->changes++;
            }
            memcpy(prev, cur, (size_t)nc);
            np = nc;
        }
        if (nc >= 0)
            same_at = t_read;
        tu_sleep(0.001);
    }
    return NULL;
}

static void watch_path(struct watch *w, const char *path)
{
    memset(w, 0, sizeof *w);
    snprintf(w->path, sizeof w->path, "%s", path);
    w->last_change = w->change_after = tu_now();
    CHECK(pthread_create(&w->thread, NULL, watch_run, w) == 0, "pthread_create");
}

/* The generation of the baton resting in the room (there must be exactly one). */
static unsigned long long resting_gen(void)
{
    const char *room = tu_fmt("%s/R", side);
    const char *all = tu_list(room);
    const char *b = strstr(all, "baton.");
    CHECK(tu_count(room, "baton.") == 1 && b != NULL, "expected one baton at rest in the room: R=[%s]", all);
    return strtoull(b + 6, NULL, 16);
}

/* Checks who holds (process `pid`: a writer holding the baton of generation `gen`, the only
 * b.* in Q/, whose content is its record; or a reader whose record is the only r.* in R/) and
 * starts watching that record. */
static void watch_start(struct watch *w, const char *mode, pid_t pid, unsigned long long gen)
{
    int write = strcmp(mode, "write") == 0;
    char d[1200], name[256];
    snprintf(d, sizeof d, "%s/%s", side, write ? "Q" : "R");
    snprintf(name, sizeof name, "%s", write ? tu_list(d) : tu_list_except(d, "baton."));
    CHECK(name[0] != '\0' && strchr(name, ' ') == NULL && strncmp(name, write ? "b." : "r.", 2) == 0,
          "expected one record in %s: [%s]", d, tu_list(d));
    if (write)
        tu_expect_writer(side, (long)pid, (long long)gen, "the writer holds");
    else
        CHECK(tu_readers_of(side, (long)pid, "the reader holds") == 1, "the reader record R/%s does not name the "
              "holder (pid %d)", name, (int)pid);
    watch_path(w, tu_fmt("%s/%s", d, name));
}

static void watch_stop(struct watch *w)
{
    w->stop = 1;
    pthread_join(w->thread, NULL);
}

/* Nothing left behind: the queue is empty, the room holds only the baton (of generation
 * `gen`, unless -1). */
static void expect_empty_at_end(long long gen)
{
    tu_expect_at_rest(side, gen, "at the end");
    printf("  sidecar at the end: %s; R=[%s]\n", tu_list(side), tu_list(tu_fmt("%s/R", side)));
}

static int test_kill(const char *mode)
{
    pid_t pid = tu_spawn_self(mode, dir, "hold", (char *)NULL);
    srwl_lock *l = tu_open(lockpath);
    double t0, dt, unchanged, hi = TU_STALE + 2.0;
    int st, write = strcmp(mode, "write") == 0;
    unsigned long long before;
    uint64_t g = 0;
    struct watch w;
    tu_wait_file(tu_fmt("%s/ready", dir), 30);
    watch_start(&w, mode, pid, (unsigned long long)tu_read_ll(tu_fmt("%s/gen", dir)));
    /* A live holder is not evicted, however long we wait. */
    t0 = tu_now();
    EXPECT_ST(srwl_acquire_write(l, 3 * TU_STALE), SRWL_TIMEOUT);
    printf("  live %s holder kept the lock for %.2f s (3 x stale threshold; its record changed %d times)\n", mode,
           tu_now() - t0, w.changes);
    CHECK(w.changes >= 3, "the live holder's heartbeat changed its record only %d times in %.2f s", w.changes,
          3 * TU_STALE);
    CHECK(kill(pid, SIGKILL) == 0, "kill: %s", strerror(errno));
    t0 = tu_now();
    waitpid(pid, &st, 0);
    /* The baton's generation now: the dead writer's, or the one resting beside the dead reader
     * (our timed-out attempt above took the baton and gave it back under the next one). */
    before = write ? tu_held_baton(side, "the dead writer's baton", NULL, NULL) : resting_gen();
    EXPECT_OK(srwl_acquire_write(l, 30));
    dt = tu_now() - t0;
    unchanged = tu_now();
    watch_stop(&w);
    unchanged = unchanged_at_most(&w, unchanged); /* from the record's last change to the grant */
    printf("  %s holder killed: write lock taken %.3f s later, its record unchanged for at most %.3f s (threshold "
           "%.2f s)\n", mode, dt, unchanged, TU_STALE);
    CHECK(unchanged >= TU_STALE - 0.01, "the dead %s holder was evicted when its record had been unchanged for at "
          "most %.3f s (threshold %.2f s)", mode, unchanged, TU_STALE);
    CHECK(dt <= hi, "the dead %s holder was evicted only after %.3f s (threshold %.2f s, bound %.2f s)", mode, dt,
          TU_STALE, hi);
    EXPECT_OK(srwl_generation(l, &g));
    /* A dead writer's baton is taken over and handed back under the next generation (so that
     * only its holder's own give-back makes R/baton.<before>); our take is the one after. */
    CHECK(g == before + 1 + write, "generation after the dead %s: %llu, expected %llu", mode, (unsigned long long)g,
          before + 1 + write);
    if (write)
        CHECK(before == (unsigned long long)tu_read_ll(tu_fmt("%s/gen", dir)),
              "the dead writer's baton had generation %llu, the writer was told %lld", before,
              tu_read_ll(tu_fmt("%s/gen", dir)));
    tu_expect_writer(side, (long)getpid(), (long long)g, "the writer after the dead holder");
    CHECK(tu_readers_of(side, (long)pid, "after the eviction") == 0, "the dead reader's record is still there");
    EXPECT_OK(srwl_check(l));
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_close(l));
    expect_empty_at_end((long long)g);
    return 0;
}

static int test_stop(const char *mode)
{
    pid_t pid = tu_spawn_self(mode, dir, "zombie", (char *)NULL);
    srwl_lock *b = tu_open(lockpath), *c = tu_open(lockpath);
    double t0, dt, unchanged, hi = TU_STALE + 2.0;
    int rc, rr, rx, write = strcmp(mode, "write") == 0;
    uint64_t gen = 0;
    unsigned long long held_gen;
    char msg[512] = "", bname[64];
    struct tu_record brec, brec_after;
    FILE *f;
    struct watch w;
    tu_wait_file(tu_fmt("%s/ready", dir), 30);
    held_gen = (unsigned long long)tu_read_ll(tu_fmt("%s/gen", dir));
    watch_start(&w, mode, pid, held_gen);
    if (!write)
        CHECK(resting_gen() == held_gen, "the reader was told generation %llu, the baton rests with %llu", held_gen,
              resting_gen());
    tu_sleep(3 * TU_HEARTBEAT);
    CHECK(kill(pid, SIGSTOP) == 0, "SIGSTOP: %s", strerror(errno));
    t0 = tu_now();
    EXPECT_OK(srwl_acquire_write(b, 30));
    dt = tu_now() - t0;
    unchanged = tu_now();
    watch_stop(&w);
    unchanged = unchanged_at_most(&w, unchanged); /* from the record's last change to the grant */
    printf("  stopped %s holder evicted: write lock taken %.3f s after SIGSTOP, its record unchanged for at most "
           "%.3f s\n", mode, dt, unchanged);
    CHECK(w.changes >= 1, "the holder's heartbeat never changed its record before SIGSTOP");
    CHECK(unchanged >= TU_STALE - 0.01, "the stopped holder was evicted when its record had been unchanged for at "
          "most %.3f s (threshold %.2f s)", unchanged, TU_STALE);
    CHECK(dt <= hi, "write lock taken %.3f s after SIGSTOP of the holder (threshold %.2f s, bound %.2f s)", dt, TU_STALE,
          hi);
    EXPECT_OK(srwl_generation(b, &gen));
    /* A stopped writer's baton is taken over and handed back under held_gen + 1; we took that. */
    CHECK(gen == held_gen + 1 + write,
          "the new writer's generation is %llu, expected %llu (the stopped holder's baton: %llu)",
          (unsigned long long)gen, held_gen + 1 + write, held_gen);
    tu_expect_writer(side, (long)getpid(), (long long)gen, "the new writer holds");
    CHECK(tu_readers_of(side, (long)pid, "the new writer holds") == 0, "the stopped reader's record is still there");
    tu_held_baton(side, "the new writer holds", bname, &brec);
    {
        const char *before = tu_list(tu_fmt("%s/Q", side));
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", before);
        /* Resume the zombie and let it check and release. */
        tu_touch(tu_fmt("%s/go", dir));
        CHECK(kill(pid, SIGCONT) == 0, "SIGCONT: %s", strerror(errno));
        tu_expect_exit0(pid, 30, "zombie");
        f = fopen(tu_fmt("%s/result", dir), "r");
        CHECK(f != NULL, "the zombie left no result");
        CHECK(fscanf(f, "%d %d %d ", &rc, &rr, &rx) == 3, "malformed zombie result");
        if (fgets(msg, sizeof msg, f) == NULL)
            msg[0] = '\0';
        fclose(f);
        printf("  zombie %s holder after SIGCONT: check %s, release %s, close %s; message: %s", mode, tu_st(rc),
               tu_st(rr), tu_st(rx), msg);
        CHECK(rc == SRWL_ELOST, "the resumed zombie's srwl_check returned %s, expected SRWL_ELOST", tu_st(rc));
        CHECK(strstr(msg, "lost") != NULL, "the zombie's ELOST message does not say \"lost\": %s", msg);
        CHECK(rr == SRWL_ELOST, "the resumed zombie's srwl_release returned %s, expected SRWL_ELOST", tu_st(rr));
        CHECK(rx == SRWL_OK, "the resumed zombie's srwl_close (after release) returned %s", tu_st(rx));
        /* The new holder is undisturbed. */
        CHECK(strcmp(saved, tu_list(tu_fmt("%s/Q", side))) == 0,
              "the zombie's release changed the new holder's baton: [%s] -> [%s]", saved,
              tu_list(tu_fmt("%s/Q", side)));
        tu_expect_writer(side, (long)getpid(), (long long)gen, "the new writer after the zombie's release");
        CHECK(tu_read_record(tu_fmt("%s/Q/%s", side, bname), &brec_after) && strcmp(brec.stable, brec_after.stable) == 0,
              "the new writer's baton Q/%s no longer holds its record after the zombie's release", bname);
    }
    EXPECT_OK(srwl_check(b));
    EXPECT_ST(srwl_acquire_read(c, 0), SRWL_TIMEOUT);
    EXPECT_ST(srwl_acquire_write(c, 3 * TU_STALE), SRWL_TIMEOUT);
    EXPECT_OK(srwl_check(b));
    {
        uint64_t g2 = 0;
        EXPECT_OK(srwl_generation(b, &g2));
        CHECK(g2 == gen, "the new holder's generation changed: %llu -> %llu", (unsigned long long)gen,
              (unsigned long long)g2);
    }
    EXPECT_OK(srwl_release(b));
    EXPECT_OK(srwl_acquire_read(c, 0));
    CHECK(tu_readers_of(side, (long)getpid(), "a reader after the new writer") == 1, "our reader record is not in the room");
    EXPECT_OK(srwl_release(c));
    EXPECT_OK(srwl_close(b));
    EXPECT_OK(srwl_close(c));
    expect_empty_at_end((long long)gen);
    return 0;
}

/* ---- waiters that die or pause while waiting in the queue --------------------------------- */

/* Child: wait for the lock ("wait-write" / "wait-read"); once granted, note the time and the
 * generation in dir/granted, hold 0.3 s, check, release. A writer checks that it holds the
 * baton of that generation. */
static int waiter(const char *role)
{
    srwl_lock *l = tu_open(lockpath);
    int s, write = strcmp(role, "wait-write") == 0;
    double t;
    uint64_t g = 0;
    tu_touch(tu_fmt("%s/waiting", dir));
    s = write ? srwl_acquire_write(l, 60) : srwl_acquire_read(l, 60);
    CHECK(s == SRWL_OK, "waiter: acquire returned %s (%s)", tu_st(s), srwl_last_error());
    t = tu_now();
    EXPECT_OK(srwl_generation(l, &g));
    if (write)
        tu_expect_writer(side, (long)getpid(), (long long)g, "the waiter got the write lock");
    tu_write_text(tu_fmt("%s/granted.tmp", dir), tu_fmt("%.6f %llu\n", t, (unsigned long long)g));
    CHECK(rename(tu_fmt("%s/granted.tmp", dir), tu_fmt("%s/granted", dir)) == 0, "rename");
    tu_sleep(0.3);
    EXPECT_OK(srwl_check(l));
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_close(l));
    return 0;
}

/* Waits until the queue holds `want` entries starting with `prefix` ("w." claim, "r." ticket,
 * "b." a held baton); returns the path of the newest such entry not in `skip` (a list of names
 * already there), the record to watch. */
static const char *wait_queue_entry(const char *prefix, int want, const char *skip)
{
    const char *q = tu_fmt("%s/Q", side);
    double end = tu_now() + 20;
    const char *all, *p;
    char name[256];
    while (tu_count(q, prefix) != want) {
        CHECK(tu_now() < end, "no %s* entry appeared in the queue: Q=[%s]", prefix, tu_list(q));
        tu_sleep(0.002);
    }
    all = tu_list(q);
    for (p = all; tu_next_name(&p, name, sizeof name);)
        if (strncmp(name, prefix, 2) == 0 && (skip == NULL || strstr(skip, name) == NULL))
            return tu_fmt("%s/%s", q, name);
    CHECK(0, "no new %s* entry in the queue: [%s]", prefix, all);
    return NULL;
}

/* A waiter in the queue is killed: its claim or ticket must not block the others for longer than
 * the stale threshold (plus margin), and must not be evicted before that. */
static int test_kill_waiting(const char *role)
{
    int writer = strcmp(role, "wait-write") == 0;
    srwl_lock *p = tu_open(lockpath), *c = tu_open(lockpath);
    pid_t pid;
    struct watch w;
    double t0, dt, unchanged;
    const char *rec;
    int st;
    unsigned long long g0;
    uint64_t gp = 0;
    /* A waiting writer queues behind a reader; a waiting reader behind a writer. */
    if (writer)
        EXPECT_OK(srwl_acquire_read(p, 0));
    else
        EXPECT_OK(srwl_acquire_write(p, 0));
    EXPECT_OK(srwl_generation(p, &gp));
    {
        /* A writer waiting behind a reader takes the baton (b.*) and waits for the room to
         * drain; a reader waiting behind a writer takes a ticket (r.*) beside the writer's baton. */
        char held[1024];
        g0 = writer ? resting_gen() : 0;
        snprintf(held, sizeof held, "%s", tu_list(tu_fmt("%s/Q", side)));
        pid = tu_spawn_self("x", dir, role, (char *)NULL);
        rec = wait_queue_entry(writer ? "b." : "r.", 1, held);
    }
    {
        struct tu_record r;
        /* A writer takes the baton by renaming it and then writes its record into it: until
         * then the baton holds the previous holder's record (here the initialiser's, our own).
         * Wait for that write (a slow child on a loaded machine), then judge the record. */
        double until = tu_now() + 20;
        while (writer && tu_now() < until && !(tu_read_record(rec, &r) && r.pid == (long)pid))
            tu_sleep(0.005);
        CHECK(tu_read_record(rec, &r), "the waiter's queue entry %s is not a well-formed record", rec);
        CHECK(r.pid == (long)pid && strcmp(r.role, writer ? "write" : "wait") == 0,
              "the waiter's queue entry %s names pid %ld, role %s (expected pid %d, role %s)", rec, r.pid, r.role,
              (int)pid, writer ? "write" : "wait");
        if (writer) { /* it took the baton and waits for our read hold to end: the room stays */
            unsigned long long gw = tu_held_baton(side, "the waiting writer", NULL, NULL);
            CHECK(gw == g0 + 1, "the waiting writer took the baton under generation %llu, expected %llu", gw, g0 + 1);
            CHECK(tu_readers_of(side, (long)getpid(), "while a writer waits") == 1,
                  "our reader record is not in the room while a writer waits for it");
        }
    }
    watch_path(&w, rec);
    tu_sleep(3 * TU_STALE); /* a live waiter keeps its place */
    CHECK(tu_exists(rec), "the live waiter's queue entry %s was evicted", rec);
    CHECK(w.changes >= 2, "the live waiter's queue record changed only %d times in %.1f s", w.changes, 3 * TU_STALE);
    CHECK(kill(pid, SIGKILL) == 0, "kill");
    t0 = tu_now();
    waitpid(pid, &st, 0);
    EXPECT_OK(srwl_release(p));
    /* The dead waiter was ahead: the next one in line must get past it. */
    if (writer) {
        uint64_t gr = 0;
        EXPECT_OK(srwl_acquire_read(c, 30));
        /* The dead waiter's baton (g0 + 1) was taken over and handed back under the next one. */
        EXPECT_OK(srwl_generation(c, &gr));
        CHECK(gr == g0 + 2, "the next reader found the baton with generation %llu, expected %llu (the dead waiting "
              "writer's plus the hand-back)", (unsigned long long)gr, g0 + 2);
    } else {
        uint64_t gc = 0;
        EXPECT_OK(srwl_acquire_write(c, 30));
        EXPECT_OK(srwl_generation(c, &gc));
        CHECK(gc > gp, "the next writer's generation %llu is not above the previous writer's %llu",
              (unsigned long long)gc, (unsigned long long)gp);
    }
    dt = tu_now() - t0;
    unchanged = tu_now();
    watch_stop(&w);
    unchanged = unchanged_at_most(&w, unchanged);
    printf("  waiting %s killed: the next %s got in %.3f s later; the dead entry had been unchanged for at most "
           "%.3f s\n", writer ? "writer" : "reader", writer ? "reader" : "writer", dt, unchanged);
    CHECK(dt <= TU_STALE + 2.0, "a dead waiting %s blocked the queue for %.3f s (threshold %.2f s)",
          writer ? "writer" : "reader", dt, TU_STALE);
    /* The dead entry was ahead of the next one in line (a writer waits for every ticket ahead of
     * it; a reader cannot enter while a baton is held): it got in only by evicting it (the dead
     * writer's baton is taken over and handed back), after the threshold. */
    CHECK(!tu_exists(rec), "the next %s got in past the dead waiting %s's entry %s without evicting it",
          writer ? "reader" : "writer", writer ? "writer" : "reader", rec);
    if (writer)
        /* It held the baton: a holder is judged by the threshold only, never by its pid. */
        CHECK(unchanged >= TU_STALE - 0.01, "the dead waiter's entry was evicted after being unchanged for at "
              "most %.3f s (threshold %.2f s)", unchanged, TU_STALE);
    else
        /* A ticket is a place in line, and its process died on this host: the record's origin
         * (boot id, pid namespace, start time) lets the next one drop it at once. */
        CHECK(dt < TU_STALE, "the dead waiting reader's ticket (its process gone on this host) held the next writer "
              "for %.3f s: it should be dropped at once, not after the threshold (%.2f s)", dt, TU_STALE);
    if (writer)
        CHECK(tu_readers_of(side, (long)getpid(), "the next reader holds") == 1, "our reader record is not in the room");
    else
        tu_expect_writer(side, (long)getpid(), -1, "the next writer holds");
    EXPECT_OK(srwl_release(c));
    EXPECT_OK(srwl_close(p));
    /* A last writer cleans up whatever is stale. */
    {
        uint64_t g = 0;
        EXPECT_OK(srwl_acquire_write(c, 30));
        EXPECT_OK(srwl_generation(c, &g));
        EXPECT_OK(srwl_release(c));
        EXPECT_OK(srwl_close(c));
        expect_empty_at_end((long long)g);
    }
    return 0;
}

/* A waiting writer is stopped past the threshold (its claim is evicted) and then resumed: it
 * must take a new place in line and get the lock in the end, never while another holds it. */
static int test_stop_waiting_writer(void)
{
    srwl_lock *p = tu_open(lockpath), *c = tu_open(lockpath);
    pid_t pid;
    double released, granted;
    const char *rec;
    uint64_t gc = 0;
    unsigned long long gw = 0;
    EXPECT_OK(srwl_acquire_write(p, 0));
    pid = tu_spawn_self("x", dir, "wait-write", (char *)NULL);
    rec = wait_queue_entry("w.", 1, NULL);
    {
        struct tu_record r;
        CHECK(tu_read_record(rec, &r) && r.pid == (long)pid && strcmp(r.role, "write") == 0,
              "the waiting writer's claim %s is not a write record naming pid %d", rec, (int)pid);
    }
    tu_sleep(2 * TU_HEARTBEAT);
    CHECK(kill(pid, SIGSTOP) == 0, "SIGSTOP");
    EXPECT_OK(srwl_release(p));
    /* The stopped waiter's claim is ahead of us: it is evicted after the threshold. */
    EXPECT_OK(srwl_acquire_write(c, 30));
    CHECK(!tu_exists(rec), "we got in while the stopped waiter's claim %s is still queued ahead", rec);
    EXPECT_OK(srwl_generation(c, &gc));
    tu_expect_writer(side, (long)getpid(), (long long)gc, "we hold");
    CHECK(kill(pid, SIGCONT) == 0, "SIGCONT");
    tu_sleep(3 * TU_STALE); /* the resumed waiter waits behind us */
    CHECK(!tu_exists(tu_fmt("%s/granted", dir)), "the resumed waiter got the write lock while another process held it");
    EXPECT_OK(srwl_check(c));
    released = tu_now();
    EXPECT_OK(srwl_release(c));
    tu_expect_exit0(pid, 30, "resumed waiter");
    {
        FILE *f = fopen(tu_fmt("%s/granted", dir), "r");
        CHECK(f != NULL && fscanf(f, "%lf %llu", &granted, &gw) == 2, "the resumed waiter left no grant time");
        fclose(f);
    }
    CHECK(granted >= released - 0.005, "the resumed waiter's grant (%.3f) precedes our release (%.3f)", granted,
          released);
    CHECK(gw > gc, "the resumed waiter's generation %llu is not above ours (%llu)", gw, (unsigned long long)gc);
    printf("  stopped waiting writer: its claim was evicted, and after SIGCONT it got the lock once we released\n");
    EXPECT_OK(srwl_close(p));
    EXPECT_OK(srwl_close(c));
    expect_empty_at_end((long long)gw);
    return 0;
}

int main(int argc, char **argv)
{
    tu_init(argc, argv);
    if (argc < 2) {
        fprintf(stderr, "usage: %s kill-writer|kill-reader|stop-writer|stop-reader|kill-waiting-writer|kill-waiting-reader|stop-waiting-writer\n", argv[0]);
        return 2;
    }
    if (argc > 3) { /* child: <mode> <dir> hold|zombie|wait-write|wait-read */
        snprintf(dir, sizeof dir, "%s", argv[2]);
        snprintf(lockpath, sizeof lockpath, "%s/lock", dir);
        snprintf(side, sizeof side, "%s.srwl", lockpath);
        if (strncmp(argv[3], "wait-", 5) == 0)
            return waiter(argv[3]);
        return holder(argv[1], strcmp(argv[3], "zombie") == 0);
    }
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    snprintf(lockpath, sizeof lockpath, "%s/lock", dir);
    snprintf(side, sizeof side, "%s.srwl", lockpath);
    if (strcmp(argv[1], "kill-writer") == 0)
        return test_kill("write");
    if (strcmp(argv[1], "kill-reader") == 0)
        return test_kill("read");
    if (strcmp(argv[1], "stop-writer") == 0)
        return test_stop("write");
    if (strcmp(argv[1], "stop-reader") == 0)
        return test_stop("read");
    if (strcmp(argv[1], "kill-waiting-writer") == 0)
        return test_kill_waiting("wait-write");
    if (strcmp(argv[1], "kill-waiting-reader") == 0)
        return test_kill_waiting("wait-read");
    if (strcmp(argv[1], "stop-waiting-writer") == 0)
        return test_stop_waiting_writer();
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
}
