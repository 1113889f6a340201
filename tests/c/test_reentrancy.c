/*
 * Nesting and thread semantics of one handle (see the header and src/lock.rs):
 * - read levels nest, from any thread of the process; each srwl_release removes one;
 * - write levels nest in the owning thread only;
 * - upgrade (write while holding read) and downgrade (read while holding write) are SRWL_ESTATE
 *   and leave the hold as it was;
 * - release of a write hold from another thread is SRWL_ESTATE; release with no hold is SRWL_ESTATE;
 * - another thread asking for a handle held for write by thread A waits until A releases
 *   (so it times out while A holds, and gets in once A releases).
 */
#include "testutil.h"

#include <pthread.h>

static char lockpath[1024], side[1100];
static srwl_lock *h;

struct call {
    int op; /* 'r' acquire_read, 'w' acquire_write, 'u' release, 'c' check */
    double timeout;
    int status;
    double elapsed;
    int release_after; /* release if the acquire succeeded */
    int release_status;
};

static void *run_call(void *arg)
{
    struct call *c = arg;
    double t0 = tu_now();
    switch (c->op) {
    case 'r': c->status = srwl_acquire_read(h, c->timeout); break;
    case 'w': c->status = srwl_acquire_write(h, c->timeout); break;
    case 'u': c->status = srwl_release(h); break;
    default: c->status = srwl_check(h); break;
    }
    c->elapsed = tu_now() - t0;
    c->release_status = -1;
    if (c->release_after && c->status == SRWL_OK)
        c->release_status = srwl_release(h);
    return NULL;
}

/* Runs one call in a new thread and waits for it. */
static struct call in_thread(int op, double timeout, int release_after)
{
    struct call c;
    pthread_t t;
    memset(&c, 0, sizeof c);
    c.op = op;
    c.timeout = timeout;
    c.release_after = release_after;
    CHECK(pthread_create(&t, NULL, run_call, &c) == 0, "pthread_create");
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    return c;
}

static int readers_on_disk(void)
{
    return tu_count(tu_fmt("%s/R", side), "r.");
}

int main(int argc, char **argv)
{
    srwl_lock *other;
    struct call c;
    int i;
    uint64_t g1 = 0, g2 = 0;

    tu_init(argc, argv);
    snprintf(lockpath, sizeof lockpath, "%s/lock", tu_tmpdir());
    snprintf(side, sizeof side, "%s.srwl", lockpath);
    h = tu_open(lockpath);
    other = tu_open(lockpath);

    /* Nested read levels in one thread: one record on disk, removed by the last release. */
    for (i = 0; i < 3; i++)
        EXPECT_OK(srwl_acquire_read(h, 0));
    CHECK(readers_on_disk() == 1, "3 read levels: %d reader records on disk, expected 1", readers_on_disk());
    CHECK(tu_readers_of(side, (long)getpid(), "3 read levels") == 1, "3 read levels: our record does not name our pid");
    EXPECT_OK(srwl_release(h));
    EXPECT_OK(srwl_release(h));
    EXPECT_OK(srwl_check(h));
    CHECK(readers_on_disk() == 1, "1 read level left: %d records", readers_on_disk());
    EXPECT_OK(srwl_release(h));
    CHECK(readers_on_disk() == 0, "all read levels released: %d records left", readers_on_disk());
    EXPECT_ST(srwl_release(h), SRWL_ESTATE);
    EXPECT_ERR_HAS("holds no lock");

    /* Read levels from two threads: another thread adds a level at once (even try-once while a
     * writer of another handle waits would not matter: the handle already holds). */
    EXPECT_OK(srwl_acquire_read(h, 0));
    c = in_thread('r', 0, 0);
    CHECK(c.status == SRWL_OK, "second thread's acquire_read on a read-held handle: %s", tu_st(c.status));
    c = in_thread('u', 0, 0); /* any thread may remove a read level */
    CHECK(c.status == SRWL_OK, "second thread's release of a read level: %s", tu_st(c.status));
    EXPECT_OK(srwl_check(h));
    c = in_thread('c', 0, 0);
    CHECK(c.status == SRWL_OK, "second thread's check of a read hold: %s", tu_st(c.status));
    /* A writer on another handle cannot get in while the read hold has levels. */
    EXPECT_ST(srwl_acquire_write(other, 0), SRWL_TIMEOUT);

    /* Upgrade: SRWL_ESTATE, the read hold is unchanged (still exactly one level). */
    EXPECT_ST(srwl_acquire_write(h, 0), SRWL_ESTATE);
    EXPECT_ERR_HAS("upgrad");
    EXPECT_ST(srwl_acquire_write(h, 1), SRWL_ESTATE);
    c = in_thread('w', 0.2, 0);
    CHECK(c.status == SRWL_ESTATE, "another thread's acquire_write on a read-held handle: %s (expected ESTATE: "
          "\"the handle holds a read lock\")", tu_st(c.status));
    EXPECT_OK(srwl_check(h));
    EXPECT_OK(srwl_release(h));
    EXPECT_ST(srwl_release(h), SRWL_ESTATE);
    CHECK(readers_on_disk() == 0, "after upgrade attempts and release: %d reader records", readers_on_disk());

    /* Nested write in the owning thread. */
    EXPECT_OK(srwl_acquire_write(h, 0));
    EXPECT_OK(srwl_generation(h, &g1));
    EXPECT_OK(srwl_acquire_write(h, 0));
    EXPECT_OK(srwl_acquire_write(h, 0));
    EXPECT_OK(srwl_generation(h, &g2));
    CHECK(g1 == g2 && g1 >= 1, "nested write levels changed the generation: %llu then %llu", (unsigned long long)g1,
          (unsigned long long)g2);
    /* One hold on disk: our baton of that generation, the room closed. */
    tu_expect_writer(side, (long)getpid(), (long long)g1, "nested write");

    /* Downgrade: SRWL_ESTATE, the write hold is unchanged. */
    EXPECT_ST(srwl_acquire_read(h, 0), SRWL_ESTATE);
    EXPECT_ERR_HAS("downgrad");
    EXPECT_OK(srwl_check(h));

    /* Another thread: release is SRWL_ESTATE and changes nothing. */
    c = in_thread('u', 0, 0);
    CHECK(c.status == SRWL_ESTATE, "another thread's release of a write hold: %s, expected SRWL_ESTATE",
          tu_st(c.status));
    EXPECT_OK(srwl_check(h));
    /* Another thread's acquire_write (and acquire_read) waits while the hold lasts: times out. */
    c = in_thread('w', 0, 0);
    CHECK(c.status == SRWL_TIMEOUT, "another thread's acquire_write(0) on a write-held handle: %s", tu_st(c.status));
    c = in_thread('w', 0.3, 0);
    CHECK(c.status == SRWL_TIMEOUT, "another thread's acquire_write(0.3) on a write-held handle: %s", tu_st(c.status));
    CHECK(c.elapsed >= 0.28 && c.elapsed < 1.5, "another thread's acquire_write(0.3) took %.3f s", c.elapsed);
    c = in_thread('r', 0.3, 0);
    CHECK(c.status == SRWL_TIMEOUT, "another thread's acquire_read(0.3) on a write-held handle: %s", tu_st(c.status));
    CHECK(c.elapsed >= 0.28 && c.elapsed < 1.5, "another thread's acquire_read(0.3) took %.3f s", c.elapsed);
    EXPECT_OK(srwl_check(h));
    EXPECT_OK(srwl_release(h));
    EXPECT_OK(srwl_release(h));
    EXPECT_OK(srwl_check(h)); /* one level left */
    EXPECT_ST(srwl_acquire_write(other, 0), SRWL_TIMEOUT);

    /* ... and gets in once the owner releases the last level. */
    {
        struct call w;
        pthread_t t;
        double t0 = tu_now();
        memset(&w, 0, sizeof w);
        w.op = 'w';
        w.timeout = 10;
        w.release_after = 1;
        CHECK(pthread_create(&t, NULL, run_call, &w) == 0, "pthread_create");
        tu_sleep(0.3);
        EXPECT_OK(srwl_release(h));
        pthread_join(t, NULL);
        CHECK(w.status == SRWL_OK, "waiting thread's acquire_write after the owner released: %s", tu_st(w.status));
        CHECK(w.release_status == SRWL_OK, "waiting thread's release: %s", tu_st(w.release_status));
        CHECK(w.elapsed >= 0.25 && tu_now() - t0 < 5, "waiting thread got in after %.3f s (owner released at 0.3 s)",
              w.elapsed);
    }
    EXPECT_ST(srwl_check(h), SRWL_ESTATE);
    EXPECT_ST(srwl_release(h), SRWL_ESTATE);

    /* A write hold taken by thread B belongs to B: the main thread cannot release it. */
    {
        struct call w;
        w = in_thread('w', 0, 0);
        CHECK(w.status == SRWL_OK, "thread B acquire_write: %s", tu_st(w.status));
        EXPECT_ST(srwl_release(h), SRWL_ESTATE);
        EXPECT_ERR_HAS("another thread");
        EXPECT_ST(srwl_acquire_write(h, 0.1), SRWL_TIMEOUT);
        EXPECT_OK(srwl_check(h));
        /* B has exited; its hold stays until srwl_close (which releases all levels). */
    }
    EXPECT_OK(srwl_close(h));
    EXPECT_OK(srwl_acquire_write(other, 0));
    EXPECT_OK(srwl_release(other));
    EXPECT_OK(srwl_close(other));
    tu_expect_at_rest(side, -1, "at the end");
    printf("PASS\n");
    return 0;
}
