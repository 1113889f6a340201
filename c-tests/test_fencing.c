/*
 * Fencing tokens under a paused writer.
 *
 * The header: srwl_generation() is "a counter that grows with every write grant on this lock
 * path ... Hand it to the resource you protect so that it can refuse writes from a holder that
 * was evicted." So a holder that was evicted must never end up with a token at least as large
 * as the token of the holder that replaced it.
 *
 * Writer Z is stopped (SIGSTOP, by the LD_PRELOAD shim stop_before_grant.so) after it took the
 * baton, right before its grant (its rmdir of the room). Past the stale threshold writer N takes
 * Z's baton over, hands it back and takes the lock with generation g_N. Then Z is resumed: its
 * rmdir may even succeed (the room is gone or empty), but Z's acquire_write must fail
 * (SRWL_ELOST), or the token it gets must be below g_N, so that the resource refuses Z's late
 * writes. Also: N is undisturbed (srwl_check OK, its baton unchanged, readers kept out).
 *
 * usage: c_fencing <path of stop_before_grant.so>
 */
#include "testutil.h"

static char dir[512], lockpath[1024];

static int zombie(void)
{
    srwl_lock *l = tu_open(lockpath);
    uint64_t g = 0;
    int s, gs = -1, c = -1, r = -1;
    s = srwl_acquire_write(l, 10); /* stops inside (the shim), between its take and its grant */
    if (s == SRWL_OK) {
        gs = srwl_generation(l, &g);
        c = srwl_check(l);
        r = srwl_release(l);
    }
    srwl_close(l);
    tu_write_text(tu_fmt("%s/result", dir), tu_fmt("%d %llu %d %d %d\n", s, (unsigned long long)g, gs, c, r));
    return 0;
}

int main(int argc, char **argv)
{
    pid_t pid;
    int st, s, gs, c, r;
    unsigned long long gz = 0;
    uint64_t gn = 0;
    double t0, end;
    srwl_lock *n, *other;
    FILE *f;

    tu_init(argc, argv);
    if (argc > 2 && strcmp(argv[1], "zombie") == 0) {
        snprintf(dir, sizeof dir, "%s", argv[2]);
        snprintf(lockpath, sizeof lockpath, "%s/lock", dir);
        return zombie();
    }
    if (argc < 2 || !tu_exists(argv[1])) {
        fprintf(stderr, "usage: %s /path/to/stop_before_grant.so\n", argv[0]);
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    snprintf(lockpath, sizeof lockpath, "%s/lock", dir);

    /* A few grants first, so that the counter is not at its start. */
    n = tu_open(lockpath);
    for (s = 0; s < 3; s++) {
        EXPECT_OK(srwl_acquire_write(n, 5));
        EXPECT_OK(srwl_release(n));
    }

    setenv("LD_PRELOAD", argv[1], 1);
    setenv("SRWL_TEST_STOP_BEFORE_GRANT", "1", 1);
    pid = tu_spawn_self("zombie", dir, (char *)NULL);
    unsetenv("LD_PRELOAD");
    unsetenv("SRWL_TEST_STOP_BEFORE_GRANT");

    /* Wait until Z stops itself between its take and its grant. */
    end = tu_now() + 20;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG | WUNTRACED);
        if (w == pid && WIFSTOPPED(st))
            break;
        CHECK(w == 0, "writer Z ended before it stopped before its grant (status %d)", st);
        CHECK(tu_now() < end, "writer Z never reached its grant");
        tu_sleep(0.002);
    }
    CHECK(tu_count(tu_fmt("%s.srwl/Q", lockpath), "b.") == 1, "Z stopped but does not hold the baton: Q=[%s]",
          tu_list(tu_fmt("%s.srwl/Q", lockpath)));

    /* N takes the lock once Z's record has gone stale. */
    t0 = tu_now();
    EXPECT_OK(srwl_acquire_write(n, 30));
    EXPECT_OK(srwl_generation(n, &gn));
    printf("  N got the write lock %.3f s after Z stopped, with generation %llu\n", tu_now() - t0,
           (unsigned long long)gn);

    /* Resume Z. */
    CHECK(kill(pid, SIGCONT) == 0, "SIGCONT");
    tu_expect_exit0(pid, 30, "writer Z");
    f = fopen(tu_fmt("%s/result", dir), "r");
    CHECK(f != NULL && fscanf(f, "%d %llu %d %d %d", &s, &gz, &gs, &c, &r) == 5, "Z left no result");
    fclose(f);
    printf("  Z resumed: acquire_write %s, generation %llu (%s), check %s, release %s\n", tu_st(s), gz, tu_st(gs),
           tu_st(c), tu_st(r));

    /* N is undisturbed. */
    EXPECT_OK(srwl_check(n));
    other = tu_open(lockpath);
    EXPECT_ST(srwl_acquire_read(other, 0), SRWL_TIMEOUT);
    {
        uint64_t g2 = 0;
        EXPECT_OK(srwl_generation(n, &g2));
        CHECK(g2 == gn, "N's generation changed: %llu -> %llu", (unsigned long long)gn, (unsigned long long)g2);
    }
    EXPECT_OK(srwl_release(n));

    /* The fencing property. */
    CHECK(s == SRWL_ELOST || (s == SRWL_OK && gz < gn),
          "the evicted writer Z was granted (acquire_write %s) with fencing token %llu >= %llu, the token of the "
          "writer N that replaced it: a resource fenced by srwl_generation would accept Z's late writes and refuse N's",
          tu_st(s), gz, (unsigned long long)gn);
    /* And the next writer's token is above both. */
    EXPECT_OK(srwl_acquire_write(other, 5));
    {
        uint64_t g3 = 0;
        EXPECT_OK(srwl_generation(other, &g3));
        CHECK(g3 > gn && g3 > gz, "the next writer's generation %llu is not above %llu and %llu",
              (unsigned long long)g3, (unsigned long long)gn, gz);
    }
    EXPECT_OK(srwl_release(other));
    EXPECT_OK(srwl_close(other));
    EXPECT_OK(srwl_close(n));
    printf("PASS\n");
    return 0;
}
