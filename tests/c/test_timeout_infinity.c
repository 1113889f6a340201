/*
 * The header documents the timeout as "-1 waits forever, 0 tries once, > 0 waits at most that
 * long; NaN or any other negative value is SRWL_EINVAL". +INFINITY is > 0 and not negative, so
 * it must be accepted (as "wait forever"). A caller computing `deadline - now` in floating
 * point, or passing HUGE_VAL for "no limit", gets this value.
 *
 * Contended, so that "wait forever" is told apart from "try once": a child process holds the
 * write lock and releases it HOLD seconds after it said so; acquires with INFINITY (read) and
 * HUGE_VAL (write) must wait for it and then be granted, not return SRWL_TIMEOUT at once.
 *
 *   test_timeout_infinity               the check
 *   test_timeout_infinity holder DIR    (child) hold the write lock on DIR/lock for HOLD s
 */
#include "testutil.h"

#define HOLD 1.0

static int holder(const char *dir)
{
    srwl_lock *l = tu_open(tu_fmt("%s/lock", dir));
    EXPECT_OK(srwl_acquire_write(l, 10));
    tu_touch(tu_fmt("%s/held", dir));
    tu_sleep(HOLD);
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_close(l));
    return 0;
}

/* Acquires (read or write) with `timeout` while a child holds the write lock: must wait until
 * the child releases (not less than most of HOLD after it said it holds) and then succeed. */
static void contended(srwl_lock *l, const char *dir, int write, double timeout, const char *what)
{
    const char *held = tu_fmt("%s/held", dir);
    unlink(held);
    pid_t pid = tu_spawn_self("holder", dir, NULL);
    tu_wait_file(held, 30);
    double t0 = tu_now();
    int st = write ? srwl_acquire_write(l, timeout) : srwl_acquire_read(l, timeout);
    double waited = tu_now() - t0;
    if (st != SRWL_OK)
        TU_FAIL("%s while another process held the write lock returned %s after %.3f s (%s): "
                "an infinite timeout must wait, not try once",
                what, tu_st(st), waited, srwl_last_error());
    printf("  %s: granted after %.3f s (the holder released %.1f s after it took the lock)\n", what,
           waited, HOLD);
    /* The holder slept HOLD s after saying so; a grant much earlier means it did not hold. */
    CHECK(waited >= HOLD / 2, "%s was granted after %.3f s although the lock was held", what, waited);
    EXPECT_OK(srwl_release(l));
    tu_expect_exit0(pid, 60, "holder");
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
