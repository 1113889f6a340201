!> softrwlock_mpi: MPI collectives over the softrwlock module (the Fortran side of
!> include/softrwlock_mpi.h). A job of N ranks is one participant of the lock, not N: rank 0 of
!> the communicator opens the handle and acquires, then broadcasts the status and the
!> generation, so every rank returns the same status and the lock holds one record on disk.
!>
!>   use softrwlock
!>   use softrwlock_mpi
!>   type(srwl_lock_t) :: lock                      ! open at rank 0 only
!>   integer(c_int64_t) :: gen
!>   st = srwl_mpi_open(lock, '/scratch/state.dat', MPI_COMM_WORLD)
!>   st = srwl_mpi_acquire_write(lock, MPI_COMM_WORLD, 60.0, gen)
!>   ... every rank works under the hold ...
!>   st = srwl_mpi_release(lock, MPI_COMM_WORLD)   ! a barrier, then rank 0 releases
!>   st = srwl_mpi_close(lock, MPI_COMM_WORLD)
!>
!> Every function is collective over `comm` (an integer communicator of `use mpi`; with
!> mpi_f08 pass comm%MPI_VAL). `lock` is significant at rank 0 only. Timeouts as in the
!> softrwlock module (omitted: wait forever; real(c_double), default real or integer). The
!> optional `generation` receives the fencing token of the hold on every rank (0 unless
!> SRWL_OK). A failed MPI call returns SRWL_EIO. srwl_last_error_f() has the message on rank 0.
module softrwlock_mpi
    use, intrinsic :: iso_c_binding, only: c_double, c_float, c_int64_t
    use mpi
    use softrwlock
    implicit none
    private

    public :: srwl_mpi_open, srwl_mpi_close, srwl_mpi_release, srwl_mpi_check

    !> st = srwl_mpi_acquire_read(lock, comm [, timeout] [, generation])
    !> st = srwl_mpi_acquire_write(lock, comm [, timeout] [, generation])
    interface srwl_mpi_acquire_read
        module procedure read_forever, read_double, read_float, read_int
    end interface srwl_mpi_acquire_read
    interface srwl_mpi_acquire_write
        module procedure write_forever, write_double, write_float, write_int
    end interface srwl_mpi_acquire_write
    public :: srwl_mpi_acquire_read, srwl_mpi_acquire_write

contains

    !> Rank 0 broadcasts (status, generation); every rank returns the status.
    function share(comm, status, generation) result(st)
        integer, intent(in) :: comm, status
        integer(c_int64_t), intent(inout) :: generation
        integer :: st, ierr
        integer(c_int64_t) :: buf(2)
        buf = [int(status, c_int64_t), generation]
        call MPI_Bcast(buf, 2, MPI_INTEGER8, 0, comm, ierr)
        if (ierr /= MPI_SUCCESS) then
            st = SRWL_EIO
            return
        end if
        st = int(buf(1))
        generation = buf(2)
    end function share

    integer function rank_of(comm)
        integer, intent(in) :: comm
        integer :: ierr
        call MPI_Comm_rank(comm, rank_of, ierr)
        if (ierr /= MPI_SUCCESS) rank_of = -1
    end function rank_of

    !> Opens the lock at rank 0 (options as srwl_open); the other ranks' lock stays closed.
    function srwl_mpi_open(lock, path, comm, options) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        character(len=*), intent(in) :: path
        integer, intent(in) :: comm
        type(srwl_options_t), intent(in), optional :: options
        integer :: st, rank
        integer(c_int64_t) :: unused
        st = SRWL_OK
        unused = 0
        rank = rank_of(comm)
        if (rank < 0) then
            st = SRWL_EIO
            return
        end if
        if (rank == 0) st = srwl_open(lock, path, options)
        st = share(comm, st, unused)
    end function srwl_mpi_open

    function acquire(lock, comm, write, timeout, generation) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer, intent(in) :: comm
        logical, intent(in) :: write
        real(c_double), intent(in) :: timeout
        integer(c_int64_t), intent(out), optional :: generation
        integer :: st, rank
        integer(c_int64_t) :: gen
        st = SRWL_OK
        gen = 0
        rank = rank_of(comm)
        if (rank < 0) then
            st = SRWL_EIO
            if (present(generation)) generation = 0
            return
        end if
        if (rank == 0) then
            if (write) then
                st = srwl_acquire_write(lock, timeout)
            else
                st = srwl_acquire_read(lock, timeout)
            end if
            if (st == SRWL_OK) then
                if (srwl_generation(lock, gen) /= SRWL_OK) gen = 0
            end if
        end if
        st = share(comm, st, gen)
        if (present(generation)) generation = gen
    end function acquire

    function read_forever(lock, comm, generation) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer, intent(in) :: comm
        integer(c_int64_t), intent(out), optional :: generation
        integer :: st
        st = acquire(lock, comm, .false., SRWL_FOREVER, generation)
    end function read_forever

    function read_double(lock, comm, timeout, generation) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer, intent(in) :: comm
        real(c_double), intent(in) :: timeout
        integer(c_int64_t), intent(out), optional :: generation
        integer :: st
        st = acquire(lock, comm, .false., timeout, generation)
    end function read_double

    function read_float(lock, comm, timeout, generation) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer, intent(in) :: comm
        real(c_float), intent(in) :: timeout
        integer(c_int64_t), intent(out), optional :: generation
        integer :: st
        st = acquire(lock, comm, .false., real(timeout, c_double), generation)
    end function read_float

    function read_int(lock, comm, timeout, generation) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer, intent(in) :: comm
        integer, intent(in) :: timeout
        integer(c_int64_t), intent(out), optional :: generation
        integer :: st
        st = acquire(lock, comm, .false., real(timeout, c_double), generation)
    end function read_int

    function write_forever(lock, comm, generation) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer, intent(in) :: comm
        integer(c_int64_t), intent(out), optional :: generation
        integer :: st
        st = acquire(lock, comm, .true., SRWL_FOREVER, generation)
    end function write_forever

    function write_double(lock, comm, timeout, generation) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer, intent(in) :: comm
        real(c_double), intent(in) :: timeout
        integer(c_int64_t), intent(out), optional :: generation
        integer :: st
        st = acquire(lock, comm, .true., timeout, generation)
    end function write_double

    function write_float(lock, comm, timeout, generation) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer, intent(in) :: comm
        real(c_float), intent(in) :: timeout
        integer(c_int64_t), intent(out), optional :: generation
        integer :: st
        st = acquire(lock, comm, .true., real(timeout, c_double), generation)
    end function write_float

    function write_int(lock, comm, timeout, generation) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer, intent(in) :: comm
        integer, intent(in) :: timeout
        integer(c_int64_t), intent(out), optional :: generation
        integer :: st
        st = acquire(lock, comm, .true., real(timeout, c_double), generation)
    end function write_int

    !> A barrier, then rank 0 releases; every rank returns its status (SRWL_ELOST: lost).
    function srwl_mpi_release(lock, comm) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer, intent(in) :: comm
        integer :: st, rank, ierr
        integer(c_int64_t) :: unused
        st = SRWL_OK
        unused = 0
        rank = rank_of(comm)
        call MPI_Barrier(comm, ierr)
        if (rank < 0 .or. ierr /= MPI_SUCCESS) then
            st = SRWL_EIO
            return
        end if
        if (rank == 0) st = srwl_release(lock)
        st = share(comm, st, unused)
    end function srwl_mpi_release

    !> srwl_check at rank 0, its status on every rank.
    function srwl_mpi_check(lock, comm) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer, intent(in) :: comm
        integer :: st, rank
        integer(c_int64_t) :: unused
        st = SRWL_OK
        unused = 0
        rank = rank_of(comm)
        if (rank < 0) then
            st = SRWL_EIO
            return
        end if
        if (rank == 0) st = srwl_check(lock)
        st = share(comm, st, unused)
    end function srwl_mpi_check

    !> Closes rank 0's handle (releasing a hold first); every rank returns its status.
    function srwl_mpi_close(lock, comm) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        integer, intent(in) :: comm
        integer :: st, rank
        integer(c_int64_t) :: unused
        st = SRWL_OK
        unused = 0
        rank = rank_of(comm)
        if (rank < 0) then
            st = SRWL_EIO
            return
        end if
        if (rank == 0) st = srwl_close(lock)
        st = share(comm, st, unused)
    end function srwl_mpi_close

end module softrwlock_mpi
