! The Fortran MPI collectives of the installed package (module softrwlock_mpi): the job takes
! the write lock as one participant; every rank must see the same generation.
! Usage: mpiexec -n 2 consumer_mpi_f DIR
program consumer_mpi_f
    use, intrinsic :: iso_c_binding, only: c_int64_t
    use mpi
    use softrwlock
    use softrwlock_mpi
    implicit none
    type(srwl_lock_t) :: lock
    integer :: rank, ierr, bad, total
    integer(c_int64_t) :: gen, lo, hi
    character(len=4096) :: dir
    call MPI_Init(ierr)
    call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
    dir = '/tmp'
    if (command_argument_count() >= 1) call get_command_argument(1, dir)
    bad = 0
    if (srwl_mpi_open(lock, trim(dir) // '/consumer-mpi-f', MPI_COMM_WORLD) /= SRWL_OK) bad = bad + 1
    if (srwl_mpi_acquire_write(lock, MPI_COMM_WORLD, 30, gen) /= SRWL_OK) bad = bad + 1
    call MPI_Allreduce(gen, lo, 1, MPI_INTEGER8, MPI_MIN, MPI_COMM_WORLD, ierr)
    call MPI_Allreduce(gen, hi, 1, MPI_INTEGER8, MPI_MAX, MPI_COMM_WORLD, ierr)
    if (lo /= hi .or. gen == 0) bad = bad + 1
    if (srwl_mpi_release(lock, MPI_COMM_WORLD) /= SRWL_OK) bad = bad + 1
    if (srwl_mpi_close(lock, MPI_COMM_WORLD) /= SRWL_OK) bad = bad + 1
    call MPI_Allreduce(bad, total, 1, MPI_INTEGER, MPI_SUM, MPI_COMM_WORLD, ierr)
    if (rank == 0) print '(a,i0,a,i0,a)', 'consumer_mpi_f: generation ', gen, ' on every rank, ', total, ' failure(s)'
    call MPI_Finalize(ierr)
    if (total /= 0) stop 1
end program consumer_mpi_f
