/*
 * test_syscalls.c: file syscalls per uncontended lock cycle, counted with strace.
 *
 * Each file syscall is a round trip to the file server on a network filesystem, so their number
 * per cycle is part of the library's behaviour (it does not depend on the machine's speed).
 * The test runs this program under `strace -f -c` twice per mode, doing N and 0 acquire +
 * release cycles on one handle, and divides the difference by N. It fails if a read cycle
 * makes other than 9 file syscalls or a write cycle other than 6 (docs/PROTOCOL.md lists them;
 * fewer is an improvement to record: the figures in README.md and docs/PROTOCOL.md are
 * checked to be these, so they cannot drift); without strace it fails (or, with
 * SRWL_ALLOW_SKIPS=1, is skipped: 77). First it checks a handle's file descriptors: exactly 5
 * after srwl_open (3 and the host share's directory and file), 5 after a read cycle, 4 after a
 * write cycle (the room's handle is dropped: a write cycle replaces the room), 7 after a read
 * that waited for a writer on this host (the room again, inotify, eventfd), none after
 * srwl_close.
 *
 *   test_syscalls                      the check
 *   test_syscalls cycles MODE N LOCK   (child) N cycles of MODE (r or w) on LOCK
 */
#include "testutil.h"

#define CYCLES 1000

/* The file and descriptor calls; futex, getrandom, mmap and the like are not file server
 * round trips. */
static const char *file_calls[] = {
    "openat", "open", "close", "read", "pread64", "write", "pwrite64", "lseek", "getdents64",
    "linkat", "link", "unlinkat", "unlink", "renameat", "renameat2", "rename", "mkdirat", "mkdir",
    "newfstatat", "fstat", "statx", "stat", "lstat", "ftruncate", "fadvise64", "fcntl", "fsync",
    "fdatasync", "flock", "utimensat", "fchmod", "fchown", "symlinkat", "readlinkat", NULL};

static int is_file_call(const char *name) {
    for (int i = 0; file_calls[i]; i++)
        if (strcmp(file_calls[i], name) == 0)
            return 1;
    return 0;
}

/* Sums the calls column of the file calls in an `strace -c` summary. */
static long file_calls_in(const char *summary, char *kinds, size_t kinds_len) {
    FILE *f = fopen(summary, "r");
    CHECK(f != NULL, "open %s: %s", summary, strerror(errno));
    char line[512];
    long total = 0;
    kinds[0] = 0;
    while (fgets(line, sizeof line, f)) {
        char *tok[8];
        int n = 0;
        for (char *t = strtok(line, " \t\n"); t && n < 8; t = strtok(NULL, " \t\n"))
            tok[n++] = t;
        /* "% time seconds usecs/call calls [errors] syscall" */
        if (n < 5 || !(tok[0][0] >= '0' && tok[0][0] <= '9'))
            continue;
        const char *name = tok[n - 1];
        if (!is_file_call(name))
            continue;
        long calls = atol(tok[3]);
        total += calls;
        size_t used = strlen(kinds);
        snprintf(kinds + used, kinds_len - used, "%s%s %ld", used ? ", " : "", name, calls);
    }
    fclose(f);
    return total;
}

static long traced_run(const char *self, const char *mode, int n, const char *lock, char *kinds,
                       size_t kinds_len) {
    const char *out = tu_fmt("%s/strace-%s-%d.txt", tu_dir, mode, n);
    const char *cmd = tu_fmt("strace -f -c -o '%s' '%s' cycles %s %d '%s' >/dev/null 2>&1", out,
                             self, mode, n, lock);
    int rc = system(cmd);
    CHECK(rc == 0, "%s: exit status %d", cmd, rc);
    return file_calls_in(out, kinds, kinds_len);
}

static int cycles(const char *mode, int n, const char *lock) {
    srwl_options o;
    srwl_options_init(&o);
    o.heartbeat_interval = 30; /* no heartbeat during the run */
    o.stale_threshold = 120;
    srwl_lock *l = NULL;
    EXPECT_ST(srwl_open(lock, &o, &l), SRWL_OK);
    int write = strcmp(mode, "w") == 0;
    for (int i = 0; i < n; i++) {
        EXPECT_ST(write ? srwl_acquire_write(l, 10) : srwl_acquire_read(l, 10), SRWL_OK);
        EXPECT_ST(srwl_release(l), SRWL_OK);
    }
    EXPECT_ST(srwl_close(l), SRWL_OK);
    return 0;
}

/* Open descriptors of this process (those of /proc/self/fd, minus the listing's own). */
static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL, "opendir /proc/self/fd: %s", strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;
}

/* The writer of descriptors(): holds the write lock on LOCK (creating READY once it holds)
 * until a reader waits in the queue (its ticket), then 0.5 s more, so that the reader has
 * gone to sleep waiting (and made its inotify descriptor) however loaded the machine. */
static int hold_write(const char *lock, const char *ready) {
    srwl_options o = tu_opts();
    srwl_lock *l = NULL;
    const char *q = tu_fmt("%s.srwl/Q", lock);
    double end = tu_now() + 20;
    EXPECT_ST(srwl_open(lock, &o, &l), SRWL_OK);
    EXPECT_ST(srwl_acquire_write(l, 10), SRWL_OK);
    tu_touch(ready);
    while (tu_count(q, "r.") <= 0 && tu_now() < end)
        tu_sleep(0.002);
    tu_sleep(0.5);
    EXPECT_ST(srwl_release(l), SRWL_OK);
    EXPECT_ST(srwl_close(l), SRWL_OK);
    return 0;
}

/* Fails unless the file `rel` (under the source tree) contains `figure`. */
static void doc_says(const char *rel, const char *figure) {
    const char *path = tu_fmt("%s/%s", SRWL_SOURCE_DIR, rel);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "open %s: %s", path, strerror(errno));
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    CHECK(strstr(text, figure) != NULL, "%s does not say \"%s\", the count this test asserts: update it", rel,
          figure);
}

/* A handle's descriptors, exactly as README promises (see the top of this file); none after
 * srwl_close. */
static void descriptors(void) {
    const char *lock = tu_fmt("%s/lock-fds", tu_dir);
    const char *ready = tu_fmt("%s/fds-writer-holds", tu_dir);
    int base = open_fds();
    srwl_lock *l = NULL;
    srwl_options o = tu_opts();
    EXPECT_ST(srwl_open(lock, &o, &l), SRWL_OK);
    int opened = open_fds() - base;
    EXPECT_ST(srwl_acquire_read(l, 10), SRWL_OK);
    EXPECT_ST(srwl_release(l), SRWL_OK);
    int read = open_fds() - base;
    EXPECT_ST(srwl_acquire_write(l, 10), SRWL_OK);
    EXPECT_ST(srwl_release(l), SRWL_OK);
    int wrote = open_fds() - base;
    /* Another process on this host holds the write lock; our read acquire waits for it. */
    pid_t pid = tu_spawn_self("hold-write", lock, ready, "-", NULL);
    tu_wait_file(ready, 30);
    double t0 = tu_now();
    EXPECT_ST(srwl_acquire_read(l, 30), SRWL_OK);
    double waited = tu_now() - t0;
    EXPECT_ST(srwl_release(l), SRWL_OK);
    tu_expect_exit0(pid, 30, "the writer holding the lock");
    int after_wait = open_fds() - base;
    EXPECT_ST(srwl_close(l), SRWL_OK);
    int closed = open_fds() - base;
    printf("  descriptors above the program's own: open %d, after a read cycle %d, after a write "
           "cycle %d, after a read that waited %.3f s for a writer %d, after close %d\n",
           opened, read, wrote, waited, after_wait, closed);
    CHECK(opened == 5, "srwl_open left %d descriptors open, expected 5 (the sidecar, its queue and room, "
          "the host share's directory and file)", opened);
    CHECK(read == 5, "after a read cycle %d descriptors are open, expected 5 (the reader-record template "
          "is closed once written)", read);
    CHECK(wrote == 4, "after a write cycle %d descriptors are open, expected 4 (the removed room's handle "
          "is dropped)", wrote);
    CHECK(waited >= 0.25, "the read acquire did not wait for the writer (%.3f s)", waited);
    CHECK(after_wait == 7, "after a read that waited %d descriptors are open, expected 7 (the room, the "
          "host share's directory and file, and the inotify descriptor and srwl_interrupt's eventfd of a "
          "waiter)", after_wait);
    CHECK(closed == 0, "srwl_close left %d descriptors open", closed);
    doc_says("README.md", tu_fmt("%d after\n  `srwl_open`, %d after a read cycle,\n  %d after a write cycle, none after", opened,
                                 read, wrote));
    doc_says("README.md", tu_fmt("%d after a read that waited", after_wait));
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "cycles") == 0)
        return cycles(argv[2], atoi(argv[3]), argv[4]);
    if (argc == 5 && strcmp(argv[1], "hold-write") == 0) {
        tu_init(argc, argv);
        return hold_write(argv[2], argv[3]);
    }
    tu_init(argc, argv);
    tu_tmpdir();
    static const struct {
        const char *mode, *what;
        double most;
    } modes[] = {{"r", "read", 9.0}, {"w", "write", 6.0}};
    doc_says("README.md", tu_fmt("(%.0f for a read, %.0f for a write", modes[0].most, modes[1].most));
    doc_says("docs/PROTOCOL.md", tu_fmt("`unlinkat`: **%.0f file syscalls**", modes[0].most));
    doc_says("docs/PROTOCOL.md", tu_fmt("(give back): **%.0f file syscalls**", modes[1].most));
    descriptors();
    if (system("strace -V >/dev/null 2>&1") != 0) {
        TU_CANNOT_RUN("strace is not installed: the syscall counts were not checked");
        return TU_SKIP;
    }
    for (int m = 0; m < 2; m++) {
        const char *lock = tu_fmt("%s/lock-%s", tu_dir, modes[m].mode);
        char base_kinds[1024], kinds[1024];
        /* Warm: the sidecar exists before either counted run, so both open the same way. */
        CHECK(cycles(modes[m].mode, 1, lock) == 0, "warm-up");
        long base = traced_run(argv[0], modes[m].mode, 0, lock, base_kinds, sizeof base_kinds);
        long with = traced_run(argv[0], modes[m].mode, CYCLES, lock, kinds, sizeof kinds);
        double per = (double)(with - base) / CYCLES;
        printf("  %s cycle: %.2f file syscalls (run of %d: %s; run of 0: %s)\n", modes[m].what, per,
               CYCLES, kinds, base_kinds);
        CHECK(per <= modes[m].most + 0.05, "an uncontended %s cycle makes %.2f file syscalls, more than %.0f",
              modes[m].what, per, modes[m].most);
        CHECK(per >= modes[m].most - 0.05,
              "an uncontended %s cycle makes %.2f file syscalls, fewer than %.0f: lower the figure here, in "
              "README.md and in docs/PROTOCOL.md",
              modes[m].what, per, modes[m].most);
        CHECK(per >= 2, "an uncontended %s cycle makes %.2f file syscalls: nothing was counted", modes[m].what,
              per);
    }
    return 0;
}
