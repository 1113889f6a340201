/*
 * Neither side starves.
 *
 * "writer-preference": 4 reader processes re-acquire the read lock in a loop, each holding it ~40 ms, so
 * that their holds overlap and the room never empties. A writer asking in the middle must get
 * in within a few poll intervals (bound: 20 poll intervals + 1 s), and the readers must have
 * been inside around the request (they are really overlapping). Exclusion is judged by the
 * processes' own markers (a reader's inside.<idx>, the writer's writer-inside), not by the
 * lock's files: no reader marker while the writer holds, no writer marker while a reader does.
 *
 * "reader-progress": 3 writer processes re-acquire the write lock in a loop (each holding ~20 ms). A
 * reader asking in the middle must get in within a few write cycles (bound: at most 8 write
 * grants between its request and its grant, and 2 s).
 *
 * "writer-fifo": 4 writers queue up one after the other behind a holder (a writer, then a
 * reader); they are granted in the order they asked (first come, first served).
 */
#include "testutil.h"

#include <pthread.h>

#define NREADERS 4
#define NWRITERS 3

static char dir[512], lockpath[1024], side[1100], stopfile[1024], counter[1024], writer_inside[1024];

static int reader_loop(int idx)
{
    srwl_lock *l = tu_open(lockpath);
    long long n = 0;
    /* Stagger the phases so that some reader is always inside. */
    tu_sleep(0.01 * idx);
    const char *inside = tu_fmt("%s/inside.%d", dir, idx);
    while (!tu_exists(stopfile)) {
        int s = srwl_acquire_read(l, 30);
        CHECK(s == SRWL_OK, "reader %d: acquire_read returned %s (%s)", idx, tu_st(s), srwl_last_error());
        /* Exclusion, seen by the processes themselves: no writer inside while we are. */
        tu_touch(inside);
        CHECK(!tu_exists(writer_inside), "reader %d got in while a writer was inside", idx);
        tu_sleep(0.03 + 0.02 * tu_rand01());
        CHECK(!tu_exists(writer_inside), "a writer got in while reader %d was inside", idx);
        CHECK(unlink(inside) == 0, "unlink %s: %s", inside, strerror(errno));
        EXPECT_OK(srwl_release(l));
        n++;
    }
    EXPECT_OK(srwl_close(l));
    tu_write_text(tu_fmt("%s/reader.%d", dir, idx), tu_fmt("%lld\n", n));
    return 0;
}

static int writer_loop(int idx)
{
    srwl_lock *l = tu_open(lockpath);
    while (!tu_exists(stopfile)) {
        int s = srwl_acquire_write(l, 30);
        CHECK(s == SRWL_OK, "writer %d: acquire_write returned %s (%s)", idx, tu_st(s), srwl_last_error());
        tu_write_ll(counter, tu_read_ll(counter) + 1);
        tu_sleep(0.015 + 0.01 * tu_rand01());
        EXPECT_OK(srwl_release(l));
    }
    EXPECT_OK(srwl_close(l));
    return 0;
}

/* Readers inside, by their own markers (dir/inside.<idx>, made after their grant and removed
 * before their release): not by the lock's files, which a broken lock could remove. */
static int readers_inside(void)
{
    return tu_count(dir, "inside.");
}

static int test_writer(void)
{
    pid_t pids[NREADERS];
    srwl_lock *w = tu_open(lockpath);
    double bound = 20 * TU_POLL + 1.0;
    int i, round;
    unsigned long long prev = 0;
    for (i = 0; i < NREADERS; i++)
        pids[i] = tu_spawn_self("reader", dir, tu_fmt("%d", i), (char *)NULL);
    for (round = 0; round < 3; round++) {
        double t0, dt, seen_end;
        int seen = 0;
        /* Let the readers run, and see them inside. */
        seen_end = tu_now() + 10;
        while (tu_now() < seen_end && seen < 20) {
            if (readers_inside() > 0)
                seen++;
            tu_sleep(0.01);
        }
        CHECK(seen >= 20, "the readers are not holding the lock (seen inside %d times)", seen);
        t0 = tu_now();
        EXPECT_OK(srwl_acquire_write(w, 30));
        dt = tu_now() - t0;
        tu_touch(writer_inside);
        CHECK(readers_inside() == 0, "a writer got in with %d readers inside", readers_inside());
        {
            /* We hold: our baton, the room closed; a new write grant, a new generation. */
            unsigned long long g = tu_expect_writer(side, (long)getpid(), -1, "the writer got in");
            CHECK(g > prev, "write grant of round %d has generation %llu, not above %llu", round, g, prev);
            prev = g;
        }
        printf("  round %d: writer got in after %.3f s against %d overlapping readers (bound %.2f s)\n", round, dt,
               NREADERS, bound);
        CHECK(dt < bound, "writer starved: %.3f s to get in against a stream of readers (bound %.2f s)", dt, bound);
        tu_sleep(0.05);
        CHECK(readers_inside() == 0, "%d readers got in while the writer was inside", readers_inside());
        CHECK(unlink(writer_inside) == 0, "unlink %s: %s", writer_inside, strerror(errno));
        EXPECT_OK(srwl_release(w));
    }
    tu_touch(stopfile);
    for (i = 0; i < NREADERS; i++) {
        tu_expect_exit0(pids[i], 60, tu_fmt("reader %d", i));
        printf("  reader %d: %lld grants\n", i, tu_read_ll(tu_fmt("%s/reader.%d", dir, i)));
        CHECK(tu_read_ll(tu_fmt("%s/reader.%d", dir, i)) > 3, "reader %d got in too rarely", i);
    }
    EXPECT_OK(srwl_close(w));
    tu_expect_at_rest(side, -1, "at the end");
    return 0;
}

static int test_reader(void)
{
    pid_t pids[NWRITERS];
    srwl_lock *r = tu_open(lockpath);
    int i, round;
    tu_write_ll(counter, 0);
    for (i = 0; i < NWRITERS; i++)
        pids[i] = tu_spawn_self("writer", dir, tu_fmt("%d", i), (char *)NULL);
    for (round = 0; round < 3; round++) {
        double t0, dt, end = tu_now() + 10;
        long long c0, c1;
        /* Let the writers cycle. */
        c0 = tu_read_ll(counter);
        while (tu_read_ll(counter) < c0 + 10) {
            CHECK(tu_now() < end, "the writers are not cycling (counter %lld)", tu_read_ll(counter));
            tu_sleep(0.01);
        }
        c0 = tu_read_ll(counter);
        t0 = tu_now();
        EXPECT_OK(srwl_acquire_read(r, 30));
        dt = tu_now() - t0;
        c1 = tu_read_ll(counter);
        CHECK(tu_readers_of(side, (long)getpid(), "the reader got in") == 1, "our reader record is not in the room");
        printf("  round %d: reader got in after %.3f s and %lld write grants (3 writers cycling)\n", round, dt, c1 - c0);
        CHECK(c1 - c0 <= 8 && dt < 2.0, "reader starved: %lld write grants and %.3f s before it got in", c1 - c0, dt);
        tu_sleep(0.05);
        CHECK(tu_read_ll(counter) == c1, "a writer wrote while the read lock was held");
        EXPECT_OK(srwl_release(r));
    }
    tu_touch(stopfile);
    for (i = 0; i < NWRITERS; i++)
        tu_expect_exit0(pids[i], 60, tu_fmt("writer %d", i));
    EXPECT_OK(srwl_close(r));
    tu_expect_at_rest(side, -1, "at the end");
    return 0;
}

/* ---- writers are served first come, first served ---------------------------------------- */

#define NFIFO 4
static pthread_mutex_t fifo_mu = PTHREAD_MUTEX_INITIALIZER;
static int fifo_order[NFIFO], fifo_n;
static unsigned long long fifo_gen[NFIFO];

static void *fifo_writer(void *arg)
{
    int idx = (int)(intptr_t)arg;
    srwl_lock *l = tu_open(lockpath);
    int s = srwl_acquire_write(l, 30);
    CHECK(s == SRWL_OK, "queued writer %d: %s (%s)", idx, tu_st(s), srwl_last_error());
    pthread_mutex_lock(&fifo_mu);
    fifo_gen[fifo_n] = tu_expect_writer(side, (long)getpid(), -1, "a queued writer got in");
    fifo_order[fifo_n++] = idx;
    pthread_mutex_unlock(&fifo_mu);
    tu_sleep(0.05);
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_close(l));
    return NULL;
}

static int test_writer_fifo(void)
{
    srwl_lock *a = tu_open(lockpath);
    char q[1200];
    pthread_t t[NFIFO];
    int i, round;
    /* Our own copy: tu_fmt's buffers rotate (the queued writers use them once granted). */
    snprintf(q, sizeof q, "%s/Q", side);
    for (round = 0; round < 2; round++) {
        fifo_n = 0;
        /* The lock is held (for write in round 0, for read in round 1) while the writers queue up
         * one after another, each once the previous one's claim is visible in Q/. */
        if (round == 0)
            EXPECT_OK(srwl_acquire_write(a, 5));
        else
            EXPECT_OK(srwl_acquire_read(a, 5));
        for (i = 0; i < NFIFO; i++) {
            double end = tu_now() + 10;
            CHECK(pthread_create(&t[i], NULL, fifo_writer, (void *)(intptr_t)i) == 0, "pthread_create");
            /* Waiting writers: claims (w.*), and the baton (b.*) of the first one when the lock
             * is held for read (it takes the baton and waits for the readers to leave); when
             * it is held for write, the holder's baton is there too. */
            while (tu_count(q, "w.") + tu_count(q, "b.") - (round == 0 ? 1 : 0) < i + 1) {
                CHECK(tu_now() < end, "writer %d's claim did not appear in Q/: [%s]", i, tu_list(q));
                tu_sleep(0.002);
            }
            tu_sleep(0.02);
        }
        EXPECT_OK(srwl_release(a));
        for (i = 0; i < NFIFO; i++)
            pthread_join(t[i], NULL);
        printf("  round %d: grant order %d %d %d %d (queued 0 1 2 3)\n", round, fifo_order[0], fifo_order[1],
               fifo_order[2], fifo_order[3]);
        for (i = 0; i < NFIFO; i++)
            CHECK(fifo_order[i] == i, "writers were not served in arrival order: position %d went to writer %d", i,
                  fifo_order[i]);
        for (i = 1; i < NFIFO; i++)
            CHECK(fifo_gen[i] > fifo_gen[i - 1], "write grant %d has generation %llu, not above the previous %llu", i,
                  fifo_gen[i], fifo_gen[i - 1]);
        tu_expect_at_rest(side, (long long)fifo_gen[NFIFO - 1], "after the queued writers");
    }
    EXPECT_OK(srwl_close(a));
    return 0;
}

int main(int argc, char **argv)
{
    tu_init(argc, argv);
    if (argc < 2) {
        fprintf(stderr, "usage: %s writer-preference|reader-progress|writer-fifo\n", argv[0]);
        return 2;
    }
    if (argc > 3)
        snprintf(dir, sizeof dir, "%s", argv[2]);
    else
        snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    snprintf(lockpath, sizeof lockpath, "%s/lock", dir);
    snprintf(side, sizeof side, "%s.srwl", lockpath);
    snprintf(stopfile, sizeof stopfile, "%s/stop", dir);
    snprintf(counter, sizeof counter, "%s/counter", dir);
    snprintf(writer_inside, sizeof writer_inside, "%s/writer-inside", dir);
    if (argc > 3 && strcmp(argv[1], "reader") == 0)
        return reader_loop(atoi(argv[3]));
    if (argc > 3 && strcmp(argv[1], "writer") == 0)
        return writer_loop(atoi(argv[3]));
    if (strcmp(argv[1], "writer-preference") == 0)
        return test_writer();
    if (strcmp(argv[1], "reader-progress") == 0)
        return test_reader();
    if (strcmp(argv[1], "writer-fifo") == 0)
        return test_writer_fifo();
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
}
