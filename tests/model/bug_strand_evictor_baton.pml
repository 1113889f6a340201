/* Known-bad variant (issue 11, fault 4, today's code): an evictor whose takeover reported an
 * error although it happened, or whose hand-back failed, leaves the baton under its own token and
 * its own scan skips it. SPIN must find a wedge (an invalid end state). */
#define LIVE
#define BUG_STRAND
#include "srwl2.pml"
