!> basic.f90: the Fortran module softrwlock in one page.
!>
!>   ./basic_fortran [DATA_FILE]        (default: basic-example-f.dat)
!>
!> Appends a line to a data file under the write lock, reads it back under the read lock,
!> and prints the library's message for a failure (a timeout on a second handle).
program basic
    use, intrinsic :: iso_c_binding, only: c_double, c_int64_t
    use softrwlock
    implicit none
    type(srwl_lock_t) :: lock, other
    integer :: st, u, ios, lines
    integer(c_int64_t) :: gen
    character(len=4096) :: arg
    character(len=256) :: line, last
    character(len=:), allocatable :: path

    path = 'basic-example-f.dat'
    if (command_argument_count() >= 1) then
        call get_command_argument(1, arg)
        path = trim(arg)
    end if

    ! Heartbeat 1 s; stale threshold (3 s) and poll interval (0.5 s) follow from it.
    st = srwl_open(lock, path, srwl_make_options(heartbeat_interval=1.0_c_double))
    if (st /= SRWL_OK) call die('srwl_open', st)

    st = srwl_acquire_write(lock, 30.0)          ! wait at most 30 s
    if (st /= SRWL_OK) call die('srwl_acquire_write', st)
    st = srwl_generation(lock, gen)              ! the fencing token of this grant
    if (st /= SRWL_OK) call die('srwl_generation', st)
    open (newunit=u, file=path, position='append', action='write')
    write (u, '(a,i0)') 'written under write grant ', gen
    close (u)
    st = srwl_release(lock)
    if (st /= SRWL_OK) call die('srwl_release', st)

    st = srwl_acquire_read(lock)                 ! no timeout: wait forever
    if (st /= SRWL_OK) call die('srwl_acquire_read', st)
    lines = 0
    open (newunit=u, file=path, action='read')
    do
        read (u, '(a)', iostat=ios) line
        if (ios /= 0) exit
        lines = lines + 1
        last = line
    end do
    close (u)
    print '(a,i0,a)', path // ': ', lines, ' line(s); last: ' // trim(last)

    ! A second handle cannot write while the first reads: SRWL_TIMEOUT at once.
    st = srwl_open(other, path, srwl_make_options(heartbeat_interval=1.0_c_double))
    if (st /= SRWL_OK) call die('srwl_open (other)', st)
    st = srwl_acquire_write(other, 0)
    if (st /= SRWL_TIMEOUT) call die('srwl_acquire_write (other)', st)
    print '(a)', 'as expected: ' // srwl_status_name_f(st) // ': ' // srwl_last_error_f()
    st = srwl_close(other)

    st = srwl_release(lock)
    if (st /= SRWL_OK) call die('srwl_release', st)
    st = srwl_close(lock)
    if (st /= SRWL_OK) call die('srwl_close', st)
    print '(a)', 'libsoftrwlock ' // srwl_version_f() // ': ok'

contains

    subroutine die(what, status)
        character(len=*), intent(in) :: what
        integer, intent(in) :: status
        print '(a)', 'basic_fortran: ' // what // ': ' // srwl_status_str_f(status) // ': ' &
            // srwl_last_error_f()
        error stop 1
    end subroutine die

end program basic
