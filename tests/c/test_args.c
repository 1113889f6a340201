/*
 * NULL pointers, bad timeouts, bad options and bad paths: SRWL_EINVAL with a message that
 * names what is wrong; nothing crashes; nothing is created on disk.
 */
#include "testutil.h"

static const char *dir;
static char lockpath[1024];

/* srwl_open with these options must fail with EINVAL naming `field`. */
static void bad_option(int line, srwl_options o, const char *field, const char *what)
{
    srwl_lock *l = (srwl_lock *)&o; /* non-NULL: must be reset */
    const char *p = tu_fmt("%s/opt-%d", dir, line);
    int s = srwl_open(p, &o, &l);
    if (s != SRWL_EINVAL)
        tu_fail_at(__FILE__, line, "srwl_open with %s returned %s, expected SRWL_EINVAL (%s)", what, tu_st(s),
                   srwl_last_error());
    if (l != NULL)
        tu_fail_at(__FILE__, line, "srwl_open with %s failed but left *out non-NULL", what);
    if (strstr(srwl_last_error(), field) == NULL)
        tu_fail_at(__FILE__, line, "srwl_open with %s: message \"%s\" does not name %s", what, srwl_last_error(), field);
    if (tu_exists(tu_fmt("%s.srwl", p)))
        tu_fail_at(__FILE__, line, "srwl_open with %s created the sidecar %s.srwl", what, p);
}

#define BAD(field, expr, what)                   \
    do {                                         \
        srwl_options o_ = tu_opts();             \
        expr;                                    \
        bad_option(__LINE__, o_, field, what);   \
    } while (0)

static void bad_timeout(srwl_lock *l, double t, const char *what)
{
    EXPECT_ST(srwl_acquire_read(l, t), SRWL_EINVAL);
    EXPECT_ERR_HAS("timeout");
    EXPECT_ST(srwl_acquire_write(l, t), SRWL_EINVAL);
    EXPECT_ERR_HAS("timeout");
    printf("  timeout %s: %s\n", what, srwl_last_error());
    EXPECT_ST(srwl_check(l), SRWL_ESTATE); /* nothing was taken */
}

int main(int argc, char **argv)
{
    srwl_lock *l = NULL;
    uint64_t g = 0;
    srwl_options o;

    tu_init(argc, argv);
    dir = tu_tmpdir();
    snprintf(lockpath, sizeof lockpath, "%s/lock", dir);

    /* srwl_options_init(NULL) does nothing; the defaults are as documented. */
    srwl_options_init(NULL);
    memset(&o, 0xAB, sizeof o);
    srwl_options_init(&o);
    CHECK(o.size == sizeof(srwl_options), "size %u != sizeof(srwl_options) %zu", o.size, sizeof(srwl_options));
    CHECK(o.heartbeat_interval == 30.0 && o.stale_threshold == 90.0 && o.poll_interval == 1.0,
          "defaults %g/%g/%g, documented 30/90/1", o.heartbeat_interval, o.stale_threshold, o.poll_interval);

    /* NULL pointers. */
    l = (srwl_lock *)&o;
    EXPECT_ST(srwl_open(NULL, NULL, &l), SRWL_EINVAL);
    EXPECT_ERR_HAS("path");
    CHECK(l == NULL, "srwl_open(NULL path) left *out non-NULL");
    EXPECT_ST(srwl_open(lockpath, NULL, NULL), SRWL_EINVAL);
    EXPECT_ERR_HAS("out");
    CHECK(!tu_exists(tu_fmt("%s.srwl", lockpath)), "srwl_open with out == NULL created the sidecar");
    EXPECT_ST(srwl_acquire_read(NULL, 0), SRWL_EINVAL);
    EXPECT_ERR_HAS("lock");
    EXPECT_ST(srwl_acquire_write(NULL, 0), SRWL_EINVAL);
    EXPECT_ERR_HAS("lock");
    EXPECT_ST(srwl_release(NULL), SRWL_EINVAL);
    EXPECT_ERR_HAS("lock");
    EXPECT_ST(srwl_check(NULL), SRWL_EINVAL);
    EXPECT_ERR_HAS("lock");
    EXPECT_ST(srwl_generation(NULL, &g), SRWL_EINVAL);
    EXPECT_ERR_HAS("lock");
    EXPECT_OK(srwl_close(NULL));

    /* Bad paths. */
    {
        const char *bad[] = {"", "/", tu_fmt("%s/", dir), tu_fmt("%s/.", dir), tu_fmt("%s/..", dir)};
        size_t i;
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            l = (srwl_lock *)&o;
            EXPECT_ST(srwl_open(bad[i], NULL, &l), SRWL_EINVAL);
            CHECK(l == NULL, "srwl_open(\"%s\") left *out non-NULL", bad[i]);
            printf("  path \"%s\": %s\n", bad[i], srwl_last_error());
        }
        CHECK(strcmp(tu_list(dir), "") == 0, "bad paths created entries: %s", tu_list(dir));
    }

    /* Bad option fields. */
    BAD("heartbeat_interval", o_.heartbeat_interval = NAN, "heartbeat NaN");
    BAD("heartbeat_interval", o_.heartbeat_interval = INFINITY, "heartbeat +inf");
    BAD("heartbeat_interval", o_.heartbeat_interval = 0, "heartbeat 0");
    BAD("heartbeat_interval", o_.heartbeat_interval = -1, "heartbeat -1");
    BAD("stale_threshold", o_.stale_threshold = NAN, "stale NaN");
    BAD("stale_threshold", o_.stale_threshold = INFINITY, "stale +inf");
    BAD("stale_threshold", o_.stale_threshold = -INFINITY, "stale -inf");
    BAD("stale_threshold", o_.stale_threshold = o_.heartbeat_interval, "stale == heartbeat");
    BAD("stale_threshold", o_.stale_threshold = o_.heartbeat_interval / 2, "stale < heartbeat");
    BAD("poll_interval", o_.poll_interval = NAN, "poll NaN");
    BAD("poll_interval", o_.poll_interval = 0, "poll 0");
    BAD("poll_interval", o_.poll_interval = -0.5, "poll -0.5");
    BAD("poll_interval", o_.poll_interval = o_.stale_threshold, "poll == stale");
    BAD("poll_interval", o_.poll_interval = 2 * o_.stale_threshold, "poll > stale");
    BAD("size", o_.size = 0, "size 0");
    BAD("size", o_.size = 4, "size 4");
    {
        /* Not initialised with srwl_options_init(): the size field tells. */
        srwl_options raw;
        memset(&raw, 0, sizeof raw);
        raw.heartbeat_interval = 1;
        raw.stale_threshold = 3;
        raw.poll_interval = 0.1;
        bad_option(__LINE__, raw, "size", "size 0 (not initialised)");
    }
    {
        /* An older caller's smaller struct (it ends after heartbeat_interval): accepted, the
         * fields it lacks derived from its heartbeat (see srwl_options.size). */
        struct {
            uint32_t size;
            double heartbeat_interval;
        } older = {16, 0.5};
        CHECK(sizeof older == 16, "the older struct is %zu bytes", sizeof older);
        EXPECT_OK(srwl_open(tu_fmt("%s/older", dir), (const srwl_options *)&older, &l));
        EXPECT_OK(srwl_acquire_write(l, 5));
        EXPECT_OK(srwl_close(l));
    }
    /* The heartbeat rule and the status names come from the library. */
    srwl_options_init_heartbeat(NULL, 1);
    srwl_options_init_heartbeat(&o, 4);
    CHECK(o.size == sizeof(srwl_options) && o.heartbeat_interval == 4 && o.stale_threshold == 12 &&
              o.poll_interval == 1,
          "srwl_options_init_heartbeat(4): %u %g/%g/%g, documented 4/12/1", o.size, o.heartbeat_interval,
          o.stale_threshold, o.poll_interval);
    srwl_options_init_heartbeat(&o, 0.5);
    CHECK(o.heartbeat_interval == 0.5 && o.stale_threshold == 1.5 && o.poll_interval == 0.25,
          "srwl_options_init_heartbeat(0.5): %g/%g/%g, documented 0.5/1.5/0.25", o.heartbeat_interval,
          o.stale_threshold, o.poll_interval);
    CHECK(strcmp(srwl_status_name(SRWL_OK), "SRWL_OK") == 0, "srwl_status_name(SRWL_OK)");
    CHECK(strcmp(srwl_status_name(SRWL_EINTERNAL), "SRWL_EINTERNAL") == 0, "srwl_status_name(SRWL_EINTERNAL)");
    CHECK(strcmp(srwl_status_name(SRWL_EINTR), "SRWL_EINTR") == 0, "srwl_status_name(SRWL_EINTR)");
    CHECK(srwl_status_name(10) == NULL && srwl_status_name(-1) == NULL, "srwl_status_name of an unknown value is not NULL");
    /* The short test intervals and the defaults are valid; NULL options mean the defaults. */
    l = tu_open(lockpath);
    EXPECT_OK(srwl_close(l));
    EXPECT_OK(srwl_open(lockpath, NULL, &l));
    CHECK(l != NULL, "srwl_open OK but *out NULL");

    /* Bad timeouts: NaN and negative values other than -1. */
    bad_timeout(l, NAN, "NaN");
    bad_timeout(l, -0.5, "-0.5");
    bad_timeout(l, -2, "-2");
    bad_timeout(l, -1e300, "-1e300");
    bad_timeout(l, -INFINITY, "-inf");
    /* Good ones: -1 (forever), 0, tiny, huge. */
    EXPECT_OK(srwl_acquire_read(l, -1));
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_acquire_write(l, 1e-9));
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_acquire_write(l, 1e300));
    EXPECT_OK(srwl_release(l));

    /* srwl_generation with a NULL out. */
    EXPECT_OK(srwl_acquire_read(l, 0));
    EXPECT_ST(srwl_generation(l, NULL), SRWL_EINVAL);
    EXPECT_ERR_HAS("out");
    EXPECT_OK(srwl_check(l));
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_close(l));

    /* Paths: bytes that are not UTF-8 are used as they are. */
    {
        const char *p = tu_fmt("%s/caf\xe9-\xff", dir);
        EXPECT_OK(srwl_open(p, NULL, &l));
        CHECK(tu_exists(tu_fmt("%s.srwl/R", p)), "the sidecar of a non-UTF-8 path is not at its exact bytes: %s",
              tu_list(dir));
        EXPECT_OK(srwl_acquire_write(l, 0));
        EXPECT_OK(srwl_release(l));
        EXPECT_OK(srwl_close(l));
    }
    /* The sidecar name <name>.srwl must fit in NAME_MAX (255): a 250-byte name works, 251 does not. */
    {
        char name[300];
        memset(name, 'n', sizeof name);
        name[250] = '\0';
        EXPECT_OK(srwl_open(tu_fmt("%s/%s", dir, name), NULL, &l));
        EXPECT_OK(srwl_acquire_read(l, 0));
        EXPECT_OK(srwl_release(l));
        EXPECT_OK(srwl_close(l));
        name[250] = 'n';
        name[251] = '\0';
        l = (srwl_lock *)&o;
        EXPECT_ST(srwl_open(tu_fmt("%s/%s", dir, name), NULL, &l), SRWL_EINVAL);
        CHECK(l == NULL, "*out not NULL");
        printf("  251-byte name: %s\n", srwl_last_error());
    }
    /* A relative path is resolved at srwl_open: a later chdir does not move the lock. */
    {
        char cwd[1024];
        srwl_lock *a, *b;
        CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
        CHECK(chdir(dir) == 0, "chdir");
        a = tu_open("relative");
        CHECK(chdir("/") == 0, "chdir /");
        EXPECT_OK(srwl_acquire_write(a, 0));
        CHECK(tu_count(tu_fmt("%s/relative.srwl/Q", dir), "b.") == 1, "the relative lock is not in %s", dir);
        tu_expect_writer(tu_fmt("%s/relative.srwl", dir), (long)getpid(), 1, "the relative lock held for write");
        CHECK(!tu_exists("/relative.srwl"), "the lock moved with the working directory");
        b = tu_open(tu_fmt("%s/relative", dir));
        EXPECT_ST(srwl_acquire_read(b, 0), SRWL_TIMEOUT);
        EXPECT_OK(srwl_release(a));
        EXPECT_OK(srwl_acquire_read(b, 0));
        EXPECT_OK(srwl_close(b));
        EXPECT_OK(srwl_close(a));
        CHECK(chdir(cwd) == 0, "chdir back");
    }
    /* A symlink in the parent path is followed (only the sidecar itself must not be a symlink):
     * the same lock through both paths. */
    {
        srwl_lock *a, *b;
        CHECK(mkdir(tu_fmt("%s/real", dir), 0700) == 0 && symlink(tu_fmt("%s/real", dir), tu_fmt("%s/link", dir)) == 0,
              "mkdir/symlink");
        a = tu_open(tu_fmt("%s/link/x", dir));
        b = tu_open(tu_fmt("%s/real/x", dir));
        EXPECT_OK(srwl_acquire_write(a, 0));
        EXPECT_ST(srwl_acquire_read(b, 0), SRWL_TIMEOUT);
        EXPECT_OK(srwl_close(a));
        EXPECT_OK(srwl_acquire_read(b, 0));
        EXPECT_OK(srwl_close(b));
    }

    /* last_error is per thread and never NULL. */
    CHECK(srwl_last_error() != NULL, "srwl_last_error() is NULL");
    printf("PASS\n");
    return 0;
}
