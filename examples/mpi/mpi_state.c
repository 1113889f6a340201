/*
 * mpi_state.c: MPI ranks sharing a state file under libsoftrwlock.
 *
 *   mpiexec -n 8 ./mpi_state_c [STATE_FILE] [ITERATIONS]
 *
 * Every rank opens its own lock handle on STATE_FILE (one handle = one participant) and, for
 * ITERATIONS rounds, reads the file under the read lock and verifies it; every third rank
 * (0, 3, 6, ...) also updates it under the write lock every third round. At the end rank 0
 * checks that the file's counter equals the number of updates made by all ranks
 * (MPI_Reduce). Any torn or lost update fails the run (exit status 1 on every rank).
 *
 * The file (shared with mpi_state.f90, which can run in the same job: mpiexec -n 4
 * ./mpi_state_c F : -n 4 ./mpi_state_f F) holds native 64-bit integers:
 *   [0] magic  [1] counter  [2] generation  [3 .. 3+N-1] payload  [3+N] checksum
 * with payload[i] = (counter * 7919 + i * 104729) mod 2147483647 and
 * checksum = counter + 3 * generation + sum (i + 1) * payload[i], i = 0 .. N-1.
 * A writer rewrites it in place in three separate writes, so that a reader let in by a
 * broken lock would see a torn state. The generation is the writer's fencing token
 * (srwl_generation), which a reader's srwl_generation must match.
 */

#include <mpi.h>
#include <softrwlock.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N 500
#define MAGIC 0x5352574CLL /* "SRWL" */
#define WORDS (N + 4)

static int rank;
static int errors;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "rank %d: ", rank);                                                        \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        errors++;                                                                                  \
    } while (0)

#define CHECK_SRWL(call)                                                                           \
    do {                                                                                           \
        srwl_status st_ = (call);                                                                  \
        if (st_ != SRWL_OK) {                                                                      \
            FAIL("%s: %s: %s", #call, srwl_status_str(st_), srwl_last_error());                    \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static int64_t payload(int64_t counter, int i) {
    return (counter * 7919 + (int64_t)i * 104729) % 2147483647;
}

static int64_t checksum(const int64_t *w) {
    int64_t s = w[1] + 3 * w[2];
    for (int i = 0; i < N; i++) {
        s += (int64_t)(i + 1) * w[3 + i];
    }
    return s;
}

static int read_state(const char *path, int64_t *w) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        FAIL("open %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = pread(fd, w, WORDS * sizeof(int64_t), 0);
    close(fd);
    if (n != (ssize_t)(WORDS * sizeof(int64_t))) {
        FAIL("read %s: %zd bytes", path, n);
        return -1;
    }
    return 0;
}

/* Verifies a state; returns 0 if it is whole. */
static int verify(const int64_t *w) {
    if (w[0] != MAGIC) {
        FAIL("bad magic %llx", (unsigned long long)w[0]);
        return -1;
    }
    for (int i = 0; i < N; i++) {
        if (w[3 + i] != payload(w[1], i)) {
            FAIL("torn state: counter %lld but payload[%d] = %lld", (long long)w[1], i,
                 (long long)w[3 + i]);
            return -1;
        }
    }
    if (w[3 + N] != checksum(w)) {
        FAIL("bad checksum for counter %lld", (long long)w[1]);
        return -1;
    }
    return 0;
}

/* Writes a new state in place, in three pieces (header, payload, checksum). */
static int write_state(const char *path, int64_t counter, int64_t generation, int create) {
    int64_t w[WORDS];
    w[0] = MAGIC;
    w[1] = counter;
    w[2] = generation;
    for (int i = 0; i < N; i++) {
        w[3 + i] = payload(counter, i);
    }
    w[3 + N] = checksum(w);
    int fd = open(path, create ? O_WRONLY | O_CREAT | O_TRUNC : O_WRONLY, 0644);
    if (fd < 0) {
        FAIL("open %s for writing: %s", path, strerror(errno));
        return -1;
    }
    int ok = pwrite(fd, w, 3 * sizeof(int64_t), 0) == 3 * sizeof(int64_t);
    ok = ok && pwrite(fd, w + 3, N * sizeof(int64_t), 3 * sizeof(int64_t)) == N * sizeof(int64_t);
    ok = ok && pwrite(fd, w + 3 + N, sizeof(int64_t), (3 + N) * sizeof(int64_t)) == sizeof(int64_t);
    if (close(fd) != 0 || !ok) {
        FAIL("write %s failed", path);
        return -1;
    }
    return 0;
}

static void pause_briefly(unsigned *seed) {
    struct timespec ts = {0, (long)(rand_r(seed) % 3000) * 1000L}; /* 0-3 ms */
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *path = argc > 1 ? argv[1] : "mpi-state.dat";
    const int iterations = argc > 2 ? atoi(argv[2]) : 30;
    const int writer = rank % 3 == 0;
    int updates = 0, reads = 0;
    int64_t w[WORDS];
    unsigned seed = 12345u + 7919u * (unsigned)rank;

    /* Short intervals, and a stale threshold generous enough for 8 ranks on 2 cores. */
    srwl_options opts;
    srwl_options_init(&opts);
    opts.heartbeat_interval = 0.5;
    opts.stale_threshold = 10.0;
    opts.poll_interval = 0.05;

    srwl_lock *lock = NULL;
    CHECK_SRWL(srwl_open(path, &opts, &lock));

    if (rank == 0) {
        /* A fresh state: counter 0, written under the write lock. */
        uint64_t g = 0;
        CHECK_SRWL(srwl_acquire_write(lock, 60));
        CHECK_SRWL(srwl_generation(lock, &g));
        write_state(path, 0, (int64_t)g, 1);
        CHECK_SRWL(srwl_release(lock));
    }

out:
    MPI_Barrier(MPI_COMM_WORLD);
    /* The collective calls (their order and types: int / MPI_INT, Fortran integer /
     * MPI_INTEGER) are the same as in mpi_state.f90, so that both can run in one job. */
    int init_errors = 0;
    MPI_Allreduce(&errors, &init_errors, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);

    int64_t last_seen = 0;
    for (int it = 0; it < iterations && errors == 0 && init_errors == 0; it++) {
        srwl_status st;
        uint64_t g = 0;
        if (writer && it % 3 == 1) {
            if ((st = srwl_acquire_write(lock, 120)) != SRWL_OK) {
                FAIL("srwl_acquire_write: %s: %s", srwl_status_str(st), srwl_last_error());
                break;
            }
            if ((st = srwl_generation(lock, &g)) != SRWL_OK) {
                FAIL("srwl_generation (write): %s: %s", srwl_status_str(st), srwl_last_error());
            } else if (read_state(path, w) == 0 && verify(w) == 0) {
                if ((int64_t)g <= w[2]) {
                    FAIL("write grant generation %llu not above the file's %lld",
                         (unsigned long long)g, (long long)w[2]);
                }
                if (write_state(path, w[1] + 1, (int64_t)g, 0) == 0) {
                    updates++;
                    last_seen = w[1] + 1;
                }
            }
            if ((st = srwl_check(lock)) != SRWL_OK) {
                FAIL("srwl_check: %s: %s", srwl_status_str(st), srwl_last_error());
            }
        } else {
            if ((st = srwl_acquire_read(lock, 120)) != SRWL_OK) {
                FAIL("srwl_acquire_read: %s: %s", srwl_status_str(st), srwl_last_error());
                break;
            }
            if ((st = srwl_generation(lock, &g)) != SRWL_OK) {
                FAIL("srwl_generation (read): %s: %s", srwl_status_str(st), srwl_last_error());
            } else if (read_state(path, w) == 0 && verify(w) == 0) {
                if (w[1] < last_seen) {
                    FAIL("counter went back from %lld to %lld", (long long)last_seen, (long long)w[1]);
                }
                if ((int64_t)g != w[2]) {
                    FAIL("read hold generation %llu but the last writer's was %lld",
                         (unsigned long long)g, (long long)w[2]);
                }
                last_seen = w[1];
                reads++;
            }
        }
        if ((st = srwl_release(lock)) != SRWL_OK) {
            FAIL("srwl_release: %s: %s", srwl_status_str(st), srwl_last_error());
        }
        pause_briefly(&seed);
    }

    MPI_Barrier(MPI_COMM_WORLD);
    {
        int total_updates = 0, total_reads = 0;
        MPI_Reduce(&updates, &total_updates, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
        MPI_Reduce(&reads, &total_reads, 1, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
        if (rank == 0 && lock != NULL) {
            w[1] = -1;
            if (srwl_acquire_read(lock, 60) != SRWL_OK) {
                FAIL("final srwl_acquire_read: %s", srwl_last_error());
            } else {
                if (read_state(path, w) == 0 && verify(w) == 0 && w[1] != total_updates) {
                    FAIL("the file's counter is %lld but the ranks made %d updates", (long long)w[1],
                         total_updates);
                }
                srwl_release(lock);
            }
            printf("mpi_state_c: %d ranks, %d updates, %d verified reads, counter %lld\n", size,
                   total_updates, total_reads, (long long)w[1]);
        }
    }

    if (srwl_close(lock) != SRWL_OK) {
        FAIL("srwl_close: %s", srwl_last_error());
    }
    int total_errors = 0;
    MPI_Allreduce(&errors, &total_errors, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("%d error(s)\n", total_errors);
    }
    MPI_Finalize();
    return total_errors == 0 ? 0 : 1;
}
