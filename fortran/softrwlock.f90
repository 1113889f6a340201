!> softrwlock: Fortran 2008 bindings (iso_c_binding) to libsoftrwlock, a reader/writer lock
!> for processes on many hosts that share a network filesystem.
!>
!>   use softrwlock
!>   type(srwl_lock_t) :: lock
!>   integer :: st
!>   st = srwl_open(lock, '/scratch/data.lock', srwl_make_options(heartbeat_interval=1d0))
!>   if (st /= SRWL_OK) print *, srwl_status_str_f(st), ': ', srwl_last_error_f()
!>   st = srwl_acquire_write(lock, 30.0)   ! timeout in seconds; omitted: wait forever
!>   ...
!>   st = srwl_release(lock)
!>   st = srwl_close(lock)
!>
!> Every function returns an integer status (SRWL_OK = 0, or one of the other SRWL_*
!> constants, which have the values of the C enum srwl_status). After a failure,
!> srwl_last_error_f() returns the message of this thread's last failed call; read it before
!> the next call into the library. Strings are Fortran strings: the module adds the NUL
!> terminator. Trailing blanks of a path are dropped, as Fortran's OPEN, HDF5 and NetCDF do,
!> so a padded character variable names the file it holds.
!> One srwl_lock_t is one participant (one handle); an MPI rank opens its own.
!>
!> See include/softrwlock.h for the full description of every call.
module softrwlock
    use, intrinsic :: iso_c_binding, only: c_ptr, c_null_ptr, c_associated, c_char, &
        c_null_char, c_int, c_int32_t, c_int64_t, c_double, c_float, c_size_t, c_f_pointer, c_loc
    implicit none
    private

    !> Status codes (the values of the C enum srwl_status).
    integer, parameter, public :: SRWL_OK = 0
    integer, parameter, public :: SRWL_TIMEOUT = 1
    integer, parameter, public :: SRWL_EINVAL = 2
    integer, parameter, public :: SRWL_EIO = 3
    integer, parameter, public :: SRWL_ESTATE = 4
    integer, parameter, public :: SRWL_EFORKED = 5
    integer, parameter, public :: SRWL_EUNSAFE = 6
    integer, parameter, public :: SRWL_ELOST = 7
    integer, parameter, public :: SRWL_EINTERNAL = 8
    integer, parameter, public :: SRWL_EINTR = 9

    !> Timeout values: wait forever, or try once.
    real(c_double), parameter, public :: SRWL_FOREVER = -1.0_c_double
    real(c_double), parameter, public :: SRWL_TRY = 0.0_c_double

    !> An open lock handle (wraps the C srwl_lock *). Null until srwl_open succeeds, and
    !> again after srwl_close.
    type, public :: srwl_lock_t
        type(c_ptr) :: ptr = c_null_ptr
    end type srwl_lock_t

    !> Options of a lock handle: the C struct srwl_options. Fill it with srwl_options_init
    !> (or srwl_make_options), then change fields. Intervals in seconds.
    type, bind(c), public :: srwl_options_t
        integer(c_int32_t) :: size = 0
        real(c_double) :: heartbeat_interval = 0
        real(c_double) :: stale_threshold = 0
        real(c_double) :: poll_interval = 0
    end type srwl_options_t

    public :: srwl_options_init, srwl_make_options
    public :: srwl_open, srwl_close, srwl_is_open
    public :: srwl_acquire_read, srwl_acquire_write, srwl_release
    public :: srwl_check, srwl_generation

    !> Takes the lock for reading (shared), or for writing (exclusive):
    !>   st = srwl_acquire_read(lock [, timeout])
    !>   st = srwl_acquire_write(lock [, timeout])
    !> `timeout` in seconds (real(c_double), default real or integer): omitted or -1 waits
    !> forever, 0 tries once, > 0 waits at most that long; any other negative value or NaN is
    !> SRWL_EINVAL. Returns SRWL_OK, SRWL_TIMEOUT (nothing was left on disk), SRWL_ESTATE
    !> (upgrade or downgrade: not supported), SRWL_ELOST, SRWL_EFORKED, SRWL_EUNSAFE, SRWL_EIO.
    !> Read holds nest (each level needs a srwl_release); write holds nest in the owning thread.
    interface srwl_acquire_read
        module procedure acquire_read_forever, acquire_read_double, acquire_read_float, &
            acquire_read_int
    end interface srwl_acquire_read
    interface srwl_acquire_write
        module procedure acquire_write_forever, acquire_write_double, acquire_write_float, &
            acquire_write_int
    end interface srwl_acquire_write
    public :: srwl_last_error_f, srwl_status_str_f, srwl_status_name_f, srwl_version_f
    !> The user's own data under the lock (README "Your data under the lock"), by file name:
    !>   st = srwl_acquire_write(lock)
    !>   st = srwl_data_begin('counter.dat')   ! after acquiring, before opening and reading
    !>   open(newunit=u, file='counter.dat') ... read, write ... close(u)   (or flush(u))
    !>   st = srwl_data_end('counter.dat')     ! after writing and closing, before releasing
    !>   st = srwl_release(lock)
    public :: srwl_data_begin, srwl_data_end

    interface
        !> void srwl_options_init(struct srwl_options *opts): the defaults (30 s, 90 s, 1 s).
        subroutine srwl_options_init(opts) bind(c, name='srwl_options_init')
            import :: srwl_options_t
            type(srwl_options_t), intent(out) :: opts
        end subroutine srwl_options_init

        !> void srwl_options_init_heartbeat(struct srwl_options *opts, double heartbeat_interval):
        !> the defaults, with the timing derived from one heartbeat interval (stale 3 x, poll
        !> min(1 s, heartbeat / 2)).
        subroutine srwl_options_init_heartbeat(opts, heartbeat_interval) &
                bind(c, name='srwl_options_init_heartbeat')
            import :: srwl_options_t, c_double
            type(srwl_options_t), intent(out) :: opts
            real(c_double), value :: heartbeat_interval
        end subroutine srwl_options_init_heartbeat

        !> const char *srwl_status_name(int status): 'SRWL_OK', ...; NULL outside the enum.
        function c_srwl_status_name(status) result(s) bind(c, name='srwl_status_name')
            import :: c_ptr, c_int
            integer(c_int), value :: status
            type(c_ptr) :: s
        end function c_srwl_status_name

        function c_srwl_open(path, opts, out) result(st) bind(c, name='srwl_open')
            import :: c_char, c_ptr, c_int
            character(kind=c_char), dimension(*), intent(in) :: path
            type(c_ptr), value :: opts
            type(c_ptr), intent(out) :: out
            integer(c_int) :: st
        end function c_srwl_open

        function c_srwl_acquire_read(lock, timeout) result(st) bind(c, name='srwl_acquire_read')
            import :: c_ptr, c_double, c_int
            type(c_ptr), value :: lock
            real(c_double), value :: timeout
            integer(c_int) :: st
        end function c_srwl_acquire_read

        function c_srwl_acquire_write(lock, timeout) result(st) bind(c, name='srwl_acquire_write')
            import :: c_ptr, c_double, c_int
            type(c_ptr), value :: lock
            real(c_double), value :: timeout
            integer(c_int) :: st
        end function c_srwl_acquire_write

        function c_srwl_release(lock) result(st) bind(c, name='srwl_release')
            import :: c_ptr, c_int
            type(c_ptr), value :: lock
            integer(c_int) :: st
        end function c_srwl_release

        function c_srwl_check(lock) result(st) bind(c, name='srwl_check')
            import :: c_ptr, c_int
            type(c_ptr), value :: lock
            integer(c_int) :: st
        end function c_srwl_check

        function c_srwl_generation(lock, out) result(st) bind(c, name='srwl_generation')
            import :: c_ptr, c_int, c_int64_t
            type(c_ptr), value :: lock
            integer(c_int64_t), intent(out) :: out
            integer(c_int) :: st
        end function c_srwl_generation

        function c_srwl_close(lock) result(st) bind(c, name='srwl_close')
            import :: c_ptr, c_int
            type(c_ptr), value :: lock
            integer(c_int) :: st
        end function c_srwl_close

        function c_srwl_status_str(status) result(s) bind(c, name='srwl_status_str')
            import :: c_int, c_ptr
            integer(c_int), value :: status
            type(c_ptr) :: s
        end function c_srwl_status_str

        function c_srwl_last_error() result(s) bind(c, name='srwl_last_error')
            import :: c_ptr
            type(c_ptr) :: s
        end function c_srwl_last_error

        function c_srwl_version() result(s) bind(c, name='srwl_version')
            import :: c_ptr
            type(c_ptr) :: s
        end function c_srwl_version

        function c_srwl_data_begin_path(path) result(st) bind(c, name='srwl_data_begin_path')
            import :: c_char, c_int
            character(kind=c_char), dimension(*), intent(in) :: path
            integer(c_int) :: st
        end function c_srwl_data_begin_path

        function c_srwl_data_end_path(path) result(st) bind(c, name='srwl_data_end_path')
            import :: c_char, c_int
            character(kind=c_char), dimension(*), intent(in) :: path
            integer(c_int) :: st
        end function c_srwl_data_end_path

        function c_strlen(s) result(n) bind(c, name='strlen')
            import :: c_ptr, c_size_t
            type(c_ptr), value :: s
            integer(c_size_t) :: n
        end function c_strlen
    end interface

contains

    !> Options with the library defaults, then the given fields. With only heartbeat_interval
    !> given, the others follow it as documented: stale_threshold = 3 x heartbeat_interval,
    !> poll_interval = min(1 s, heartbeat_interval / 2). The library validates them at open
    !> (SRWL_EINVAL, and srwl_last_error_f() names the bad field).
    function srwl_make_options(heartbeat_interval, stale_threshold, poll_interval) result(opts)
        real(c_double), intent(in), optional :: heartbeat_interval, stale_threshold, poll_interval
        type(srwl_options_t) :: opts
        if (present(heartbeat_interval)) then
            call srwl_options_init_heartbeat(opts, heartbeat_interval)
        else
            call srwl_options_init(opts)
        end if
        if (present(stale_threshold)) opts%stale_threshold = stale_threshold
        if (present(poll_interval)) opts%poll_interval = poll_interval
    end function srwl_make_options

    !> Opens a handle on `path` (the library keeps its files in the directory `path`.srwl/);
    !> trailing blanks of `path` are dropped.
    !> `options` omitted: the defaults. Returns SRWL_OK, SRWL_EINVAL, SRWL_EUNSAFE or SRWL_EIO.
    !> Opening a handle that is already open is SRWL_ESTATE (close it first).
    function srwl_open(lock, path, options) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        character(len=*), intent(in) :: path
        type(srwl_options_t), intent(in), optional, target :: options
        integer :: st
        character(kind=c_char, len=:), allocatable :: cpath
        type(c_ptr) :: opts_ptr, out
        if (c_associated(lock%ptr)) then
            st = SRWL_ESTATE
            return
        end if
        cpath = trim(path) // c_null_char
        opts_ptr = c_null_ptr
        if (present(options)) opts_ptr = c_loc(options)
        out = c_null_ptr
        st = int(c_srwl_open(cpath, opts_ptr, out))
        lock%ptr = out
    end function srwl_open

    !> Closes the handle (releasing any hold, all levels) and nulls it. A handle that is not
    !> open: SRWL_OK. Returns SRWL_OK, SRWL_ELOST (the hold had been lost) or SRWL_EIO; the
    !> handle is closed whatever the result.
    function srwl_close(lock) result(st)
        type(srwl_lock_t), intent(inout) :: lock
        integer :: st
        st = int(c_srwl_close(lock%ptr))
        lock%ptr = c_null_ptr
    end function srwl_close

    !> Whether the handle is open.
    logical function srwl_is_open(lock)
        type(srwl_lock_t), intent(in) :: lock
        srwl_is_open = c_associated(lock%ptr)
    end function srwl_is_open

    ! srwl_acquire_read / srwl_acquire_write are generic: the timeout may be omitted (wait
    ! forever) or given as a real(c_double), a default real or an integer.

    function acquire_read_forever(lock) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer :: st
        st = int(c_srwl_acquire_read(lock%ptr, SRWL_FOREVER))
    end function acquire_read_forever

    function acquire_read_double(lock, timeout) result(st)
        type(srwl_lock_t), intent(in) :: lock
        real(c_double), intent(in) :: timeout
        integer :: st
        st = int(c_srwl_acquire_read(lock%ptr, timeout))
    end function acquire_read_double

    function acquire_read_float(lock, timeout) result(st)
        type(srwl_lock_t), intent(in) :: lock
        real(c_float), intent(in) :: timeout
        integer :: st
        st = int(c_srwl_acquire_read(lock%ptr, real(timeout, c_double)))
    end function acquire_read_float

    function acquire_read_int(lock, timeout) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer, intent(in) :: timeout
        integer :: st
        st = int(c_srwl_acquire_read(lock%ptr, real(timeout, c_double)))
    end function acquire_read_int

    function acquire_write_forever(lock) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer :: st
        st = int(c_srwl_acquire_write(lock%ptr, SRWL_FOREVER))
    end function acquire_write_forever

    function acquire_write_double(lock, timeout) result(st)
        type(srwl_lock_t), intent(in) :: lock
        real(c_double), intent(in) :: timeout
        integer :: st
        st = int(c_srwl_acquire_write(lock%ptr, timeout))
    end function acquire_write_double

    function acquire_write_float(lock, timeout) result(st)
        type(srwl_lock_t), intent(in) :: lock
        real(c_float), intent(in) :: timeout
        integer :: st
        st = int(c_srwl_acquire_write(lock%ptr, real(timeout, c_double)))
    end function acquire_write_float

    function acquire_write_int(lock, timeout) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer, intent(in) :: timeout
        integer :: st
        st = int(c_srwl_acquire_write(lock%ptr, real(timeout, c_double)))
    end function acquire_write_int

    !> Releases one level of the hold. Returns SRWL_OK, SRWL_ESTATE (no hold), SRWL_ELOST, ...
    function srwl_release(lock) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer :: st
        st = int(c_srwl_release(lock%ptr))
    end function srwl_release

    !> SRWL_OK while the hold is alive, SRWL_ELOST once lost, SRWL_ESTATE with no hold.
    function srwl_check(lock) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer :: st
        st = int(c_srwl_check(lock%ptr))
    end function srwl_check

    !> The fencing token of the current hold in `generation` (the C uint64_t, stored in a
    !> signed 64-bit integer). Returns SRWL_OK or SRWL_ESTATE (no hold), ...
    function srwl_generation(lock, generation) result(st)
        type(srwl_lock_t), intent(in) :: lock
        integer(c_int64_t), intent(out) :: generation
        integer :: st
        generation = 0
        st = int(c_srwl_generation(lock%ptr, generation))
    end function srwl_generation

    !> Copies a NUL-terminated C string into a Fortran string (empty for a null pointer).
    function from_c_string(p) result(s)
        type(c_ptr), intent(in) :: p
        character(len=:), allocatable :: s
        character(kind=c_char), pointer :: chars(:)
        integer :: n, i
        if (.not. c_associated(p)) then
            s = ''
            return
        end if
        n = int(c_strlen(p))
        call c_f_pointer(p, chars, [n])
        allocate (character(len=n) :: s)
        do i = 1, n
            s(i:i) = chars(i)
        end do
    end function from_c_string

    !> The message of this thread's last failed call ('' if none yet).
    function srwl_last_error_f() result(s)
        character(len=:), allocatable :: s
        s = from_c_string(c_srwl_last_error())
    end function srwl_last_error_f

    !> A description of a status, e.g. 'timed out'.
    function srwl_status_str_f(status) result(s)
        integer, intent(in) :: status
        character(len=:), allocatable :: s
        s = from_c_string(c_srwl_status_str(int(status, c_int)))
    end function srwl_status_str_f

    !> The name of a status, e.g. 'SRWL_TIMEOUT' ('SRWL_UNKNOWN' outside the enum).
    function srwl_status_name_f(status) result(s)
        integer, intent(in) :: status
        character(len=:), allocatable :: s
        type(c_ptr) :: name
        name = c_srwl_status_name(int(status, c_int))
        if (c_associated(name)) then
            s = from_c_string(name)
        else
            s = 'SRWL_UNKNOWN'
        end if
    end function srwl_status_name_f

    !> The library version at run time, e.g. '0.1.0'.
    function srwl_version_f() result(s)
        character(len=:), allocatable :: s
        s = from_c_string(c_srwl_version())
    end function srwl_version_f

    !> After acquiring, before reading the file `path` (trailing blanks are trimmed): this
    !> client asks the file server for it (its cached pages and size are dropped). Returns
    !> SRWL_OK, SRWL_EUNSAFE (a symlink or not a regular file) or SRWL_EIO (e.g. no such file).
    function srwl_data_begin(path) result(st)
        character(len=*), intent(in) :: path
        integer :: st
        st = int(c_srwl_data_begin_path(trim(path) // c_null_char))
    end function srwl_data_begin

    !> After writing the file `path` (close or flush the unit first), before releasing: its
    !> bytes reach the file server (fsync). Returns as srwl_data_begin.
    function srwl_data_end(path) result(st)
        character(len=*), intent(in) :: path
        integer :: st
        st = int(c_srwl_data_end_path(trim(path) // c_null_char))
    end function srwl_data_end

end module softrwlock
