/* Known-bad variant of the host share: a joiner does not check the join window, so it can join an
 * entry whose record was already evicted (all its holders stopped past the lease; the marker is
 * still there, no one closed). SPIN must find an exclusion violation. */
#define SHARE
#define BUG_NOWINDOW
#include "srwl2.pml"
