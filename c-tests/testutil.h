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
                                  "SRWL_EINTERNAL"};
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

/* tu_list without the names that start with `prefix` (e.g. the resting baton "baton."). */
static TU_UNUSED const char *tu_list_except(const char *dir, const char *prefix)
{
    static char bufs[4][8192];
    static int next;
    char *out = bufs[next++ % 4];
    const char *all = tu_list(dir);
    const char *p = all;
    out[0] = '\0';
    if (strcmp(all, "<missing>") == 0)
        return all;
    while (*p) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (strncmp(p, prefix, strlen(prefix)) != 0) {
            size_t ol = strlen(out);
            snprintf(out + ol, sizeof bufs[0] - ol, "%s%.*s", ol ? " " : "", (int)len, p);
        }
        p += len;
        while (*p == ' ')
            p++;
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
