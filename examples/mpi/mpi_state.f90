!> mpi_state.f90: MPI ranks sharing a state file under libsoftrwlock (Fortran version of
!> mpi_state.c, same file format: both programs can run in one job).
!>
!>   mpiexec -n 8 ./mpi_state_f [STATE_FILE] [ITERATIONS]
!>
!> Every rank opens its own handle on STATE_FILE and, for ITERATIONS rounds, reads the file
!> under the read lock and verifies it; ranks 0, 3, 6, ... also update it under the write
!> lock every third round. At the end rank 0 checks that the file's counter equals the
!> number of updates of all ranks (MPI_Reduce). The file holds 64-bit integers:
!>   magic, counter, generation, payload(0:N-1), checksum
!> payload(i) = mod(counter * 7919 + i * 104729, 2147483647),
!> checksum = counter + 3 * generation + sum((i + 1) * payload(i)).
program mpi_state
    use, intrinsic :: iso_c_binding, only: c_double, c_int64_t, c_int
    use, intrinsic :: iso_fortran_env, only: int64, error_unit, output_unit
    use mpi
    use softrwlock
    implicit none

    integer, parameter :: n = 500
    integer(int64), parameter :: magic = int(z'5352574C', int64)
    integer :: rank, nranks, ierr, st, it, iterations
    integer :: errors, total_errors, updates, total_updates, reads, total_reads
    logical :: writer
    character(len=4096) :: arg
    character(len=:), allocatable :: path
    type(srwl_lock_t) :: lock
    integer(int64) :: counter, generation, payload(0:n - 1), sum_check, last_seen
    integer(c_int64_t) :: g
    real :: r

    call MPI_Init(ierr)
    call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
    call MPI_Comm_size(MPI_COMM_WORLD, nranks, ierr)
    path = 'mpi-state.dat'
    iterations = 30
    if (command_argument_count() >= 1) then
        call get_command_argument(1, arg)
        path = trim(arg)
    end if
    if (command_argument_count() >= 2) then
        call get_command_argument(2, arg)
        read (arg, *) iterations
    end if
    writer = mod(rank, 3) == 0
    errors = 0
    updates = 0
    reads = 0
    last_seen = 0
    counter = -1

    ! Short intervals; a stale threshold generous enough for 8 ranks on 2 cores.
    st = srwl_open(lock, path, srwl_make_options(heartbeat_interval=0.5_c_double, &
        stale_threshold=10.0_c_double, poll_interval=0.05_c_double))
    call check_status(st, 'srwl_open')

    if (rank == 0 .and. errors == 0) then
        st = srwl_acquire_write(lock, 60)
        call check_status(st, 'srwl_acquire_write (init)')
        if (st == SRWL_OK) then
            call check_status(srwl_generation(lock, g), 'srwl_generation (init)')
            call write_state(0_int64, int(g, int64), .true.)
            call check_status(srwl_release(lock), 'srwl_release (init)')
        end if
    end if

    call MPI_Barrier(MPI_COMM_WORLD, ierr)
    call MPI_Allreduce(errors, total_errors, 1, MPI_INTEGER, MPI_SUM, MPI_COMM_WORLD, ierr)

    if (total_errors == 0) then
        do it = 0, iterations - 1
            if (errors /= 0) exit
            if (writer .and. mod(it, 3) == 1) then
                st = srwl_acquire_write(lock, 120)
                if (st /= SRWL_OK) then
                    call check_status(st, 'srwl_acquire_write')
                    exit
                end if
                st = srwl_generation(lock, g)
                call check_status(st, 'srwl_generation (write)')
                if (st == SRWL_OK .and. read_state()) then
                    if (g <= generation) call fail('write grant generation not above the file''s')
                    call write_state(counter + 1, int(g, int64), .false.)
                    updates = updates + 1
                    last_seen = counter + 1
                end if
                call check_status(srwl_check(lock), 'srwl_check')
            else
                st = srwl_acquire_read(lock, 120)
                if (st /= SRWL_OK) then
                    call check_status(st, 'srwl_acquire_read')
                    exit
                end if
                st = srwl_generation(lock, g)
                call check_status(st, 'srwl_generation (read)')
                if (st == SRWL_OK .and. read_state()) then
                    if (counter < last_seen) call fail('the counter went back')
                    if (g /= generation) call fail('read hold generation differs from the last writer''s')
                    last_seen = counter
                    reads = reads + 1
                end if
            end if
            call check_status(srwl_release(lock), 'srwl_release')
            call random_number(r)
            call sleep_ms(int(r * 4))
        end do
    end if

    call MPI_Barrier(MPI_COMM_WORLD, ierr)
    call MPI_Reduce(updates, total_updates, 1, MPI_INTEGER, MPI_SUM, 0, MPI_COMM_WORLD, ierr)
    call MPI_Reduce(reads, total_reads, 1, MPI_INTEGER, MPI_SUM, 0, MPI_COMM_WORLD, ierr)
    if (rank == 0 .and. srwl_is_open(lock)) then
        st = srwl_acquire_read(lock, 60)
        call check_status(st, 'srwl_acquire_read (final)')
        if (st == SRWL_OK) then
            if (read_state()) then
                if (counter /= total_updates) call fail('the file''s counter differs from the number of updates')
            end if
            call check_status(srwl_release(lock), 'srwl_release (final)')
        end if
        write (output_unit, '(a,i0,a,i0,a,i0,a,i0)') 'mpi_state_f: ', nranks, ' ranks, ', &
            total_updates, ' updates, ', total_reads, ' verified reads, counter ', counter
    end if
    call check_status(srwl_close(lock), 'srwl_close')
    call MPI_Allreduce(errors, total_errors, 1, MPI_INTEGER, MPI_SUM, MPI_COMM_WORLD, ierr)
    if (rank == 0) write (output_unit, '(i0,a)') total_errors, ' error(s)'
    call MPI_Finalize(ierr)
    if (total_errors /= 0) error stop 1

contains

    subroutine fail(what)
        character(len=*), intent(in) :: what
        write (error_unit, '(a,i0,a)') 'rank ', rank, ': ' // what
        errors = errors + 1
    end subroutine fail

    subroutine check_status(status, what)
        integer, intent(in) :: status
        character(len=*), intent(in) :: what
        if (status /= SRWL_OK) then
            call fail(what // ': ' // srwl_status_name_f(status) // ': ' // srwl_last_error_f())
        end if
    end subroutine check_status

    integer(int64) function expected(c, i)
        integer(int64), intent(in) :: c
        integer, intent(in) :: i
        expected = mod(c * 7919_int64 + int(i, int64) * 104729_int64, 2147483647_int64)
    end function expected

    integer(int64) function checksum_of(c, gen, p)
        integer(int64), intent(in) :: c, gen, p(0:n - 1)
        integer :: i
        checksum_of = c + 3 * gen
        do i = 0, n - 1
            checksum_of = checksum_of + int(i + 1, int64) * p(i)
        end do
    end function checksum_of

    !> Reads and verifies the state into counter, generation, payload; .true. if whole.
    logical function read_state()
        integer :: u, ios, i
        integer(int64) :: m
        read_state = .false.
        open (newunit=u, file=path, access='stream', form='unformatted', status='old', &
            action='read', iostat=ios)
        if (ios /= 0) then
            call fail('open ' // path // ' for reading failed')
            return
        end if
        read (u, iostat=ios) m, counter, generation, payload, sum_check
        close (u)
        if (ios /= 0) then
            call fail('read ' // path // ' failed')
            return
        end if
        if (m /= magic) then
            call fail('bad magic')
            return
        end if
        do i = 0, n - 1
            if (payload(i) /= expected(counter, i)) then
                call fail('torn state: payload does not match the counter')
                return
            end if
        end do
        if (sum_check /= checksum_of(counter, generation, payload)) then
            call fail('bad checksum')
            return
        end if
        read_state = .true.
    end function read_state

    !> Writes a new state in place, in three pieces (header, payload, checksum).
    subroutine write_state(c, gen, create)
        integer(int64), intent(in) :: c, gen
        logical, intent(in) :: create
        integer(int64) :: p(0:n - 1)
        integer :: u, ios, i
        do i = 0, n - 1
            p(i) = expected(c, i)
        end do
        if (create) then
            open (newunit=u, file=path, access='stream', form='unformatted', status='replace', &
                action='write', iostat=ios)
        else
            open (newunit=u, file=path, access='stream', form='unformatted', status='old', &
                action='readwrite', iostat=ios)
        end if
        if (ios /= 0) then
            call fail('open ' // path // ' for writing failed')
            return
        end if
        write (u, pos=1, iostat=ios) magic, c, gen
        flush (u)
        if (ios == 0) write (u, iostat=ios) p
        flush (u)
        if (ios == 0) write (u, iostat=ios) checksum_of(c, gen, p)
        close (u)
        if (ios /= 0) call fail('write ' // path // ' failed')
    end subroutine write_state

    subroutine sleep_ms(ms)
        integer, intent(in) :: ms
        interface
            integer(c_int) function usleep(us) bind(c, name='usleep')
                import :: c_int
                integer(c_int), value :: us
            end function usleep
        end interface
        integer(c_int) :: rc
        rc = usleep(int(ms * 1000, c_int))
    end subroutine sleep_ms

end program mpi_state
