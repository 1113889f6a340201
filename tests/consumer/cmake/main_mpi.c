/* The MPI collectives of the installed package: the job takes the write lock as one
 * participant; every rank must see the same generation. Usage: mpiexec -n 2 consumer_mpi_c DIR */
#include <softrwlock_mpi.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    int rank, bad = 0, total = 0;
    char path[512];
    srwl_lock *lock;
    uint64_t gen = 0, lo = 0, hi = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    snprintf(path, sizeof path, "%s/consumer-mpi-c", argc > 1 ? argv[1] : "/tmp");
    bad |= srwl_mpi_open(path, NULL, MPI_COMM_WORLD, &lock) != SRWL_OK;
    bad |= srwl_mpi_acquire_write(lock, MPI_COMM_WORLD, 30, &gen) != SRWL_OK;
    MPI_Allreduce(&gen, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&gen, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    bad |= lo != hi || gen == 0;
    bad |= srwl_mpi_release(lock, MPI_COMM_WORLD) != SRWL_OK;
    bad |= srwl_mpi_close(lock, MPI_COMM_WORLD) != SRWL_OK;
    MPI_Allreduce(&bad, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("consumer_mpi_c: generation %llu on every rank, %d failure(s)\n", (unsigned long long)gen, total);
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
