/* Known-bad variant (issue 11, fault 1, today's code): a held baton that an observer cannot read
 * is judged as junk and unlinked. SPIN must find a wedge (an invalid end state). */
#define LIVE
#define BUG_UNLINK
#include "srwl2.pml"
