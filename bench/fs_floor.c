/* fs_floor: what the filesystem operations a lock cycle cannot avoid cost on one directory,
 * with no lock logic around them. It bounds what any lock built on them can reach:
 *
 *   dir_cycle     mkdirat + unlinkat(AT_REMOVEDIR) of one directory (a write grant in srwl/2
 *                 removes the readers' room and the release makes it again: rmdir is the one
 *                 operation a file server performs that fails while a directory has entries)
 *   file_cycle    openat(O_CREAT|O_EXCL) + pwrite 112 bytes + close + unlinkat (a reader's record)
 *   rename_pair   renameat of a file into a subdirectory and back (the baton's take and return)
 *   link_cycle    pwrite in place + linkat of a prepared file into a subdirectory + unlinkat (what
 *                 a reader's record would cost if it were made as a hard link of a per-handle
 *                 template: measured for the comparison in BENCHMARKS.md, not used by srwl/2)
 *   listing       lseek + getdents64 of a directory with two entries
 *
 * Usage: fs_floor DIR [SECONDS_PER_OPERATION]   prints one JSON object of microseconds per cycle
 * (the best of 5 rounds).
 * Exits 1 with the path and the OS error if an operation fails. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *dir_path;

static void fail(const char *op, const char *name) {
    fprintf(stderr, "fs_floor: %s %s/%s: %s\n", op, dir_path, name, strerror(errno));
    exit(1);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int dfd, sub;
static char buf[8192];
static const char record[112] = "srwl/2\nrole write\n";

static void dir_cycle(void) {
    if (mkdirat(dfd, "floor.d", 0700) != 0) fail("mkdir", "floor.d");
    if (unlinkat(dfd, "floor.d", AT_REMOVEDIR) != 0) fail("rmdir", "floor.d");
}

static void file_cycle(void) {
    int fd = openat(dfd, "floor.f", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) fail("create", "floor.f");
    if (pwrite(fd, record, sizeof record, 0) != (ssize_t)sizeof record) fail("write", "floor.f");
    close(fd);
    if (unlinkat(dfd, "floor.f", 0) != 0) fail("unlink", "floor.f");
}

static void rename_pair(void) {
    if (renameat(dfd, "floor.b", sub, "floor.b") != 0) fail("rename", "floor.b");
    if (renameat(sub, "floor.b", dfd, "floor.b") != 0) fail("rename", "floor.s/floor.b");
}

static int tmpl;

static void link_cycle(void) {
    if (pwrite(tmpl, record, sizeof record, 0) != (ssize_t)sizeof record) fail("write", "floor.t");
    if (linkat(dfd, "floor.t", sub, "floor.l", 0) != 0) fail("link", "floor.t");
    if (unlinkat(sub, "floor.l", 0) != 0) fail("unlink", "floor.s/floor.l");
}

static void listing(void) {
    if (lseek(sub, 0, SEEK_SET) != 0) fail("lseek", "floor.s");
    if (syscall(SYS_getdents64, sub, buf, sizeof buf) < 0) fail("getdents64", "floor.s");
}

/* The best of 5 rounds of seconds/5 each: the floor is what the operation costs when nothing
 * else (a journal commit, another process) gets in its way. */
static double per_cycle_us(void (*op)(void), double seconds) {
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        long n = 0;
        double t0 = now(), t;
        do {
            for (int i = 0; i < 16; i++) op();
            n += 16;
            t = now();
        } while (t - t0 < seconds / 5);
        double us = (t - t0) / (double)n * 1e6;
        if (us < best) best = us;
    }
    return best;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fs_floor DIR [SECONDS_PER_OPERATION]\n");
        return 2;
    }
    dir_path = argv[1];
    double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    /* A fresh directory of our own, small like a lock's sidecar directory. */
    int parent = open(dir_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (parent < 0) fail("open", ".");
    char own[64];
    snprintf(own, sizeof own, "fs_floor.%ld", (long)getpid());
    if (mkdirat(parent, own, 0700) != 0) fail("mkdir", own);
    dfd = openat(parent, own, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) fail("open", own);
    unlinkat(dfd, "floor.d", AT_REMOVEDIR);
    unlinkat(dfd, "floor.f", 0);
    unlinkat(dfd, "floor.b", 0);
    if (mkdirat(dfd, "floor.s", 0700) != 0 && errno != EEXIST) fail("mkdir", "floor.s");
    sub = openat(dfd, "floor.s", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) fail("open", "floor.s");
    int b = openat(dfd, "floor.b", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (b < 0) fail("create", "floor.b");
    close(b);
    double d = per_cycle_us(dir_cycle, seconds);
    double f = per_cycle_us(file_cycle, seconds);
    double r = per_cycle_us(rename_pair, seconds);
    double l = per_cycle_us(listing, seconds);
    tmpl = openat(dfd, "floor.t", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (tmpl < 0) fail("create", "floor.t");
    double k = per_cycle_us(link_cycle, seconds);
    close(tmpl);
    unlinkat(dfd, "floor.t", 0);
    unlinkat(dfd, "floor.b", 0);
    unlinkat(sub, "floor.b", 0);
    unlinkat(dfd, "floor.s", AT_REMOVEDIR);
    unlinkat(parent, own, AT_REMOVEDIR);
    printf("{\"dir_cycle_us\":%.2f,\"file_cycle_us\":%.2f,\"rename_pair_us\":%.2f,"
           "\"listing_us\":%.2f,\"link_cycle_us\":%.2f}\n",
           d, f, r, l, k);
    return 0;
}
