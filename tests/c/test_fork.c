/*
 * fork() and the library.
 *
 * inherited: a process holding the write lock forks. In the child the inherited handle's
 * acquire_read/acquire_write/check/generation/release return SRWL_EFORKED and its close is OK,
 * and none of them touch the disk: the parent still holds (its baton Q/b.* or its reader record
 * R/r.* is still there and names the parent's pid, the sidecar still holds the parent's
 * reader-record template, its srwl_check is OK, another process still
 * cannot get the write lock). A new handle in the child works: it times out for write while
 * the parent holds, and gets the lock once the parent releases. Same for an inherited read
 * hold. Nothing is left behind at the end (the queue empty, the room holding only the baton).
 *
 * stress: one thread loops acquire/release (write and read alternately) on its own handle
 * while the main thread forks 200 times; each child opens a new handle, takes the write
 * lock, releases and closes within a bound (alarm(): a hung child dies of SIGALRM and the
 * test fails).
 *
 * stress-inherited: the same, and each child first opens a few descriptors of its own, then
 * uses the looping thread's inherited handle (acquire_read and release: SRWL_EFORKED) and
 * closes it (SRWL_OK; in the child no other thread uses it). That close must not close any
 * descriptor the child opened: the handle was copied in whatever state the fork caught it.
 */
#include "testutil.h"

#include <pthread.h>

static char dir[512], lockpath[1024], side[1100];

static int pipe_read_byte(int fd)
{
    char c;
    ssize_t n;
    do {
        n = read(fd, &c, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1 ? c : -1;
}

static void pipe_write_byte(int fd, char c)
{
    CHECK(write(fd, &c, 1) == 1, "pipe write: %s", strerror(errno));
}

/* Child role for "another process": try-once write must time out (exit 0), else exit 1. */
static int probe_write(void)
{
    srwl_lock *l = tu_open(lockpath);
    int s = srwl_acquire_write(l, 0);
    CHECK(s == SRWL_TIMEOUT, "another process's try-once acquire_write returned %s while the parent holds", tu_st(s));
    EXPECT_OK(srwl_close(l));
    return 0;
}

static void test_inherited(int write_hold)
{
    srwl_lock *h = tu_open(lockpath), *h2;
    int to_child[2], to_parent[2];
    pid_t pid;
    /* Where the parent's hold is on disk: a writer's baton in Q/ (the room is gone), a reader's
     * record in R/ (beside the baton at rest, whose generation other writers' timed-out
     * attempts may raise: it is not part of the parent's hold). */
    const char *skip = write_hold ? "w." : "baton.";
    char room[1200], before[2048], side_before[2048];
    uint64_t g = 0;

    snprintf(room, sizeof room, "%s/%s", side, write_hold ? "Q" : "R");

    if (write_hold)
        EXPECT_OK(srwl_acquire_write(h, 5));
    else
        EXPECT_OK(srwl_acquire_read(h, 5));
    snprintf(before, sizeof before, "%s", tu_list_except(room, skip));
    CHECK(before[0] != '\0', "no record of the parent's hold in %s", room);
    /* The sidecar's own entries, among them the parent's reader-record template
     * (h.<token>.<pid>.<host>) once it has made a read cycle. */
    snprintf(side_before, sizeof side_before, "%s", tu_list(side));
    if (write_hold)
        tu_expect_writer(side, (long)getpid(), -1, "the parent holds for write");
    else
        CHECK(tu_readers_of(side, (long)getpid(), "the parent holds for read") == 1,
              "no reader record naming the parent in the room: R=[%s]", tu_list(tu_fmt("%s/R", side)));
    CHECK(pipe(to_child) == 0 && pipe(to_parent) == 0, "pipe");
    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        srwl_lock *n;
        tu_name = "test_fork (child)";
        alarm(60);
        close(to_child[1]);
        close(to_parent[0]);
        EXPECT_ST(srwl_acquire_read(h, 0), SRWL_EFORKED);
        EXPECT_ERR_HAS("fork");
        EXPECT_ERR_HAS(lockpath);
        EXPECT_ST(srwl_acquire_write(h, 0), SRWL_EFORKED);
        EXPECT_ST(srwl_acquire_write(h, -1), SRWL_EFORKED);
        EXPECT_ST(srwl_check(h), SRWL_EFORKED);
        EXPECT_ST(srwl_generation(h, &g), SRWL_EFORKED);
        EXPECT_ST(srwl_release(h), SRWL_EFORKED);
        CHECK(strcmp(before, tu_list_except(room, skip)) == 0,
              "the child's release of an inherited handle touched the disk: [%s] -> [%s]", before,
              tu_list_except(room, skip));
        EXPECT_OK(srwl_close(h));
        CHECK(strcmp(before, tu_list_except(room, skip)) == 0,
              "the child's close of an inherited handle touched the disk: [%s] -> [%s]", before,
              tu_list_except(room, skip));
        CHECK(strcmp(side_before, tu_list(side)) == 0,
              "the child's close of an inherited handle changed the sidecar (the parent's template?): [%s] -> [%s]",
              side_before, tu_list(side));
        /* The hold on disk is still the parent's, not the child's. */
        if (write_hold) {
            tu_expect_writer(side, (long)getppid(), -1, "the parent holds, seen from the child");
        } else {
            CHECK(tu_readers_of(side, (long)getppid(), "the parent holds, seen from the child") == 1,
                  "the parent's reader record is gone after the child's calls: R=[%s]", tu_list(tu_fmt("%s/R", side)));
            CHECK(tu_readers_of(side, (long)getpid(), "the child") == 0, "a reader record names the child");
        }
        /* Longer than the stale threshold: the parent's heartbeat keeps its hold alive; our new
         * handle must not evict it. */
        n = tu_open(lockpath);
        if (write_hold) {
            EXPECT_ST(srwl_acquire_read(n, 0), SRWL_TIMEOUT);
        } else {
            EXPECT_OK(srwl_acquire_read(n, 0));
            EXPECT_OK(srwl_release(n));
        }
        EXPECT_ST(srwl_acquire_write(n, 0.3), SRWL_TIMEOUT);
        EXPECT_ST(srwl_acquire_write(n, 2 * TU_STALE), SRWL_TIMEOUT);
        pipe_write_byte(to_parent[1], 'a'); /* the parent: check, probe, then release */
        CHECK(pipe_read_byte(to_child[0]) == 'b', "parent went away");
        EXPECT_OK(srwl_acquire_write(n, 10));
        EXPECT_OK(srwl_generation(n, &g));
        /* Hold it past the threshold while the parent tries: the child's heartbeat (a new
         * thread, since fork copied none) must keep the hold alive. */
        pipe_write_byte(to_parent[1], 'c');
        CHECK(pipe_read_byte(to_child[0]) == 'd', "parent went away");
        EXPECT_OK(srwl_check(n));
        EXPECT_OK(srwl_release(n));
        EXPECT_OK(srwl_acquire_read(n, 10));
        EXPECT_OK(srwl_release(n));
        EXPECT_OK(srwl_close(n));
        _exit(0);
    }
    close(to_child[0]);
    close(to_parent[1]);
    CHECK(pipe_read_byte(to_parent[0]) == 'a', "the child failed before its first phase ended");
    EXPECT_OK(srwl_check(h));
    CHECK(strcmp(before, tu_list_except(room, skip)) == 0,
          "the parent's record changed while the child worked: [%s] -> [%s]", before, tu_list_except(room, skip));
    tu_expect_exit0(tu_spawn_self("probe", dir, (char *)NULL), 30, "probe process");
    EXPECT_OK(srwl_check(h));
    EXPECT_OK(srwl_release(h));
    pipe_write_byte(to_child[1], 'b');
    CHECK(pipe_read_byte(to_parent[0]) == 'c', "the child failed to take the lock after the parent released");
    h2 = tu_open(lockpath);
    EXPECT_ST(srwl_acquire_read(h2, 3 * TU_STALE), SRWL_TIMEOUT);
    EXPECT_OK(srwl_close(h2));
    pipe_write_byte(to_child[1], 'd');
    tu_expect_exit0(pid, 60, "fork child");
    close(to_child[1]);
    close(to_parent[0]);
    EXPECT_OK(srwl_close(h));
    printf("  inherited %s hold: OK\n", write_hold ? "write" : "read");
}

/* ---- fork while another thread is inside the library ---------------------------------- */

static volatile int stop_looping;
static long long loops;
static srwl_lock *looper_handle;

static void *looper(void *arg)
{
    srwl_lock *l = looper_handle;
    (void)arg;
    while (!stop_looping) {
        int s = (loops % 2) ? srwl_acquire_read(l, 10) : srwl_acquire_write(l, 10);
        CHECK(s == SRWL_OK, "looping thread: acquire returned %s (%s)", tu_st(s), srwl_last_error());
        EXPECT_OK(srwl_release(l));
        loops++;
    }
    EXPECT_OK(srwl_close(l));
    return NULL;
}

static void test_stress(int nforks, int use_inherited)
{
    pthread_t t;
    int i;
    double t0 = tu_now(), worst = 0;
    looper_handle = tu_open(lockpath);
    CHECK(pthread_create(&t, NULL, looper, NULL) == 0, "pthread_create");
    tu_sleep(0.05);
    for (i = 0; i < nforks; i++) {
        double c0 = tu_now(), dt;
        pid_t pid;
        fflush(NULL);
        pid = fork();
        CHECK(pid >= 0, "fork %d: %s", i, strerror(errno));
        if (pid == 0) {
            srwl_lock *n = NULL;
            srwl_options o = tu_opts();
            int s;
            alarm(20); /* a hung child dies of SIGALRM */
            if (use_inherited) {
                int canary[4], k;
                struct stat null_st;
                /* Descriptors the child opens for itself take the lowest free numbers, including
                 * any number the looping thread was closing when fork() copied the process. Closing
                 * the inherited handle must not close any of them. */
                for (k = 0; k < 4; k++)
                    canary[k] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (canary[0] < 0 || fstat(canary[0], &null_st) != 0)
                    _exit(3);
                /* The looping thread's handle, inherited in whatever state the fork caught it: no
                 * such thread here, so it is ours to use; it is forked. */
                s = srwl_acquire_read(looper_handle, 0);
                if (s != SRWL_EFORKED)
                    _exit(50 + s);
                s = srwl_release(looper_handle);
                if (s != SRWL_EFORKED)
                    _exit(60 + s);
                s = srwl_close(looper_handle);
                if (s != SRWL_OK)
                    _exit(70 + s);
                for (k = 0; k < 4; k++) {
                    struct stat cst;
                    if (fstat(canary[k], &cst) != 0 || cst.st_rdev != null_st.st_rdev) {
                        fprintf(stderr, "FAIL [c_fork stress child %d]: srwl_close of the inherited handle closed "
                                "descriptor %d, which the child had opened for itself after fork()\n", i, canary[k]);
                        _exit(4);
                    }
                    close(canary[k]);
                }
            }
            s = srwl_open(lockpath, &o, &n);
            if (s != SRWL_OK)
                _exit(10 + s);
            s = srwl_acquire_write(n, 15);
            if (s != SRWL_OK)
                _exit(20 + s);
            s = srwl_release(n);
            if (s != SRWL_OK)
                _exit(30 + s);
            s = srwl_close(n);
            _exit(s == SRWL_OK ? 0 : 40 + s);
        }
        {
            int st = tu_wait_pid(pid, 30);
            if (WIFSIGNALED(st))
                TU_FAIL("fork child %d died of signal %d%s", i, WTERMSIG(st),
                        WTERMSIG(st) == SIGALRM ? " (SIGALRM: hung in the library after fork)" : "");
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child %d exited %d (10+s: open, 20+s: acquire, 30+s: "
                  "release, 40+s: close failed with status s; 50+s, 60+s, 70+s: acquire_read, release, close of the "
                  "inherited handle; 4: that close closed one of the child's own descriptors)", i, WEXITSTATUS(st));
        }
        dt = tu_now() - c0;
        if (dt > worst)
            worst = dt;
    }
    stop_looping = 1;
    pthread_join(t, NULL);
    printf("  %d forks while a thread looped acquire/release (%lld cycles): %.2f s, slowest child %.3f s\n", nforks,
           loops, tu_now() - t0, worst);
    CHECK(loops > 0, "the looping thread made no progress");
}

int main(int argc, char **argv)
{
    tu_init(argc, argv);
    if (argc > 2 && strcmp(argv[1], "probe") == 0) {
        snprintf(dir, sizeof dir, "%s", argv[2]);
        snprintf(lockpath, sizeof lockpath, "%s/lock", dir);
        return probe_write();
    }
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    snprintf(lockpath, sizeof lockpath, "%s/lock", dir);
    snprintf(side, sizeof side, "%s.srwl", lockpath);
    if (argc > 1 && strncmp(argv[1], "stress", 6) == 0) {
        test_stress(argc > 2 ? atoi(argv[2]) : 200, strcmp(argv[1], "stress-inherited") == 0);
    } else {
        test_inherited(1);
        test_inherited(0);
    }
    tu_expect_at_rest(side, -1, "at the end");
    printf("PASS\n");
    return 0;
}
