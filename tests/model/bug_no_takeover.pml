/* Known-bad variant (issue 14, item 7): the evictor never takes over a writer's baton. SPIN must
 * find a wedge (an invalid end state): the no-wedge check can find one at all. */
#define LIVE
#define BUG_NOTAKEOVER
#include "srwl2.pml"
