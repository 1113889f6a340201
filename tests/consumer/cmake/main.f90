! Locks, unlocks and prints the version from Fortran (module softrwlock of the installed package).
program consumer_f
    use softrwlock
    implicit none
    type(srwl_lock_t) :: lock
    integer :: st
    character(len=4096) :: dir
    character(len=32) :: pid

    dir = '/tmp'
    if (command_argument_count() >= 1) call get_command_argument(1, dir)
    write (pid, '(i0)') getpid_f()
    st = srwl_open(lock, trim(dir) // '/consumer-f-' // trim(pid))
    if (st /= SRWL_OK) call die('srwl_open', st)
    st = srwl_acquire_write(lock, 5.0)
    if (st /= SRWL_OK) call die('srwl_acquire_write', st)
    st = srwl_release(lock)
    if (st /= SRWL_OK) call die('srwl_release', st)
    st = srwl_close(lock)
    if (st /= SRWL_OK) call die('srwl_close', st)
    print '(a)', 'softrwlock ' // srwl_version_f() // ' (Fortran): locked and unlocked'
contains
    integer function getpid_f()
        interface
            function c_getpid() bind(c, name='getpid')
                use, intrinsic :: iso_c_binding, only: c_int
                integer(c_int) :: c_getpid
            end function c_getpid
        end interface
        getpid_f = int(c_getpid())
    end function getpid_f
    subroutine die(what, st)
        character(len=*), intent(in) :: what
        integer, intent(in) :: st
        print '(a)', what // ': ' // srwl_status_name_f(st) // ': ' // srwl_last_error_f()
        error stop 1
    end subroutine die
end program consumer_f
