/*
 * flock_bench.c: the benchmark scenarios of bench.h with flock(2) on the lock path (a kernel
 * lock: the baseline on one machine; on two GlusterFS client mounts it does not exclude).
 * Built by bench/run.sh:  cc -O2 bench/flock_bench.c
 */
#include "bench.h"

#include <sys/file.h>

struct fl {
    int fd;
};

static void *f_open(const char *path, const struct params *p) {
    (void)p;
    struct fl *l = malloc(sizeof *l);
    if (!l)
        return NULL;
    /* mfsmount answers EEXIST to an O_CREAT open that races another client's create of the
     * same name (every child opens at once, through two mounts): the file is there, open it. */
    for (int tries = 0; tries < 100; tries++) {
        l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (l->fd >= 0 || errno != EEXIST)
            break;
        usleep(1000);
    }
    if (l->fd < 0) {
        fprintf(stderr, "open %s: %s\n", path, strerror(errno));
        free(l);
        return NULL;
    }
    return l;
}

static volatile sig_atomic_t alarmed;
static void on_alarm(int sig) {
    (void)sig;
    alarmed = 1;
}

static int f_acquire(void *h, int write, double timeout) {
    struct fl *l = h;
    int op = write ? LOCK_EX : LOCK_SH;
    if (timeout == 0)
        return flock(l->fd, op | LOCK_NB) == 0 ? 0 : (errno == EWOULDBLOCK ? 1 : -1);
    if (timeout > 0) { /* interrupt a blocking flock with SIGALRM (no SA_RESTART) */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, NULL);
        alarmed = 0;
        struct itimerval it = {{0, 0}, {(time_t)timeout, (long)((timeout - (time_t)timeout) * 1e6)}};
        setitimer(ITIMER_REAL, &it, NULL);
    }
    int r;
    do {
        r = flock(l->fd, op);
    } while (r != 0 && errno == EINTR && !alarmed);
    if (timeout > 0) {
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
    }
    if (r == 0)
        return 0;
    if (errno == EINTR)
        return 1;
    fprintf(stderr, "flock: %s\n", strerror(errno));
    return -1;
}

static int f_release(void *h) {
    struct fl *l = h;
    return flock(l->fd, LOCK_UN) == 0 ? 0 : -1;
}

static void f_close(void *h) {
    struct fl *l = h;
    close(l->fd);
    free(l);
}

int main(int argc, char **argv) {
    static const struct impl impl = {"flock", f_open, f_acquire, f_release, f_close};
    return bench_main(argc, argv, &impl);
}
