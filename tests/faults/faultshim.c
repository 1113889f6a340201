/*
 * faultshim.c: an LD_PRELOAD shim that makes chosen filesystem calls on chosen paths fail the
 * way a network file server makes them fail (tests/faults/README.md).
 *
 * Rules come from the environment variable FAULTSHIM (read at the first intercepted call), or
 * at run time from faultshim_set(rules) (found with dlsym(RTLD_DEFAULT, "faultshim_set"), so
 * that a test can turn faults on and off inside one running process). Rules are separated by
 * ';', each is
 *
 *     op:pattern:mode:errno[:select]
 *
 *   op       rename (matches the source), rename-to (the destination), link (the new name),
 *            link-from (the existing name), unlink, rmdir, mkdir, open, read (read/pread on a
 *            descriptor whose file matches), write (pwrite on such a descriptor), any-meta
 *            (rename, link, unlink, rmdir, mkdir)
 *   pattern  an fnmatch(3) pattern without FNM_PATHNAME ('*' matches '/') against the full
 *            path: a directory descriptor is resolved through /proc/self/fd
 *   mode     fail:  the call does nothing and fails with errno
 *            after: the call is made; if it succeeded it then reports failure with errno (the
 *                   "happened, but reported an error" answer of a retransmitted NFS request)
 *            hang:  the call blocks for S seconds (the errno field holds S), then is made as
 *                   usual: a dead file server on a hard mount, for as long as it stays dead
 *            negcache: an NFS client's cached negative entry for the path (op must be open;
 *                   the errno field is ignored): once an open or fstatat of the path has found it
 *                   absent (or this process removed it), every open and fstatat of it says
 *                   ENOENT without asking, until a mkdirat of the path (made for real) returns
 *                   success or EEXIST, which drops the entry, as the Linux NFS client does
 *   errno    a name (EIO, EEXIST, ENOSPC, EDQUOT, ESTALE, ETIMEDOUT, EINTR, ENOENT, EACCES,
 *            EMFILE, ENOTEMPTY) or a number
 *   select   all (default) | n=K (only the K-th matching call, 1-based) | first=K (the first K)
 *            | skip=K (every call after the first K) | p=F (each call with probability F,
 *            seeded by FAULTSHIM_SEED) | for=S (every call in the first S seconds after the
 *            rules were set)
 *
 * Counts are per rule and per process. Each injected fault is appended as one line to the file
 * named by FAULTSHIM_LOG (if set): "<pid> <op> <mode> <errno> <path>", so a test can show that
 * its fault was really injected.
 *
 * Suspend emulation: with FAULTSHIM_SUSPEND_FILE naming a file of 8 bytes (a little-endian
 * count of nanoseconds, 0 if shorter), clock_gettime(CLOCK_MONOTONIC*) reports the real value
 * minus that count, while CLOCK_BOOTTIME and CLOCK_REALTIME stay real: what a process sees
 * after its host was suspended for that long. A test stops the process (SIGSTOP), writes the
 * stopped time into the file, and resumes it: to the process the stop was a suspend.
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_RULES 16
#define PATH_CAP 4096

enum op {
    OP_RENAME,
    OP_RENAME_TO,
    OP_LINK,
    OP_LINK_FROM,
    OP_UNLINK,
    OP_RMDIR,
    OP_MKDIR,
    OP_OPEN,
    OP_READ,
    OP_WRITE,
    OP_ANY_META,
};
static const char *op_names[] = {"rename", "rename-to", "link",  "link-from", "unlink",
                                 "rmdir",  "mkdir",     "open",  "read",      "write", "any-meta"};

enum sel { SEL_ALL, SEL_NTH, SEL_FIRST, SEL_SKIP, SEL_PROB, SEL_FOR };

struct rule {
    enum op op;
    char pattern[512];
    int after; /* 1: do it, then report the error */
    int hang;  /* 1: block for `seconds`, then do it */
    int negcache; /* a cached negative entry (see above) */
    int negative; /* negcache: the path is cached as absent */
    double seconds;
    int err;
    enum sel sel;
    unsigned long k;
    double p;
    unsigned long matched; /* matching calls seen so far */
    struct timespec set_at; /* when the rules were set (for=S) */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct rule rules[MAX_RULES];
static int nrules;
static int loaded;
static int have_read_rule;
static int have_write_rule;
static unsigned long long rng;

static const struct {
    const char *name;
    int value;
} errnos[] = {{"EIO", EIO},         {"EEXIST", EEXIST},   {"ENOSPC", ENOSPC},
              {"EDQUOT", EDQUOT},   {"ESTALE", ESTALE},   {"ETIMEDOUT", ETIMEDOUT},
              {"EINTR", EINTR},     {"ENOENT", ENOENT},   {"EACCES", EACCES},
              {"EMFILE", EMFILE},   {"ENOTEMPTY", ENOTEMPTY}, {"EAGAIN", EAGAIN},
              {"EPERM", EPERM},     {"ENOTDIR", ENOTDIR}};

static const char *errno_name(int e)
{
    for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
        if (errnos[i].value == e)
            return errnos[i].name;
    return "E?";
}

static void complain(const char *what, const char *rule)
{
    char msg[700];
    int n = snprintf(msg, sizeof msg, "faultshim: bad rule \"%s\": %s\n", rule, what);
    if (n > 0)
        (void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    abort(); /* a test with a mistyped rule must not pass by injecting nothing */
}

/* The real CLOCK_MONOTONIC, without the suspend emulation. */
typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
static int real_clock(clockid_t clk, struct timespec *ts)
{
    static clock_gettime_fn real;
    clock_gettime_fn f = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
    if (f == NULL) {
        f = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
        __atomic_store_n(&real, f, __ATOMIC_RELEASE);
    }
    return f(clk, ts);
}

static void syscall_clock(struct timespec *ts)
{
    real_clock(CLOCK_MONOTONIC, ts);
}

static double since(const struct timespec *t)
{
    struct timespec now;
    syscall_clock(&now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void parse_rules(const char *spec)
{
    nrules = 0;
    have_read_rule = 0;
    have_write_rule = 0;
    if (spec == NULL)
        return;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *r = strtok_r(buf, ";", &save); r != NULL; r = strtok_r(NULL, ";", &save)) {
        if (*r == '\0')
            continue;
        if (nrules == MAX_RULES)
            complain("too many rules", r);
        char whole[1024];
        snprintf(whole, sizeof whole, "%s", r);
        struct rule *ru = &rules[nrules];
        memset(ru, 0, sizeof *ru);
        char *fields[5] = {0};
        int nf = 0;
        char *s2 = NULL;
        for (char *f = strtok_r(r, ":", &s2); f != NULL && nf < 5; f = strtok_r(NULL, ":", &s2))
            fields[nf++] = f;
        if (nf < 4)
            complain("expected op:pattern:mode:errno[:select]", whole);
        int op = -1;
        for (int i = 0; i < (int)(sizeof op_names / sizeof op_names[0]); i++)
            if (strcmp(fields[0], op_names[i]) == 0)
                op = i;
        if (op < 0)
            complain("unknown op", whole);
        ru->op = (enum op)op;
        snprintf(ru->pattern, sizeof ru->pattern, "%s", fields[1]);
        if (strcmp(fields[2], "fail") == 0)
            ru->after = 0;
        else if (strcmp(fields[2], "after") == 0)
            ru->after = 1;
        else if (strcmp(fields[2], "hang") == 0)
            ru->hang = 1;
        else if (strcmp(fields[2], "negcache") == 0)
            ru->negcache = 1;
        else
            complain("mode must be fail, after or hang", whole);
        ru->err = 0;
        if (ru->negcache) {
            if (ru->op != OP_OPEN)
                complain("negcache works on op open (and fstatat, mkdirat of the same path)", whole);
            ru->err = ENOENT;
        } else if (ru->hang) {
            ru->seconds = atof(fields[3]);
            if (ru->seconds <= 0)
                complain("hang needs a number of seconds", whole);
        } else {
            for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
                if (strcmp(fields[3], errnos[i].name) == 0)
                    ru->err = errnos[i].value;
            if (ru->err == 0)
                ru->err = atoi(fields[3]);
            if (ru->err <= 0)
                complain("unknown errno", whole);
        }
        ru->sel = SEL_ALL;
        if (nf == 5 && strcmp(fields[4], "all") != 0) {
            char *v = strchr(fields[4], '=');
            if (v == NULL)
                complain("select must be all, n=K, first=K, skip=K or p=F", whole);
            *v++ = '\0';
            if (strcmp(fields[4], "n") == 0)
                ru->sel = SEL_NTH;
            else if (strcmp(fields[4], "first") == 0)
                ru->sel = SEL_FIRST;
            else if (strcmp(fields[4], "skip") == 0)
                ru->sel = SEL_SKIP;
            else if (strcmp(fields[4], "p") == 0)
                ru->sel = SEL_PROB;
            else if (strcmp(fields[4], "for") == 0)
                ru->sel = SEL_FOR;
            else
                complain("select must be all, n=K, first=K, skip=K or p=F", whole);
            if (ru->sel == SEL_PROB || ru->sel == SEL_FOR)
                ru->p = atof(v);
            else
                ru->k = strtoul(v, NULL, 10);
        }
        syscall_clock(&ru->set_at);
        if (ru->op == OP_READ)
            have_read_rule = 1;
        if (ru->op == OP_WRITE)
            have_write_rule = 1;
        nrules++;
    }
}

static void ensure_loaded(void)
{
    if (!loaded) {
        loaded = 1;
        const char *seed = getenv("FAULTSHIM_SEED");
        rng = seed ? strtoull(seed, NULL, 10) : 0;
        rng ^= (unsigned long long)getpid() * 0x9E3779B97F4A7C15ULL;
        if (rng == 0)
            rng = 88172645463325252ULL;
        parse_rules(getenv("FAULTSHIM"));
    }
}

/* Replaces the rules of this process (NULL or "" removes every rule). Thread-safe. */
void faultshim_set(const char *spec)
{
    pthread_mutex_lock(&mu);
    loaded = 1;
    if (rng == 0)
        rng = 88172645463325252ULL ^ (unsigned long long)getpid();
    parse_rules(spec);
    pthread_mutex_unlock(&mu);
}

static double next_uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* The full path of `name` relative to `dirfd`. */
static void full_path(int dirfd, const char *name, char *out)
{
    out[0] = '\0';
    if (name == NULL)
        name = "";
    if (name[0] == '/') {
        snprintf(out, PATH_CAP, "%s", name);
        return;
    }
    char dir[PATH_CAP / 2];
    ssize_t n;
    if (dirfd == AT_FDCWD) {
        if (getcwd(dir, sizeof dir) == NULL)
            dir[0] = '\0';
    } else {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        n = readlink(link, dir, sizeof dir - 1);
        dir[n > 0 ? n : 0] = '\0';
    }
    if (name[0] == '\0')
        snprintf(out, PATH_CAP, "%s", dir);
    else
        snprintf(out, PATH_CAP, "%s/%s", dir, name);
}

static void log_fault(const char *op, const struct rule *ru, const char *path)
{
    const char *logf = getenv("FAULTSHIM_LOG");
    if (logf == NULL)
        return;
    static int (*real_open)(const char *, int, ...);
    if (real_open == NULL)
        real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    int fd = real_open(logf, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    char line[PATH_CAP + 128];
    int n = ru->hang ? snprintf(line, sizeof line, "%d %s hang %g %s\n", (int)getpid(), op,
                                ru->seconds, path)
                     : snprintf(line, sizeof line, "%d %s %s %s %s\n", (int)getpid(), op,
                                ru->after ? "after" : "fail", errno_name(ru->err), path);
    if (n > 0)
        (void)!write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    close(fd);
}

/* Whether a call of kind `op` on `path` is to be faulted; if so, returns the rule (copied). */
static int decide(enum op op, const char *path, struct rule *out)
{
    int hit = 0;
    pthread_mutex_lock(&mu);
    ensure_loaded();
    for (int i = 0; i < nrules && !hit; i++) {
        struct rule *ru = &rules[i];
        if (ru->negcache)
            continue; /* handled by negcache_* */
        int kind_ok = ru->op == op ||
                      (ru->op == OP_ANY_META && (op == OP_RENAME || op == OP_LINK || op == OP_UNLINK ||
                                                 op == OP_RMDIR || op == OP_MKDIR));
        if (!kind_ok || fnmatch(ru->pattern, path, 0) != 0)
            continue;
        ru->matched++;
        switch (ru->sel) {
        case SEL_ALL: hit = 1; break;
        case SEL_NTH: hit = ru->matched == ru->k; break;
        case SEL_FIRST: hit = ru->matched <= ru->k; break;
        case SEL_SKIP: hit = ru->matched > ru->k; break;
        case SEL_PROB: hit = next_uniform() < ru->p; break;
        case SEL_FOR: hit = since(&ru->set_at) < ru->p; break;
        }
        if (hit)
            *out = *ru;
    }
    pthread_mutex_unlock(&mu);
    if (hit)
        log_fault(op_names[op], out, path);
    if (hit && out->hang) {
        /* Blocks (signals do not cut it short), then lets the call through unfaulted. */
        struct timespec end, now;
        syscall_clock(&end);
        end.tv_sec += (time_t)out->seconds;
        end.tv_nsec += (long)((out->seconds - (double)(time_t)out->seconds) * 1e9);
        if (end.tv_nsec >= 1000000000L) {
            end.tv_sec++;
            end.tv_nsec -= 1000000000L;
        }
        for (;;) {
            syscall_clock(&now);
            if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
                break;
            struct timespec step = {0, 10000000L};
            nanosleep(&step, NULL);
        }
        return 0;
    }
    return hit;
}

static int active(void)
{
    pthread_mutex_lock(&mu);
    ensure_loaded();
    int n = nrules;
    pthread_mutex_unlock(&mu);
    return n > 0;
}

/* negcache: 1 if `path` is cached as absent (the caller answers ENOENT without asking). */
static int negcache_hit(const char *path)
{
    int hit = 0;
    pthread_mutex_lock(&mu);
    ensure_loaded();
    for (int i = 0; i < nrules; i++)
        if (rules[i].negcache && rules[i].negative && fnmatch(rules[i].pattern, path, 0) == 0) {
            hit = 1;
            rules[i].matched++;
        }
    pthread_mutex_unlock(&mu);
    if (hit) {
        struct rule ru = {0};
        ru.err = ENOENT;
        log_fault("negcache", &ru, path);
    }
    return hit;
}

/* negcache: after a real lookup (`absent`: it said ENOENT) or a real mkdir (`made_or_exists`). */
static void negcache_note(const char *path, int absent, int made_or_exists)
{
    pthread_mutex_lock(&mu);
    ensure_loaded();
    for (int i = 0; i < nrules; i++)
        if (rules[i].negcache && fnmatch(rules[i].pattern, path, 0) == 0) {
            if (absent)
                rules[i].negative = 1;
            if (made_or_exists)
                rules[i].negative = 0;
        }
    pthread_mutex_unlock(&mu);
}

typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned int);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*linkat_fn)(int, const char *, int, const char *, int);
typedef int (*unlinkat_fn)(int, const char *, int);
typedef int (*mkdirat_fn)(int, const char *, mode_t);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);

/* The next definition of `name` (libc's), looked up once. */
#define REAL(name)                                          \
    static name##_fn real_##name;                           \
    if (real_##name == NULL)                                \
        real_##name = (name##_fn)dlsym(RTLD_NEXT, #name)

/* For a call that decide() chose to fault with rule `ru`: fail, or make it and report the error. */
#define FAULTED_BY(ru, call)                                \
    do {                                                    \
        if ((ru).after) {                                   \
            int r_ = (call);                                \
            if (r_ < 0)                                     \
                return r_;                                  \
        }                                                   \
        errno = (ru).err;                                   \
        return -1;                                          \
    } while (0)

/* ---- rename ---- */

static int rename_common(int olddir, const char *old, int newdir, const char *new_,
                         unsigned int flags, int which)
{
    REAL(renameat2);
    REAL(renameat);
#define DO_RENAME (flags ? real_renameat2(olddir, old, newdir, new_, flags) \
                         : real_renameat(olddir, old, newdir, new_))
    if (!active())
        return DO_RENAME;
    char src[PATH_CAP], dst[PATH_CAP];
    full_path(olddir, old, src);
    full_path(newdir, new_, dst);
    struct rule ru;
    int hit = decide(OP_RENAME, src, &ru) || decide(OP_RENAME_TO, dst, &ru);
    (void)which;
    if (!hit)
        return DO_RENAME;
    if (ru.after) {
        int r = DO_RENAME;
        if (r < 0)
            return r;
    }
    errno = ru.err;
    return -1;
#undef DO_RENAME
}

int renameat2(int olddir, const char *old, int newdir, const char *new_, unsigned int flags)
{
    return rename_common(olddir, old, newdir, new_, flags, 0);
}

int renameat(int olddir, const char *old, int newdir, const char *new_)
{
    return rename_common(olddir, old, newdir, new_, 0, 0);
}

int rename(const char *old, const char *new_)
{
    return rename_common(AT_FDCWD, old, AT_FDCWD, new_, 0, 0);
}

/* ---- link ---- */

static int link_common(int olddir, const char *old, int newdir, const char *new_, int flags)
{
    REAL(linkat);
    if (!active())
        return real_linkat(olddir, old, newdir, new_, flags);
    char src[PATH_CAP], dst[PATH_CAP];
    full_path(olddir, old, src);
    full_path(newdir, new_, dst);
    struct rule ru;
    int hit = decide(OP_LINK, dst, &ru) || decide(OP_LINK_FROM, src, &ru);
    if (!hit)
        return real_linkat(olddir, old, newdir, new_, flags);
    if (ru.after) {
        int r = real_linkat(olddir, old, newdir, new_, flags);
        if (r < 0)
            return r;
    }
    errno = ru.err;
    return -1;
}

int linkat(int olddir, const char *old, int newdir, const char *new_, int flags)
{
    return link_common(olddir, old, newdir, new_, flags);
}

int link(const char *old, const char *new_)
{
    return link_common(AT_FDCWD, old, AT_FDCWD, new_, 0);
}

/* ---- unlink, rmdir ---- */

int unlinkat(int dirfd, const char *name, int flags)
{
    REAL(unlinkat);
    if (!active())
        return real_unlinkat(dirfd, name, flags);
    char path[PATH_CAP];
    full_path(dirfd, name, path);
    struct rule ru_;
    if (!decide((flags & AT_REMOVEDIR) ? OP_RMDIR : OP_UNLINK, path, &ru_)) {
        int r = real_unlinkat(dirfd, name, flags);
        int e = errno;
        if (r == 0)
            negcache_note(path, 1, 0); /* our own removal leaves a negative entry */
        errno = e;
        return r;
    }
    FAULTED_BY(ru_, real_unlinkat(dirfd, name, flags));
}

int unlink(const char *name)
{
    return unlinkat(AT_FDCWD, name, 0);
}

int rmdir(const char *name)
{
    return unlinkat(AT_FDCWD, name, AT_REMOVEDIR);
}

/* ---- mkdir ---- */

int mkdirat(int dirfd, const char *name, mode_t mode)
{
    REAL(mkdirat);
    if (!active())
        return real_mkdirat(dirfd, name, mode);
    char path[PATH_CAP];
    full_path(dirfd, name, path);
    struct rule ru_;
    if (!decide(OP_MKDIR, path, &ru_)) {
        int r = real_mkdirat(dirfd, name, mode);
        int e = errno;
        negcache_note(path, 0, r == 0 || e == EEXIST);
        errno = e;
        return r;
    }
    FAULTED_BY(ru_, real_mkdirat(dirfd, name, mode));
}

int mkdir(const char *name, mode_t mode)
{
    return mkdirat(AT_FDCWD, name, mode);
}

/* ---- open ---- */

static int open_common(const char *sym, int dirfd, const char *name, int flags, mode_t mode)
{
    typedef int (*openat_fn)(int, const char *, int, ...);
    static openat_fn real_openat, real_openat64;
    openat_fn real;
    if (strcmp(sym, "openat64") == 0) {
        if (real_openat64 == NULL)
            real_openat64 = (openat_fn)dlsym(RTLD_NEXT, "openat64");
        real = real_openat64;
    } else {
        if (real_openat == NULL)
            real_openat = (openat_fn)dlsym(RTLD_NEXT, "openat");
        real = real_openat;
    }
    if (!active())
        return real(dirfd, name, flags, mode);
    char path[PATH_CAP];
    full_path(dirfd, name, path);
    if (negcache_hit(path)) {
        errno = ENOENT;
        return -1;
    }
    struct rule ru;
    if (!decide(OP_OPEN, path, &ru)) {
        int fd = real(dirfd, name, flags, mode);
        int e = errno;
        if (fd < 0 && e == ENOENT && !(flags & O_CREAT))
            negcache_note(path, 1, 0);
        errno = e;
        return fd;
    }
    if (ru.after) {
        int fd = real(dirfd, name, flags, mode);
        if (fd < 0)
            return fd;
        close(fd);
    }
    errno = ru.err;
    return -1;
}

static mode_t mode_arg(int flags, va_list ap)
{
    if (flags & (O_CREAT | __O_TMPFILE))
        return (mode_t)va_arg(ap, unsigned int);
    return 0;
}

int openat(int dirfd, const char *name, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return open_common("openat", dirfd, name, flags, mode);
}

int openat64(int dirfd, const char *name, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return open_common("openat64", dirfd, name, flags, mode);
}

int open(const char *name, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return open_common("openat", AT_FDCWD, name, flags, mode);
}

int open64(const char *name, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return open_common("openat64", AT_FDCWD, name, flags, mode);
}

/* ---- fstatat (only for negcache) ---- */

typedef int (*fstatat_fn)(int, const char *, struct stat *, int);

static int fstatat_common(const char *sym, int dirfd, const char *name, struct stat *st, int flags)
{
    static fstatat_fn real_fstatat, real_fstatat64;
    fstatat_fn *slot = strcmp(sym, "fstatat64") == 0 ? &real_fstatat64 : &real_fstatat;
    if (*slot == NULL)
        *slot = (fstatat_fn)dlsym(RTLD_NEXT, sym);
    if (!active() || name == NULL || name[0] == '\0')
        return (*slot)(dirfd, name, st, flags);
    char path[PATH_CAP];
    full_path(dirfd, name, path);
    if (negcache_hit(path)) {
        errno = ENOENT;
        return -1;
    }
    int r = (*slot)(dirfd, name, st, flags);
    int e = errno;
    if (r < 0 && e == ENOENT)
        negcache_note(path, 1, 0);
    errno = e;
    return r;
}

int fstatat(int dirfd, const char *name, struct stat *st, int flags)
{
    return fstatat_common("fstatat", dirfd, name, st, flags);
}

int fstatat64(int dirfd, const char *name, struct stat64 *st, int flags)
{
    return fstatat_common("fstatat64", dirfd, name, (struct stat *)st, flags);
}

/* ---- read ---- */

static int read_faulted(int fd, struct rule *ru)
{
    pthread_mutex_lock(&mu);
    ensure_loaded();
    int want = have_read_rule;
    pthread_mutex_unlock(&mu);
    if (!want)
        return 0;
    char link[64], path[PATH_CAP];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    return decide(OP_READ, path, ru);
}

ssize_t read(int fd, void *buf, size_t count)
{
    REAL(read);
    struct rule ru;
    if (!read_faulted(fd, &ru))
        return real_read(fd, buf, count);
    if (ru.after && real_read(fd, buf, count) < 0)
        return -1;
    errno = ru.err;
    return -1;
}

ssize_t pread(int fd, void *buf, size_t count, off_t off)
{
    static pread_fn real_pread;
    if (real_pread == NULL)
        real_pread = (pread_fn)dlsym(RTLD_NEXT, "pread");
    struct rule ru;
    if (!read_faulted(fd, &ru))
        return real_pread(fd, buf, count, off);
    if (ru.after && real_pread(fd, buf, count, off) < 0)
        return -1;
    errno = ru.err;
    return -1;
}

ssize_t pread64(int fd, void *buf, size_t count, off_t off)
{
    static pread_fn real_pread64;
    if (real_pread64 == NULL)
        real_pread64 = (pread_fn)dlsym(RTLD_NEXT, "pread64");
    struct rule ru;
    if (!read_faulted(fd, &ru))
        return real_pread64(fd, buf, count, off);
    if (ru.after && real_pread64(fd, buf, count, off) < 0)
        return -1;
    errno = ru.err;
    return -1;
}

/* ---- pwrite ---- */

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);

static ssize_t pwrite_common(const char *sym, int fd, const void *buf, size_t count, off_t off)
{
    static pwrite_fn real_pwrite, real_pwrite64;
    pwrite_fn *slot = strcmp(sym, "pwrite64") == 0 ? &real_pwrite64 : &real_pwrite;
    if (*slot == NULL)
        *slot = (pwrite_fn)dlsym(RTLD_NEXT, sym);
    pthread_mutex_lock(&mu);
    ensure_loaded();
    int want = have_write_rule;
    pthread_mutex_unlock(&mu);
    if (want) {
        char link[64], path[PATH_CAP];
        struct rule ru;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n > 0) {
            path[n] = '\0';
            if (decide(OP_WRITE, path, &ru)) {
                if (ru.after && (*slot)(fd, buf, count, off) < 0)
                    return -1;
                errno = ru.err;
                return -1;
            }
        }
    }
    return (*slot)(fd, buf, count, off);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t off)
{
    return pwrite_common("pwrite", fd, buf, count, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t off)
{
    return pwrite_common("pwrite64", fd, buf, count, off);
}

/* ---- suspend emulation ---- */

static const volatile unsigned char *suspend_map; /* 8 bytes of the suspend file, or NULL */
static int suspend_tried;

static long long suspended_ns(void)
{
    if (!__atomic_load_n(&suspend_tried, __ATOMIC_ACQUIRE)) {
        const char *f = getenv("FAULTSHIM_SUSPEND_FILE");
        if (f != NULL) {
            static int (*real_open)(const char *, int, ...);
            if (real_open == NULL)
                real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
            int fd = real_open(f, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
            if (fd >= 0) {
                if (ftruncate(fd, 8) == 0) {
                    void *m = mmap(NULL, 8, PROT_READ, MAP_SHARED, fd, 0);
                    if (m != MAP_FAILED)
                        suspend_map = m;
                }
                close(fd);
            }
        }
        __atomic_store_n(&suspend_tried, 1, __ATOMIC_RELEASE);
    }
    if (suspend_map == NULL)
        return 0;
    unsigned long long v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | suspend_map[i];
    return (long long)v;
}

int clock_gettime(clockid_t clk, struct timespec *ts)
{
    int r = real_clock(clk, ts);
    if (r == 0 && (clk == CLOCK_MONOTONIC || clk == CLOCK_MONOTONIC_RAW ||
                   clk == CLOCK_MONOTONIC_COARSE)) {
        long long off = suspended_ns();
        if (off > 0) {
            long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec - off;
            ts->tv_sec = (time_t)(ns / 1000000000LL);
            ts->tv_nsec = (long)(ns % 1000000000LL);
        }
    }
    return r;
}
