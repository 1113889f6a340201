/* Known-bad variant of the host share: a joiner looks at the marker before it takes the holders
 * lock, not after: a closer may remove the marker and the record in between, and the joiner's
 * lock then succeeds. SPIN must find an exclusion violation. */
#define SHARE
#define BUG_NORECHECK
#include "srwl2.pml"
