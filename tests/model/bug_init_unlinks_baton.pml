/* Known-bad variant (issue 11, fault 2, today's code): an initialisation link that happened but
 * reported an error is taken at its word and t.<me>, the baton's only other name, is unlinked.
 * SPIN must find a wedge (an invalid end state). */
#define LIVE
#define INIT
#define BUG_INIT
#include "srwl2.pml"
