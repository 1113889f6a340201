/* Known-bad variant (issue 11, fault 3, today's code): an evictor hands a taken-over baton back
 * under the dead holder's generation, the name the holder's own give-back uses, and the holder's
 * release takes that name for the proof that its own rename happened. SPIN must find an evicted
 * writer told SRWL_OK (an assertion violation). */
#define BUG_SAMENAME
#include "srwl2.pml"
