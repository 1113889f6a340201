/* Known-bad variant of the host share: a closer unlocks the entry's holders lock before it
 * removes the marker (the lock only decides who closes). A joiner takes the lock in between,
 * finds the marker and joins; the closer then removes the record under it. The marker must go
 * while the closer holds the lock exclusively. SPIN must find an exclusion violation. */
#define SHARE
#define BUG_LATEUNMARK
#include "srwl2.pml"
