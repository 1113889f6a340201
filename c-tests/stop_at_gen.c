/*
 * An LD_PRELOAD shim for test_fencing.c: the first time the process opens a file named "gen"
 * with O_CREAT (the writer's bump of the fencing counter, right after its grant), it stops
 * itself with SIGSTOP, so that the test can hold it exactly between the grant and the bump.
 * Active only when SRWL_TEST_STOP_AT_GEN is set.
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef int (*openat_fn)(int, const char *, int, ...);

static int stopped_once;

static void maybe_stop(const char *path, int flags)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!stopped_once && (flags & O_CREAT) && strcmp(base, "gen") == 0 && getenv("SRWL_TEST_STOP_AT_GEN")) {
        stopped_once = 1;
        raise(SIGSTOP);
    }
}

int openat(int dirfd, const char *path, int flags, ...)
{
    static openat_fn real;
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, unsigned int);
        va_end(ap);
    }
    if (real == NULL)
        real = (openat_fn)dlsym(RTLD_NEXT, "openat");
    maybe_stop(path, flags);
    return real(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    static openat_fn real;
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, unsigned int);
        va_end(ap);
    }
    if (real == NULL)
        real = (openat_fn)dlsym(RTLD_NEXT, "openat64");
    maybe_stop(path, flags);
    return real(dirfd, path, flags, mode);
}
