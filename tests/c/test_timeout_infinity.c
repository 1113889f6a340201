/*
 * The header documents the timeout as "-1 waits forever, 0 tries once, > 0 waits at most that
 * long; NaN or any other negative value is SRWL_EINVAL". +INFINITY is > 0 and not negative, so
 * it must be accepted (as "wait forever"). A caller computing `deadline - now` in floating
 * point, or passing HUGE_VAL for "no limit", gets this value.
 *
 * Contended, so that "wait forever" is told apart from "try once": a child process holds the
 * write lock until the acquire is seen waiting in the queue (its ticket or claim), then HOLD
 * seconds more; acquires with INFINITY (read) and HUGE_VAL (write) must wait for it and be
 * granted after its release, not return SRWL_TIMEOUT at once. Timed by the processes' own
 * clock readings (CLOCK_MONOTONIC, shared), not by how fast the parent notices: a loaded
 * machine cannot fail it.
 *
 *   test_timeout_infinity               the check
 *   test_timeout_infinity holder DIR    (child) hold the write lock on DIR/lock (see above)
 */
#include "testutil.h"

#define HOLD 0.5

static int holder(const char *dir)
{
    srwl_lock *l = tu_open(tu_fmt("%s/lock", dir));
    const char *q = tu_fmt("%s/lock.srwl/Q", dir);
    double end;
    EXPECT_OK(srwl_acquire_write(l, 10));
    tu_touch(tu_fmt("%s/held", dir));
    /* Hold until the other acquire waits in the queue (a reader's ticket, a writer's claim). */
    end = tu_now() + 20;
    while (tu_count(q, "r.") + tu_count(q, "w.") <= 0 && tu_now() < end)
        tu_sleep(0.002);
    if (tu_count(q, "r.") + tu_count(q, "w.") > 0)
        tu_touch(tu_fmt("%s/waiter-seen", dir));
    tu_sleep(HOLD);
    tu_write_text(tu_fmt("%s/released-at", dir), tu_fmt("%.6f\n", tu_now()));
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_close(l));
    return 0;
}

/* Acquires (read or write) with `timeout` while a child holds the write lock: must wait in the
 * queue until the child releases, and then succeed. */
static void contended(srwl_lock *l, const char *dir, int write, double timeout, const char *what)
{
    const char *held = tu_fmt("%s/held", dir), *seen = tu_fmt("%s/waiter-seen", dir),
               *released = tu_fmt("%s/released-at", dir);
    double released_at = 0;
    FILE *f;
    unlink(held);
    unlink(seen);
    unlink(released);
    pid_t pid = tu_spawn_self("holder", dir, NULL);
    tu_wait_file(held, 30);
    double t0 = tu_now();
    int st = write ? srwl_acquire_write(l, timeout) : srwl_acquire_read(l, timeout);
    double granted = tu_now();
    if (st != SRWL_OK)
        TU_FAIL("%s while another process held the write lock returned %s after %.3f s (%s): "
                "an infinite timeout must wait, not try once",
                what, tu_st(st), granted - t0, srwl_last_error());
    tu_expect_exit0(pid, 60, "holder");
    f = fopen(released, "r");
    CHECK(f != NULL && fscanf(f, "%lf", &released_at) == 1, "the holder did not say when it released");
    fclose(f);
    printf("  %s: waited in the queue, granted %.3f s after the call, %.3f s after the holder's release began\n",
           what, granted - t0, granted - released_at);
    CHECK(tu_exists(seen), "%s never waited in the queue (no ticket or claim while the lock was held)", what);
    CHECK(granted >= released_at, "%s was granted before the holder released", what);
    EXPECT_OK(srwl_release(l));
}

int main(int argc, char **argv)
{
    srwl_lock *l;
    if (argc == 3 && strcmp(argv[1], "holder") == 0) {
        tu_init(argc, argv);
        return holder(argv[2]);
    }
    tu_init(argc, argv);
    const char *dir = tu_tmpdir();
    l = tu_open(tu_fmt("%s/lock", dir));
    /* Uncontended: accepted at all. */
    EXPECT_OK(srwl_acquire_read(l, INFINITY));
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_acquire_write(l, HUGE_VAL));
    EXPECT_OK(srwl_release(l));
    /* Contended: waits. */
    contended(l, dir, 0, INFINITY, "srwl_acquire_read(INFINITY)");
    contended(l, dir, 1, HUGE_VAL, "srwl_acquire_write(HUGE_VAL)");
    EXPECT_OK(srwl_close(l));
    printf("PASS\n");
    return 0;
}
