# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_softrwlock_global_optspecs
    string join \n s/shared x/exclusive n/nonblock w/timeout= E/conflict-exit-code= o/close v/verbose heartbeat= stale= poll= kill-on-lost data= F/no-fork u/unlock c/command= h/help V/version
end

function __fish_softrwlock_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_softrwlock_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_softrwlock_using_subcommand
    set -l cmd (__fish_softrwlock_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c softrwlock -n "__fish_softrwlock_needs_command" -s w -l timeout -l wait -d 'Fail (exit 1, or -E N) if the lock is not granted within SECONDS (fractions allowed; 0 is -n; inf waits forever, the default)' -r
complete -c softrwlock -n "__fish_softrwlock_needs_command" -s E -l conflict-exit-code -d 'Exit status when the lock is busy (-n) or the wait timed out (-w): 0 to 255' -r
complete -c softrwlock -n "__fish_softrwlock_needs_command" -l heartbeat -d 'Seconds between heartbeats [default: 30]' -r
complete -c softrwlock -n "__fish_softrwlock_needs_command" -l stale -d 'Seconds a holder\'s record may go unchanged before others evict it [default: 3 x heartbeat]; every process sharing the lock should use the same values' -r
complete -c softrwlock -n "__fish_softrwlock_needs_command" -l poll -d 'Longest pause between retries while waiting [default: min(1, heartbeat/2)]' -r
complete -c softrwlock -n "__fish_softrwlock_needs_command" -l data -d 'Make FILE coherent for this hold (repeatable): after the lock is granted and before COMMAND starts, drop this host\'s cached pages of FILE (a missing FILE is fine: COMMAND may create it); after COMMAND ends and before the release, fsync FILE (it must exist then). See "Your data under the lock" in the README' -r
complete -c softrwlock -n "__fish_softrwlock_needs_command" -s c -l command -d 'Run COMMAND_STRING with $SHELL -c (/bin/sh if SHELL is unset), as flock -c does' -r
complete -c softrwlock -n "__fish_softrwlock_needs_command" -s s -l shared -l read -d 'Take a shared (read) lock: many readers at once, no writer'
complete -c softrwlock -n "__fish_softrwlock_needs_command" -s x -s e -l exclusive -l write -d 'Take an exclusive (write) lock: one writer, no reader. The default'
complete -c softrwlock -n "__fish_softrwlock_needs_command" -s n -l nonblock -l nb -d 'Fail at once (exit 1, or -E N) if the lock cannot be taken right away'
complete -c softrwlock -n "__fish_softrwlock_needs_command" -s o -l close -d 'Accepted for flock compatibility; always in effect: COMMAND and its children never hold the lock (softrwlock holds it, and releases it when COMMAND ends)'
complete -c softrwlock -n "__fish_softrwlock_needs_command" -s v -l verbose -d 'Report the wait, the grant and the release on stderr, and why the lock was not granted'
complete -c softrwlock -n "__fish_softrwlock_needs_command" -l kill-on-lost -d 'Send SIGTERM to COMMAND if the hold is lost while it runs'
complete -c softrwlock -n "__fish_softrwlock_needs_command" -s F -l no-fork -d 'flock\'s -F (exec COMMAND in place of flock) is refused: softrwlock must keep running to hold the lock'
complete -c softrwlock -n "__fish_softrwlock_needs_command" -s u -l unlock -d 'flock\'s -u (unlock a file descriptor) is refused: softrwlock has no descriptor form'
complete -c softrwlock -n "__fish_softrwlock_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c softrwlock -n "__fish_softrwlock_needs_command" -s V -l version -d 'Print version'
complete -c softrwlock -n "__fish_softrwlock_needs_command" -a "status" -d 'Show who holds and who waits for the lock on PATH (changes nothing on disk)'
complete -c softrwlock -n "__fish_softrwlock_needs_command" -a "verify" -d 'Check that the filesystem under DIR behaves the way the lock protocol needs'
complete -c softrwlock -n "__fish_softrwlock_using_subcommand status" -l sample -d 'Read each record twice, S seconds apart (at most 60), to tell live (changing) records from quiet ones' -r
complete -c softrwlock -n "__fish_softrwlock_using_subcommand status" -l json -d 'Print one JSON object on stdout, for scripts'
complete -c softrwlock -n "__fish_softrwlock_using_subcommand status" -s h -l help -d 'Print help'
complete -c softrwlock -n "__fish_softrwlock_using_subcommand verify" -l cross-client -d 'Run the shared exclusion test with other nodes under DIR/NAME' -r
complete -c softrwlock -n "__fish_softrwlock_using_subcommand verify" -l nodes -d 'Number of nodes taking part in --cross-client [default: 2]' -r
complete -c softrwlock -n "__fish_softrwlock_using_subcommand verify" -l duration -d 'Seconds of the exclusion test [default: 3; with --cross-client 20]' -r
complete -c softrwlock -n "__fish_softrwlock_using_subcommand verify" -l workers -d 'Worker processes per node [default: 4]' -r
complete -c softrwlock -n "__fish_softrwlock_using_subcommand verify" -l join-timeout -d 'How long to wait for the other nodes, in seconds [default: 600]' -r
complete -c softrwlock -n "__fish_softrwlock_using_subcommand verify" -l second-mount -d 'The same directory through another mount (a second client): race through both' -r
complete -c softrwlock -n "__fish_softrwlock_using_subcommand verify" -l keep -d 'Keep the scratch directory (for inspection)'
complete -c softrwlock -n "__fish_softrwlock_using_subcommand verify" -s h -l help -d 'Print help'
