/*
 * Exclusion among 6 processes mixing readers and writers for a few seconds.
 *
 * Oracle 1: a counter file updated in place under the write lock (read, short sleep,
 * increment, write back) ends equal to the number of write grants.
 * Oracle 2: a writer marks its critical section in a marker file (odd on entry, even on exit);
 * readers and entering writers must never see it odd.
 * Oracle 3: the fencing generation of write grants strictly increases in each process, and the
 * largest one equals the number of write grants (the lock path is fresh), which is also the
 * generation of the baton at rest at the end.
 * Every process also gets in at least once for each kind it asks (no starvation).
 */
#include "testutil.h"

#define NPROC 6
#define DURATION 3.0

static char dir[512], lockpath[1024], counter[1024], marker[1024], startfile[1024];

/* Child: argv[2] = index. Writes "<wgrants> <rgrants> <maxgen>" to dir/result.<index>. */
static int worker(int idx)
{
    srwl_lock *l = tu_open(lockpath);
    long long wgrants = 0, rgrants = 0;
    unsigned long long lastgen = 0;
    /* Process 0 and 1 mostly write; the others mostly read; everyone does both. */
    double pwrite = idx < 2 ? 0.7 : 0.15;
    double end;
    tu_wait_file(startfile, 30);
    end = tu_now() + DURATION;
    while (tu_now() < end) {
        if (tu_rand01() < pwrite) {
            long long v, m;
            uint64_t gen = 0;
            EXPECT_OK(srwl_acquire_write(l, 20));
            m = tu_read_ll(marker);
            CHECK(m % 2 == 0, "writer entered while the marker is odd (%lld): another writer is inside", m);
            tu_write_ll(marker, m + 1);
            EXPECT_OK(srwl_generation(l, &gen));
            CHECK(gen > lastgen, "generation did not grow: %llu after %llu", (unsigned long long)gen, lastgen);
            lastgen = gen;
            v = tu_read_ll(counter);
            tu_sleep(0.001 + 0.002 * tu_rand01());
            tu_write_ll(counter, v + 1);
            EXPECT_OK(srwl_check(l));
            CHECK(tu_read_ll(marker) == m + 1, "marker changed under the write lock: %lld, expected %lld",
                  tu_read_ll(marker), m + 1);
            tu_write_ll(marker, m + 2);
            wgrants++;
            EXPECT_OK(srwl_release(l));
        } else {
            long long m1, m2;
            EXPECT_OK(srwl_acquire_read(l, 20));
            m1 = tu_read_ll(marker);
            CHECK(m1 % 2 == 0, "reader sees a writer inside (marker %lld)", m1);
            tu_sleep(0.002 * tu_rand01());
            m2 = tu_read_ll(marker);
            CHECK(m2 == m1, "marker changed while a read lock was held: %lld -> %lld", m1, m2);
            EXPECT_OK(srwl_check(l));
            rgrants++;
            EXPECT_OK(srwl_release(l));
        }
        tu_sleep(0.001 * tu_rand01());
    }
    EXPECT_OK(srwl_close(l));
    tu_write_text(tu_fmt("%s/result.%d", dir, idx), tu_fmt("%lld %lld %llu\n", wgrants, rgrants, lastgen));
    return 0;
}

int main(int argc, char **argv)
{
    pid_t pids[NPROC];
    long long total_w = 0, total_r = 0;
    unsigned long long maxgen = 0;
    int i;

    tu_init(argc, argv);
    if (argc > 2) {
        snprintf(dir, sizeof dir, "%s", argv[2]);
    } else {
        snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    }
    snprintf(lockpath, sizeof lockpath, "%s/lock", dir);
    snprintf(counter, sizeof counter, "%s/counter", dir);
    snprintf(marker, sizeof marker, "%s/marker", dir);
    snprintf(startfile, sizeof startfile, "%s/start", dir);
    if (argc > 3)
        return worker(atoi(argv[3]));

    tu_write_ll(counter, 0);
    tu_write_ll(marker, 0);
    for (i = 0; i < NPROC; i++)
        pids[i] = tu_spawn_self("worker", dir, tu_fmt("%d", i), (char *)NULL);
    tu_touch(startfile);
    for (i = 0; i < NPROC; i++)
        tu_expect_exit0(pids[i], DURATION + 60, tu_fmt("worker %d", i));
    for (i = 0; i < NPROC; i++) {
        long long w = 0, r = 0;
        unsigned long long g = 0;
        FILE *f = fopen(tu_fmt("%s/result.%d", dir, i), "r");
        CHECK(f != NULL, "worker %d left no result", i);
        CHECK(fscanf(f, "%lld %lld %llu", &w, &r, &g) == 3, "worker %d: malformed result", i);
        fclose(f);
        printf("  worker %d: %lld write grants, %lld read grants, last generation %llu\n", i, w, r, g);
        CHECK(w > 0, "worker %d never got the write lock in %.0f s (starved)", i, DURATION);
        CHECK(r > 0, "worker %d never got the read lock in %.0f s (starved)", i, DURATION);
        total_w += w;
        total_r += r;
        if (g > maxgen)
            maxgen = g;
    }
    printf("  total: %lld write grants, %lld read grants; counter %lld; marker %lld; max generation %llu\n", total_w,
           total_r, tu_read_ll(counter), tu_read_ll(marker), maxgen);
    CHECK(tu_read_ll(counter) == total_w, "lost updates: counter %lld != %lld write grants", tu_read_ll(counter),
          total_w);
    CHECK(tu_read_ll(marker) == 2 * total_w, "marker %lld != 2 x %lld write grants", tu_read_ll(marker), total_w);
    CHECK(maxgen == (unsigned long long)total_w, "largest generation %llu != %lld write grants", maxgen, total_w);
    /* Nothing left behind: the queue is empty, the room holds only the baton, at rest with the
     * generation of the last write grant. */
    tu_expect_at_rest(tu_fmt("%s.srwl", lockpath), total_w, "after all workers closed");
    printf("PASS\n");
    return 0;
}
