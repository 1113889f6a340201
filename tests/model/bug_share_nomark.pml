/* Known-bad variant of the host share: a closer unlinks the entry's record before its marker.
 * Killed in between, it leaves the marker (the kernel drops its lock): a joiner within the window
 * finds the entry open and joins a removed record. SPIN must find an exclusion violation (the
 * no-wedge configuration, which has crashes; its monitor checks exclusion too). */
#define LIVE
#define SHARE
#define BUG_NOMARK
#include "srwl2.pml"
