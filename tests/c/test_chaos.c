/*
 * Exclusion under chaos: 6 worker processes mix reads and writes while the test SIGKILLs a
 * random worker every ~0.5 s (often inside the lock, or waiting in the queue) and starts a
 * replacement. Optionally (mode "inject") the library's delay injection is on as well.
 *
 * Oracles that survive a holder dying mid-section:
 * - a marker rewritten in place (`marker`: "<seq> <pid>", fixed width, pread/pwrite): a writer
 *   reads it on entry, writes seq+1 (odd: "inside") with its pid, sleeps, reads it back (it must
 *   still be exactly what it wrote: no one else wrote meanwhile), and writes seq+2 (even) on
 *   exit. Whoever enters (reader or writer) and finds an odd seq naming a live process has
 *   found two holders; a reader reads it again before it leaves and it must not have changed.
 *   An odd seq of a dead writer (killed inside) is fine: the next writer goes on from there;
 * - writers append their fencing generation to a log while holding the write lock: the log must
 *   be strictly increasing (a killed writer may leave a gap, never a repeat);
 * - every live worker keeps going (no hang: each acquire has a bound), and at the end a fresh
 *   writer gets in within the stale threshold plus margin, holding the baton (its record names
 *   it) with a generation above every logged one (a dead writer's baton was taken over, never
 *   lost or duplicated); once it releases, the room holds exactly that baton at rest.
 */
#include "testutil.h"

#define NPROC 6
#define DURATION 5.0

static char dir[512], lockpath[1024], marker[1024], genlog[1024], stopfile[1024];

/* Whether `pid` is a live process (not a zombie waiting to be reaped). */
static int alive(long pid)
{
    char path[64], buf[512];
    FILE *f;
    char *p;
    if (pid <= 0 || kill((pid_t)pid, 0) != 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    p = fgets(buf, sizeof buf, f);
    fclose(f);
    if (p == NULL || (p = strrchr(buf, ')')) == NULL)
        return 0;
    return p[2] != 'Z' && p[2] != 'X';
}

struct mark {
    unsigned long long seq;
    long pid;
};

#define MARK_LEN 32 /* "%020llu %010ld\n" */

static struct mark read_mark(void)
{
    char buf[MARK_LEN + 1];
    struct mark m = {0, 0};
    int fd = open(marker, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0, "open %s: %s", marker, strerror(errno));
    ssize_t n = pread(fd, buf, MARK_LEN, 0);
    close(fd);
    CHECK(n == MARK_LEN, "%s: read %d bytes, expected %d (a torn marker?)", marker, (int)n, MARK_LEN);
    buf[MARK_LEN] = 0;
    CHECK(sscanf(buf, "%llu %ld", &m.seq, &m.pid) == 2, "%s: unreadable marker [%s]", marker, buf);
    return m;
}

static void write_mark(unsigned long long seq)
{
    char buf[64];
    int fd = open(marker, O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0, "open %s: %s", marker, strerror(errno));
    CHECK(snprintf(buf, sizeof buf, "%020llu %010ld\n", seq, (long)getpid()) == MARK_LEN, "marker format");
    CHECK(pwrite(fd, buf, MARK_LEN, 0) == MARK_LEN, "pwrite %s: %s", marker, strerror(errno));
    close(fd);
}

/* Entering: an odd seq is a writer inside; it must be dead (killed inside its section). */
static struct mark check_entry(const char *who)
{
    struct mark m = read_mark();
    if (m.seq % 2 == 1 && m.pid != (long)getpid() && alive(m.pid))
        TU_FAIL("%s entered while writer %ld (alive) is inside (marker seq %llu)", who, m.pid, m.seq);
    return m;
}

static int worker(void)
{
    srwl_lock *l = tu_open(lockpath);
    while (!tu_exists(stopfile)) {
        int s;
        if (tu_rand01() < 0.35) {
            uint64_t g = 0;
            s = srwl_acquire_write(l, 30);
            CHECK(s == SRWL_OK, "acquire_write: %s (%s)", tu_st(s), srwl_last_error());
            struct mark m = check_entry("a writer"), back;
            unsigned long long odd = m.seq + (m.seq % 2 == 0 ? 1 : 2);
            write_mark(odd);
            EXPECT_OK(srwl_generation(l, &g));
            {
                int fd = open(genlog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
                char line[32];
                int n = snprintf(line, sizeof line, "%llu\n", (unsigned long long)g);
                CHECK(fd >= 0 && write(fd, line, (size_t)n) == n, "append %s", genlog);
                close(fd);
            }
            tu_sleep(0.003 * tu_rand01());
            back = read_mark();
            if (back.seq != odd || back.pid != (long)getpid())
                TU_FAIL("another writer wrote the marker while this one held the write lock: wrote seq %llu, "
                        "read back seq %llu from pid %ld", odd, back.seq, back.pid);
            EXPECT_OK(srwl_check(l));
            write_mark(odd + 1);
            EXPECT_OK(srwl_release(l));
        } else {
            s = srwl_acquire_read(l, 30);
            CHECK(s == SRWL_OK, "acquire_read: %s (%s)", tu_st(s), srwl_last_error());
            struct mark m = check_entry("a reader"), later;
            tu_sleep(0.003 * tu_rand01());
            later = read_mark();
            if (later.seq != m.seq || later.pid != m.pid)
                TU_FAIL("a writer wrote the marker while a reader held the read lock: seq %llu (pid %ld), then %llu "
                        "(pid %ld)", m.seq, m.pid, later.seq, later.pid);
            EXPECT_OK(srwl_check(l));
            EXPECT_OK(srwl_release(l));
        }
    }
    EXPECT_OK(srwl_close(l));
    return 0;
}

int main(int argc, char **argv)
{
    pid_t pids[NPROC];
    int i, kills = 0, entries = 0;
    double end;
    unsigned long long prev = 0, g, gfinal = 0;
    FILE *f;

    tu_init(argc, argv);
    if (argc > 2 && strcmp(argv[1], "worker") == 0)
        snprintf(dir, sizeof dir, "%s", argv[2]);
    else
        snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    snprintf(lockpath, sizeof lockpath, "%s/lock", dir);
    snprintf(marker, sizeof marker, "%s/marker", dir);
    snprintf(genlog, sizeof genlog, "%s/generations", dir);
    snprintf(stopfile, sizeof stopfile, "%s/stop", dir);
    if (argc > 2 && strcmp(argv[1], "worker") == 0)
        return worker();
    if (argc > 1 && strcmp(argv[1], "inject") == 0)
        setenv("SRWL_INJECT_DELAY", "12345:2000", 1); /* inherited by the workers */

    {
        int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        CHECK(fd >= 0, "create %s: %s", marker, strerror(errno));
        close(fd);
        write_mark(0);
    }
    for (i = 0; i < NPROC; i++)
        pids[i] = tu_spawn_self("worker", dir, (char *)NULL);
    end = tu_now() + DURATION;
    while (tu_now() < end) {
        int st;
        tu_sleep(0.3 + 0.4 * tu_rand01());
        /* A worker that exited on its own failed a check. */
        for (i = 0; i < NPROC; i++) {
            pid_t r = waitpid(pids[i], &st, WNOHANG);
            if (r == pids[i])
                TU_FAIL("worker %d (pid %d) exited early (status %d): see its message above", i, (int)pids[i],
                        WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
        }
        i = (int)(tu_rand01() * NPROC) % NPROC;
        kill(pids[i], SIGKILL);
        waitpid(pids[i], &st, 0);
        kills++;
        pids[i] = tu_spawn_self("worker", dir, (char *)NULL);
    }
    tu_touch(stopfile);
    for (i = 0; i < NPROC; i++)
        tu_expect_exit0(pids[i], 60, tu_fmt("worker %d", i));

    /* Whatever the dead left behind, a fresh writer gets in after at most a threshold or two. */
    {
        srwl_lock *l;
        double t0 = tu_now(), dt;
        unsetenv("SRWL_INJECT_DELAY");
        l = tu_open(lockpath);
        EXPECT_OK(srwl_acquire_write(l, 30));
        dt = tu_now() - t0;
        printf("  after %d kills: a fresh writer got in after %.3f s; Q=[%s]\n", kills, dt,
               tu_list(tu_fmt("%s.srwl/Q", lockpath)));
        CHECK(dt < 2 * TU_STALE + 2.0, "a fresh writer needed %.3f s to get past the dead", dt);
        check_entry("the final writer");
        gfinal = tu_expect_writer(tu_fmt("%s.srwl", lockpath), (long)getpid(), -1, "the final writer");
        EXPECT_OK(srwl_release(l));
        EXPECT_OK(srwl_close(l));
        /* The dead may have left tickets and claims behind the final writer in the queue (no one
         * waits any more to evict them), but the room is new and holds the baton alone. */
        {
            const char *side = tu_fmt("%s.srwl", lockpath);
            const char *room = tu_list(tu_fmt("%s/R", side));
            CHECK(strcmp(room, tu_fmt("baton.%016llx", gfinal)) == 0 && tu_is_the_baton(side, tu_fmt("%s/R/%s", side, room)),
                  "after the final writer released, the room should hold exactly the baton baton.%016llx: R=[%s]",
                  gfinal, room);
        }
    }
    f = fopen(genlog, "r");
    CHECK(f != NULL, "no write grants at all");
    while (fscanf(f, "%llu", &g) == 1) {
        CHECK(g > prev, "generation log not strictly increasing: %llu after %llu (two writers at once?)", g, prev);
        prev = g;
        entries++;
    }
    fclose(f);
    printf("  %d write grants logged, generations strictly increasing up to %llu; the final writer's: %llu\n", entries,
           prev, gfinal);
    CHECK(gfinal > prev, "the final writer's generation %llu is not above the last logged one %llu", gfinal, prev);
    CHECK(entries > 10, "too few write grants (%d) under chaos: the workers hardly progressed", entries);
    printf("PASS\n");
    return 0;
}
