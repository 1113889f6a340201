/*
 * srwl_interrupt and srwl_set_interrupt_fd: an acquire blocked on a lock that another process
 * holds returns SRWL_EINTR promptly when it is interrupted from another thread, from a signal
 * handler (a real signal sent by another process), or through the interrupt descriptor; also
 * while it waits for another thread of the same handle, and while a writer holds the baton
 * and waits for readers to drain. Each interrupted acquire leaves the sidecar exactly as it
 * found it (no ticket, claim, record or baton of its own), and the handle's next acquire works.
 * The heartbeat thread blocks every signal, so the process-directed signal reaches ours.
 */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>

static char lockpath[1024], side[1100], stopfile[1100], readyfile[1100];

/* The bound for "promptly": generous for a loaded machine; the measured figures are printed. */
#define PROMPT 1.0
/* Long enough that a wait that is not interrupted fails the test by its status. */
#define WAIT 8.0

static int hold(const char *mode)
{
    srwl_lock *l = tu_open(lockpath);
    if (strcmp(mode, "write") == 0)
        EXPECT_OK(srwl_acquire_write(l, 10));
    else
        EXPECT_OK(srwl_acquire_read(l, 10));
    tu_touch(readyfile);
    tu_wait_file(stopfile, 120);
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_close(l));
    return 0;
}

/* Sends SIGUSR1 to `pid` after `delay` seconds (a process-directed signal from elsewhere). */
static int signal_later(const char *pid, const char *delay)
{
    tu_sleep(atof(delay));
    CHECK(kill((pid_t)atol(pid), SIGUSR1) == 0, "kill(%s, SIGUSR1): %s", pid, strerror(errno));
    return 0;
}

static const char *snapshot(void)
{
    static char buf[4][16384];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "side=[%s] Q=[%s] R=[%s] batons at rest=%d", tu_list(side), tu_list(tu_fmt("%s/Q", side)),
             tu_list_except(tu_fmt("%s/R", side), "baton."), tu_count(tu_fmt("%s/R", side), "baton."));
    return b;
}

static srwl_lock *the_lock;
static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
    (void)sig;
    int saved = errno;
    srwl_interrupt(the_lock);
    handled = 1;
    errno = saved;
}

struct waiter {
    srwl_lock *l;
    int write;
    int status;
    double returned; /* tu_now() when the acquire returned */
    char error[1024];
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    w->status = w->write ? srwl_acquire_write(w->l, WAIT) : srwl_acquire_read(w->l, WAIT);
    w->returned = tu_now();
    snprintf(w->error, sizeof w->error, "%s", srwl_last_error());
    return NULL;
}

/* Waits until `n` entries named `prefix`* are in `dir`, then a little more, so that the
 * acquire that made them has gone to sleep. */
static void wait_until_listed(const char *dir, const char *prefix, int n)
{
    double end = tu_now() + 30;
    while (tu_count(dir, prefix) < n && tu_now() < end)
        tu_sleep(0.005);
    CHECK(tu_count(dir, prefix) >= n, "no %s entry appeared in %s: [%s]", prefix, dir, tu_list(dir));
    tu_sleep(0.3);
}

static void expect_interrupted(struct waiter *w, double t_interrupt, const char *before, const char *what)
{
    double dt = w->returned - t_interrupt;
    const char *after = snapshot();
    CHECK(w->status == SRWL_EINTR, "%s: the acquire returned %s (%s), expected SRWL_EINTR", what, tu_st(w->status),
          w->error);
    CHECK(strstr(w->error, "interrupted") != NULL, "%s: srwl_last_error() = \"%s\" does not say interrupted", what,
          w->error);
    CHECK(dt < PROMPT, "%s: the acquire returned %.3f s after the interrupt (bound %.1f s)", what, dt, PROMPT);
    CHECK(strcmp(before, after) == 0, "%s: the interrupted acquire left entries on disk:\n  before: %s\n  after:  %s",
          what, before, after);
    printf("  %s: SRWL_EINTR %.1f ms after the interrupt; disk as before: %s\n", what, dt * 1000, after);
}

/* An acquire in another thread, blocked on disk, interrupted from this thread. */
static void from_thread(srwl_lock *l, int write, const char *waits_as, const char *what)
{
    const char *before = snapshot();
    struct waiter w = {l, write, -1, 0, ""};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, wait_thread, &w) == 0, "pthread_create");
    wait_until_listed(tu_fmt("%s/Q", side), waits_as, 1);
    double t0 = tu_now();
    EXPECT_OK(srwl_interrupt(l));
    pthread_join(t, NULL);
    expect_interrupted(&w, t0, before, what);
}

/* An acquire in this thread, interrupted by the handler of a SIGUSR1 sent by another process. */
static void from_signal(srwl_lock *l, int write, const char *what)
{
    const char *before = snapshot();
    double delay = 0.6;
    pid_t sender = tu_spawn_self("signal", tu_fmt("%ld", (long)getpid()), tu_fmt("%g", delay), (char *)NULL);
    struct waiter w = {l, write, -1, 0, ""};
    double t0 = tu_now();
    handled = 0;
    wait_thread(&w);
    tu_expect_exit0(sender, 30, "the signal sender");
    CHECK(handled, "%s: the SIGUSR1 handler did not run in this thread", what);
    /* The signal left the sender at t0 + delay (at the earliest). */
    expect_interrupted(&w, t0 + delay, before, what);
    CHECK(w.returned - t0 >= delay - 0.05, "%s: returned before the signal was sent", what);
}

/* The heartbeat thread's mask blocks SIGINT, SIGTERM and SIGUSR1 (it has every signal blocked).
 * 1 if it was found (the thread names itself once it runs). */
static int heartbeat_blocks_signals(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int found = 0;
    CHECK(d != NULL, "opendir /proc/self/task: %s", strerror(errno));
    while ((e = readdir(d)) != NULL) {
        char comm[64] = "", line[256];
        unsigned long long blk = 0;
        if (e->d_name[0] == '.')
            continue;
        FILE *f = fopen(tu_fmt("/proc/self/task/%s/comm", e->d_name), "r");
        if (!f)
            continue;
        if (!fgets(comm, sizeof comm, f))
            comm[0] = 0;
        fclose(f);
        if (strncmp(comm, "srwl-heartbeat", 14) != 0)
            continue;
        f = fopen(tu_fmt("/proc/self/task/%s/status", e->d_name), "r");
        CHECK(f != NULL, "open status of the heartbeat thread");
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "SigBlk:", 7) == 0)
                blk = strtoull(line + 7, NULL, 16);
        fclose(f);
        found = 1;
        CHECK((blk >> (SIGINT - 1) & 1) && (blk >> (SIGTERM - 1) & 1) && (blk >> (SIGUSR1 - 1) & 1) &&
                  (blk >> (SIGHUP - 1) & 1),
              "the heartbeat thread does not block SIGINT/SIGTERM/SIGUSR1/SIGHUP: SigBlk %016llx", blk);
        printf("  heartbeat thread SigBlk: %016llx\n", blk);
    }
    closedir(d);
    return found;
}

struct holder_thread {
    srwl_lock *l;
    const char *stop;
};

static void *hold_write_thread(void *arg)
{
    struct holder_thread *h = arg;
    EXPECT_OK(srwl_acquire_write(h->l, 10));
    tu_touch(tu_fmt("%s.held", h->stop));
    tu_wait_file(h->stop, 60);
    EXPECT_OK(srwl_release(h->l));
    return NULL;
}

int main(int argc, char **argv)
{
    const char *dir;
    srwl_lock *l;
    pid_t holder;
    struct sigaction sa;

    tu_init(argc, argv);
    if (argc > 3 && strcmp(argv[1], "signal") != 0) {
        snprintf(lockpath, sizeof lockpath, "%s", argv[2]);
        snprintf(readyfile, sizeof readyfile, "%s.ready", argv[3]);
        snprintf(stopfile, sizeof stopfile, "%s.stop", argv[3]);
        return hold(argv[1]);
    }
    if (argc > 3)
        return signal_later(argv[2], argv[3]);
    dir = tu_tmpdir();
    snprintf(lockpath, sizeof lockpath, "%s/lock", dir);
    snprintf(side, sizeof side, "%s.srwl", lockpath);
    l = tu_open(lockpath);
    the_lock = l;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
    /* A hold of our own first, so that this process has its heartbeat thread. */
    EXPECT_OK(srwl_acquire_read(l, 10));
    {
        double end = tu_now() + 10;
        while (!heartbeat_blocks_signals() && tu_now() < end)
            tu_sleep(0.01);
        CHECK(heartbeat_blocks_signals(), "no srwl-heartbeat thread in this process");
    }
    EXPECT_OK(srwl_release(l));

    /* A pending interrupt ends the next acquire (even a try-once) and is consumed by it. */
    EXPECT_OK(srwl_interrupt(l));
    EXPECT_ST(srwl_acquire_read(l, 0), SRWL_EINTR);
    EXPECT_OK(srwl_acquire_write(l, 0));
    EXPECT_OK(srwl_release(l));
    EXPECT_ST(srwl_interrupt(NULL), SRWL_EINVAL);
    EXPECT_ST(srwl_set_interrupt_fd(NULL, -1), SRWL_EINVAL);
    EXPECT_ST(srwl_set_interrupt_fd(l, -2), SRWL_EINVAL);

    /* Another process holds the write lock: readers take a ticket (Q/r.*), writers a claim (Q/w.*). */
    snprintf(readyfile, sizeof readyfile, "%s/w.ready", dir);
    snprintf(stopfile, sizeof stopfile, "%s/w.stop", dir);
    holder = tu_spawn_self("write", lockpath, tu_fmt("%s/w", dir), (char *)NULL);
    tu_wait_file(readyfile, 30);
    from_thread(l, 0, "r.", "read behind a writer, srwl_interrupt from another thread");
    from_thread(l, 1, "w.", "write behind a writer, srwl_interrupt from another thread");
    from_signal(l, 0, "read behind a writer, srwl_interrupt in a SIGUSR1 handler");
    from_signal(l, 1, "write behind a writer, srwl_interrupt in a SIGUSR1 handler");
    /* The interrupt descriptor: readable ends the wait; the library leaves the byte there. */
    {
        int p[2];
        char c = 'x';
        CHECK(pipe(p) == 0, "pipe");
        EXPECT_OK(srwl_set_interrupt_fd(l, p[0]));
        const char *before = snapshot();
        struct waiter w = {l, 0, -1, 0, ""};
        pthread_t t;
        CHECK(pthread_create(&t, NULL, wait_thread, &w) == 0, "pthread_create");
        wait_until_listed(tu_fmt("%s/Q", side), "r.", 1);
        double t0 = tu_now();
        CHECK(write(p[1], &c, 1) == 1, "write");
        pthread_join(t, NULL);
        expect_interrupted(&w, t0, before, "read behind a writer, interrupt descriptor readable");
        /* Still readable (not drained by the library): the next acquire ends at once too. */
        EXPECT_ST(srwl_acquire_write(l, 5), SRWL_EINTR);
        CHECK(read(p[0], &c, 1) == 1 && c == 'x', "the library consumed the interrupt descriptor's byte");
        EXPECT_OK(srwl_set_interrupt_fd(l, -1));
        close(p[0]);
        close(p[1]);
    }
    tu_touch(stopfile);
    tu_expect_exit0(holder, 30, "the write holder");

    /* A reader holds: our writer takes the baton and waits for the room to drain; interrupted,
     * it gives the baton back (the baton rests in R/ again). */
    snprintf(readyfile, sizeof readyfile, "%s/r.ready", dir);
    snprintf(stopfile, sizeof stopfile, "%s/r.stop", dir);
    holder = tu_spawn_self("read", lockpath, tu_fmt("%s/r", dir), (char *)NULL);
    tu_wait_file(readyfile, 30);
    {
        const char *before = snapshot();
        struct waiter w = {l, 1, -1, 0, ""};
        pthread_t t;
        CHECK(pthread_create(&t, NULL, wait_thread, &w) == 0, "pthread_create");
        wait_until_listed(tu_fmt("%s/Q", side), "b.", 1);
        double t0 = tu_now();
        EXPECT_OK(srwl_interrupt(l));
        pthread_join(t, NULL);
        expect_interrupted(&w, t0, before, "write holding the baton while a reader drains, srwl_interrupt");
    }
    from_signal(l, 1, "write holding the baton while a reader drains, SIGUSR1 handler");
    tu_touch(stopfile);
    tu_expect_exit0(holder, 30, "the read holder");

    /* Another thread of this handle holds it for write: an acquire waits for that thread (not
     * on disk), and is interrupted there too. */
    {
        static char stop[1100];
        snprintf(stop, sizeof stop, "%s/thread.stop", dir);
        struct holder_thread h = {l, stop};
        pthread_t ht, t;
        struct waiter w = {l, 1, -1, 0, ""};
        CHECK(pthread_create(&ht, NULL, hold_write_thread, &h) == 0, "pthread_create");
        tu_wait_file(tu_fmt("%s.held", h.stop), 30);
        const char *before = snapshot();
        CHECK(pthread_create(&t, NULL, wait_thread, &w) == 0, "pthread_create");
        tu_sleep(0.4);
        double t0 = tu_now();
        EXPECT_OK(srwl_interrupt(l));
        pthread_join(t, NULL);
        expect_interrupted(&w, t0, before, "write waiting for another thread of the handle, srwl_interrupt");
        tu_touch(h.stop);
        pthread_join(ht, NULL);
    }

    /* The handle works afterwards; nothing is left over. */
    EXPECT_OK(srwl_acquire_read(l, 5));
    EXPECT_OK(srwl_release(l));
    EXPECT_OK(srwl_acquire_write(l, 5));
    EXPECT_OK(srwl_release(l));
    tu_expect_at_rest(side, -1, "at the end");
    EXPECT_OK(srwl_close(l));
    printf("PASS\n");
    return 0;
}
