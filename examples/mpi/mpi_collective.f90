! mpi_collective.f90: a whole MPI job as one participant of a lock (module softrwlock_mpi).
!
!   mpiexec -n 8 ./mpi_collective_f LOCK_PATH
!
! Rank 0 opens the lock and acquires for the job; every rank gets the same status and the same
! generation; the release waits for every rank. Checked on every rank: the same status and
! generation everywhere, another participant (a handle of the last rank's own) kept out while
! the job holds, and a job that cannot get the lock in time returns SRWL_TIMEOUT everywhere.
! Any failure prints "rank N: ..." and exits 1. Written with mpi_f08 (type(MPI_Comm)); the
! collectives take an integer communicator of `use mpi` as well.
program mpi_collective_f
    use, intrinsic :: iso_c_binding, only: c_int64_t
    use mpi_f08
    use softrwlock
    use softrwlock_mpi
    implicit none

    type(srwl_lock_t) :: lock, other
    type(srwl_options_t) :: opts
    integer :: rank, nranks, errors, total, other_rank
    integer(c_int64_t) :: gen, gen_read, none
    character(len=4096) :: path

    call MPI_Init()
    call MPI_Comm_rank(MPI_COMM_WORLD, rank)
    call MPI_Comm_size(MPI_COMM_WORLD, nranks)
    errors = 0
    if (command_argument_count() < 1) then
        if (rank == 0) print '(a)', 'usage: mpi_collective_f LOCK_PATH'
        call MPI_Finalize()
        stop 2
    end if
    call get_command_argument(1, path)    ! blank-padded: the module drops trailing blanks
    other_rank = nranks - 1
    opts = srwl_make_options(heartbeat_interval=0.5d0, stale_threshold=10d0, poll_interval=0.05d0)

    call expect(srwl_mpi_open(lock, path, MPI_COMM_WORLD, opts), SRWL_OK, 'srwl_mpi_open')
    if ((rank == 0) .neqv. srwl_is_open(lock)) call fail('srwl_mpi_open: handle open on the wrong rank')
    if (rank == other_rank) call expect(srwl_open(other, path, opts), SRWL_OK, 'srwl_open (other)')

    call expect(srwl_mpi_acquire_read(lock, MPI_COMM_WORLD, 60, gen_read), SRWL_OK, 'srwl_mpi_acquire_read')
    call same_everywhere(gen_read, 'the read generation')
    call MPI_Barrier(MPI_COMM_WORLD)
    if (rank == other_rank) call expect(srwl_acquire_write(other, 0), SRWL_TIMEOUT, 'other writes during the job''s read')
    call expect(srwl_mpi_check(lock, MPI_COMM_WORLD), SRWL_OK, 'srwl_mpi_check')
    call expect(srwl_mpi_release(lock, MPI_COMM_WORLD), SRWL_OK, 'srwl_mpi_release (read)')

    call expect(srwl_mpi_acquire_write(lock, MPI_COMM_WORLD, 60.0, gen), SRWL_OK, 'srwl_mpi_acquire_write')
    call same_everywhere(gen, 'the write generation')
    if (gen <= gen_read) call fail('the write generation is not above the read one')
    call MPI_Barrier(MPI_COMM_WORLD)
    if (rank == other_rank) call expect(srwl_acquire_read(other, 0), SRWL_TIMEOUT, 'other reads during the job''s write')
    call expect(srwl_mpi_release(lock, MPI_COMM_WORLD), SRWL_OK, 'srwl_mpi_release (write)')

    if (rank == other_rank) call expect(srwl_acquire_write(other, 60), SRWL_OK, 'other writes')
    call MPI_Barrier(MPI_COMM_WORLD)
    none = 12345
    call expect(srwl_mpi_acquire_read(lock, MPI_COMM_WORLD, 0.2d0, none), SRWL_TIMEOUT, &
        'srwl_mpi_acquire_read while another participant writes')
    if (none /= 0) call fail('a timed-out collective acquire gave a generation')
    call MPI_Barrier(MPI_COMM_WORLD)
    if (rank == other_rank) then
        call expect(srwl_release(other), SRWL_OK, 'other releases')
        call expect(srwl_close(other), SRWL_OK, 'other closes')
    end if
    call expect(srwl_mpi_acquire_read(lock, MPI_COMM_WORLD, .true.), SRWL_EINVAL, 'a logical timeout')
    call expect(srwl_mpi_release(lock, MPI_COMM_WORLD), SRWL_ESTATE, 'srwl_mpi_release with no hold')
    call expect(srwl_mpi_close(lock, MPI_COMM_WORLD), SRWL_OK, 'srwl_mpi_close')

    call MPI_Allreduce(errors, total, 1, MPI_INTEGER, MPI_SUM, MPI_COMM_WORLD)
    if (rank == 0) print '(a,i0,a,i0,a,i0,a,i0,a)', 'mpi_collective_f: ', nranks, &
        ' ranks as one participant, read generation ', gen_read, ', write generation ', gen, ', ', &
        total, ' error(s)'
    call MPI_Finalize()
    if (total /= 0) stop 1

contains

    subroutine fail(what)
        character(len=*), intent(in) :: what
        print '(a,i0,a)', 'rank ', rank, ': ' // what
        errors = errors + 1
    end subroutine fail

    subroutine expect(got, want, what)
        integer, intent(in) :: got, want
        character(len=*), intent(in) :: what
        if (got /= want) call fail(what // ': ' // srwl_status_name_f(got) // ', expected ' // &
            srwl_status_name_f(want))
    end subroutine expect

    subroutine same_everywhere(v, what)
        integer(c_int64_t), intent(in) :: v
        character(len=*), intent(in) :: what
        integer(c_int64_t) :: lo, hi
        call MPI_Allreduce(v, lo, 1, MPI_INTEGER8, MPI_MIN, MPI_COMM_WORLD)
        call MPI_Allreduce(v, hi, 1, MPI_INTEGER8, MPI_MAX, MPI_COMM_WORLD)
        if (lo /= hi) call fail(what // ' differs between ranks')
    end subroutine same_everywhere

end program mpi_collective_f
