/* The host share as implemented, with the sweep of a process whose share file lost its name to a
 * newer one (srwl_close on the nameless file: its whole-file lock conflicts with no one's): it
 * removes the markers of the entries of the file now named, at any moment. A joiner that took
 * an entry's holders lock finds no marker and drops its lock, after the entry's last holder left
 * counting on it. The record is left without a closer until a stale eviction. SPIN must find a
 * wedge (an invalid end state); FIX_SWEEP (a proposal) removes it. One more slot, as above. */
#define LIVE
#define SHARE
#define SWEEPX
#define NS (NRS + 2)
#include "srwl2.pml"
