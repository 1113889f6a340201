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
!> Every function is collective over `comm`: an integer communicator (`use mpi`) or, where the
!> MPI library has the module mpi_f08, a type(MPI_Comm). `lock` is significant at rank 0 only.
!> Timeouts in seconds as in the softrwlock module: omitted waits forever; real(c_double),
!> default real or integer (any other type is SRWL_EINVAL). The optional `generation` receives
!> the fencing token of the hold on every rank (0 unless SRWL_OK). A failed MPI call returns
!> SRWL_EIO. srwl_last_error_f() has the message on rank 0.
!>
!> Preprocessed (.F90): SRWL_HAVE_MPI_F08 adds the type(MPI_Comm) forms.
module softrwlock_mpi
    use, intrinsic :: iso_c_binding, only: c_double, c_float, c_int64_t
    use mpi
#ifdef SRWL_HAVE_MPI_F08
    use mpi_f08, only: srwl_f08_comm => MPI_Comm
#endif
    use softrwlock
    implicit none
    private

    !> st = srwl_mpi_open(lock, path, comm [, options])
    interface srwl_mpi_open
        module procedure open_int
#ifdef SRWL_HAVE_MPI_F08
        module procedure open_f08
#endif
    end interface srwl_mpi_open
    !> st = srwl_mpi_acquire_read(lock, comm [, timeout] [, generation])
    interface srwl_mpi_acquire_read
        module procedure read_int
#ifdef SRWL_HAVE_MPI_F08
        module procedure read_f08
#endif
    end interface srwl_mpi_acquire_read
    !> st = srwl_mpi_acquire_write(lock, comm [, timeout] [, generation])
    interface srwl_mpi_acquire_write
        module procedure write_int
#ifdef SRWL_HAVE_MPI_F08
        module procedure write_f08
#endif
    end interface srwl_mpi_acquire_write
    !> st = srwl_mpi_release(lock, comm): a barrier, then rank 0 releases
    interface srwl_mpi_release
        module procedure release_int
#ifdef SRWL_HAVE_MPI_F08
        module procedure release_f08
#endif
    end interface srwl_mpi_release
    !> st = srwl_mpi_check(lock, comm): srwl_check at rank 0, its status everywhere
    interface srwl_mpi_check
        module procedure check_int
#ifdef SRWL_HAVE_MPI_F08
        module procedure check_f08
#endif
    end interface srwl_mpi_check
    !> st = srwl_mpi_close(lock, comm): closes rank 0's handle (releasing a hold first)
    interface srwl_mpi_close
        module procedure close_int
#ifdef SRWL_HAVE_MPI_F08
        module procedure close_f08
#endif
    end interface srwl_mpi_close
    public :: srwl_mpi_open, srwl_mpi_acquire_read, srwl_mpi_acquire_write, srwl_mpi_release, &
        srwl_mpi_check, srwl_mpi_close

    integer, parameter :: OP_OPEN = 1, OP_READ = 2, OP_WRITE = 3, OP_RELEASE = 4, OP_CHECK = 5, &
        OP_CLOSE = 6

contains

    !> The one implementation: rank 0 does `op`, then broadcasts (status, generation).
    function collective(op, lock, comm, path, options, timeout, generation) result(st)
        integer, intent(in) :: op
        type(srwl_lock_t), intent(inout) :: lock
        integer, intent(in) :: comm
        character(len=*), intent(in), optional :: path
        type(srwl_options_t), intent(in), optional :: options
        class(*), intent(in), optional :: timeout
        integer(c_int64_t), intent(out), optional :: generation
        integer :: st, rank, ierr
        integer(c_int64_t) :: buf(2)
        real(c_double) :: seconds
        st = SRWL_OK
        buf = 0
        if (present(generation)) generation = 0
        call MPI_Comm_rank(comm, rank, ierr)
        if (ierr /= MPI_SUCCESS) then
            st = SRWL_EIO
            return
        end if
        if (op == OP_RELEASE) then
            call MPI_Barrier(comm, ierr)
            if (ierr /= MPI_SUCCESS) then
                st = SRWL_EIO
                return
            end if
        end if
        if (rank == 0) then
            select case (op)
            case (OP_OPEN)
                st = srwl_open(lock, path, options)
            case (OP_READ, OP_WRITE)
                st = seconds_of(timeout, seconds)
                if (st == SRWL_OK .and. op == OP_READ) st = srwl_acquire_read(lock, seconds)
                if (st == SRWL_OK .and. op == OP_WRITE) st = srwl_acquire_write(lock, seconds)
                if (st == SRWL_OK) then
                    if (srwl_generation(lock, buf(2)) /= SRWL_OK) buf(2) = 0
                end if
            case (OP_RELEASE)
                st = srwl_release(lock)
            case (OP_CHECK)
                st = srwl_check(lock)
            case (OP_CLOSE)
                st = srwl_close(lock)
            end select
        end if
        buf(1) = int(st, c_int64_t)
        call MPI_Bcast(buf, 2, MPI_INTEGER8, 0, comm, ierr)
        if (ierr /= MPI_SUCCESS) then
            st = SRWL_EIO
            return
        end if
        st = int(buf(1))
        if (present(generation)) generation = buf(2)
    end function collective

    !> A timeout of any supported kind, in seconds (omitted: forever).
    function seconds_of(timeout, seconds) result(st)
        class(*), intent(in), optional :: timeout
        real(c_double), intent(out) :: seconds
        integer :: st
        st = SRWL_OK
        seconds = SRWL_FOREVER
        if (.not. present(timeout)) return
        select type (timeout)
        type is (real(c_double))
            seconds = timeout
        type is (real(c_float))
            seconds = real(timeout, c_double)
        type is (integer)
            seconds = real(timeout, c_double)
        class default
            st = SRWL_EINVAL
        end select
    end function seconds_of

    function open_int(lock, path, comm, options) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        character(len=*), intent(in) :: path
        integer, intent(in) :: comm
        type(srwl_options_t), intent(in), optional :: options
        integer :: st
        st = collective(OP_OPEN, lock, comm, path=path, options=options)
    end function open_int

    function read_int(lock, comm, timeout, generation) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        integer, intent(in) :: comm
        class(*), intent(in), optional :: timeout
        integer(c_int64_t), intent(out), optional :: generation
        integer :: st
        st = collective(OP_READ, lock, comm, timeout=timeout, generation=generation)
    end function read_int

    function write_int(lock, comm, timeout, generation) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        integer, intent(in) :: comm
        class(*), intent(in), optional :: timeout
        integer(c_int64_t), intent(out), optional :: generation
        integer :: st
        st = collective(OP_WRITE, lock, comm, timeout=timeout, generation=generation)
    end function write_int

    function release_int(lock, comm) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        integer, intent(in) :: comm
        integer :: st
        st = collective(OP_RELEASE, lock, comm)
    end function release_int

    function check_int(lock, comm) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        integer, intent(in) :: comm
        integer :: st
        st = collective(OP_CHECK, lock, comm)
    end function check_int

    function close_int(lock, comm) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        integer, intent(in) :: comm
        integer :: st
        st = collective(OP_CLOSE, lock, comm)
    end function close_int

#ifdef SRWL_HAVE_MPI_F08
    function open_f08(lock, path, comm, options) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        character(len=*), intent(in) :: path
        type(srwl_f08_comm), intent(in) :: comm
        type(srwl_options_t), intent(in), optional :: options
        integer :: st
        st = collective(OP_OPEN, lock, comm%MPI_VAL, path=path, options=options)
    end function open_f08

    function read_f08(lock, comm, timeout, generation) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        type(srwl_f08_comm), intent(in) :: comm
        class(*), intent(in), optional :: timeout
        integer(c_int64_t), intent(out), optional :: generation
        integer :: st
        st = collective(OP_READ, lock, comm%MPI_VAL, timeout=timeout, generation=generation)
    end function read_f08

    function write_f08(lock, comm, timeout, generation) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        type(srwl_f08_comm), intent(in) :: comm
        class(*), intent(in), optional :: timeout
        integer(c_int64_t), intent(out), optional :: generation
        integer :: st
        st = collective(OP_WRITE, lock, comm%MPI_VAL, timeout=timeout, generation=generation)
    end function write_f08

    function release_f08(lock, comm) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        type(srwl_f08_comm), intent(in) :: comm
        integer :: st
        st = collective(OP_RELEASE, lock, comm%MPI_VAL)
    end function release_f08

    function check_f08(lock, comm) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        type(srwl_f08_comm), intent(in) :: comm
        integer :: st
        st = collective(OP_CHECK, lock, comm%MPI_VAL)
    end function check_f08

    function close_f08(lock, comm) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        type(srwl_f08_comm), intent(in) :: comm
        integer :: st
        st = collective(OP_CLOSE, lock, comm%MPI_VAL)
    end function close_f08
#endif

end module softrwlock_mpi
