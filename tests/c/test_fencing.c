/*
 * Fencing tokens under a writer stopped between taking the baton and its grant.
 *
 * The header: srwl_generation() is "a counter that grows with every write grant on this lock
 * path ... Hand it to the resource you protect so that it can refuse writes from a holder that
 * was evicted." So a writer that was evicted must never be told it holds the lock, and the
 * writer that replaced it must hold a larger token than the one the evicted writer had taken.
 *
 * Writer Z is stopped (SIGSTOP, by the LD_PRELOAD shim stop_before_grant.so) after it took the
 * baton (Q/b.<gz>.<token of Z>, a record naming Z's pid), right before its grant (its rmdir of
 * the room). Once Z's record has gone unchanged for the stale threshold (not before), writer N
 * takes Z's baton over, hands it back and takes the write lock with generation g_N > gz. Then
 * Z is resumed: its rmdir may even succeed (the room is gone), but its srwl_acquire_write must
 * return SRWL_ELOST, and it must touch nothing of N's hold: N's baton Q/b.<g_N>.<token of N>
 * is still there with N's record, the queue lists exactly what it listed, srwl_check(N) is OK,
 * N's generation is unchanged and readers are kept out. The next writer's token is above both.
 *
 * usage: c_fencing <path of stop_before_grant.so>
 */
#include "testutil.h"

static char dir[512], lockpath[1024], side[1100];

/* Child: one acquire_write, stopped inside it by the shim; reports the status and message. */
static int zombie(void)
{
    srwl_lock *l = tu_open(lockpath);
    uint64_t g = 0;
    int s, gs = -1, c = -1, r = -1;
    char msg[400];
    s = srwl_acquire_write(l, 10); /* stops inside (the shim), between its take and its grant */
    snprintf(msg, sizeof msg, "%s", srwl_last_error());
    if (s == SRWL_OK) {
        gs = srwl_generation(l, &g);
        c = srwl_check(l);
        r = srwl_release(l);
    }
    srwl_close(l);
    tu_write_text(tu_fmt("%s/result", dir),
                  tu_fmt("%d %llu %d %d %d\n%s\n", s, (unsigned long long)g, gs, c, r, msg));
    return 0;
}

int main(int argc, char **argv)
{
    pid_t pid;
    int st, s, gs, c, r;
    unsigned long long gz_ok = 0, gz, g_rest;
    uint64_t gn = 0;
    double t0, dt, end;
    srwl_lock *n, *other;
    FILE *f;
    char zmsg[400] = "", nname[64], qbefore[1024];
    struct tu_record zrec, nrec, nrec_after;

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
    snprintf(side, sizeof side, "%s.srwl", lockpath);

    /* A few grants first, so that the counter is not at its start. */
    n = tu_open(lockpath);
    for (s = 0; s < 3; s++) {
        EXPECT_OK(srwl_acquire_write(n, 5));
        EXPECT_OK(srwl_release(n));
    }
    g_rest = tu_expect_at_rest(side, 3, "after 3 write grants");

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
    t0 = tu_now();
    /* Z holds the baton (taken from the room under the next generation), the room still stands. */
    gz = tu_held_baton(side, "Z stopped before its grant", NULL, &zrec);
    CHECK(zrec.pid == (long)pid, "the baton held when Z stopped names pid %ld, not Z (%ld)", zrec.pid, (long)pid);
    CHECK(gz == g_rest + 1, "Z took the baton under generation %llu, expected %llu", gz, g_rest + 1);
    CHECK(tu_exists(tu_fmt("%s/R", side)), "the room is gone although Z stopped before its rmdir");

    /* N takes the lock once Z's record has gone stale: Z's baton is taken over, not before the
     * threshold, not long after. */
    EXPECT_OK(srwl_acquire_write(n, 30));
    dt = tu_now() - t0;
    EXPECT_OK(srwl_generation(n, &gn));
    printf("  N got the write lock %.3f s after Z stopped (threshold %.2f s), generation %llu (Z's baton: %llu)\n",
           dt, TU_STALE, (unsigned long long)gn, gz);
    CHECK(dt >= TU_STALE - 0.03, "Z's baton was taken over %.3f s after Z stopped, before the stale threshold (%.2f s)",
          dt, TU_STALE);
    CHECK(dt <= TU_STALE + 2.0, "N needed %.3f s to get past the stopped writer Z (threshold %.2f s)", dt, TU_STALE);
    CHECK(gn > gz, "N's generation %llu is not above the generation %llu of the baton Z had taken",
          (unsigned long long)gn, gz);
    tu_expect_writer(side, (long)getpid(), (long long)gn, "N holds");
    tu_held_baton(side, "N holds", nname, &nrec);
    CHECK(strcmp(nrec.token, zrec.token) != 0, "N's baton still names Z's token");
    snprintf(qbefore, sizeof qbefore, "%s", tu_list(tu_fmt("%s/Q", side)));

    /* Resume Z. */
    CHECK(kill(pid, SIGCONT) == 0, "SIGCONT");
    tu_expect_exit0(pid, 30, "writer Z");
    f = fopen(tu_fmt("%s/result", dir), "r");
    CHECK(f != NULL && fscanf(f, "%d %llu %d %d %d ", &s, &gz_ok, &gs, &c, &r) == 5, "Z left no result");
    if (fgets(zmsg, sizeof zmsg, f) == NULL)
        zmsg[0] = '\0';
    fclose(f);
    printf("  Z resumed: acquire_write %s: %s", tu_st(s), zmsg);
    if (s == SRWL_OK)
        printf("  and then: generation %llu (%s), check %s, release %s\n", gz_ok, tu_st(gs), tu_st(c), tu_st(r));

    /* The fencing property: the evicted Z is not told it holds the lock. */
    CHECK(s == SRWL_ELOST,
          "the writer Z, taken over while stopped between its take and its grant, got %s from srwl_acquire_write "
          "(generation %llu; N holds %llu), expected SRWL_ELOST",
          tu_st(s), gz_ok, (unsigned long long)gn);
    CHECK(strstr(zmsg, "lost") != NULL, "Z's SRWL_ELOST message does not say \"lost\": %s", zmsg);

    /* N is undisturbed: the same baton with N's record, nothing else queued, the room closed. */
    CHECK(strcmp(qbefore, tu_list(tu_fmt("%s/Q", side))) == 0, "Z changed the queue while N holds: [%s] -> [%s]",
          qbefore, tu_list(tu_fmt("%s/Q", side)));
    tu_expect_writer(side, (long)getpid(), (long long)gn, "N holds after Z resumed");
    CHECK(tu_read_record(tu_fmt("%s/Q/%s", side, nname), &nrec_after), "N's baton Q/%s unreadable", nname);
    CHECK(strcmp(nrec.stable, nrec_after.stable) == 0, "N's baton Q/%s no longer holds N's record:\n%s---\n%s", nname,
          nrec.stable, nrec_after.stable);
    EXPECT_OK(srwl_check(n));
    other = tu_open(lockpath);
    EXPECT_ST(srwl_acquire_read(other, 0), SRWL_TIMEOUT);
    {
        uint64_t g2 = 0;
        EXPECT_OK(srwl_generation(n, &g2));
        CHECK(g2 == gn, "N's generation changed: %llu -> %llu", (unsigned long long)gn, (unsigned long long)g2);
    }
    EXPECT_OK(srwl_check(n));
    EXPECT_OK(srwl_release(n));
    tu_expect_at_rest(side, (long long)gn, "N released");

    /* And the next writer's token is above both. */
    EXPECT_OK(srwl_acquire_write(other, 5));
    {
        uint64_t g3 = 0;
        EXPECT_OK(srwl_generation(other, &g3));
        CHECK(g3 > gn && g3 > gz, "the next writer's generation %llu is not above %llu and %llu",
              (unsigned long long)g3, (unsigned long long)gn, gz);
        tu_expect_writer(side, (long)getpid(), (long long)g3, "the next writer holds");
        EXPECT_OK(srwl_release(other));
        tu_expect_at_rest(side, (long long)g3, "at the end");
    }
    EXPECT_OK(srwl_close(other));
    EXPECT_OK(srwl_close(n));
    printf("PASS\n");
    return 0;
}
