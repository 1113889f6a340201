/* The host share as implemented, with srwl_close's sweep: it takes the whole share file's lock
 * when no one holds any lock in it and removes every marker. Two holders leaving together both
 * fail the conversion and unlock; the sweep comes in between; each one's second try fails on the
 * sweeper's lock, and each leaves the closing to the other. Or a joiner takes the lock after the
 * sweep, finds no marker and drops its lock, after the holders' second tries failed on it. The
 * record is left without a closer until a stale eviction. SPIN must find a wedge (an invalid end
 * state); FIX_SWEEP (a proposal) removes it. An orphaned record keeps its slot: one more slot. */
#define LIVE
#define SHARE
#define SWEEP
#define NS (NRS + 2)
#include "srwl2.pml"
