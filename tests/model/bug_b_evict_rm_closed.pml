/* Known bug (b): the evictor of a writer removes R/closed as a whole (rm -r by
   path) instead of unlinking the judged record R/closed/w.<tok> by its name.
   SPIN must find an exclusion violation. */
#define BUG_B
#define NO_LEMMAS
#include "srwl1.pml"
