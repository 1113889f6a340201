/*
 * mpi_collective.c: a whole MPI job as one participant of a lock (include/softrwlock_mpi.h).
 *
 *   mpiexec -n 8 ./mpi_collective_c LOCK_PATH
 *
 * Rank 0 opens the lock and acquires for the job; every rank gets the same status and the
 * same generation, works under the hold, and the release waits for every rank (a barrier).
 * Checked on every rank:
 *   - while the job holds for reading, the lock directory holds exactly one reader record
 *     (not one per rank) and no held baton; while it holds for writing, exactly one held baton
 *     and no reader record;
 *   - every rank returns the same status and generation (MPI_Allreduce of min and max);
 *   - another participant (a handle of the last rank's own) is kept out while the job holds,
 *     and a job that cannot get the lock in time returns SRWL_TIMEOUT on every rank.
 * Any failure prints "rank N: ..." and exits 1.
 */

#include <softrwlock_mpi.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size, errors;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "rank %d: ", rank);                                                        \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        errors++;                                                                                  \
    } while (0)

#define EXPECT(call, want)                                                                         \
    do {                                                                                           \
        srwl_status st_ = (call);                                                                  \
        if (st_ != (want))                                                                         \
            FAIL("%s: %s, expected %s (%s)", #call, srwl_status_str(st_), srwl_status_str(want),   \
                 rank == 0 ? srwl_last_error() : "message on rank 0");                             \
    } while (0)

/* Counts, in the lock directory and its subdirectories, reader records and tickets (r.*) and
 * held batons (b.*); the handles' templates (h.*), the baton at rest and claims are not holds. */
static void count_holds(const char *sidecar, int *readers, int *batons)
{
    char sub[4096];
    *readers = *batons = 0;
    DIR *top = opendir(sidecar);
    if (!top) {
        FAIL("opendir %s failed", sidecar);
        return;
    }
    struct dirent *e;
    while ((e = readdir(top)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof sub, "%s/%s", sidecar, e->d_name);
        DIR *d = opendir(sub);
        if (!d)
            continue; /* a file at the top level (templates, the election file) */
        struct dirent *f;
        while ((f = readdir(d)) != NULL) {
            if (strncmp(f->d_name, "r.", 2) == 0)
                (*readers)++;
            else if (strncmp(f->d_name, "b.", 2) == 0)
                (*batons)++;
        }
        closedir(d);
    }
    closedir(top);
}

/* Every rank must have seen the same value. */
static void same_everywhere(unsigned long long v, const char *what)
{
    unsigned long long lo = 0, hi = 0;
    MPI_Allreduce(&v, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&v, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    if (lo != hi)
        FAIL("%s differs between ranks: %llu .. %llu", what, lo, hi);
}

static void expect_holds(const char *sidecar, int readers_want, int batons_want, const char *when)
{
    int readers, batons;
    count_holds(sidecar, &readers, &batons);
    if (readers != readers_want || batons != batons_want)
        FAIL("%s: %d reader record(s) and %d held baton(s) on disk, expected %d and %d", when,
             readers, batons, readers_want, batons_want);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 2) {
        if (rank == 0)
            fprintf(stderr, "usage: mpi_collective_c LOCK_PATH\n");
        MPI_Finalize();
        return 2;
    }
    const char *path = argv[1];
    char sidecar[4096];
    snprintf(sidecar, sizeof sidecar, "%s.srwl", path);
    const int other_rank = size - 1; /* also holds a handle of its own: another participant */

    srwl_options opts;
    srwl_options_init(&opts);
    opts.heartbeat_interval = 0.5;
    opts.stale_threshold = 10.0; /* generous: 8 ranks on 2 cores */
    opts.poll_interval = 0.05;

    srwl_lock *lock = NULL, *other = NULL;
    uint64_t gen = 0, gen_read = 0;
    EXPECT(srwl_mpi_open(path, &opts, MPI_COMM_WORLD, &lock), SRWL_OK);
    if ((rank == 0) != (lock != NULL))
        FAIL("srwl_mpi_open: the handle is %s on rank %d", lock ? "open" : "NULL", rank);
    if (rank == other_rank)
        EXPECT(srwl_open(path, &opts, &other), SRWL_OK);

    /* The job reads: one record on disk, whatever the number of ranks. */
    EXPECT(srwl_mpi_acquire_read(lock, MPI_COMM_WORLD, 60, &gen_read), SRWL_OK);
    same_everywhere(gen_read, "the read hold's generation");
    expect_holds(sidecar, 1, 0, "while the job holds for reading");
    MPI_Barrier(MPI_COMM_WORLD); /* every rank has counted before the other participant tries */
    if (rank == other_rank)
        EXPECT(srwl_acquire_write(other, 0), SRWL_TIMEOUT);
    EXPECT(srwl_mpi_check(lock, MPI_COMM_WORLD), SRWL_OK);
    EXPECT(srwl_mpi_release(lock, MPI_COMM_WORLD), SRWL_OK);
    expect_holds(sidecar, 0, 0, "after the job's read release");
    MPI_Barrier(MPI_COMM_WORLD); /* counted everywhere before rank 0 goes on */

    /* The job writes: one held baton, a new generation on every rank. */
    EXPECT(srwl_mpi_acquire_write(lock, MPI_COMM_WORLD, 60, &gen), SRWL_OK);
    same_everywhere(gen, "the write hold's generation");
    if (gen <= gen_read)
        FAIL("write generation %llu not above the read hold's %llu", (unsigned long long)gen,
             (unsigned long long)gen_read);
    expect_holds(sidecar, 0, 1, "while the job holds for writing");
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == other_rank)
        EXPECT(srwl_acquire_read(other, 0), SRWL_TIMEOUT);
    EXPECT(srwl_mpi_release(lock, MPI_COMM_WORLD), SRWL_OK);

    /* Another participant writes: the job's attempt times out on every rank, and leaves
     * nothing on disk. */
    if (rank == other_rank)
        EXPECT(srwl_acquire_write(other, 60), SRWL_OK);
    MPI_Barrier(MPI_COMM_WORLD);
    uint64_t none = 12345;
    EXPECT(srwl_mpi_acquire_read(lock, MPI_COMM_WORLD, 0.2, &none), SRWL_TIMEOUT);
    if (none != 0)
        FAIL("a timed-out collective acquire gave generation %llu, expected 0", (unsigned long long)none);
    MPI_Barrier(MPI_COMM_WORLD);
    expect_holds(sidecar, 0, 1, "after the job's timed-out read (another participant writes)");
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == other_rank) {
        EXPECT(srwl_release(other), SRWL_OK);
        EXPECT(srwl_close(other), SRWL_OK);
    }

    /* A release with no hold is SRWL_ESTATE on every rank. */
    EXPECT(srwl_mpi_release(lock, MPI_COMM_WORLD), SRWL_ESTATE);
    EXPECT(srwl_mpi_close(lock, MPI_COMM_WORLD), SRWL_OK);

    int total = 0;
    MPI_Allreduce(&errors, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("mpi_collective_c: %d ranks as one participant, read generation %llu, write "
               "generation %llu, %d error(s)\n",
               size, (unsigned long long)gen_read, (unsigned long long)gen, total);
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
