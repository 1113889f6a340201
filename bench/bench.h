/*
 * bench.h: the benchmark scenarios shared by srwl_bench.c (libsoftrwlock) and flock_bench.c
 * (flock(2) baseline). bench/filelock_bench.py implements the same scenarios, the same
 * command line and the same output for Python filelock; bench/driver.py runs them all.
 *
 * A lock implementation supplies five functions (struct impl); bench_main() parses
 *
 *   BENCH SCENARIO --lock PATH [--lock PATH2] [--data PATH [--data PATH2]] [options]
 *
 * and runs one scenario. With two --lock paths (two GlusterFS client mounts of one volume) the
 * processes alternate between them: process i uses lock[i % 2] and data[i % 2]. Every
 * multi-process scenario forks its processes from this one (no exec), opens the handles in the
 * children, then releases them together through a pipe barrier (a read() that returns when
 * the parent closes the write end).
 *
 * Output: one JSON line on stdout (the parent's summary); per-process details as key/value
 * lines in OUT/<role>.<i>.txt (--out DIR), read by driver.py:
 *   role w|r          cycles N   errors N   timeouts N   violations N
 *   wait S            one per write acquisition (seconds from request to grant)
 *   waitto S          one per write acquisition that timed out (waited S seconds, no grant)
 *   handoff S         one per write grant that followed another process's release
 *                     (seconds from that release to this grant; CLOCK_MONOTONIC)
 *   handoffx S        the same, when that process used the other --lock path (another client
 *                     mount: a cross-client handoff); also counted as a handoff
 *   grant T           (burst) CLOCK_MONOTONIC time of the grant
 *
 * Scenarios:
 *   cycles   --mode r|w (--seconds S | --count N)   one process, acquire+release in a loop
 *   writers  --procs K --seconds S                  K writers increment a counter in place
 *   mixed    --procs R --seconds S                  1 writer + R readers (writer waits timed)
 *   burst    --procs N [--no-acquire] [--timeout S] N readers released together: time until all
 *                                                  hold (then they are SIGKILLed: only the way in counts)
 *            ... --release                          the scale curve: once all hold they are told to
 *                                                  release together; also the time until all have
 *                                                  released ("all_released", from that signal)
 *   mix      --procs K --seconds S --write-pct P    K processes, each operation a write with
 *                                                  probability P % (90/10: P = 10), else a read
 *   evict    --hb H --stale S                       SIGKILL a write holder; time to the next grant
 *   waiters  --procs N --seconds S --mode r|w       N processes wait S s behind a writer; CPU used
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct params {
    double hb, stale, poll;
};

/* acquire: 0 granted, 1 timed out, -1 error (message on stderr). timeout -1 = forever. */
struct impl {
    const char *name;
    void *(*open)(const char *path, const struct params *p);
    int (*acquire)(void *h, int write, double timeout);
    int (*release)(void *h);
    void (*close)(void *h);
};

#define RECLEN 512
#define MAXPATHS 2

static struct {
    const char *scenario;
    const char *lock[MAXPATHS];
    const char *data[MAXPATHS];
    int nlock, ndata;
    const char *out;
    int write;
    double seconds;
    long count;
    int procs;
    int direct;
    int no_acquire;
    int release_all; /* burst: release together and time it (the scale curve) */
    double write_pct; /* mix: percent of operations that are writes */
    double hold_ms, think_ms, writer_think_ms;
    double timeout; /* burst: how long each reader may wait */
    struct params p;
} O;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, const char *arg) {
    fprintf(stderr, "bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(2);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
/* uniform in [0, ms) milliseconds, as a sleep */
static void sleep_upto_ms(double ms) {
    if (ms <= 0)
        return;
    double s = ms / 1000.0 * (double)(rnd() % 1000000) / 1e6;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- per-process output files ---------------------------------------------------------- */
static FILE *out_open(const char *role, int i) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s.%d.txt", O.out ? O.out : "/tmp", role, i);
    FILE *f = fopen(p, "w");
    if (!f)
        die("cannot write %s", p);
    fprintf(f, "role %s\n", role);
    return f;
}

/* ---- the data record: "<seq> <counter> <release_time> <writer>" in 512 bytes ------------- */
struct rec {
    uint64_t seq, counter;
    double released;
    long writer;
};
static char *iobuf;
static int data_open(int i) {
    const char *path = O.data[i % (O.ndata ? O.ndata : 1)];
    if (!path)
        die("%s", "this scenario needs --data PATH");
    int fd = open(path, O_RDWR | O_CREAT | (O.direct ? O_DIRECT : 0), 0600);
    if (fd < 0)
        die("cannot open data file %s", path);
    if (!iobuf && posix_memalign((void **)&iobuf, 4096, 4096) != 0)
        die("%s", "out of memory");
    return fd;
}
/* With --direct (the network filesystem runs), every implementation does what the README's
 * data section asks of a holder that keeps its descriptor open across holds: an fsync before
 * the read (srwl_data_begin's first step; MooseFS served a kept O_DIRECT descriptor stale bytes
 * without it: 104 of 391 updates lost) and one after the write, before the release
 * (srwl_data_end). */
static int rec_read(int fd, struct rec *r) {
    if (O.direct && fsync(fd) != 0)
        return -1;
    memset(iobuf, 0, RECLEN);
    ssize_t n = pread(fd, iobuf, RECLEN, 0);
    if (n < 0)
        return -1;
    iobuf[n < RECLEN ? n : RECLEN - 1] = 0;
    memset(r, 0, sizeof *r);
    if (n > 0)
        sscanf(iobuf, "%" SCNu64 " %" SCNu64 " %lf %ld", &r->seq, &r->counter, &r->released,
               &r->writer);
    return 0;
}
static int rec_write(int fd, const struct rec *r) {
    memset(iobuf, ' ', RECLEN);
    int n = snprintf(iobuf, RECLEN, "%" PRIu64 " %" PRIu64 " %.9f %ld", r->seq, r->counter,
                     r->released, r->writer);
    iobuf[n] = ' ';
    iobuf[RECLEN - 1] = '\n';
    if (pwrite(fd, iobuf, RECLEN, 0) != RECLEN)
        return -1;
    return O.direct ? fsync(fd) : 0;
}
/* With two mounts, data[0] and data[1] name the same file: initialise it once. */
static void data_init(void) {
    int fd = data_open(0);
    struct rec r = {0, 0, 0, -1};
    if (rec_write(fd, &r) != 0)
        die("cannot write data file %s", O.data[0]);
    close(fd);
}

/* ---- barrier ------------------------------------------------------------------------- */
struct barrier {
    int go[2];   /* children block reading go[0]; parent closes go[1] */
    int ready[2]; /* children write one byte when ready */
};
static void barrier_init(struct barrier *b) {
    if (pipe(b->go) != 0 || pipe(b->ready) != 0)
        die("%s", "pipe failed");
}
/* child side: say ready, wait for go */
static void barrier_child(struct barrier *b) {
    char c = 'r';
    close(b->go[1]);
    close(b->ready[0]);
    if (write(b->ready[1], &c, 1) != 1)
        _exit(3);
    while (read(b->go[0], &c, 1) < 0 && errno == EINTR) {
    }
}
/* A child that failed before the barrier (it printed why) leaves the others waiting: give up
 * the whole run, killing our process group (driver.py starts every run in its own session). */
static void abandon(const char *why) {
    fprintf(stderr, "bench: %s: abandoning this run\n", why);
    fflush(NULL);
    signal(SIGTERM, SIG_IGN);
    kill(0, SIGTERM);
    exit(2);
}
/* parent side: wait until n children are ready (at most 120 s without progress) */
static void barrier_wait_ready(struct barrier *b, int n) {
    close(b->go[0]);
    close(b->ready[1]);
    char c;
    double give_up = now() + 120;
    for (int got = 0; got < n;) {
        /* A child that died before the barrier is looked for only when no byte came for a
         * second: waitpid scans every child, and once per byte it took 3.7% of a 4096-reader
         * burst's CPU samples from the children being timed. One byte per read, as many reads
         * in every run: the syscall counts subtract a run without acquire from one with. */
        struct pollfd pfd = {b->ready[0], POLLIN, 0};
        int pr = poll(&pfd, 1, 1000);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            int st;
            if (waitpid(-1, &st, WNOHANG) > 0)
                abandon("a child died before the barrier");
            if (now() > give_up)
                abandon("children did not reach the barrier within 120 s");
            continue;
        }
        ssize_t r = read(b->ready[0], &c, 1);
        if (r == 1)
            got++;
        else if (r == 0)
            abandon("a child died before the barrier");
        else if (errno != EINTR)
            abandon("read barrier");
    }
}
static double barrier_release(struct barrier *b) {
    double t = now();
    close(b->go[1]);
    return t;
}

static const struct impl *I;

static void *open_lock(int i) {
    void *h = I->open(O.lock[i % O.nlock], &O.p);
    if (!h)
        die("cannot open lock %s", O.lock[i % O.nlock]);
    return h;
}

static int wait_children(pid_t *pids, int n, struct rusage *ru) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int st;
        struct rusage r;
        if (pids[i] <= 0)
            continue;
        while (wait4(pids[i], &st, 0, &r) < 0 && errno == EINTR) {
        }
        if (ru)
            ru[i] = r;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad++;
    }
    return bad;
}

/* ---- scenario: cycles ------------------------------------------------------------------ */
static int sc_cycles(void) {
    void *h = open_lock(0);
    long n = 0, errors = 0;
    double t0 = now(), t = t0;
    if (O.count >= 0) {
        for (n = 0; n < O.count; n++) {
            if (I->acquire(h, O.write, -1) != 0 || I->release(h) != 0)
                errors++;
        }
        t = now();
    } else {
        double until = t0 + O.seconds;
        while (t < until) {
            for (int k = 0; k < 16; k++, n++)
                if (I->acquire(h, O.write, -1) != 0 || I->release(h) != 0)
                    errors++;
            t = now();
        }
    }
    I->close(h);
    printf("{\"impl\":\"%s\",\"scenario\":\"cycles\",\"mode\":\"%s\",\"cycles\":%ld,"
           "\"errors\":%ld,\"seconds\":%.6f,\"rate\":%.3f}\n",
           I->name, O.write ? "w" : "r", n, errors, t - t0, (t > t0) ? n / (t - t0) : 0.0);
    return errors != 0;
}

/* ---- scenario: writers (counter updated in place) --------------------------------------- */
static void writer_loop(int i, struct barrier *b, double seconds, double think_ms, int mark_odd) {
    void *h = open_lock(i);
    int fd = data_open(i);
    FILE *f = out_open("w", i);
    long cycles = 0, errors = 0, violations = 0, timeouts = 0;
    barrier_child(b);
    double until = now() + seconds;
    while (now() < until) {
        sleep_upto_ms(think_ms);
        double t_req = now();
        int r = I->acquire(h, 1, until - now() + 5.0); /* bounded: the run must end */
        if (r != 0) {
            if (r > 0) {
                timeouts++; /* a wait of at least this long */
                fprintf(f, "waitto %.9f\n", now() - t_req);
            } else
                errors++;
            continue;
        }
        double t_grant = now();
        struct rec rc;
        if (rec_read(fd, &rc) != 0)
            errors++;
        if (rc.seq & 1)
            violations++;
        if (rc.writer != i && rc.writer >= 0 && rc.released > 0) {
            fprintf(f, "handoff %.9f\n", t_grant - rc.released);
            if (O.nlock > 1 && rc.writer % O.nlock != i % O.nlock)
                fprintf(f, "handoffx %.9f\n", t_grant - rc.released);
        }
        fprintf(f, "wait %.9f\n", t_grant - t_req);
        rc.seq += 1;
        if (mark_odd) { /* tell readers a writer is inside */
            rc.writer = i;
            if (rec_write(fd, &rc) != 0)
                errors++;
            rc.seq += 1;
        } else {
            rc.seq += 1;
        }
        rc.counter += 1;
        rc.writer = i;
        rc.released = now();
        if (rec_write(fd, &rc) != 0)
            errors++;
        cycles++;
        if (I->release(h) != 0)
            errors++;
    }
    I->close(h);
    close(fd);
    fprintf(f, "cycles %ld\nerrors %ld\ntimeouts %ld\nviolations %ld\n", cycles, errors,
            timeouts, violations);
    fclose(f);
    _exit(0);
}

static void reader_loop(int i, struct barrier *b, double seconds) {
    void *h = open_lock(i);
    int fd = data_open(i);
    FILE *f = out_open("r", i);
    long cycles = 0, errors = 0, violations = 0, timeouts = 0;
    barrier_child(b);
    double until = now() + seconds;
    while (now() < until) {
        int r = I->acquire(h, 0, until - now() + 5.0);
        if (r != 0) {
            if (r > 0)
                timeouts++;
            else
                errors++;
            continue;
        }
        struct rec rc;
        if (rec_read(fd, &rc) != 0)
            errors++;
        if (rc.seq & 1)
            violations++;
        sleep_upto_ms(O.hold_ms);
        cycles++;
        if (I->release(h) != 0)
            errors++;
        sleep_upto_ms(O.think_ms);
    }
    I->close(h);
    close(fd);
    fprintf(f, "cycles %ld\nerrors %ld\ntimeouts %ld\nviolations %ld\n", cycles, errors,
            timeouts, violations);
    fclose(f);
    _exit(0);
}

static uint64_t read_counter(void) {
    int fd = data_open(0);
    struct rec r;
    rec_read(fd, &r);
    close(fd);
    return r.counter;
}

static int sc_writers(int readers) {
    int nw = readers ? 1 : O.procs, nr = readers ? O.procs : 0, n = nw + nr;
    data_init();
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    struct barrier b;
    barrier_init(&b);
    fflush(NULL);
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0)
            die("%s", "fork failed");
        if (p == 0) {
            rng ^= (uint64_t)getpid() * 0x9E3779B97F4A7C15ull;
            if (i < nw)
                writer_loop(i, &b, O.seconds, readers ? O.writer_think_ms : 0, readers != 0);
            else
                reader_loop(i, &b, O.seconds);
        }
        pids[i] = p;
    }
    barrier_wait_ready(&b, n);
    double t0 = barrier_release(&b);
    int bad = wait_children(pids, n, NULL);
    double t1 = now();
    printf("{\"impl\":\"%s\",\"scenario\":\"%s\",\"procs\":%d,\"writers\":%d,\"readers\":%d,"
           "\"seconds\":%.6f,\"counter\":%" PRIu64 ",\"failed_procs\":%d}\n",
           I->name, readers ? "mixed" : "writers", n, nw, nr, t1 - t0, read_counter(), bad);
    free(pids);
    return 0;
}

/* ---- scenario: mix (each operation a write with probability write_pct) -------------------- */
static void mix_loop(int i, struct barrier *b, double seconds) {
    void *h = open_lock(i);
    int fd = data_open(i);
    FILE *f = out_open("m", i);
    long cycles = 0, writes = 0, errors = 0, violations = 0, timeouts = 0;
    barrier_child(b);
    double until = now() + seconds;
    while (now() < until) {
        sleep_upto_ms(O.think_ms);
        int w = (double)(rnd() % 10000) < O.write_pct * 100;
        int r = I->acquire(h, w, until - now() + 5.0);
        if (r != 0) {
            if (r > 0)
                timeouts++;
            else
                errors++;
            continue;
        }
        struct rec rc;
        if (rec_read(fd, &rc) != 0)
            errors++;
        if (rc.seq & 1)
            violations++;
        if (w) {
            rc.seq += 1; /* odd while inside: a reader that sees it was let in beside us */
            rc.writer = i;
            if (rec_write(fd, &rc) != 0)
                errors++;
        }
        sleep_upto_ms(O.hold_ms);
        if (w) {
            rc.seq += 1;
            rc.counter += 1;
            rc.released = now();
            if (rec_write(fd, &rc) != 0)
                errors++;
            writes++;
        }
        cycles++;
        if (I->release(h) != 0)
            errors++;
    }
    I->close(h);
    close(fd);
    fprintf(f, "cycles %ld\nwrites %ld\nerrors %ld\ntimeouts %ld\nviolations %ld\n", cycles,
            writes, errors, timeouts, violations);
    fclose(f);
    _exit(0);
}

static int sc_mix(void) {
    int n = O.procs;
    data_init();
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    struct barrier b;
    barrier_init(&b);
    fflush(NULL);
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0)
            die("%s", "fork failed");
        if (p == 0) {
            rng ^= (uint64_t)getpid() * 0x9E3779B97F4A7C15ull;
            mix_loop(i, &b, O.seconds);
        }
        pids[i] = p;
    }
    barrier_wait_ready(&b, n);
    double t0 = barrier_release(&b);
    int bad = wait_children(pids, n, NULL);
    double t1 = now();
    printf("{\"impl\":\"%s\",\"scenario\":\"mix\",\"procs\":%d,\"write_pct\":%g,"
           "\"seconds\":%.6f,\"counter\":%" PRIu64 ",\"failed_procs\":%d}\n",
           I->name, n, O.write_pct, t1 - t0, read_counter(), bad);
    free(pids);
    return 0;
}

/* ---- scenario: burst of readers --------------------------------------------------------- */
static int sc_burst(void) {
    int n = O.procs;
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    struct barrier b, rel;
    barrier_init(&b);
    barrier_init(&rel); /* rel.ready: "I hold"; rel.go: "release now" */
    int done[2];        /* with --release: one byte from each child once it has released */
    if (pipe(done) != 0)
        die("%s", "pipe failed");
    fflush(NULL);
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0)
            die("%s", "fork failed");
        if (p == 0) {
            void *h = open_lock(i);
            FILE *f = out_open("r", i);
            barrier_child(&b);
            int r = O.no_acquire ? 0 : I->acquire(h, 0, O.timeout);
            double t = now();
            fprintf(f, "grant %.9f\ncycles %d\nerrors %d\n", t, r == 0, r != 0);
            fclose(f);
            barrier_child(&rel);
            if (r == 0 && !O.no_acquire)
                I->release(h);
            if (O.release_all) { /* "I have released" */
                char c = 'd';
                if (write(done[1], &c, 1) != 1)
                    _exit(3);
            }
            I->close(h);
            _exit(0);
        }
        pids[i] = p;
    }
    close(done[1]);
    barrier_wait_ready(&b, n);
    double t0 = barrier_release(&b);
    barrier_wait_ready(&rel, n);
    double t1 = now();
    if (O.release_all) {
        /* Released together: time until the last says it has released (at most O.timeout). */
        double t2 = barrier_release(&rel), t3 = t2;
        int got = 0;
        char buf[256];
        while (got < n) {
            int left = (int)((t2 + O.timeout - now()) * 1000);
            struct pollfd pfd = {done[0], POLLIN, 0};
            if (left <= 0 || poll(&pfd, 1, left) == 0)
                break;
            ssize_t k = read(done[0], buf, sizeof buf);
            if (k > 0) {
                got += (int)k;
                t3 = now();
            } else if (k == 0 || errno != EINTR)
                break;
        }
        for (int i = 0; i < n; i++) /* those still releasing (a timeout) */
            kill(pids[i], SIGKILL);
        wait_children(pids, n, NULL);
        printf("{\"impl\":\"%s\",\"scenario\":\"burst\",\"procs\":%d,\"t0\":%.9f,"
               "\"all_hold_seen\":%.6f,\"released\":%d,\"all_released\":%.6f,"
               "\"failed_procs\":0}\n",
               I->name, n, t0, t1 - t0, got, got == n ? t3 - t2 : -1.0);
        free(pids);
        return 0;
    }
    /* Only the way in is measured: end the holders at once (their releases would add minutes
     * for the slow implementations; the lock paths are fresh for every run). */
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    barrier_release(&rel);
    wait_children(pids, n, NULL);
    int bad = 0;
    printf("{\"impl\":\"%s\",\"scenario\":\"burst\",\"procs\":%d,\"t0\":%.9f,"
           "\"all_hold_seen\":%.6f,\"failed_procs\":%d}\n",
           I->name, n, t0, t1 - t0, bad);
    free(pids);
    return 0;
}

/* ---- scenario: eviction of a SIGKILLed write holder -------------------------------------- */
static int sc_evict(void) {
    int hold[2], granted[2];
    if (pipe(hold) != 0 || pipe(granted) != 0)
        die("%s", "pipe");
    fflush(NULL);
    pid_t victim = fork();
    if (victim == 0) {
        void *h = open_lock(0);
        if (I->acquire(h, 1, 10.0) != 0)
            _exit(4);
        char c = 'h';
        if (write(hold[1], &c, 1) != 1)
            _exit(5);
        for (;;)
            pause();
    }
    char c;
    if (read(hold[0], &c, 1) != 1)
        die("%s", "the victim did not get the lock");
    struct barrier b;
    barrier_init(&b);
    pid_t waiter = fork();
    if (waiter == 0) {
        void *h = open_lock(1);
        barrier_child(&b);
        int r = I->acquire(h, 1, 60.0);
        double t = now();
        if (write(granted[1], &t, sizeof t) != sizeof t)
            _exit(5);
        if (r == 0)
            I->release(h);
        I->close(h);
        _exit(r == 0 ? 0 : 6);
    }
    barrier_wait_ready(&b, 1);
    barrier_release(&b);
    sleep_s(0.5); /* the waiter is waiting: now kill the holder */
    double t_kill = now();
    kill(victim, SIGKILL);
    double t_grant = 0;
    ssize_t r = read(granted[0], &t_grant, sizeof t_grant);
    pid_t pids[2] = {victim, waiter};
    int bad = wait_children(pids + 1, 1, NULL);
    waitpid(victim, NULL, 0);
    printf("{\"impl\":\"%s\",\"scenario\":\"evict\",\"hb\":%.3f,\"stale\":%.3f,"
           "\"grant_after_kill\":%.6f,\"failed_procs\":%d}\n",
           I->name, O.p.hb, O.p.stale, r == sizeof t_grant ? t_grant - t_kill : -1.0, bad);
    return 0;
}

/* ---- scenario: CPU burned by waiters ---------------------------------------------------- */
static int sc_waiters(void) {
    int n = O.procs, hold[2], done[2];
    if (pipe(hold) != 0 || pipe(done) != 0)
        die("%s", "pipe");
    fflush(NULL);
    pid_t holder = fork();
    if (holder == 0) {
        void *h = open_lock(0);
        if (I->acquire(h, 1, 10.0) != 0)
            _exit(4);
        char c = 'h';
        close(done[1]);
        if (write(hold[1], &c, 1) != 1)
            _exit(5);
        while (read(done[0], &c, 1) < 0 && errno == EINTR) {
        }
        I->release(h);
        I->close(h);
        _exit(0);
    }
    close(done[0]);
    char c;
    if (read(hold[0], &c, 1) != 1)
        die("%s", "the holder did not get the lock");
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    struct rusage *ru = calloc((size_t)n, sizeof *ru);
    struct barrier b;
    barrier_init(&b);
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0) {
            close(done[1]);
            void *h = open_lock(i + 1);
            FILE *f = out_open("r", i);
            barrier_child(&b);
            int r = I->acquire(h, O.write, O.seconds);
            fprintf(f, "timeouts %d\nerrors %d\ncycles %d\n", r == 1, r < 0, r == 0);
            fclose(f);
            if (r == 0)
                I->release(h);
            I->close(h);
            _exit(0);
        }
        pids[i] = p;
    }
    barrier_wait_ready(&b, n);
    double t0 = barrier_release(&b);
    int bad = wait_children(pids, n, ru);
    double t1 = now();
    close(done[1]);
    waitpid(holder, NULL, 0);
    printf("{\"impl\":\"%s\",\"scenario\":\"waiters\",\"mode\":\"%s\",\"procs\":%d,"
           "\"seconds\":%.6f,\"failed_procs\":%d,\"cpu\":[",
           I->name, O.write ? "w" : "r", n, t1 - t0, bad);
    for (int i = 0; i < n; i++)
        printf("%s%.6f", i ? "," : "",
               (double)ru[i].ru_utime.tv_sec + ru[i].ru_utime.tv_usec / 1e6 +
                   (double)ru[i].ru_stime.tv_sec + ru[i].ru_stime.tv_usec / 1e6);
    printf("]}\n");
    return 0;
}

static int bench_main(int argc, char **argv, const struct impl *impl) {
    I = impl;
    O.count = -1;
    O.seconds = 2;
    O.procs = 4;
    O.p.hb = 0.5;
    O.p.stale = 2.0;
    O.p.poll = 0.1;
    O.hold_ms = 2;
    O.think_ms = 2;
    O.writer_think_ms = 20;
    O.timeout = 60;
    O.write_pct = 10;
    if (argc < 2)
        die("%s", "usage: bench SCENARIO --lock PATH [options] (see bench/bench.h)");
    O.scenario = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && (i++, 1))
        if (ARG("--lock")) {
            if (O.nlock < MAXPATHS)
                O.lock[O.nlock++] = v;
        } else if (ARG("--data")) {
            if (O.ndata < MAXPATHS)
                O.data[O.ndata++] = v;
        } else if (ARG("--out"))
            O.out = v;
        else if (ARG("--mode"))
            O.write = strcmp(v, "w") == 0;
        else if (ARG("--seconds"))
            O.seconds = atof(v);
        else if (ARG("--count"))
            O.count = atol(v);
        else if (ARG("--procs"))
            O.procs = atoi(v);
        else if (ARG("--hb"))
            O.p.hb = atof(v);
        else if (ARG("--stale"))
            O.p.stale = atof(v);
        else if (ARG("--poll"))
            O.p.poll = atof(v);
        else if (ARG("--hold-ms"))
            O.hold_ms = atof(v);
        else if (ARG("--think-ms"))
            O.think_ms = atof(v);
        else if (ARG("--timeout"))
            O.timeout = atof(v);
        else if (ARG("--writer-think-ms"))
            O.writer_think_ms = atof(v);
        else if (strcmp(a, "--direct") == 0)
            O.direct = 1;
        else if (strcmp(a, "--no-acquire") == 0)
            O.no_acquire = 1;
        else if (strcmp(a, "--release") == 0)
            O.release_all = 1;
        else if (ARG("--write-pct"))
            O.write_pct = atof(v);
        else
            die("unknown or incomplete option %s", a);
#undef ARG
    }
    if (O.nlock == 0)
        die("%s", "--lock PATH is required");
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(O.scenario, "cycles"))
        return sc_cycles();
    if (!strcmp(O.scenario, "writers"))
        return sc_writers(0);
    if (!strcmp(O.scenario, "mixed"))
        return sc_writers(1);
    if (!strcmp(O.scenario, "burst"))
        return sc_burst();
    if (!strcmp(O.scenario, "evict"))
        return sc_evict();
    if (!strcmp(O.scenario, "mix"))
        return sc_mix();
    if (!strcmp(O.scenario, "waiters"))
        return sc_waiters();
    die("unknown scenario %s", O.scenario);
    return 2;
}
