/*
 * The header documents the timeout as "-1 waits forever, 0 tries once, > 0 waits at most that
 * long; NaN or any other negative value is SRWL_EINVAL". +INFINITY is > 0 and not negative, so
 * it must be accepted (as "wait forever"). A caller computing `deadline - now` in floating
 * point, or passing HUGE_VAL for "no limit", gets this value.
 */
#include "testutil.h"

int main(int argc, char **argv)
{
    srwl_lock *l;
    tu_init(argc, argv);
    l = tu_open(tu_fmt("%s/lock", tu_tmpdir()));
    EXPECT_OK(srwl_acquire_read(l, INFINITY));
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_acquire_write(l, HUGE_VAL));
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_close(l));
    printf("PASS\n");
    return 0;
}
