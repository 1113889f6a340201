/*
 * testutil.h: small helpers shared by the C tests of libsoftrwlock.
 *
 * Every test is a real program against the real library, on real files in a fresh temporary
 * directory, with real processes and signals. A failed check prints a message naming the
 * file, line, the status (and srwl_last_error()) and exits 1; a test that cannot run here
 * exits 77 (CTest SKIP_RETURN_CODE).
 *
 * Children are started with tu_spawn_self(): fork + exec of this same program with a role
 * name as argv[1], so that each child is a fresh process (no inherited handles, no inherited
 * library state). Each test's main() dispatches on argv[1].
 */
#ifndef SRWL_TESTUTIL_H
#define SRWL_TESTUTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "softrwlock.h"

#define TU_SKIP 77

/* Short intervals so that tests run in seconds; bounds in the tests are generous. */
#define TU_HEARTBEAT 0.1
#define TU_STALE 0.5
#define TU_POLL 0.02

#if defined(__GNUC__)
#define TU_UNUSED __attribute__((unused))
#define TU_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define TU_NORETURN __attribute__((noreturn))
#else
#define TU_UNUSED
#define TU_PRINTF(a, b)
#define TU_NORETURN
#endif

static const char *tu_name = "test";   /* set by tu_init(): program name and role */
static char tu_dir[512];               /* the temporary directory of the test */
static pid_t tu_owner_pid;             /* the process that removes tu_dir at exit */

static void tu_cleanup(void);

/* Prints the failure and exits 1 (removing the temporary directory). Only the first failing
 * thread reports: another thread failing meanwhile (say, because the directory is going away)
 * waits for the exit silently. */
static TU_UNUSED TU_PRINTF(3, 4) TU_NORETURN void tu_fail_at(const char *file, int line, const char *fmt, ...)
{
    static volatile sig_atomic_t failing;
    va_list ap;
    if (failing) {
        for (;;)
            pause();
    }
    failing = 1;
    fprintf(stderr, "FAIL [%s pid %d] %s:%d: ", tu_name, (int)getpid(), file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(NULL);
    tu_cleanup();
    _exit(1);
}

#define TU_FAIL(...) tu_fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* A part of a test that cannot run here fails the test, unless SRWL_ALLOW_SKIPS=1 (the
 * documented `scripts/test.sh --allow-skips`): then it says what was skipped and the caller
 * ends with TU_SKIP. Returns only in that case. */
#define TU_CANNOT_RUN(...)                                                   \
    do {                                                                     \
        const char *tu_allow_ = getenv("SRWL_ALLOW_SKIPS");                  \
        if (!tu_allow_ || strcmp(tu_allow_, "1") != 0)                       \
            tu_fail_at(__FILE__, __LINE__, "cannot run here (skips fail; "   \
                       "SRWL_ALLOW_SKIPS=1 lets them go): " __VA_ARGS__);    \
        printf("SKIP: " __VA_ARGS__);                                        \
        printf("\n");                                                        \
    } while (0)

/* CHECK(cond, fmt, ...): fails with the message unless cond holds. */
#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "  check failed: %s\n", #cond);                \
            tu_fail_at(__FILE__, __LINE__, __VA_ARGS__);                   \
        }                                                                  \
    } while (0)

static TU_UNUSED const char *tu_st(int s)
{
    static const char *names[] = {"SRWL_OK", "SRWL_TIMEOUT", "SRWL_EINVAL", "SRWL_EIO",
                                  "SRWL_ESTATE", "SRWL_EFORKED", "SRWL_EUNSAFE", "SRWL_ELOST",
                                  "SRWL_EINTERNAL", "SRWL_EINTR"};
    if (s >= 0 && s < (int)(sizeof names / sizeof names[0]))
        return names[s];
    return "SRWL_<unknown>";
}

/* EXPECT_ST(call, expected): the call must return `expected`. Returns nothing. */
#define EXPECT_ST(call, expected)                                                        \
    do {                                                                                 \
        int tu_got_ = (int)(call);                                                       \
        int tu_want_ = (int)(expected);                                                  \
        if (tu_got_ != tu_want_)                                                         \
            tu_fail_at(__FILE__, __LINE__, "%s returned %s, expected %s (last error: %s)", \
                       #call, tu_st(tu_got_), tu_st(tu_want_), srwl_last_error());        \
    } while (0)

#define EXPECT_OK(call) EXPECT_ST(call, SRWL_OK)

/* The last error must contain `needle`. */
#define EXPECT_ERR_HAS(needle)                                                           \
    do {                                                                                 \
        const char *tu_e_ = srwl_last_error();                                           \
        CHECK(tu_e_ != NULL, "srwl_last_error() returned NULL");                         \
        if (strstr(tu_e_, (needle)) == NULL)                                             \
            tu_fail_at(__FILE__, __LINE__, "srwl_last_error() \"%s\" does not mention \"%s\"", \
                       tu_e_, (needle));                                                 \
    } while (0)

static TU_UNUSED double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static TU_UNUSED void tu_sleep(double seconds)
{
    struct timespec ts;
    if (seconds <= 0)
        return;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static TU_UNUSED int tu_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static TU_UNUSED void tu_rmtree(const char *path)
{
    nftw(path, tu_rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

static TU_UNUSED void tu_cleanup(void)
{
    if (getpid() == tu_owner_pid && tu_dir[0] != '\0' && getenv("SRWL_TEST_KEEP") == NULL)
        tu_rmtree(tu_dir);
}

/* Sets the name used in failure messages. Call first in main(). */
static TU_UNUSED void tu_init(int argc, char **argv)
{
    static char name[256];
    const char *prog = strrchr(argv[0], '/');
    prog = prog ? prog + 1 : argv[0];
    if (argc > 1)
        snprintf(name, sizeof name, "%s %s", prog, argv[1]);
    else
        snprintf(name, sizeof name, "%s", prog);
    tu_name = name;
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Creates a fresh temporary directory (removed at exit by the process that made it, unless
 * SRWL_TEST_KEEP is set). Returns its path. */
static TU_UNUSED const char *tu_tmpdir(void)
{
    snprintf(tu_dir, sizeof tu_dir, "/tmp/srwl-ctest-XXXXXX");
    if (mkdtemp(tu_dir) == NULL)
        TU_FAIL("mkdtemp: %s", strerror(errno));
    tu_owner_pid = getpid();
    atexit(tu_cleanup);
    return tu_dir;
}

/* snprintf into a static rotating buffer: tu_path("%s/lock", dir). */
static TU_UNUSED TU_PRINTF(1, 2) const char *tu_fmt(const char *fmt, ...)
{
    static char bufs[8][1024];
    static int next;
    char *b = bufs[next++ % 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof bufs[0], fmt, ap);
    va_end(ap);
    return b;
}

/* Options with the short test intervals. */
static TU_UNUSED srwl_options tu_opts(void)
{
    srwl_options o;
    srwl_options_init(&o);
    o.heartbeat_interval = TU_HEARTBEAT;
    o.stale_threshold = TU_STALE;
    o.poll_interval = TU_POLL;
    return o;
}

/* Opens a handle on `path` with the short test intervals; fails the test on error. */
static TU_UNUSED srwl_lock *tu_open(const char *path)
{
    srwl_options o = tu_opts();
    srwl_lock *l = NULL;
    int s = srwl_open(path, &o, &l);
    if (s != SRWL_OK || l == NULL)
        TU_FAIL("srwl_open(%s) returned %s: %s", path, tu_st(s), srwl_last_error());
    return l;
}

/* ---- files ------------------------------------------------------------------------------ */

static TU_UNUSED int tu_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static TU_UNUSED void tu_touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        TU_FAIL("create %s: %s", path, strerror(errno));
    close(fd);
}

/* Waits until `path` exists; fails after `timeout` seconds. */
static TU_UNUSED void tu_wait_file(const char *path, double timeout)
{
    double end = tu_now() + timeout;
    while (!tu_exists(path)) {
        if (tu_now() > end)
            TU_FAIL("%s did not appear within %.1f s", path, timeout);
        tu_sleep(0.005);
    }
}

/* Reads a decimal integer from a small file (0 if the file is empty). Fails if unreadable. */
static TU_UNUSED long long tu_read_ll(const char *path)
{
    char buf[64];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        TU_FAIL("open %s: %s", path, strerror(errno));
    n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    if (n < 0)
        TU_FAIL("read %s: %s", path, strerror(errno));
    buf[n] = '\0';
    return n == 0 ? 0 : strtoll(buf, NULL, 10);
}

/* Writes a decimal integer in place (no rename: the same file, as a shared resource would be). */
static TU_UNUSED void tu_write_ll(const char *path, long long v)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%020lld\n", v);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        TU_FAIL("open %s: %s", path, strerror(errno));
    if (pwrite(fd, buf, (size_t)n, 0) != n)
        TU_FAIL("write %s: %s", path, strerror(errno));
    close(fd);
}

static TU_UNUSED void tu_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        TU_FAIL("fopen %s: %s", path, strerror(errno));
    fputs(text, f);
    if (fclose(f) != 0)
        TU_FAIL("write %s: %s", path, strerror(errno));
}

/* Lists the entries of a directory (without . and ..), sorted, joined by ' '. Returns "<missing>"
 * if the directory cannot be opened. The result is in a static rotating buffer. */
static TU_UNUSED int tu_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static TU_UNUSED const char *tu_list(const char *dir)
{
    static char bufs[4][8192];
    static int next;
    char *out = bufs[next++ % 4];
    char *names[512];
    int n = 0, i;
    struct dirent *e;
    DIR *d = opendir(dir);
    out[0] = '\0';
    if (d == NULL) {
        snprintf(out, sizeof bufs[0], "<missing>");
        return out;
    }
    while ((e = readdir(d)) != NULL && n < 512) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], tu_cmp_str);
    for (i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, sizeof bufs[0] - len, "%s%s", i ? " " : "", names[i]);
        free(names[i]);
    }
    return out;
}

/* Walks a space-separated listing from tu_list: copies the next name into `name` (`cap` bytes,
 * truncated if longer), advances `*p` past it; 0 when none is left. */
static TU_UNUSED int tu_next_name(const char **p, char *name, size_t cap)
{
    const char *end;
    size_t len;
    while (**p == ' ')
        (*p)++;
    if (**p == '\0')
        return 0;
    end = strchr(*p, ' ');
    len = end ? (size_t)(end - *p) : strlen(*p);
    snprintf(name, cap, "%.*s", (int)len, *p);
    *p += len;
    return 1;
}

/* tu_list without the names that start with `prefix` (e.g. the resting baton "baton."). */
static TU_UNUSED const char *tu_list_except(const char *dir, const char *prefix)
{
    static char bufs[4][8192];
    static int next;
    char *out = bufs[next++ % 4];
    const char *all = tu_list(dir);
    const char *p = all;
    char name[256];
    out[0] = '\0';
    if (strcmp(all, "<missing>") == 0)
        return all;
    while (tu_next_name(&p, name, sizeof name)) {
        if (strncmp(name, prefix, strlen(prefix)) != 0) {
            size_t ol = strlen(out);
            snprintf(out + ol, sizeof bufs[0] - ol, "%s%s", ol ? " " : "", name);
        }
    }
    return out;
}

/* Number of entries in `dir` whose name starts with `prefix` ("" for all); -1 if missing. */
static TU_UNUSED int tu_count(const char *dir, const char *prefix)
{
    int n = 0;
    struct dirent *e;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* ---- srwl/2 on disk (docs/PROTOCOL.md) ---------------------------------------------------
 * Inside <lock>.srwl/: `init` (a second name of the baton's inode), `Q/` (the queue) and `R/`
 * (the room, absent while a writer holds). The baton is one regular file, ever: at rest it is
 * `R/baton.<gen>`, held by a writer it is `Q/b.<gen>.<token>` and holds the writer's record.
 * Readers' records are `R/r.<token>`, reader tickets `Q/r.<seq>.<token>`, writer claims
 * `Q/w.<seq>.<token>`. <gen> is 16 lowercase hex digits, <token> 32. */

/* A parsed record: "srwl/2", "role <r>", "token <t>", "pid <p>", "host <h>", "lease_ms <l>",
 * "nonce <n>", each line ending in '\n'. `stable` is the record without its nonce line: the
 * heartbeat rewrites only the nonce, so `stable` changes only if someone else's record replaces
 * it. */
struct tu_record {
    char role[8];
    char token[33];
    long pid;
    char stable[600];
};

static TU_UNUSED int tu_is_hex(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Parses the record bytes in buf[0..n); 1 if it is a well-formed srwl/2 record. */
static TU_UNUSED int tu_parse_record(const char *buf, size_t n, struct tu_record *r)
{
    static const char *keys[7] = {"srwl/2", "role ", "token ", "pid ", "host ", "lease_ms ", "nonce "};
    const char *p = buf, *end = buf + n;
    size_t stable_len = 0;
    int i;
    memset(r, 0, sizeof *r);
    if (n == 0 || buf[n - 1] != '\n')
        return 0;
    for (i = 0; i < 7; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        /* After host: an optional `proc <boot>.<pidns>.<start>` line (same-host liveness). */
        if (i == 5 && nl != NULL && (size_t)(nl - p) > 5 && memcmp(p, "proc ", 5) == 0) {
            stable_len = (size_t)(nl + 1 - buf);
            p = nl + 1;
            nl = memchr(p, '\n', (size_t)(end - p));
        }
        size_t klen = strlen(keys[i]), vlen;
        const char *v;
        if (nl == NULL || (size_t)(nl - p) < klen || memcmp(p, keys[i], klen) != 0)
            return 0;
        v = p + klen;
        vlen = (size_t)(nl - v);
        if (i == 0 && vlen != 0)
            return 0;
        if (i == 1) {
            if (vlen >= sizeof r->role || vlen == 0)
                return 0;
            memcpy(r->role, v, vlen);
        } else if (i == 2) {
            if (vlen != 32 || !tu_is_hex(v, 32))
                return 0;
            memcpy(r->token, v, 32);
        } else if (i == 3) {
            char num[16];
            if (vlen == 0 || vlen >= sizeof num)
                return 0;
            memcpy(num, v, vlen);
            num[vlen] = '\0';
            r->pid = strtol(num, NULL, 10);
            if (r->pid <= 0)
                return 0;
        } else if (i == 6 && (vlen != 16 || !tu_is_hex(v, 16))) {
            return 0;
        }
        if (i < 6)
            stable_len = (size_t)(nl + 1 - buf);
        p = nl + 1;
    }
    if (p != end || stable_len >= sizeof r->stable)
        return 0;
    memcpy(r->stable, buf, stable_len);
    return 1;
}

/* Reads the record at `path`. 1 if well-formed; 0 if not (retried for a moment: a writer
 * fills the baton it has just taken with its own record, and a read may fall in between). */
static TU_UNUSED int tu_read_record(const char *path, struct tu_record *r)
{
    int tries;
    for (tries = 0; tries < 50; tries++) {
        char buf[700];
        ssize_t n = -1;
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            n = pread(fd, buf, sizeof buf, 0);
            close(fd);
        }
        if (n > 0 && tu_parse_record(buf, (size_t)n, r))
            return 1;
        tu_sleep(0.002);
    }
    return 0;
}

/* Whether `path` is the baton: a regular file with the inode of <side>/init and two names. */
static TU_UNUSED int tu_is_the_baton(const char *side, const char *path)
{
    struct stat a, b;
    if (lstat(path, &a) != 0 || lstat(tu_fmt("%s/init", side), &b) != 0)
        return 0;
    return S_ISREG(a.st_mode) && a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_nlink == 2;
}

/* The baton held in <side>/Q: there must be exactly one `b.*` entry, named b.<16 hex>.<32 hex>,
 * the baton's inode, holding a writer's record with the token of its name. Fills `name` (at
 * least 64 bytes) and `rec` if not NULL; returns the generation. Fails the test otherwise. */
static TU_UNUSED unsigned long long tu_held_baton(const char *side, const char *what, char *name,
                                                  struct tu_record *rec)
{
    const char *q = tu_fmt("%s/Q", side);
    const char *all = tu_list(q), *p = all;
    char found[64] = "", entry[64];
    struct tu_record r;
    int n = tu_count(q, "b.");
    if (n != 1)
        TU_FAIL("%s: %d batons held in Q (expected exactly one b.*): Q=[%s]", what, n, all);
    while (tu_next_name(&p, entry, sizeof entry))
        if (strlen(entry) > 2 && strncmp(entry, "b.", 2) == 0)
            memcpy(found, entry, sizeof found);
    if (strlen(found) != 51 || found[18] != '.' || !tu_is_hex(found + 2, 16) || !tu_is_hex(found + 19, 32))
        TU_FAIL("%s: the held baton's name \"%s\" is not b.<16 hex>.<32 hex>: Q=[%s]", what, found, all);
    if (!tu_is_the_baton(side, tu_fmt("%s/%s", q, found)))
        TU_FAIL("%s: Q/%s is not the baton (not a regular file with the inode of init and two names)", what, found);
    if (!tu_read_record(tu_fmt("%s/%s", q, found), &r))
        TU_FAIL("%s: the held baton Q/%s does not hold a well-formed srwl/2 record", what, found);
    if (strcmp(r.role, "write") != 0 || strcmp(r.token, found + 19) != 0)
        TU_FAIL("%s: the record in Q/%s is not its writer's (role %s, token %s)", what, found, r.role, r.token);
    if (name != NULL)
        snprintf(name, 64, "%s", found);
    if (rec != NULL)
        *rec = r;
    return strtoull(found + 2, NULL, 16);
}

/* Process `pid` holds the write lock of <side>: it holds the baton (its record names `pid`),
 * with generation `gen` (-1: any), and the room is closed (absent). Returns the generation. */
static TU_UNUSED unsigned long long tu_expect_writer(const char *side, long pid, long long gen, const char *what)
{
    struct tu_record r;
    char name[64];
    unsigned long long g = tu_held_baton(side, what, name, &r);
    if (r.pid != pid)
        TU_FAIL("%s: the held baton Q/%s names pid %ld, expected %ld", what, name, r.pid, pid);
    if (gen >= 0 && g != (unsigned long long)gen)
        TU_FAIL("%s: the held baton Q/%s has generation %llu, expected %lld", what, name, g, gen);
    if (tu_exists(tu_fmt("%s/R", side)))
        TU_FAIL("%s: the room is open while a writer holds: R=[%s]", what, tu_list(tu_fmt("%s/R", side)));
    return g;
}

/* Number of reader records R/r.* of <side> whose record names `pid` (role read). A reader
 * record that is not a well-formed reader's record fails the test. */
static TU_UNUSED int tu_readers_of(const char *side, long pid, const char *what)
{
    const char *room = tu_fmt("%s/R", side);
    const char *all = tu_list(room), *p = all;
    char name[64];
    int n = 0;
    if (strcmp(all, "<missing>") == 0)
        return 0;
    while (tu_next_name(&p, name, sizeof name)) {
        struct tu_record r;
        if (strncmp(name, "r.", 2) != 0)
            continue;
        if (!tu_read_record(tu_fmt("%s/%s", room, name), &r))
            TU_FAIL("%s: the reader record R/%s is not a well-formed srwl/2 record", what, name);
        /* Its token may be another hold's of the same handle: the template is written once
         * (docs/PROTOCOL.md, "The template"); the pid is the holder's. */
        if (strcmp(r.role, "read") != 0)
            TU_FAIL("%s: R/%s is not a reader's record (role %s, token %s)", what, name, r.role, r.token);
        if (r.pid == pid)
            n++;
    }
    return n;
}

/* Nothing is left behind: the queue is empty and the room holds exactly the baton at rest,
 * R/baton.<16 hex> (with the generation `gen`, unless -1). Returns the generation. */
static TU_UNUSED unsigned long long tu_expect_at_rest(const char *side, long long gen, const char *what)
{
    const char *q = tu_list(tu_fmt("%s/Q", side));
    const char *r = tu_list(tu_fmt("%s/R", side));
    unsigned long long g;
    if (strcmp(q, "") != 0)
        TU_FAIL("%s: leftovers in the queue: Q=[%s] (R=[%s])", what, q, r);
    if (strlen(r) != 22 || strncmp(r, "baton.", 6) != 0 || !tu_is_hex(r + 6, 16))
        TU_FAIL("%s: the room should hold exactly the baton at rest (baton.<16 hex>): R=[%s]", what, r);
    if (!tu_is_the_baton(side, tu_fmt("%s/R/%s", side, r)))
        TU_FAIL("%s: R/%s is not the baton (not a regular file with the inode of init and two names)", what, r);
    g = strtoull(r + 6, NULL, 16);
    if (gen >= 0 && g != (unsigned long long)gen)
        TU_FAIL("%s: the baton rests with generation %llu, expected %lld", what, g, gen);
    return g;
}

/* ---- processes -------------------------------------------------------------------------- */

static char tu_self[1024];

/* Starts this program again as a child: argv = {self, role, args..., NULL}. */
static TU_UNUSED pid_t tu_spawn_self(const char *role, ...)
{
    const char *argv[16];
    int argc = 0;
    const char *a;
    va_list ap;
    pid_t pid, parent;
    if (tu_self[0] == '\0') {
        ssize_t n = readlink("/proc/self/exe", tu_self, sizeof tu_self - 1);
        if (n <= 0)
            TU_FAIL("readlink /proc/self/exe: %s", strerror(errno));
        tu_self[n] = '\0';
    }
    argv[argc++] = tu_self;
    argv[argc++] = role;
    va_start(ap, role);
    while ((a = va_arg(ap, const char *)) != NULL && argc < 15)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    fflush(NULL);
    parent = getpid();
    pid = fork();
    if (pid < 0)
        TU_FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        /* A child never outlives the test (a failed or timed-out parent leaves no loopers). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        execv(tu_self, (char *const *)argv);
        fprintf(stderr, "execv %s: %s\n", tu_self, strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Waits for `pid` at most `timeout` seconds; a child still running then is killed and the test
 * fails. Returns the raw wait status. */
static TU_UNUSED int tu_wait_pid(pid_t pid, double timeout)
{
    double end = tu_now() + timeout;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            TU_FAIL("waitpid %d: %s", (int)pid, strerror(errno));
        if (tu_now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            TU_FAIL("child %d still running after %.1f s: hung (killed it)", (int)pid, timeout);
        }
        tu_sleep(0.002);
    }
}

/* Waits for `pid` and requires a clean exit(0). */
static TU_UNUSED void tu_expect_exit0(pid_t pid, double timeout, const char *what)
{
    int st = tu_wait_pid(pid, timeout);
    if (WIFSIGNALED(st))
        TU_FAIL("%s (pid %d) was killed by signal %d", what, (int)pid, WTERMSIG(st));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        TU_FAIL("%s (pid %d) exited with status %d", what, (int)pid, WEXITSTATUS(st));
}

/* A small xorshift generator for jitter (seeded per process). */
static TU_UNUSED double tu_rand01(void)
{
    static uint64_t s;
    if (s == 0)
        s = ((uint64_t)getpid() << 32) ^ (uint64_t)(tu_now() * 1e9) ^ 0x9E3779B97F4A7C15ull;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (double)(s % 1000000) / 1e6;
}

#endif /* SRWL_TESTUTIL_H */
