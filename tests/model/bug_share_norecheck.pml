/* Known-bad variant of the host share: a joiner does not read the header again after taking the
 * holders lock (it trusts the `closed` it read before, while a closer may have closed the entry
 * and unlinked its record in between). SPIN must find an exclusion violation. */
#define SHARE
#define BUG_NORECHECK
#include "srwl2.pml"
