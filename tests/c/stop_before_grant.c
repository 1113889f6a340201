/*
 * An LD_PRELOAD shim for test_fencing.c: the first time the process removes a directory named
 * "R" (unlinkat(..., "R", AT_REMOVEDIR): a writer's grant, right after it took the baton), it
 * stops itself with SIGSTOP before the call, so that the test can hold it exactly between its
 * take and its grant. Active only when SRWL_TEST_STOP_BEFORE_GRANT is set.
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*unlinkat_fn)(int, const char *, int);

static int stopped_once;

int unlinkat(int dirfd, const char *path, int flags)
{
    static unlinkat_fn real;
    if (real == NULL)
        real = (unlinkat_fn)dlsym(RTLD_NEXT, "unlinkat");
    if (!stopped_once && (flags & AT_REMOVEDIR) && strcmp(path, "R") == 0 &&
        getenv("SRWL_TEST_STOP_BEFORE_GRANT")) {
        stopped_once = 1;
        raise(SIGSTOP);
    }
    return real(dirfd, path, flags);
}
