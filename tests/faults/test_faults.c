/*
 * test_faults.c: the faults a file server produces (issue 11, "Faults a file server
 * produces", items 1-8), each as a real multi-process test on real files. The faults are
 * injected by faultshim.so (LD_PRELOAD, set by CTest): an operation that fails without
 * happening, one that happens and still reports an error, an unreadable file, EINTR, a suspend.
 *
 *   test_faults <mode>     modes: see main(); each is one CTest (fault_<mode>)
 *
 * Each mode asserts what a user would check: the live holder keeps its hold (srwl_check and
 * srwl_release say SRWL_OK), the evicted holder is told SRWL_ELOST, the lock is not wedged (a
 * fresh process gets the write lock within a bound), and the fault was really injected (the
 * shim's log).
 */
#include "testutil.h"

#include <dlfcn.h>

static const char *lock_path, *side_path, *shim_log;

/* SRWL_FAULT_CONTROL=1: the control run of a test (no fault injected, no suspend, a regular
 * file planted instead of a directory, a slow heartbeat), which must pass on any correct
 * library: it shows that a red test is red because of its fault, not because of the test. */
static int control(void)
{
    return getenv("SRWL_FAULT_CONTROL") != NULL;
}

/* Replaces this process's fault rules (faultshim.c). The shim must be preloaded: a test that
 * injects nothing must not pass. */
static void faults(const char *rules)
{
    void (*set)(const char *) = (void (*)(const char *))dlsym(RTLD_DEFAULT, "faultshim_set");
    if (set == NULL)
        TU_FAIL("faultshim.so is not preloaded (LD_PRELOAD): no fault can be injected");
    set(control() ? "" : rules);
}

/* Number of faults the shim injected (lines of its log) that contain `what`. */
static int injected(const char *what)
{
    FILE *f = fopen(shim_log, "r");
    char line[4500];
    int n = 0;
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (strstr(line, what) != NULL)
            n++;
    fclose(f);
    return n;
}

static void expect_injected(const char *what)
{
    int n = injected(what);
    if (control())
        return;
    if (n == 0)
        TU_FAIL("the shim injected no fault matching \"%s\" (log %s): the test tested nothing", what,
                shim_log);
    printf("  (%d faults \"%s\" injected)\n", n, what);
}

static void wait_for(const char *path, double timeout)
{
    tu_wait_file(path, timeout);
}

static void write_status(const char *path, int st)
{
    tu_write_text(path, tu_st(st));
}

static const char *read_text(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "r");
    size_t n;
    if (f == NULL)
        TU_FAIL("open %s: %s", path, strerror(errno));
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static const char *at(const char *name)
{
    return tu_fmt("%s/%s", tu_dir, name);
}

/* ---- child roles ------------------------------------------------------------------------ */

/* hold <read|write> <rules> <held-file> <seconds> <done-file>: takes the lock, holds it for
 * <seconds> checking every 50 ms that it is still held (SRWL_OK), makes <done-file>, then
 * releases it (SRWL_OK). Exit 2: the hold was taken away. */
static int role_hold(char **a)
{
    int write = strcmp(a[0], "write") == 0;
    srwl_lock *l;
    double end;
    faults(a[1]);
    l = tu_open(lock_path);
    if (write)
        EXPECT_OK(srwl_acquire_write(l, 10));
    else
        EXPECT_OK(srwl_acquire_read(l, 10));
    tu_touch(a[2]);
    end = tu_now() + atof(a[3]);
    while (tu_now() < end) {
        int st = srwl_check(l);
        if (st != SRWL_OK) {
            fprintf(stderr, "FAIL: the live %s holder was evicted: srwl_check returned %s (%s)\n",
                    a[0], tu_st(st), srwl_last_error());
            _exit(2);
        }
        tu_sleep(0.05);
    }
    /* <done-file> says "releasing": a grant after it may come before release returns. */
    tu_touch(a[4]);
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_close(l));
    return 0;
}

/* acquire <read|write> <rules> <timeout> [<must-exist>]: takes the lock within <timeout>
 * (SRWL_OK required), and at the grant <must-exist> must exist (the previous holder said it had
 * released); releases it. */
static int role_acquire(char **a, int argc)
{
    int write = strcmp(a[0], "write") == 0;
    double t0 = tu_now();
    srwl_lock *l;
    int st;
    faults(a[1]);
    l = tu_open(lock_path);
    st = write ? srwl_acquire_write(l, atof(a[2])) : srwl_acquire_read(l, atof(a[2]));
    if (st != SRWL_OK)
        TU_FAIL("acquire_%s with timeout %s s returned %s after %.2f s (%s): the lock is wedged\n"
                "  Q=[%s]\n  R=[%s]",
                a[0], a[2], tu_st(st), tu_now() - t0, srwl_last_error(),
                tu_list(tu_fmt("%s/Q", side_path)), tu_list(tu_fmt("%s/R", side_path)));
    printf("  %s granted after %.2f s\n", a[0], tu_now() - t0);
    if (argc > 3 && !tu_exists(a[3]))
        TU_FAIL("%s granted while the previous holder still held (it has not made %s)", a[0], a[3]);
    faults("");
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_close(l));
    return 0;
}

/* open <rules> <allowed statuses, e.g. "OK" or "OK,EIO">: srwl_open under the rules. */
static int role_open(char **a)
{
    srwl_options o = tu_opts();
    srwl_lock *l = NULL;
    int st;
    faults(a[0]);
    st = srwl_open(lock_path, &o, &l);
    faults("");
    printf("  srwl_open under \"%s\" returned %s (%s)\n", a[0], tu_st(st), srwl_last_error());
    if (strstr(a[1], tu_st(st) + 5) == NULL)
        TU_FAIL("srwl_open returned %s (%s), expected one of %s", tu_st(st), srwl_last_error(), a[1]);
    if (l != NULL)
        EXPECT_OK(srwl_close(l));
    return 0;
}

/* hold-until <read|write> <held-file> <go-file> <result-file>: takes the lock, makes
 * <held-file>, waits for <go-file>, then at once releases and writes the status. */
static int role_hold_until(char **a)
{
    int write = strcmp(a[0], "write") == 0;
    srwl_lock *l = tu_open(lock_path);
    double end;
    if (write)
        EXPECT_OK(srwl_acquire_write(l, 10));
    else
        EXPECT_OK(srwl_acquire_read(l, 10));
    tu_touch(a[1]);
    end = tu_now() + 60;
    while (!tu_exists(a[2]) && tu_now() < end)
        tu_sleep(0.001);
    if (control() && write)
        tu_sleep(2.5); /* the control: the heartbeat has seen the baton gone for 1.5 s by then */
    write_status(a[3], srwl_release(l));
    srwl_close(l);
    return 0;
}

/* hold-forever write: takes the write lock, makes <held-file>, waits to be killed. */
static int role_hold_forever(char **a)
{
    srwl_lock *l = tu_open(lock_path);
    EXPECT_OK(srwl_acquire_write(l, 10));
    tu_touch(a[0]);
    for (;;)
        pause();
    return 0;
}

/* hold-two <lock-a> <rules> <held-file> <seconds> <done-file>: takes a read hold on the lock
 * (on one filesystem), then one on <lock-a> (on another filesystem) under the rules, which make
 * the heartbeat's refresh of <lock-a>'s record hang; holds the first for <seconds> checking every
 * 50 ms that it is still held, releases it, makes <done-file>, then releases <lock-a>. */
static int role_hold_two(char **a)
{
    srwl_lock *b = tu_open(lock_path), *other = tu_open(a[0]);
    double end;
    EXPECT_OK(srwl_acquire_read(b, 10));
    faults(a[1]);
    EXPECT_OK(srwl_acquire_read(other, 10));
    tu_touch(a[2]);
    end = tu_now() + atof(a[3]);
    while (tu_now() < end) {
        int st = srwl_check(b);
        if (st != SRWL_OK) {
            fprintf(stderr,
                    "FAIL: the live reader on the healthy filesystem was evicted while the "
                    "heartbeat of a lock on another filesystem hung: srwl_check returned %s (%s)\n",
                    tu_st(st), srwl_last_error());
            _exit(2);
        }
        tu_sleep(0.05);
    }
    tu_touch(a[4]); /* releasing */
    EXPECT_OK(srwl_release(b));
    faults("");
    EXPECT_OK(srwl_release(other));
    EXPECT_OK(srwl_close(other));
    EXPECT_OK(srwl_close(b));
    return 0;
}

static volatile sig_atomic_t signals_seen;
static void on_signal(int sig)
{
    (void)sig;
    signals_seen++;
}

/* cycles <rules> <n>: n read and n write cycles under the rules while the parent sends
 * SIGUSR1 (a handler without SA_RESTART); every call must return SRWL_OK. */
static int role_cycles(char **a)
{
    struct sigaction sa;
    int n = atoi(a[1]), i;
    srwl_lock *l;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: interrupted calls fail with EINTR */
    sigaction(SIGUSR1, &sa, NULL);
    l = tu_open(lock_path);
    tu_touch(at("cycling"));
    faults(a[0]);
    for (i = 0; i < n; i++) {
        EXPECT_OK(srwl_acquire_read(l, 10));
        EXPECT_OK(srwl_release(l));
        EXPECT_OK(srwl_acquire_write(l, 10));
        EXPECT_OK(srwl_release(l));
    }
    faults("");
    printf("  %d read and %d write cycles under EINTR; %d signals delivered\n", n, n, (int)signals_seen);
    EXPECT_OK(srwl_close(l));
    return 0;
}

/* ---- helpers of the modes --------------------------------------------------------------- */

static void init_lock(void)
{
    srwl_lock *l = tu_open(lock_path);
    EXPECT_OK(srwl_close(l));
}

/* A fresh process must get the write lock within `timeout` seconds. */
static void expect_not_wedged(double timeout, const char *what)
{
    pid_t p = tu_spawn_self("acquire", "write", "", tu_fmt("%g", timeout), NULL);
    tu_expect_exit0(p, timeout + 20, what);
}

/* ---- the modes -------------------------------------------------------------------------- */

/* 1a. A held baton whose read fails (EIO) must not be deleted, nor its live holder evicted. */
static void mode_unreadable_baton(void)
{
    pid_t w, o;
    init_lock();
    w = tu_spawn_self("hold", "write", "", at("w-held"), "3", at("w-done"), NULL);
    wait_for(at("w-held"), 10);
    o = tu_spawn_self("acquire", "read", "read:*/Q/b.*:fail:EIO", "20", at("w-done"), NULL);
    tu_expect_exit0(w, 30, "the live writer (its hold must survive an observer that cannot read its baton)");
    tu_expect_exit0(o, 30, "the reader that cannot read the baton");
    expect_injected("read fail EIO");
    expect_not_wedged(5, "a fresh writer afterwards");
}

/* 1b. A reader record whose read fails must not be deleted while its reader lives. */
static void mode_unreadable_record(void)
{
    pid_t r, w;
    init_lock();
    r = tu_spawn_self("hold", "read", "", at("r-held"), "3", at("r-done"), NULL);
    wait_for(at("r-held"), 10);
    w = tu_spawn_self("acquire", "write", "read:*/R/r.*:fail:EIO", "20", at("r-done"), NULL);
    tu_expect_exit0(r, 30, "the live reader (its hold must survive a writer that cannot read its record)");
    tu_expect_exit0(w, 30, "the writer that cannot read the reader's record");
    expect_injected("read fail EIO");
    expect_not_wedged(5, "a fresh writer afterwards");
}

/* 2. The initialisation link happens but reports EEXIST (or EIO): the lock must still have a
 * baton and work. */
static void mode_init_link(const char *err)
{
    pid_t p = tu_spawn_self("open", tu_fmt("link:*/lock.srwl/init:after:%s", err),
                            strcmp(err, "EEXIST") == 0 ? "OK" : "OK,EIO", NULL);
    tu_expect_exit0(p, 30, "the initialising process");
    expect_injected(tu_fmt("link after %s", err));
    if (!tu_exists(tu_fmt("%s/init", side_path)))
        TU_FAIL("no init after the initialisation (the link happened)");
    expect_not_wedged(5, "a write acquire after an initialisation whose link reported an error");
    tu_expect_at_rest(side_path, -1, "after the write cycle");
}

/* 3. A writer stopped past the threshold is taken over by a reader, which hands the baton back
 * under the name the writer would use; resumed, the writer's release must say SRWL_ELOST. */
static void mode_evicted_writer(int reader_released_first)
{
    pid_t w, r;
    const char *res;
    init_lock();
    w = tu_spawn_self("hold-until", "write", at("w-held"), at("w-go"), at("w-result"), NULL);
    wait_for(at("w-held"), 10);
    kill(w, SIGSTOP);
    r = tu_spawn_self("hold-until", "read", at("r-held"), at("r-go"), at("r-result"), NULL);
    wait_for(at("r-held"), 20);
    if (reader_released_first) {
        tu_touch(at("r-go"));
        tu_expect_exit0(r, 10, "the reader");
        CHECK(strcmp(read_text(at("r-result")), "SRWL_OK") == 0, "the reader's release returned %s",
              read_text(at("r-result")));
    }
    tu_touch(at("w-go"));
    kill(w, SIGCONT);
    tu_expect_exit0(w, 20, "the evicted writer");
    if (!reader_released_first) {
        tu_touch(at("r-go"));
        tu_expect_exit0(r, 10, "the reader");
        CHECK(strcmp(read_text(at("r-result")), "SRWL_OK") == 0,
              "the reader's release returned %s after the evicted writer's release",
              read_text(at("r-result")));
    }
    res = read_text(at("w-result"));
    if (strcmp(res, "SRWL_ELOST") != 0)
        TU_FAIL("the evicted writer's srwl_release returned %s, expected SRWL_ELOST (a reader took its "
                "baton over and %s)",
                res, reader_released_first ? "has released" : "still held");
    expect_not_wedged(5, "a fresh writer afterwards");
}

/* 4. The holder dies; the evictor's takeover rename happens but reports EIO, or its hand-back
 * fails (mkdir R: ENOSPC for 6 s): the evictor must not strand the baton for itself. */
static void mode_takeover(const char *rules, double timeout)
{
    pid_t w, e;
    init_lock();
    w = tu_spawn_self("hold-forever", at("w-held"), NULL);
    wait_for(at("w-held"), 10);
    kill(w, SIGKILL);
    tu_wait_pid(w, 10);
    e = tu_spawn_self("acquire", "write", rules, tu_fmt("%g", timeout), NULL);
    tu_expect_exit0(e, timeout + 20, "the evictor (the only waiting handle)");
    expect_injected(strstr(rules, "mkdir") ? "mkdir fail ENOSPC" : "rename after EIO");
    tu_expect_at_rest(side_path, -1, "after the evictor's write cycle");
}

/* 5. fork() while the heartbeat refreshes a record must not give the child a descriptor on a
 * record in the room (or on the held baton). */
static int fd_on_record(char *out, size_t cap)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found = 0;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL && !found) {
        char link[300], target[1024];
        ssize_t n;
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strstr(target, ".srwl/R/r.") != NULL || strstr(target, ".srwl/Q/b.") != NULL) {
            snprintf(out, cap, "%s", target);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

static void mode_fork_heartbeat(void)
{
    srwl_options o;
    srwl_lock *l = NULL;
    int round, bad = 0, forks = 0;
    char seen[1024] = "";
    srwl_options_init(&o);
    /* the smallest interval: a refresh is nearly always in progress (the control: none is) */
    o.heartbeat_interval = control() ? 100 : 0.001;
    o.stale_threshold = control() ? 300 : 5;
    o.poll_interval = 0.01;
    EXPECT_OK(srwl_open(lock_path, &o, &l));
    for (round = 0; round < 2; round++) {
        double end = tu_now() + 4;
        if (round == 0)
            EXPECT_OK(srwl_acquire_read(l, 5));
        else
            EXPECT_OK(srwl_acquire_write(l, 5));
        while (tu_now() < end) {
            int pfd[2], st;
            pid_t p;
            CHECK(pipe(pfd) == 0, "pipe: %s", strerror(errno));
            p = fork();
            if (p == 0) {
                char t[1024];
                close(pfd[0]);
                if (fd_on_record(t, sizeof t)) {
                    (void)!write(pfd[1], t, strlen(t));
                    _exit(3);
                }
                _exit(0);
            }
            close(pfd[1]);
            CHECK(p > 0, "fork: %s", strerror(errno));
            if (waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 3) {
                ssize_t n = read(pfd[0], seen, sizeof seen - 1);
                seen[n > 0 ? n : 0] = '\0';
                bad++;
            }
            close(pfd[0]);
            forks++;
        }
        EXPECT_OK(srwl_release(l));
    }
    EXPECT_OK(srwl_close(l));
    printf("  %d forks, %d children inherited a descriptor on a record\n", forks, bad);
    if (bad > 0)
        TU_FAIL("%d of %d children of fork() inherited a descriptor on a record (e.g. %s): on NFS the "
                "record cannot be removed while such a child lives",
                bad, forks, seen);
}

/* 6. A directory under a resting baton's name in R must not block writers for ever. */
static void mode_dir_under_baton_name(void)
{
    const char *junk = tu_fmt("%s/R/baton.ffffffffffffffff", side_path);
    init_lock();
    if (control()) {
        junk = tu_fmt("%s/R/junk", side_path);
        tu_touch(junk);
    } else {
        CHECK(mkdir(junk, 0700) == 0, "mkdir %s: %s", junk, strerror(errno));
        tu_touch(tu_fmt("%s/x", junk));
    }
    expect_not_wedged(8, "a writer with a directory planted as R/baton.ffffffffffffffff");
    CHECK(!tu_exists(junk), "the planted directory %s is still there", junk);
}

/* 7. A reader whose host is suspended past the threshold (emulated: the shim holds its
 * CLOCK_MONOTONIC back by the time it was stopped; CLOCK_BOOTTIME runs on), evicted by a
 * writer meanwhile: its release must say SRWL_ELOST. */
static void mode_suspend(void)
{
    pid_t r, w;
    double t0;
    const char *res;
    unsigned char off[8];
    long long ns;
    int fd, i;
    init_lock();
    setenv("FAULTSHIM_SUSPEND_FILE", at("suspend"), 1);
    r = tu_spawn_self("hold-until", "read", at("r-held"), at("r-go"), at("r-result"), NULL);
    unsetenv("FAULTSHIM_SUSPEND_FILE");
    wait_for(at("r-held"), 10);
    t0 = tu_now();
    kill(r, SIGSTOP);
    w = tu_spawn_self("hold-until", "write", at("w-held"), at("w-go"), at("w-result"), NULL);
    wait_for(at("w-held"), 20);
    tu_sleep(0.3);
    /* the reader's clock must not move backwards: a little less than the stop */
    ns = control() ? 0 : (long long)((tu_now() - t0 - 0.05) * 1e9);
    for (i = 0; i < 8; i++)
        off[i] = (unsigned char)((unsigned long long)ns >> (8 * i));
    fd = open(at("suspend"), O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0 && pwrite(fd, off, 8, 0) == 8, "write %s: %s", at("suspend"), strerror(errno));
    close(fd);
    printf("  reader 'suspended' for %.2f s (threshold %.2f s)\n", (double)ns / 1e9, TU_STALE);
    tu_touch(at("r-go"));
    kill(r, SIGCONT);
    tu_expect_exit0(r, 20, "the suspended reader");
    tu_touch(at("w-go"));
    tu_expect_exit0(w, 20, "the writer");
    CHECK(strcmp(read_text(at("w-result")), "SRWL_OK") == 0, "the writer's release returned %s",
          read_text(at("w-result")));
    res = read_text(at("r-result"));
    if (strcmp(res, "SRWL_ELOST") != 0)
        TU_FAIL("the reader suspended past the threshold and evicted meanwhile: srwl_release returned "
                "%s, expected SRWL_ELOST (a monotonic clock that stops in suspend took the evictor's "
                "unlink for its own)",
                res);
}

/* 8. EINTR from any call (a FUSE or NFS "intr" client interrupted by a signal), under a storm
 * of real signals without SA_RESTART: no SRWL_EIO, and nothing stranded. */
static void mode_eintr(void)
{
    pid_t x;
    int st, sent = 0;
    double end;
    init_lock();
    x = tu_spawn_self("cycles", "any-meta:*/lock.srwl/*:fail:EINTR:p=0.15", "40", NULL);
    wait_for(at("cycling"), 10);
    end = tu_now() + 60;
    for (;;) {
        pid_t r = waitpid(x, &st, WNOHANG);
        if (r == x)
            break;
        if (tu_now() > end) {
            kill(x, SIGKILL);
            waitpid(x, &st, 0);
            TU_FAIL("the cycling process hung");
        }
        kill(x, SIGUSR1);
        sent++;
        tu_sleep(0.0005);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        TU_FAIL("a lock call under EINTR failed (see above; %d signals sent)", sent);
    expect_injected("fail EINTR");
    expect_not_wedged(5, "a fresh writer after the EINTR storm");
    tu_expect_at_rest(side_path, -1, "after the EINTR storm");
}

/* 9. One filesystem hangs (a dead NFS server on a hard mount: the heartbeat's open of a record
 * there blocks for 5 s): the holds of the same process on another filesystem must keep their
 * heartbeat, so that a writer waiting there does not evict them. */
static void mode_heartbeat_hang(void)
{
    const char *other_dir = tu_fmt("/dev/shm/srwl-fault-%d", (int)getpid());
    const char *other_lock = strdup(tu_fmt("%s/lock", other_dir));
    struct stat a, b;
    pid_t h, w;
    if (mkdir(other_dir, 0700) != 0)
        TU_FAIL("mkdir %s: %s", other_dir, strerror(errno));
    if (stat(other_dir, &a) != 0 || stat(tu_dir, &b) != 0)
        TU_FAIL("stat: %s", strerror(errno));
    if (a.st_dev == b.st_dev)
        TU_FAIL("%s and %s are on the same filesystem: this test needs two", other_dir, tu_dir);
    init_lock();
    h = tu_spawn_self("hold-two", other_lock,
                      tu_fmt("open:%s.srwl/R/r.*:hang:5:n=1", other_lock), at("h-held"), "4",
                      at("h-done"), NULL);
    wait_for(at("h-held"), 10);
    tu_sleep(0.3); /* the hang has begun (first refresh after one heartbeat interval) */
    w = tu_spawn_self("acquire", "write", "", "20", at("h-done"), NULL);
    tu_expect_exit0(h, 30, "the reader on the healthy filesystem");
    tu_expect_exit0(w, 30, "the writer waiting on the healthy filesystem");
    expect_injected("open hang");
    if (system(tu_fmt("rm -rf '%s'", other_dir)) != 0)
        TU_FAIL("rm -rf %s", other_dir);
}

/* 5 and 9. A fork while a heartbeat refresh hangs (its pwrite of a reader record blocks 4 s, a
 * dead file server): the fork must not wait for it (at most about a second), and the child must
 * not keep a descriptor on the record. */
static void mode_fork_during_hang(void)
{
    srwl_lock *l = tu_open(lock_path);
    char target[1024] = "";
    double t0, dt;
    pid_t c;
    int st;
    faults("write:*/lock.srwl/R/r.*:hang:4:n=1");
    EXPECT_OK(srwl_acquire_read(l, 10));
    tu_sleep(0.5); /* the first refresh (after 0.1 s) is hanging in its pwrite */
    t0 = tu_now();
    c = fork();
    if (c == 0)
        _exit(fd_on_record(target, sizeof target) ? 3 : 0);
    dt = tu_now() - t0;
    if (c < 0)
        TU_FAIL("fork: %s", strerror(errno));
    waitpid(c, &st, 0);
    printf("  fork returned after %.2f s while a refresh hung\n", dt);
    if (dt > 2.5)
        TU_FAIL("fork waited %.2f s for a heartbeat refresh that hung (a dead file server would hold "
                "every fork of the process)", dt);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        TU_FAIL("the child of fork() kept a descriptor on a record (status %d): on NFS the record "
                "cannot be removed while it lives", st);
    expect_injected("write hang");
    faults("");
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_close(l));
}

/* 10. An NFS client's cached "R is absent" (lookupcache=all keeps a negative entry for up to
 * acdirmax): a reader that began waiting while a writer held must still get in soon after the
 * writer's release (the shim keeps the negative entry until a mkdir of R drops it). */
static void mode_negcache_room(void)
{
    pid_t w, r;
    init_lock();
    w = tu_spawn_self("hold", "write", "", at("w-held"), "1.5", at("w-done"), NULL);
    wait_for(at("w-held"), 10);
    r = tu_spawn_self("acquire", "read", "open:*/lock.srwl/R:negcache:ENOENT", "6", at("w-done"), NULL);
    tu_expect_exit0(w, 30, "the writer");
    tu_expect_exit0(r, 30, "the reader whose client cached the absence of R");
    expect_injected("negcache");
}

int main(int argc, char **argv)
{
    const char *m;
    tu_init(argc, argv);
    if (argc < 2) {
        fprintf(stderr,
                "usage: %s <mode>\n  modes: unreadable-baton unreadable-record init-link-eexist "
                "init-link-eio evicted-writer-held evicted-writer-released takeover-reported-failure "
                "handback-mkdir-enospc fork-heartbeat dir-under-baton-name suspend eintr heartbeat-hang negcache-room fork-during-hang\n",
                argv[0]);
        return 2;
    }
    m = argv[1];
    if (getenv("SRWL_FAULT_DIR") == NULL) {
        /* the test process: a fresh directory, shared with the children through the env */
        setenv("SRWL_FAULT_DIR", tu_tmpdir(), 1);
        setenv("FAULTSHIM_LOG", tu_fmt("%s/faults.log", tu_dir), 1);
        faults(""); /* the shim must be preloaded */
    } else {
        snprintf(tu_dir, sizeof tu_dir, "%s", getenv("SRWL_FAULT_DIR"));
    }
    lock_path = strdup(tu_fmt("%s/lock", tu_dir));
    side_path = strdup(tu_fmt("%s/lock.srwl", tu_dir));
    shim_log = strdup(tu_fmt("%s/faults.log", tu_dir));

    /* child roles */
    if (strcmp(m, "hold") == 0)
        return role_hold(argv + 2);
    if (strcmp(m, "acquire") == 0)
        return role_acquire(argv + 2, argc - 2);
    if (strcmp(m, "open") == 0)
        return role_open(argv + 2);
    if (strcmp(m, "hold-until") == 0)
        return role_hold_until(argv + 2);
    if (strcmp(m, "hold-forever") == 0)
        return role_hold_forever(argv + 2);
    if (strcmp(m, "cycles") == 0)
        return role_cycles(argv + 2);
    if (strcmp(m, "hold-two") == 0)
        return role_hold_two(argv + 2);

    /* the tests */
    if (strcmp(m, "unreadable-baton") == 0)
        mode_unreadable_baton();
    else if (strcmp(m, "unreadable-record") == 0)
        mode_unreadable_record();
    else if (strcmp(m, "init-link-eexist") == 0)
        mode_init_link("EEXIST");
    else if (strcmp(m, "init-link-eio") == 0)
        mode_init_link("EIO");
    else if (strcmp(m, "evicted-writer-held") == 0)
        mode_evicted_writer(0);
    else if (strcmp(m, "evicted-writer-released") == 0)
        mode_evicted_writer(1);
    else if (strcmp(m, "takeover-reported-failure") == 0)
        mode_takeover("rename:*/Q/b.*:after:EIO:n=1", 10);
    else if (strcmp(m, "handback-mkdir-enospc") == 0)
        mode_takeover("mkdir:*/lock.srwl/R:fail:ENOSPC:for=6", 15);
    else if (strcmp(m, "fork-heartbeat") == 0)
        mode_fork_heartbeat();
    else if (strcmp(m, "dir-under-baton-name") == 0)
        mode_dir_under_baton_name();
    else if (strcmp(m, "suspend") == 0)
        mode_suspend();
    else if (strcmp(m, "eintr") == 0)
        mode_eintr();
    else if (strcmp(m, "heartbeat-hang") == 0)
        mode_heartbeat_hang();
    else if (strcmp(m, "negcache-room") == 0)
        mode_negcache_room();
    else if (strcmp(m, "fork-during-hang") == 0)
        mode_fork_during_hang();
    else {
        fprintf(stderr, "unknown mode %s\n", m);
        return 2;
    }
    printf("PASS %s\n", m);
    return 0;
}
