/*
 * test_misuse.c: API misuse must give clear statuses, never memory errors. Built twice: with
 * AddressSanitizer + UndefinedBehaviorSanitizer (c_misuse_asan), and plain under valgrind
 * memcheck with leak checking (c_misuse_valgrind). Covers NULLs, double release, release from
 * another thread, close while held, use after fork, and thousands of open/close cycles.
 */
#include "testutil.h"

#include <pthread.h>

#define MCHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                     \
            fprintf(stderr, " (last error: %s)\n", srwl_last_error());       \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

static srwl_lock *opened(const char *path) {
    srwl_options o;
    srwl_options_init(&o);
    /* Nothing here depends on eviction: intervals long enough for valgrind on a busy machine. */
    o.heartbeat_interval = 2.0;
    o.stale_threshold = 10.0;
    o.poll_interval = 0.05;
    srwl_lock *l = NULL;
    srwl_status st = srwl_open(path, &o, &l);
    MCHECK(st == SRWL_OK && l != NULL, "srwl_open %s: %s", path, srwl_status_str(st));
    return l;
}

static void *release_elsewhere(void *arg) {
    srwl_status *out = arg;
    /* reached through a global: the handle is shared on purpose */
    extern srwl_lock *g_lock;
    *out = srwl_release(g_lock);
    return NULL;
}
srwl_lock *g_lock;

int main(void) {
    char dir[] = "/tmp/srwl-misuse-XXXXXX";
    MCHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[128];
    snprintf(path, sizeof path, "%s/lock", dir);

    /* NULLs everywhere */
    MCHECK(srwl_open(NULL, NULL, NULL) == SRWL_EINVAL, "open(NULL)");
    srwl_lock *l = NULL;
    MCHECK(srwl_open(NULL, NULL, &l) == SRWL_EINVAL && l == NULL, "open(NULL path)");
    MCHECK(srwl_acquire_read(NULL, 0) == SRWL_EINVAL, "acquire_read(NULL)");
    MCHECK(srwl_acquire_write(NULL, 0) == SRWL_EINVAL, "acquire_write(NULL)");
    MCHECK(srwl_release(NULL) == SRWL_EINVAL, "release(NULL)");
    MCHECK(srwl_check(NULL) == SRWL_EINVAL, "check(NULL)");
    MCHECK(srwl_generation(NULL, NULL) == SRWL_EINVAL, "generation(NULL)");
    MCHECK(srwl_close(NULL) == SRWL_OK, "close(NULL)");
    MCHECK(srwl_interrupt(NULL) == SRWL_EINVAL, "interrupt(NULL)");
    MCHECK(srwl_set_interrupt_fd(NULL, -1) == SRWL_EINVAL, "set_interrupt_fd(NULL)");
    srwl_options_init(NULL);
    MCHECK(srwl_status_str(-1) != NULL && srwl_status_str(1000) != NULL, "status_str(bad)");

    /* double release, generation with NULL out */
    l = opened(path);
    MCHECK(srwl_acquire_write(l, 0) == SRWL_OK, "acquire");
    MCHECK(srwl_generation(l, NULL) == SRWL_EINVAL, "generation(out NULL)");
    MCHECK(srwl_release(l) == SRWL_OK, "release");
    MCHECK(srwl_release(l) == SRWL_ESTATE, "double release");

    /* a waiter's eventfd and inotify descriptor, made at its first wait, freed at close; an
     * interrupt ends its wait */
    {
        srwl_lock *w = opened(path);
        MCHECK(srwl_acquire_write(l, 0) == SRWL_OK, "acquire");
        MCHECK(srwl_acquire_read(w, 0.05) == SRWL_TIMEOUT, "a read behind the write times out");
        MCHECK(srwl_interrupt(w) == SRWL_OK, "interrupt");
        MCHECK(srwl_acquire_read(w, 5) == SRWL_EINTR, "an interrupted read");
        MCHECK(srwl_close(w) == SRWL_OK, "close the waiter");
        MCHECK(srwl_release(l) == SRWL_OK, "release");
    }

    /* release of a write hold from another thread */
    MCHECK(srwl_acquire_write(l, 0) == SRWL_OK, "acquire");
    g_lock = l;
    srwl_status other = SRWL_OK;
    pthread_t t;
    MCHECK(pthread_create(&t, NULL, release_elsewhere, &other) == 0, "pthread_create");
    pthread_join(t, NULL);
    MCHECK(other == SRWL_ESTATE, "release from another thread gave %d", other);

    /* close while held: releases, and another handle then gets the lock */
    MCHECK(srwl_close(l) == SRWL_OK, "close while held");
    srwl_lock *l2 = opened(path);
    MCHECK(srwl_acquire_write(l2, 0) == SRWL_OK, "lock free after close");

    /* use after fork: the inherited handle refuses, close frees it, the parent still holds.
       (Skipped under valgrind, which counts the child's deliberately leaked copy of the
       handle's descriptors as a leak; the sanitizer build runs it.) */
    pid_t pid = getenv("SRWL_MISUSE_NO_FORK") ? -2 : fork();
    if (pid == -2) goto after_fork;
    MCHECK(pid >= 0, "fork");
    if (pid == 0) {
        int bad = srwl_acquire_read(l2, 0) != SRWL_EFORKED || srwl_release(l2) != SRWL_EFORKED ||
                  srwl_check(l2) != SRWL_EFORKED || srwl_close(l2) != SRWL_OK;
        _exit(bad ? 1 : 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    MCHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    MCHECK(srwl_check(l2) == SRWL_OK, "parent still holds after the child closed its copy");
after_fork:
    MCHECK(srwl_release(l2) == SRWL_OK, "release");
    MCHECK(srwl_close(l2) == SRWL_OK, "close");

    /* thousands of open/close cycles, some holding */
    for (int i = 0; i < 2000; i++) {
        srwl_lock *x = opened(path);
        if (i % 10 == 0) MCHECK(srwl_acquire_read(x, 0) == SRWL_OK, "acquire in cycle %d", i);
        MCHECK(srwl_close(x) == SRWL_OK, "close in cycle %d", i);
    }

    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    MCHECK(system(cmd) == 0, "cleanup");
    printf("misuse: ok\n");
    return 0;
}
