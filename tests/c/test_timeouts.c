/*
 * Timeouts: try-once (0) on a held lock returns SRWL_TIMEOUT at once; a timeout of 0.3 s
 * returns SRWL_TIMEOUT after about that long; -1 waits until the holder releases; a timed-out
 * acquire leaves nothing of its own on disk (Q/ and R/ list exactly what they listed before).
 */
#include "testutil.h"

#include <pthread.h>

static char lockpath[1024], side[1100], stopfile[1100], readyfile[1100];

/* Child role: hold the lock ("read" or "write") until the stop file appears. */
static int hold(const char *mode)
{
    srwl_lock *l = tu_open(lockpath);
    if (strcmp(mode, "write") == 0)
        EXPECT_OK(srwl_acquire_write(l, 10));
    else
        EXPECT_OK(srwl_acquire_read(l, 10));
    tu_touch(readyfile);
    tu_wait_file(stopfile, 60);
    EXPECT_OK(srwl_check(l));
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_close(l));
    return 0;
}

/* A snapshot of everything in the sidecar (top level, Q/, R/), with the number of batons at
 * rest in R/ instead of their names: a writer that timed out while readers held had taken the
 * baton and gave it back under the next generation number, which is not a leftover. */
static const char *snapshot(void)
{
    static char buf[4][16384];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "side=[%s] Q=[%s] R=[%s] batons at rest=%d", tu_list(side), tu_list(tu_fmt("%s/Q", side)),
             tu_list_except(tu_fmt("%s/R", side), "baton."), tu_count(tu_fmt("%s/R", side), "baton."));
    return b;
}

static void timed(srwl_lock *l, int write, double timeout, double lo, double hi)
{
    const char *before = snapshot();
    const char *after;
    double t0 = tu_now(), dt;
    int s = write ? srwl_acquire_write(l, timeout) : srwl_acquire_read(l, timeout);
    dt = tu_now() - t0;
    CHECK(s == SRWL_TIMEOUT, "acquire_%s(%g) on a held lock returned %s (%s)", write ? "write" : "read", timeout,
          tu_st(s), srwl_last_error());
    EXPECT_ERR_HAS("timed out");
    CHECK(dt >= lo && dt <= hi, "acquire_%s(%g) timed out after %.3f s, expected within [%.2f, %.2f]",
          write ? "write" : "read", timeout, dt, lo, hi);
    EXPECT_ST(srwl_check(l), SRWL_ESTATE);
    after = snapshot();
    CHECK(strcmp(before, after) == 0, "a timed-out acquire_%s left entries on disk:\n  before: %s\n  after:  %s",
          write ? "write" : "read", before, after);
    printf("  acquire_%s(%g): TIMEOUT after %.3f s, disk unchanged: %s\n", write ? "write" : "read", timeout, dt, after);
}

struct waiter {
    srwl_lock *l;
    int write;
    double timeout;
    int status;
    double elapsed;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    double t0 = tu_now();
    w->status = w->write ? srwl_acquire_write(w->l, w->timeout) : srwl_acquire_read(w->l, w->timeout);
    w->elapsed = tu_now() - t0;
    if (w->status == SRWL_OK)
        w->status = srwl_release(w->l);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *dir;
    srwl_lock *l;
    pid_t holder;

    tu_init(argc, argv);
    if (argc > 3) {
        snprintf(lockpath, sizeof lockpath, "%s", argv[2]);
        snprintf(readyfile, sizeof readyfile, "%s.ready", argv[3]);
        snprintf(stopfile, sizeof stopfile, "%s.stop", argv[3]);
        return hold(argv[1]);
    }
    dir = tu_tmpdir();
    snprintf(lockpath, sizeof lockpath, "%s/lock", dir);
    snprintf(side, sizeof side, "%s.srwl", lockpath);
    l = tu_open(lockpath);

    /* A writer (another process) holds the lock. */
    snprintf(readyfile, sizeof readyfile, "%s/w.ready", dir);
    snprintf(stopfile, sizeof stopfile, "%s/w.stop", dir);
    holder = tu_spawn_self("write", lockpath, tu_fmt("%s/w", dir), (char *)NULL);
    tu_wait_file(readyfile, 30);
    timed(l, 0, 0, 0, 0.25);
    timed(l, 1, 0, 0, 0.25);
    timed(l, 0, 0.3, 0.28, 1.3);
    timed(l, 1, 0.3, 0.28, 1.3);
    /* Past the stale threshold: the live holder's heartbeat keeps it (no eviction). */
    timed(l, 1, 3 * TU_STALE, 3 * TU_STALE - 0.02, 3 * TU_STALE + 1.0);
    timed(l, 0, 3 * TU_STALE, 3 * TU_STALE - 0.02, 3 * TU_STALE + 1.0);
    /* -1 waits until the holder releases. */
    {
        struct waiter w = {l, 1, -1, -1, 0};
        pthread_t t;
        CHECK(pthread_create(&t, NULL, wait_thread, &w) == 0, "pthread_create");
        tu_sleep(0.4);
        tu_touch(stopfile);
        pthread_join(t, NULL);
        CHECK(w.status == SRWL_OK, "acquire_write(-1) + release: %s", tu_st(w.status));
        CHECK(w.elapsed >= 0.35 && w.elapsed < 5, "acquire_write(-1) returned after %.3f s", w.elapsed);
    }
    tu_expect_exit0(holder, 30, "write holder");

    /* A reader (another process) holds the lock: a writer times out, leaving nothing. */
    snprintf(readyfile, sizeof readyfile, "%s/r.ready", dir);
    snprintf(stopfile, sizeof stopfile, "%s/r.stop", dir);
    holder = tu_spawn_self("read", lockpath, tu_fmt("%s/r", dir), (char *)NULL);
    tu_wait_file(readyfile, 30);
    timed(l, 1, 0, 0, 0.25);
    timed(l, 1, 0.3, 0.28, 1.3);
    timed(l, 1, 3 * TU_STALE, 3 * TU_STALE - 0.02, 3 * TU_STALE + 1.0);
    /* ... and a reader gets in at once (shared). */
    EXPECT_OK(srwl_acquire_read(l, 0));
    EXPECT_OK(srwl_release(l));
    tu_touch(stopfile);
    tu_expect_exit0(holder, 30, "read holder");

    /* Free again: everything was cleaned up; try-once succeeds. */
    EXPECT_OK(srwl_acquire_write(l, 0));
    EXPECT_OK(srwl_release(l));
    tu_expect_at_rest(side, -1, "at the end");
    EXPECT_OK(srwl_close(l));
    printf("PASS\n");
    return 0;
}
