/*
 * Every status code reachable from C, with its description and message.
 *
 * SRWL_EINTERNAL is documented as "a bug in libsoftrwlock (a caught panic)": no correct call
 * reaches it, so this test only checks its description. If any call here returns it, that is
 * a library bug and the test fails.
 */
#include "testutil.h"

static char lockpath[1024];
static char side[1100];

/* The single entry of a directory (fails unless there is exactly one). */
static const char *only_entry(const char *dir)
{
    const char *l = tu_list(dir);
    CHECK(l[0] != '\0' && strchr(l, ' ') == NULL && strcmp(l, "<missing>") != 0,
          "expected exactly one entry in %s, found \"%s\"", dir, l);
    return l;
}

/* The single entry of a directory besides those starting with `prefix` (the resting baton). */
static const char *only_entry_except(const char *dir, const char *prefix)
{
    const char *l = tu_list_except(dir, prefix);
    CHECK(l[0] != '\0' && strchr(l, ' ') == NULL && strcmp(l, "<missing>") != 0,
          "expected exactly one entry besides %s* in %s, found \"%s\"", prefix, dir, tu_list(dir));
    return l;
}

static void check_strings(void)
{
    int s;
    const char *unknown = srwl_status_str(10);
    CHECK(strcmp(srwl_version(), SRWL_VERSION_STRING) == 0, "srwl_version() \"%s\" != SRWL_VERSION_STRING \"%s\"",
          srwl_version(), SRWL_VERSION_STRING);
    {
        char v[32];
        snprintf(v, sizeof v, "%d.%d.%d", SRWL_VERSION_MAJOR, SRWL_VERSION_MINOR, SRWL_VERSION_PATCH);
        CHECK(strcmp(v, SRWL_VERSION_STRING) == 0, "SRWL_VERSION_MAJOR/MINOR/PATCH %s != %s", v, SRWL_VERSION_STRING);
    }
    CHECK(unknown != NULL && strcmp(unknown, "unknown status") == 0, "srwl_status_str(10) = \"%s\"", unknown);
    CHECK(strcmp(srwl_status_str(-1), "unknown status") == 0, "srwl_status_str(-1) = \"%s\"", srwl_status_str(-1));
    CHECK(strcmp(srwl_status_str(1000000), "unknown status") == 0, "srwl_status_str(1000000)");
    CHECK(strcmp(srwl_status_str(INT32_MIN), "unknown status") == 0, "srwl_status_str(INT32_MIN)");
    for (s = SRWL_OK; s <= SRWL_EINTR; s++) {
        const char *d = srwl_status_str(s);
        int t;
        CHECK(d != NULL && d[0] != '\0', "srwl_status_str(%d) is empty", s);
        CHECK(strcmp(d, "unknown status") != 0, "srwl_status_str(%s) is \"unknown status\"", tu_st(s));
        CHECK(srwl_status_str(s) == d, "srwl_status_str(%d) is not a static string", s);
        for (t = SRWL_OK; t < s; t++)
            CHECK(strcmp(d, srwl_status_str(t)) != 0, "%s and %s share the description \"%s\"", tu_st(s), tu_st(t), d);
        printf("  %-15s = %d: %s\n", tu_st(s), s, d);
    }
    /* The enum values are ABI. */
    CHECK(SRWL_OK == 0 && SRWL_TIMEOUT == 1 && SRWL_EINVAL == 2 && SRWL_EIO == 3 && SRWL_ESTATE == 4 &&
              SRWL_EFORKED == 5 && SRWL_EUNSAFE == 6 && SRWL_ELOST == 7 && SRWL_EINTERNAL == 8 &&
              SRWL_EINTR == 9,
          "status values were renumbered");
}

int main(int argc, char **argv)
{
    const char *dir;
    srwl_lock *a = NULL, *b = NULL;
    uint64_t gen = 0;

    tu_init(argc, argv);
    /* "Empty if no call failed yet." */
    CHECK(srwl_last_error() != NULL && srwl_last_error()[0] == '\0', "srwl_last_error() before any failure: \"%s\"",
          srwl_last_error());
    check_strings();

    dir = tu_tmpdir();
    snprintf(lockpath, sizeof lockpath, "%s/data", dir);
    snprintf(side, sizeof side, "%s.srwl", lockpath);

    /* SRWL_OK: open, read, release, write, generation, release, close. */
    a = tu_open(lockpath);
    CHECK(!tu_exists(lockpath), "the lock path itself was created");
    CHECK(tu_exists(tu_fmt("%s/R", side)) && tu_exists(tu_fmt("%s/Q", side)), "sidecar %s lacks R/ or Q/: %s", side,
          tu_list(side));
    {
        struct stat st;
        CHECK(stat(side, &st) == 0 && (st.st_mode & 0777) == 0700, "sidecar mode %o, expected 0700", st.st_mode & 0777);
    }
    EXPECT_OK(srwl_acquire_read(a, 0));
    EXPECT_OK(srwl_check(a));
    EXPECT_OK(srwl_generation(a, &gen));
    CHECK(gen == 0, "generation of a read hold before any writer: %llu, expected 0", (unsigned long long)gen);
    EXPECT_OK(srwl_release(a));
    EXPECT_OK(srwl_acquire_write(a, 0));
    EXPECT_OK(srwl_generation(a, &gen));
    CHECK(gen == 1, "generation of the first write grant: %llu, expected 1", (unsigned long long)gen);
    EXPECT_OK(srwl_release(a));
    EXPECT_OK(srwl_acquire_write(a, 0));
    EXPECT_OK(srwl_generation(a, &gen));
    CHECK(gen == 2, "generation of the second write grant: %llu, expected 2", (unsigned long long)gen);
    EXPECT_OK(srwl_release(a));
    EXPECT_OK(srwl_acquire_read(a, 0));
    EXPECT_OK(srwl_generation(a, &gen));
    CHECK(gen == 2, "generation of a read hold after 2 write grants: %llu, expected 2", (unsigned long long)gen);
    EXPECT_OK(srwl_release(a));

    /* SRWL_TIMEOUT: a second handle (an independent participant) cannot get in. */
    b = tu_open(lockpath);
    EXPECT_OK(srwl_acquire_write(a, 0));
    EXPECT_ST(srwl_acquire_read(b, 0), SRWL_TIMEOUT);
    EXPECT_ERR_HAS("acquire_read");
    EXPECT_ERR_HAS(lockpath);
    EXPECT_ST(srwl_acquire_write(b, 0), SRWL_TIMEOUT);
    EXPECT_ERR_HAS("acquire_write");
    EXPECT_OK(srwl_release(a));
    EXPECT_OK(srwl_acquire_read(b, 0));
    EXPECT_OK(srwl_acquire_read(a, 0));
    EXPECT_ST(srwl_acquire_write(tu_open(lockpath), 0), SRWL_TIMEOUT); /* leaked handle: fine */
    EXPECT_OK(srwl_release(a));
    EXPECT_OK(srwl_release(b));

    /* SRWL_EINVAL with a message. */
    EXPECT_ST(srwl_acquire_read(a, -5), SRWL_EINVAL);
    EXPECT_ERR_HAS("timeout");

    /* SRWL_ESTATE: release and check without a hold. */
    EXPECT_ST(srwl_release(a), SRWL_ESTATE);
    EXPECT_ERR_HAS("release");
    EXPECT_ERR_HAS(lockpath);
    EXPECT_ST(srwl_check(a), SRWL_ESTATE);
    EXPECT_ST(srwl_generation(a, &gen), SRWL_ESTATE);

    /* SRWL_EIO: the parent directory of the lock path does not exist. */
    {
        const char *p = tu_fmt("%s/no-such-dir/lock", dir);
        srwl_lock *l = (srwl_lock *)&l; /* any non-NULL value: must be reset to NULL */
        srwl_options o = tu_opts();
        EXPECT_ST(srwl_open(p, &o, &l), SRWL_EIO);
        CHECK(l == NULL, "srwl_open failed but left *out non-NULL");
        EXPECT_ERR_HAS("open");
        EXPECT_ERR_HAS(tu_fmt("%s/no-such-dir", dir));
        EXPECT_ERR_HAS("ENOENT");
        printf("  EIO (missing parent): %s\n", srwl_last_error());
        CHECK(!tu_exists(tu_fmt("%s/no-such-dir", dir)), "the missing parent directory was created");
    }
    /* A path whose parent is a regular file: ENOTDIR. Not documented for the parent; the library
     * maps ENOTDIR to SRWL_EUNSAFE ("a file of the wrong type"). Either EIO or EUNSAFE is
     * acceptable here, with the path and the OS error in the message. */
    {
        const char *file = tu_fmt("%s/plainfile", dir);
        const char *p = tu_fmt("%s/plainfile/lock", dir);
        srwl_lock *l = NULL;
        srwl_options o = tu_opts();
        int s;
        tu_write_text(file, "not a directory\n");
        s = srwl_open(p, &o, &l);
        CHECK(s == SRWL_EIO || s == SRWL_EUNSAFE, "srwl_open under a regular file returned %s (%s)", tu_st(s),
              srwl_last_error());
        CHECK(l == NULL, "*out not NULL after failure");
        EXPECT_ERR_HAS(file);
        EXPECT_ERR_HAS("ENOTDIR");
        printf("  %s (parent is a file): %s\n", tu_st(s), srwl_last_error());
    }
    /* SRWL_EIO from an acquire: the queue directory was removed behind the handle's back. */
    {
        const char *p = tu_fmt("%s/gone", dir);
        srwl_lock *l = tu_open(p);
        const char *q = tu_fmt("%s/gone.srwl/Q", dir);
        CHECK(rmdir(q) == 0, "rmdir %s: %s", q, strerror(errno));
        EXPECT_ST(srwl_acquire_write(l, 0), SRWL_EIO);
        EXPECT_ERR_HAS(q);
        EXPECT_ERR_HAS("ENOENT");
        printf("  EIO (queue removed): %s\n", srwl_last_error());
        EXPECT_OK(srwl_close(l));
    }

    /* SRWL_EUNSAFE: the sidecar directory is a symlink. */
    {
        const char *p = tu_fmt("%s/linked", dir);
        const char *target = tu_fmt("%s/elsewhere", dir);
        srwl_lock *l = NULL;
        srwl_options o = tu_opts();
        CHECK(mkdir(target, 0700) == 0, "mkdir %s", target);
        CHECK(symlink(target, tu_fmt("%s.srwl", p)) == 0, "symlink: %s", strerror(errno));
        EXPECT_ST(srwl_open(p, &o, &l), SRWL_EUNSAFE);
        CHECK(l == NULL, "*out not NULL after failure");
        EXPECT_ERR_HAS(tu_fmt("%s.srwl", p));
        printf("  EUNSAFE: %s\n", srwl_last_error());
        CHECK(strcmp(tu_list(target), "") == 0, "the symlink's target was written to: %s", tu_list(target));
    }

    /* SRWL_EFORKED: an inherited handle in a child. */
    {
        pid_t pid;
        EXPECT_OK(srwl_acquire_read(a, 0));
        fflush(NULL);
        pid = fork();
        CHECK(pid >= 0, "fork");
        if (pid == 0) {
            tu_name = "test_status (fork child)";
            EXPECT_ST(srwl_acquire_read(a, 0), SRWL_EFORKED);
            EXPECT_ERR_HAS("fork");
            EXPECT_ST(srwl_acquire_write(a, 0), SRWL_EFORKED);
            EXPECT_ST(srwl_check(a), SRWL_EFORKED);
            EXPECT_ST(srwl_generation(a, &gen), SRWL_EFORKED);
            EXPECT_ST(srwl_release(a), SRWL_EFORKED);
            _exit(0);
        }
        tu_expect_exit0(pid, 20, "fork child");
        EXPECT_OK(srwl_check(a));
        EXPECT_OK(srwl_release(a));
    }

    /* SRWL_ELOST: the hold's record disappears (as if another process had evicted it). */
    {
        const char *rec;
        EXPECT_OK(srwl_acquire_write(a, 0));
        rec = tu_fmt("%s/Q/%s", side, only_entry(tu_fmt("%s/Q", side)));
        CHECK(strncmp(strrchr(rec, '/') + 1, "b.", 2) == 0, "the writer's baton %s is not named b.<gen>.<token>", rec);
        /* What an evictor does to a writer judged dead: take the baton over and hand it back to
         * the room (a baton is never deleted: without it nobody could be granted again). */
        {
            char gen[17];
            snprintf(gen, sizeof gen, "%.16s", strrchr(rec, '/') + 3);
            CHECK(mkdir(tu_fmt("%s/R", side), 0700) == 0 || errno == EEXIST, "mkdir R: %s", strerror(errno));
            CHECK(rename(rec, tu_fmt("%s/R/baton.%s", side, gen)) == 0, "rename %s: %s", rec, strerror(errno));
        }
        EXPECT_ST(srwl_check(a), SRWL_ELOST);
        EXPECT_ERR_HAS("lost");
        EXPECT_ERR_HAS(lockpath);
        EXPECT_ST(srwl_release(a), SRWL_ELOST);
        EXPECT_ST(srwl_check(a), SRWL_ESTATE); /* "the handle now holds nothing" */
        /* Same for a reader. */
        EXPECT_OK(srwl_acquire_read(a, 5));
        rec = tu_fmt("%s/R/%s", side, only_entry_except(tu_fmt("%s/R", side), "baton."));
        CHECK(strncmp(strrchr(rec, '/') + 1, "r.", 2) == 0, "reader record %s is not named r.<token>", rec);
        CHECK(unlink(rec) == 0, "unlink %s: %s", rec, strerror(errno));
        EXPECT_ST(srwl_check(a), SRWL_ELOST);
        EXPECT_ST(srwl_acquire_read(a, 0), SRWL_ELOST); /* adding a level to a lost hold */
        EXPECT_ST(srwl_release(a), SRWL_ELOST);
        EXPECT_OK(srwl_acquire_read(a, 5)); /* the handle is usable again */
        EXPECT_OK(srwl_release(a));
        /* srwl_close of a lost hold reports it (and frees the handle). */
        {
            srwl_lock *c = tu_open(lockpath);
            EXPECT_OK(srwl_acquire_read(c, 5));
            EXPECT_OK(srwl_acquire_read(c, 5));
            rec = tu_fmt("%s/R/%s", side, only_entry_except(tu_fmt("%s/R", side), "baton."));
            CHECK(unlink(rec) == 0, "unlink %s: %s", rec, strerror(errno));
            /* A record that vanishes while its heartbeat keeps it fresh cannot have been evicted
             * (evictors wait for the threshold), so a release right now would take it for its
             * own unlink (PROTOCOL.md, reader release). The heartbeat notices the absence once it
             * has lasted 1.5 s and marks the hold lost: then close reports it. */
            tu_sleep(2.0);
            EXPECT_ST(srwl_close(c), SRWL_ELOST);
            EXPECT_ERR_HAS("lost");
        }
    }

    /* srwl_close of a held handle releases it; NULL is a no-op. */
    EXPECT_OK(srwl_acquire_write(b, 5));
    EXPECT_OK(srwl_close(b));
    EXPECT_OK(srwl_acquire_write(a, 0));
    EXPECT_OK(srwl_close(a));
    EXPECT_OK(srwl_close(NULL));
    printf("PASS\n");
    return 0;
}
