/*
 * softrwlock_mpi.h: MPI collectives over libsoftrwlock. A job of N ranks is one participant
 * of the lock, not N: rank 0 of the communicator opens the handle and acquires, then
 * broadcasts the status (and the generation), so every rank returns the same status; the
 * lock holds exactly one record on disk for the whole job.
 *
 *   srwl_lock *lock;                                   // NULL on ranks other than 0
 *   srwl_status st = srwl_mpi_open(path, NULL, MPI_COMM_WORLD, &lock);
 *   uint64_t gen;
 *   st = srwl_mpi_acquire_write(lock, MPI_COMM_WORLD, 60.0, &gen);
 *   if (st == SRWL_OK) {
 *       ... every rank works under the hold, stamping writes with gen ...
 *       st = srwl_mpi_release(lock, MPI_COMM_WORLD);   // a barrier, then rank 0 releases
 *   }
 *   srwl_mpi_close(lock, MPI_COMM_WORLD);
 *
 * Header only (static inline functions compiled with your MPI), so libsoftrwlock.so does not
 * depend on MPI. Link libsoftrwlock and MPI (CMake: find_package(SoftRWLock COMPONENTS MPI),
 * target SoftRWLock::softrwlock_mpi; or mpicc app.c $(pkg-config --cflags --libs softrwlock)).
 *
 * Every function is collective over `comm`: all its ranks call it, in the same order as their
 * other collectives on `comm`. `lock` is significant at rank 0 only (as an MPI root argument):
 * other ranks pass what srwl_mpi_open gave them (NULL). After a failure, srwl_last_error() on
 * rank 0 has the message; the other ranks get the status only. A failed MPI call returns
 * SRWL_EIO (with MPI's default error handler a failed MPI call aborts the job first).
 * Not thread safe on one `comm` (as MPI collectives are not); the handle follows the rules of
 * softrwlock.h (one thread at a time per handle for write holds).
 */
#ifndef SOFTRWLOCK_MPI_H
#define SOFTRWLOCK_MPI_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "softrwlock.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rank 0 broadcasts {status, generation} to every rank; returns the status every rank sees. */
static inline srwl_status srwl_mpi_internal_share(MPI_Comm comm, srwl_status status, uint64_t *generation)
{
    uint64_t shared[2];
    shared[0] = (uint64_t)status;
    shared[1] = generation ? *generation : 0;
    if (MPI_Bcast(shared, 2, MPI_UINT64_T, 0, comm) != MPI_SUCCESS)
        return SRWL_EIO;
    if (generation)
        *generation = shared[1];
    return (srwl_status)shared[0];
}

static inline int srwl_mpi_internal_rank(MPI_Comm comm)
{
    int rank = -1;
    if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS)
        return -1;
    return rank;
}

/* Opens the lock on `path` at rank 0 only (options as srwl_open: may be NULL); *out is the
 * handle at rank 0 and NULL elsewhere. Returns rank 0's status on every rank. */
static inline srwl_status srwl_mpi_open(const char *path, const srwl_options *options, MPI_Comm comm,
                                        srwl_lock **out)
{
    int rank = srwl_mpi_internal_rank(comm);
    srwl_status st = SRWL_OK;
    if (out)
        *out = NULL;
    if (rank < 0)
        return SRWL_EIO;
    if (rank == 0)
        st = srwl_open(path, options, out);
    return srwl_mpi_internal_share(comm, st, NULL);
}

/* Takes the lock for the whole job: rank 0 calls srwl_acquire_read or srwl_acquire_write with
 * `timeout` (seconds, as in softrwlock.h), and every rank returns its status. If `generation`
 * is not NULL, it receives the fencing token of the hold (srwl_generation) on every rank, or 0
 * when the status is not SRWL_OK. */
static inline srwl_status srwl_mpi_internal_acquire(srwl_lock *lock, MPI_Comm comm, double timeout, int write,
                                            uint64_t *generation)
{
    int rank = srwl_mpi_internal_rank(comm);
    srwl_status st = SRWL_OK;
    uint64_t gen = 0;
    if (rank < 0)
        return SRWL_EIO;
    if (rank == 0) {
        st = write ? srwl_acquire_write(lock, timeout) : srwl_acquire_read(lock, timeout);
        if (st == SRWL_OK && srwl_generation(lock, &gen) != SRWL_OK)
            gen = 0;
    }
    st = srwl_mpi_internal_share(comm, st, &gen);
    if (generation)
        *generation = gen;
    return st;
}

static inline srwl_status srwl_mpi_acquire_read(srwl_lock *lock, MPI_Comm comm, double timeout,
                                                uint64_t *generation)
{
    return srwl_mpi_internal_acquire(lock, comm, timeout, 0, generation);
}

static inline srwl_status srwl_mpi_acquire_write(srwl_lock *lock, MPI_Comm comm, double timeout,
                                                 uint64_t *generation)
{
    return srwl_mpi_internal_acquire(lock, comm, timeout, 1, generation);
}

/* Releases the job's hold once every rank is done: a barrier, then rank 0 calls srwl_release;
 * every rank returns its status (SRWL_ELOST: the hold had been lost, tell the whole job). */
static inline srwl_status srwl_mpi_release(srwl_lock *lock, MPI_Comm comm)
{
    int rank = srwl_mpi_internal_rank(comm);
    srwl_status st = SRWL_OK;
    if (rank < 0 || MPI_Barrier(comm) != MPI_SUCCESS)
        return SRWL_EIO;
    if (rank == 0)
        st = srwl_release(lock);
    return srwl_mpi_internal_share(comm, st, NULL);
}

/* srwl_check at rank 0, its status on every rank: call it before committing expensive work. */
static inline srwl_status srwl_mpi_check(srwl_lock *lock, MPI_Comm comm)
{
    int rank = srwl_mpi_internal_rank(comm);
    srwl_status st = SRWL_OK;
    if (rank < 0)
        return SRWL_EIO;
    if (rank == 0)
        st = srwl_check(lock);
    return srwl_mpi_internal_share(comm, st, NULL);
}

/* Closes rank 0's handle (srwl_close: releases a hold first); every rank returns its status. */
static inline srwl_status srwl_mpi_close(srwl_lock *lock, MPI_Comm comm)
{
    int rank = srwl_mpi_internal_rank(comm);
    srwl_status st = SRWL_OK;
    if (rank < 0)
        return SRWL_EIO;
    if (rank == 0)
        st = srwl_close(lock);
    return srwl_mpi_internal_share(comm, st, NULL);
}

#ifdef __cplusplus
}
#endif

#endif /* SOFTRWLOCK_MPI_H */
