/*
 * Hostile on-disk states.
 *
 * Refused with SRWL_EUNSAFE, touching nothing: the sidecar directory `<path>.srwl` is a symlink
 * (to a directory holding a canary file, or dangling), a regular file, a FIFO, or a directory
 * owned by another uid; its R/ or Q/ is a symlink or owned by another uid.
 *
 * Survived, never followed: a symlink (to a canary file) or a FIFO planted in the room under a
 * reader record's name is a leftover that ages like a dead record; a writer gets in after the
 * stale threshold, and the canary is untouched.
 */
#include "testutil.h"

static const char *dir;
static int n;

/* Fresh lock path for each case. */
static const char *fresh(void)
{
    return tu_fmt("%s/lock%d", dir, n++);
}

static void expect_unsafe(int line, const char *path, const char *what, const char *needle)
{
    srwl_options o = tu_opts();
    srwl_lock *l = (srwl_lock *)&o;
    int s = srwl_open(path, &o, &l);
    if (s != SRWL_EUNSAFE)
        tu_fail_at(__FILE__, line, "%s: srwl_open returned %s, expected SRWL_EUNSAFE (%s)", what, tu_st(s),
                   srwl_last_error());
    if (l != NULL)
        tu_fail_at(__FILE__, line, "%s: *out not NULL after failure", what);
    if (needle && strstr(srwl_last_error(), needle) == NULL)
        tu_fail_at(__FILE__, line, "%s: message \"%s\" does not mention \"%s\"", what, srwl_last_error(), needle);
    printf("  %s: EUNSAFE: %s\n", what, srwl_last_error());
}

/* A directory holding one canary file; returns its path. */
static const char *make_canary_dir(void)
{
    const char *d = tu_fmt("%s/target%d", dir, n++);
    CHECK(mkdir(d, 0755) == 0, "mkdir %s: %s", d, strerror(errno));
    tu_write_text(tu_fmt("%s/canary", d), "canary\n");
    return d;
}

static void expect_canary_dir(int line, const char *d, const char *what)
{
    const char *l = tu_list(d);
    struct stat st;
    FILE *f;
    char buf[64] = "";
    if (strcmp(l, "canary") != 0)
        tu_fail_at(__FILE__, line, "%s: the target directory %s was changed: [%s]", what, d, l);
    if (stat(d, &st) != 0 || (st.st_mode & 0777) != 0755)
        tu_fail_at(__FILE__, line, "%s: the target directory's mode was changed to %o", what, st.st_mode & 0777);
    f = fopen(tu_fmt("%s/canary", d), "r");
    if (f == NULL || fgets(buf, sizeof buf, f) == NULL || strcmp(buf, "canary\n") != 0)
        tu_fail_at(__FILE__, line, "%s: the canary was changed", what);
    fclose(f);
}

static int can_chown(void)
{
    const char *p = tu_fmt("%s/chown-probe", dir);
    int ok;
    tu_touch(p);
    /* Run as uid 65534 itself, a chown to it proves nothing: "another uid" would be our own. */
    ok = geteuid() != 65534 && chown(p, 65534, 65534) == 0;
    unlink(p);
    return ok;
}

int main(int argc, char **argv)
{
    const char *p, *t, *s;
    int chown_ok;

    tu_init(argc, argv);
    dir = tu_tmpdir();
    alarm(120); /* a FIFO must never block an open */

    /* Symlink to a directory with a canary. */
    p = fresh();
    t = make_canary_dir();
    s = tu_fmt("%s.srwl", p);
    CHECK(symlink(t, s) == 0, "symlink: %s", strerror(errno));
    expect_unsafe(__LINE__, p, "sidecar is a symlink to a directory", s);
    expect_canary_dir(__LINE__, t, "sidecar symlink");
    {
        char buf[1024];
        ssize_t k = readlink(s, buf, sizeof buf - 1);
        CHECK(k > 0, "the planted symlink %s was removed", s);
        buf[k] = '\0';
        CHECK(strcmp(buf, t) == 0, "the planted symlink now points to %s", buf);
    }
    /* Again, with a second open (nothing changed by the first). */
    expect_unsafe(__LINE__, p, "sidecar is a symlink (second try)", s);
    expect_canary_dir(__LINE__, t, "sidecar symlink, second try");

    /* Dangling symlink: its target must not be created. */
    p = fresh();
    t = tu_fmt("%s/not-there%d", dir, n++);
    CHECK(symlink(t, tu_fmt("%s.srwl", p)) == 0, "symlink: %s", strerror(errno));
    expect_unsafe(__LINE__, p, "sidecar is a dangling symlink", NULL);
    CHECK(!tu_exists(t), "the dangling symlink's target %s was created", t);

    /* A regular file. */
    p = fresh();
    tu_write_text(tu_fmt("%s.srwl", p), "data\n");
    expect_unsafe(__LINE__, p, "sidecar is a regular file", NULL);
    CHECK(tu_read_ll(tu_fmt("%s.srwl", p)) == 0, "the file was changed");

    /* A FIFO. */
    p = fresh();
    CHECK(mkfifo(tu_fmt("%s.srwl", p), 0600) == 0, "mkfifo: %s", strerror(errno));
    expect_unsafe(__LINE__, p, "sidecar is a FIFO", NULL);

    /* R/ and Q/ as symlinks to canary directories. */
    {
        const char *subs[] = {"R", "Q"};
        int i;
        for (i = 0; i < 2; i++) {
            p = fresh();
            t = make_canary_dir();
            s = tu_fmt("%s.srwl", p);
            CHECK(mkdir(s, 0700) == 0, "mkdir %s", s);
            CHECK(symlink(t, tu_fmt("%s/%s", s, subs[i])) == 0, "symlink");
            expect_unsafe(__LINE__, p, tu_fmt("%s/ is a symlink to a directory", subs[i]), NULL);
            expect_canary_dir(__LINE__, t, tu_fmt("%s/ symlink", subs[i]));
        }
    }

    chown_ok = can_chown();
    if (!chown_ok) {
        TU_CANNOT_RUN("cannot chown here (not root): the other-uid cases were not run");
    } else {
        struct stat st;
        /* Sidecar owned by another uid ("nobody"). */
        p = fresh();
        s = tu_fmt("%s.srwl", p);
        CHECK(mkdir(s, 0700) == 0 && chown(s, 65534, 65534) == 0, "mkdir/chown %s", s);
        expect_unsafe(__LINE__, p, "sidecar owned by uid 65534", "65534");
        CHECK(strcmp(tu_list(s), "") == 0, "entries were created in another user's directory: %s", tu_list(s));
        CHECK(stat(s, &st) == 0 && st.st_uid == 65534 && (st.st_mode & 0777) == 0700,
              "another user's directory was changed (uid %d mode %o)", (int)st.st_uid, st.st_mode & 0777);
        /* World-writable and owned by another uid: still refused, and its mode is not changed. */
        CHECK(chmod(s, 0777) == 0, "chmod");
        expect_unsafe(__LINE__, p, "sidecar owned by uid 65534, mode 0777", "65534");
        CHECK(stat(s, &st) == 0 && (st.st_mode & 0777) == 0777, "another user's directory's mode was changed to %o",
              st.st_mode & 0777);
        CHECK(strcmp(tu_list(s), "") == 0, "entries were created in another user's directory: %s", tu_list(s));
        /* R/ owned by another uid. */
        {
            const char *subs[] = {"R", "Q"};
            int i;
            for (i = 0; i < 2; i++) {
                srwl_lock *l;
                p = fresh();
                s = tu_fmt("%s.srwl", p);
                l = tu_open(p); /* creates the layout */
                EXPECT_OK(srwl_close(l));
                CHECK(chown(tu_fmt("%s/%s", s, subs[i]), 65534, 65534) == 0, "chown");
                expect_unsafe(__LINE__, p, tu_fmt("%s/ owned by uid 65534", subs[i]), "65534");
            }
        }
    }

    /* A symlink and a FIFO planted under reader-record names in the room: never followed, never
     * blocking; they age like dead records and a writer gets in after the threshold. */
    {
        srwl_lock *l;
        const char *canary = tu_fmt("%s/canary-file", dir);
        double t0, dt;
        char buf[64] = "";
        FILE *f;
        p = fresh();
        s = tu_fmt("%s.srwl", p);
        l = tu_open(p);
        tu_write_text(canary, "canary\n");
        CHECK(symlink(canary, tu_fmt("%s/R/r.0123456789abcdef0123456789abcdef", s)) == 0, "symlink");
        CHECK(mkfifo(tu_fmt("%s/R/r.fedcba9876543210fedcba9876543210", s), 0600) == 0, "mkfifo");
        t0 = tu_now();
        EXPECT_ST(srwl_acquire_write(l, 0), SRWL_TIMEOUT); /* the room is not empty */
        EXPECT_OK(srwl_acquire_write(l, 10));
        dt = tu_now() - t0;
        printf("  planted symlink + FIFO in the room: write lock after %.3f s; R=[%s]\n", dt, tu_list(tu_fmt("%s/R", s)));
        CHECK(dt >= TU_STALE - 0.05, "the planted entries were removed after only %.3f s", dt);
        EXPECT_OK(srwl_release(l));
        f = fopen(canary, "r");
        CHECK(f != NULL && fgets(buf, sizeof buf, f) != NULL && strcmp(buf, "canary\n") == 0,
              "the symlink's target was changed or removed");
        fclose(f);
        EXPECT_OK(srwl_close(l));
    }
    printf("PASS\n");
    return chown_ok ? 0 : TU_SKIP;
}
