/*
 * srwl_worker.c: stress worker for libsoftrwlock through its C API.
 *
 * Same protocol as the Python workers (see worker_common.py for the full description):
 * command-line options in, one JSON line of counts on stdout at exit, one event line per
 * step in a local log file (CLOCK_MONOTONIC timestamps) that stress.py reads afterwards.
 *
 * Build (from the repository root, after `cargo build --release`):
 *   cc -O2 -Wall -Wextra -Werror -I include tests/netfs/srwl_worker.c \
 *      -L target/release -lsoftrwlock -Wl,-rpath,$PWD/target/release -o target/netfs/srwl_worker
 *
 * Critical sections:
 *   reader: read the data record, note an odd seq (a writer inside, or a dead one), sleep,
 *           read it again: it must not have changed.
 *   writer: read the record (log K before writing anything), write seq+1 (odd) with its grant
 *           id and fencing token, sleep, read it back (must be exactly what it wrote), write
 *           counter+1 and seq+2 (even), log D. An odd seq read at entry means the previous
 *           writer died inside: counted as "repaired" (the driver checks that the writer was
 *           really dead). The fencing token (srwl_generation) must exceed the one in the record.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "softrwlock.h"

/* Records are exactly 512 bytes (511 + '\n') and all data-file I/O is O_DIRECT with aligned
 * buffers: on GlusterFS FUSE mounts the page cache of one client can keep serving old bytes of
 * a file the other client rewrote in place, so buffered reads are no oracle (worker_common.py). */
#define RECLEN 511
#define BUFSZ 4096

static struct {
    const char *wid;
    char lock[4096];
    char data[4096];
    const char *log;
    double until;
    double write_pct;
    double hold_ms;
    double think_ms;
    double timeout;
    double heartbeat;
    double stale;
    double poll;
    uint64_t seed;
} A = {NULL, "", "", NULL, 0, 10, 5, 5, 10, 0.5, 3.0, 0.05, 1};

static struct {
    long grants_read, grants_write, write_grants, violations, errors, timeouts, lost, odd_seen,
        repaired, ops, fencing;
    double max_wait_read, max_wait_write;
} C;

static int logfd = -1;
static char host[256];
static char samples[5][320];
static int nsamples;
static uint64_t rng_state;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd(void) { /* xorshift64* */
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static double uniform(double lo, double hi) {
    return lo + (hi - lo) * ((double)(rnd() >> 11) / 9007199254740992.0);
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if (write(logfd, buf, (size_t)n) < 0) { /* nothing better to do */
    }
}

static void sample(const char *prefix, const char *what) {
    if (nsamples < 5) {
        snprintf(samples[nsamples++], sizeof samples[0], "%s%s", prefix, what);
    }
}

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err(const char *fmt, ...) {
    char buf[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (*p == '\n') *p = ' ';
    C.errors++;
    sample("", buf);
    logf_("E %.6f %s", now(), buf);
}

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...) {
    char buf[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (*p == '\n') *p = ' ';
    C.violations++;
    sample("VIOLATION ", buf);
    logf_("V %.6f %s", now(), buf);
}

typedef struct {
    long long seq, counter;
    char gid[64];
    unsigned long long gen;
} record;

static void format_record(char *out, long long seq, long long counter, const char *gid,
                          unsigned long long gen) {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%lld %lld %s %d@%s %llu", seq, counter, gid, (int)getpid(), host, gen);
    memset(out, ' ', RECLEN);
    size_t n = strlen(tmp);
    memcpy(out, tmp, n < RECLEN ? n : RECLEN);
    out[RECLEN] = '\n';
}

/* returns 0 ok, -1 with errno-ish message in *why */
static int parse_record(const char *buf, size_t n, record *r, char *why, size_t whylen) {
    char tmp[RECLEN + 2];
    char who[200] = "";
    if (n > RECLEN + 1) n = RECLEN + 1;
    memcpy(tmp, buf, n);
    tmp[n] = 0;
    r->gen = 0;
    r->gid[0] = 0;
    int k = sscanf(tmp, "%lld %lld %63s %199s %llu", &r->seq, &r->counter, r->gid, who, &r->gen);
    if (k < 3) {
        snprintf(why, whylen, "bad data record '%.60s'", tmp);
        return -1;
    }
    return 0;
}

static char *dbuf; /* BUFSZ bytes, page aligned, for O_DIRECT */

static ssize_t read_fd(int fd, char *buf) {
    ssize_t n = pread(fd, dbuf, BUFSZ, 0);
    if (n > 0) memcpy(buf, dbuf, (size_t)n);
    return n;
}

static int write_fd(int fd, const char *rec) {
    memcpy(dbuf, rec, RECLEN + 1);
    return pwrite(fd, dbuf, RECLEN + 1, 0) == RECLEN + 1 ? 0 : -1;
}

static ssize_t read_file(const char *path, char *buf) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECT);
    if (fd < 0) return -1;
    ssize_t n = read_fd(fd, buf);
    int e = errno;
    close(fd);
    errno = e;
    return n;
}

static void hold_sleep(void) {
    if (A.hold_ms > 0) sleep_s(uniform(0, A.hold_ms) / 1000.0);
}

static void reader_cs(const char *gid) {
    char b1[BUFSZ], b2[BUFSZ];
    ssize_t n1 = read_file(A.data, b1);
    if (n1 < 0) {
        err("critical section %s: read %s: %s", gid, A.data, strerror(errno));
        return;
    }
    record r;
    char why[200];
    if (parse_record(b1, (size_t)n1, &r, why, sizeof why) != 0) {
        err("critical section %s: %s", gid, why);
        return;
    }
    if (r.seq % 2) {
        C.odd_seen++;
        logf_("O r %s %s %.6f", gid, r.gid, now());
    }
    hold_sleep();
    ssize_t n2 = read_file(A.data, b2);
    if (n2 < 0) {
        err("critical section %s: reread %s: %s", gid, A.data, strerror(errno));
        return;
    }
    if (n1 != n2 || memcmp(b1, b2, (size_t)n1) != 0)
        violation("record changed under read lock %s: '%.40s' -> '%.40s'", gid, b1, b2);
}

static void writer_cs(srwl_lock *lock, const char *gid) {
    uint64_t gen = 0;
    int st = srwl_generation(lock, &gen);
    if (st != SRWL_OK) err("srwl_generation %s: %s: %s", gid, srwl_status_str(st), srwl_last_error());
    int fd = open(A.data, O_RDWR | O_CLOEXEC | O_DIRECT);
    if (fd < 0) {
        err("critical section %s: open %s: %s", gid, A.data, strerror(errno));
        return;
    }
    char b[BUFSZ], mine[RECLEN + 1], again[BUFSZ];
    ssize_t n = read_fd(fd, b);
    record r;
    char why[200];
    if (n < 0) {
        err("critical section %s: read %s: %s", gid, A.data, strerror(errno));
        goto out;
    }
    if (parse_record(b, (size_t)n, &r, why, sizeof why) != 0) {
        err("critical section %s: %s", gid, why);
        goto out;
    }
    logf_("K %s %lld %lld %s %.6f", gid, r.seq, r.counter, r.gid, now());
    if (r.seq % 2) {
        C.odd_seen++;
        C.repaired++;
        logf_("O w %s %s %.6f", gid, r.gid, now());
        r.seq++;
    }
    if (gen != 0 && r.gen != 0 && gen <= r.gen) {
        C.fencing++;
        char fb[200];
        snprintf(fb, sizeof fb, "fencing token did not grow: grant %s has %" PRIu64 ", record of %s has %llu", gid,
                 gen, r.gid, r.gen);
        sample("FENCING ", fb);
        logf_("N %.6f %s", now(), fb);
    }
    format_record(mine, r.seq + 1, r.counter, gid, gen);
    if (write_fd(fd, mine) != 0) {
        err("critical section %s: write odd record: %s", gid, strerror(errno));
        goto out;
    }
    hold_sleep();
    ssize_t m = read_file(A.data, again);
    if (m < 0) {
        err("critical section %s: reread %s: %s", gid, A.data, strerror(errno));
        goto out;
    }
    if (m != RECLEN + 1 || memcmp(again, mine, RECLEN + 1) != 0)
        violation("record changed under write lock %s: wrote '%.40s' found '%.40s'", gid, mine, again);
    format_record(mine, r.seq + 2, r.counter + 1, gid, gen);
    if (write_fd(fd, mine) != 0) {
        err("critical section %s: write even record: %s", gid, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    logf_("D %s %.6f", gid, now());
    C.grants_write++;
out:
    if (fd >= 0) close(fd);
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void finish(void) {
    logf_("X %.6f", now());
    FILE *f = stdout;
    fprintf(f,
            "{\"grants_read\": %ld, \"grants_write\": %ld, \"write_grants\": %ld, \"violations\": %ld, "
            "\"errors\": %ld, \"timeouts\": %ld, \"lost\": %ld, \"odd_seen\": %ld, \"repaired\": %ld, "
            "\"max_wait_read\": %.6f, \"max_wait_write\": %.6f, \"ops\": %ld, \"fencing\": %ld, \"wid\": ",
            C.grants_read, C.grants_write, C.write_grants, C.violations, C.errors, C.timeouts, C.lost,
            C.odd_seen, C.repaired, C.max_wait_read, C.max_wait_write, C.ops, C.fencing);
    json_str(f, A.wid);
    fprintf(f, ", \"impl\": \"libsoftrwlock-%s\", \"pid\": %d, \"host\": ", srwl_version(), (int)getpid());
    json_str(f, host);
    fprintf(f, ", \"error_samples\": [");
    for (int i = 0; i < nsamples; i++) {
        if (i) fputs(", ", f);
        json_str(f, samples[i]);
    }
    fprintf(f, "]}\n");
    fflush(f);
}

static void resolve(char *out, size_t cap, const char *p) {
    const char *mnt = getenv("SRWL_MNT");
    if (p[0] == '/' || !mnt || !*mnt)
        snprintf(out, cap, "%s", p);
    else
        snprintf(out, cap, "%s/%s", mnt, p);
}

static void usage(void) {
    fprintf(stderr,
            "usage: srwl_worker --wid ID --lock PATH --data PATH --log PATH --until T [--write-pct P]\n"
            "       [--hold-ms M] [--think-ms M] [--timeout S] [--heartbeat S] [--stale S] [--poll S] [--seed N]\n");
    exit(2);
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"wid", required_argument, 0, 'w'},       {"lock", required_argument, 0, 'l'},
        {"data", required_argument, 0, 'd'},      {"log", required_argument, 0, 'g'},
        {"until", required_argument, 0, 'u'},     {"write-pct", required_argument, 0, 'p'},
        {"hold-ms", required_argument, 0, 'h'},   {"think-ms", required_argument, 0, 't'},
        {"timeout", required_argument, 0, 'T'},   {"heartbeat", required_argument, 0, 'H'},
        {"stale", required_argument, 0, 'S'},     {"poll", required_argument, 0, 'P'},
        {"seed", required_argument, 0, 's'},      {0, 0, 0, 0}};
    const char *lock = NULL, *data = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'w': A.wid = optarg; break;
        case 'l': lock = optarg; break;
        case 'd': data = optarg; break;
        case 'g': A.log = optarg; break;
        case 'u': A.until = atof(optarg); break;
        case 'p': A.write_pct = atof(optarg); break;
        case 'h': A.hold_ms = atof(optarg); break;
        case 't': A.think_ms = atof(optarg); break;
        case 'T': A.timeout = atof(optarg); break;
        case 'H': A.heartbeat = atof(optarg); break;
        case 'S': A.stale = atof(optarg); break;
        case 'P': A.poll = atof(optarg); break;
        case 's': A.seed = strtoull(optarg, NULL, 10); break;
        default: usage();
        }
    }
    if (!A.wid || !lock || !data || !A.log || A.until <= 0) usage();
    resolve(A.lock, sizeof A.lock, lock);
    resolve(A.data, sizeof A.data, data);
    rng_state = A.seed * 0x9E3779B97F4A7C15ULL + 0x1234567ULL;
    if (!rng_state) rng_state = 1;
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "?");
    if (posix_memalign((void **)&dbuf, BUFSZ, BUFSZ) != 0) {
        fprintf(stderr, "srwl_worker: out of memory\n");
        return 2;
    }
    logfd = open(A.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        fprintf(stderr, "srwl_worker: cannot open log %s: %s\n", A.log, strerror(errno));
        return 2;
    }
    logf_("S %.6f %d %s libsoftrwlock-%s", now(), (int)getpid(), host, srwl_version());

    srwl_options o;
    srwl_options_init(&o);
    o.heartbeat_interval = A.heartbeat;
    o.stale_threshold = A.stale;
    o.poll_interval = A.poll;
    srwl_lock *lk = NULL;
    int st = srwl_open(A.lock, &o, &lk);
    if (st != SRWL_OK) {
        err("srwl_open %s: %s: %s", A.lock, srwl_status_str(st), srwl_last_error());
        finish();
        return 1;
    }
    long n = 0;
    while (now() < A.until) {
        int w = uniform(0, 100) < A.write_pct;
        char mode = w ? 'w' : 'r';
        C.ops++;
        double t0 = now();
        logf_("A %c %.6f", mode, t0);
        st = w ? srwl_acquire_write(lk, A.timeout) : srwl_acquire_read(lk, A.timeout);
        if (st == SRWL_TIMEOUT) {
            C.timeouts++;
            logf_("T %c %.6f", mode, now());
            continue;
        }
        if (st != SRWL_OK) {
            err("acquire %c: %s: %s", mode, srwl_status_str(st), srwl_last_error());
            sleep_s(0.05);
            continue;
        }
        double t1 = now();
        char gid[64];
        snprintf(gid, sizeof gid, "%s:%ld", A.wid, ++n);
        if (w) {
            if (t1 - t0 > C.max_wait_write) C.max_wait_write = t1 - t0;
        } else {
            if (t1 - t0 > C.max_wait_read) C.max_wait_read = t1 - t0;
        }
        logf_("G %c %s %.6f", mode, gid, t1);
        if (w) {
            C.write_grants++;
            writer_cs(lk, gid);
        } else {
            C.grants_read++;
            reader_cs(gid);
        }
        logf_("R %.6f", now());
        st = srwl_release(lk);
        if (st == SRWL_ELOST) {
            C.lost++;
            logf_("L %.6f %s", now(), srwl_last_error());
        } else if (st != SRWL_OK) {
            err("release %s: %s: %s", gid, srwl_status_str(st), srwl_last_error());
        }
        logf_("F %.6f", now());
        if (A.think_ms > 0) sleep_s(uniform(0, A.think_ms) / 1000.0);
    }
    st = srwl_close(lk);
    if (st != SRWL_OK) err("srwl_close: %s: %s", srwl_status_str(st), srwl_last_error());
    finish();
    return 0;
}
