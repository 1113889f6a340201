!> Tests of the Fortran module softrwlock.
!> Usage: test_softrwlock [DIR]   (lock files are made under DIR, default the current directory)
program test_softrwlock
    use, intrinsic :: iso_c_binding, only: c_double, c_int64_t
    use softrwlock
    implicit none

    type(srwl_lock_t) :: a, b, c
    type(srwl_options_t) :: opts, fast
    integer :: st, failures, n
    integer(c_int64_t) :: g1, g2
    character(len=4096) :: dir
    character(len=:), allocatable :: path, msg
    character(len=4000) :: padded
    logical :: exists

    failures = 0
    dir = '.'
    if (command_argument_count() >= 1) call get_command_argument(1, dir)
    path = trim(dir) // '/fortran-test.lock'

    ! Options: the defaults, and the derived short intervals.
    call srwl_options_init(opts)
    call expect(abs(opts%heartbeat_interval - 30) < 1e-9_c_double &
        .and. abs(opts%stale_threshold - 90) < 1e-9_c_double &
        .and. abs(opts%poll_interval - 1) < 1e-9_c_double .and. opts%size >= 32, &
        'srwl_options_init defaults')
    fast = srwl_make_options(heartbeat_interval=0.2_c_double)
    call expect(abs(fast%stale_threshold - 0.6_c_double) < 1e-9_c_double &
        .and. abs(fast%poll_interval - 0.1_c_double) < 1e-9_c_double, 'srwl_make_options derives')

    ! A bad option: SRWL_EINVAL and a message that names the field.
    opts = srwl_make_options(heartbeat_interval=10.0_c_double, stale_threshold=5.0_c_double)
    st = srwl_open(a, path, opts)
    call expect_status(st, SRWL_EINVAL, 'open with stale_threshold < heartbeat_interval')
    msg = srwl_last_error_f()
    print '(a)', 'expected error: ' // srwl_status_name_f(st) // ': ' // msg
    call expect(index(msg, 'stale_threshold') > 0, 'the message names stale_threshold')
    call expect(.not. srwl_is_open(a), 'a failed open leaves the handle closed')

    ! An empty path, a missing directory.
    st = srwl_open(a, '', fast)
    call expect_status(st, SRWL_EINVAL, 'open of an empty path')
    st = srwl_open(a, trim(dir) // '/no/such/dir/x', fast)
    call expect_status(st, SRWL_EIO, 'open in a missing directory')
    call expect(index(srwl_last_error_f(), 'no/such/dir') > 0, 'the message names the path')

    ! Two handles on one path: two participants.
    call expect_status(srwl_open(a, path, fast), SRWL_OK, 'open a')
    call expect_status(srwl_open(b, path), SRWL_OK, 'open b (default options)')
    call expect(srwl_is_open(a) .and. srwl_is_open(b), 'both open')
    call expect_status(srwl_open(a, path), SRWL_ESTATE, 'open of an open handle')

    ! a writes: b times out at once, for writing and for reading.
    call expect_status(srwl_acquire_write(a), SRWL_OK, 'a write (forever)')
    call expect_status(srwl_check(a), SRWL_OK, 'a check while writing')
    call expect_status(srwl_generation(a, g1), SRWL_OK, 'a generation')
    ! Trailing blanks are dropped: a padded path is the same lock (c cannot get in while a
    ! writes), and no sidecar named with the blanks appears.
    call expect_status(srwl_open(c, path // '   ', fast), SRWL_OK, 'open c on the path with 3 blanks')
    call expect_status(srwl_acquire_read(c, 0), SRWL_TIMEOUT, 'c (path with blanks) read while a writes')
    call expect_status(srwl_close(c), SRWL_OK, 'close c')
    padded = path
    call expect_status(srwl_open(c, padded, fast), SRWL_OK, 'open c on a blank-padded variable')
    call expect_status(srwl_acquire_write(c, 0), SRWL_TIMEOUT, 'c (padded variable) write while a writes')
    call expect_status(srwl_close(c), SRWL_OK, 'close c (padded)')
    inquire (file=path // '   .srwl/.', exist=exists)
    call expect(.not. exists, 'no sidecar named with trailing blanks')
    st = srwl_acquire_write(b, 0.0_c_double)
    call expect_status(st, SRWL_TIMEOUT, 'b write, timeout 0, while a writes')
    msg = srwl_last_error_f()
    print '(a)', 'expected timeout: ' // srwl_status_str_f(st) // ': ' // msg
    call expect(len(msg) > 0, 'a timeout leaves a message')
    call expect_status(srwl_acquire_read(b, 0), SRWL_TIMEOUT, 'b read, integer timeout 0')
    call expect_status(srwl_acquire_read(b, 0.05), SRWL_TIMEOUT, 'b read, default real timeout')
    call expect_status(srwl_acquire_read(a, 0), SRWL_ESTATE, 'a read while a writes (downgrade)')
    call expect_status(srwl_acquire_write(a, 0), SRWL_OK, 'a write again (nested)')
    call expect_status(srwl_release(a), SRWL_OK, 'a release inner level')
    call expect_status(srwl_acquire_read(b, 0), SRWL_TIMEOUT, 'b still out')
    call expect_status(srwl_release(a), SRWL_OK, 'a release')
    call expect_status(srwl_check(a), SRWL_ESTATE, 'a check with no hold')
    call expect_status(srwl_release(a), SRWL_ESTATE, 'a release with no hold')
    call expect(index(srwl_last_error_f(), 'no lock') > 0, 'release without a hold explains')

    ! b writes now, and the fencing token grew.
    call expect_status(srwl_acquire_write(b, 5.0_c_double), SRWL_OK, 'b write')
    call expect_status(srwl_generation(b, g2), SRWL_OK, 'b generation')
    call expect(g2 > g1, 'the generation grows with each write grant')
    call expect_status(srwl_release(b), SRWL_OK, 'b release')

    ! Readers share.
    call expect_status(srwl_acquire_read(a, 5), SRWL_OK, 'a read')
    call expect_status(srwl_acquire_read(b, 5), SRWL_OK, 'b read with a reading')
    call expect_status(srwl_acquire_write(a, 0), SRWL_ESTATE, 'a upgrade')
    call expect_status(srwl_generation(a, g1), SRWL_OK, 'a generation while reading')
    call expect(g1 == g2, 'a reader sees the last write grant')
    call expect_status(srwl_release(b), SRWL_OK, 'b release read')
    call expect_status(srwl_release(a), SRWL_OK, 'a release read')

    ! Bad timeouts.
    call expect_status(srwl_acquire_read(a, -2), SRWL_EINVAL, 'timeout -2')
    call expect(index(srwl_last_error_f(), 'timeout') > 0, 'the message names the timeout')

    ! Close releases a hold; closing twice is fine.
    call expect_status(srwl_acquire_write(a, 1), SRWL_OK, 'a write before close')
    call expect_status(srwl_close(a), SRWL_OK, 'close a while writing')
    call expect(.not. srwl_is_open(a), 'a is closed')
    call expect_status(srwl_acquire_write(b, 5), SRWL_OK, 'b gets in after a closed')
    call expect_status(srwl_close(b), SRWL_OK, 'close b')
    call expect_status(srwl_close(b), SRWL_OK, 'close b again')
    call expect_status(srwl_acquire_read(b), SRWL_EINVAL, 'acquire on a closed handle')

    ! Strings.
    call expect(srwl_status_str_f(SRWL_TIMEOUT) == 'timed out', 'srwl_status_str_f')
    call expect(srwl_status_str_f(99) == 'unknown status', 'srwl_status_str_f(99)')
    call expect(srwl_status_name_f(SRWL_ELOST) == 'SRWL_ELOST', 'srwl_status_name_f')
    n = len(srwl_version_f())
    call expect(n > 0, 'srwl_version_f')

    ! The user's data under the lock, by file name (trailing blanks trimmed).
    block
        integer :: u
        character(len=64) :: line
        open(newunit=u, file=trim(dir) // '/fortran-data.txt', status='replace', action='write')
        write(u, '(a)') '42'
        close(u)
        call expect_status(srwl_data_end(trim(dir) // '/fortran-data.txt   '), SRWL_OK, 'srwl_data_end')
        call expect_status(srwl_data_begin(trim(dir) // '/fortran-data.txt'), SRWL_OK, 'srwl_data_begin')
        open(newunit=u, file=trim(dir) // '/fortran-data.txt', status='old', action='read')
        read(u, '(a)') line
        close(u)
        call expect(trim(line) == '42', 'the data file reads back')
        call expect_status(srwl_data_begin(trim(dir) // '/no-such-file'), SRWL_EIO, 'srwl_data_begin of a missing file')
        msg = srwl_last_error_f()
        call expect(index(msg, 'no-such-file') > 0 .and. index(msg, 'ENOENT') > 0, 'the message names the file')
        call expect_status(srwl_data_end(trim(dir)), SRWL_EUNSAFE, 'srwl_data_end of a directory')
    end block

    if (failures > 0) then
        print '(i0,a)', failures, ' failure(s)'
        error stop 1
    end if
    print '(a)', 'softrwlock Fortran module ' // srwl_version_f() // ': all tests passed'

contains

    subroutine expect(cond, what)
        logical, intent(in) :: cond
        character(len=*), intent(in) :: what
        if (.not. cond) then
            print '(a)', 'FAILED: ' // what
            failures = failures + 1
        end if
    end subroutine expect

    subroutine expect_status(got, want, what)
        integer, intent(in) :: got, want
        character(len=*), intent(in) :: what
        if (got /= want) then
            print '(a)', 'FAILED: ' // what // ': got ' // srwl_status_name_f(got) // ', want ' &
                // srwl_status_name_f(want) // ' (' // srwl_last_error_f() // ')'
            failures = failures + 1
        end if
    end subroutine expect_status

end program test_softrwlock
