/* Known bug (a): readers look for R/closed BEFORE creating their record.
   SPIN must find an exclusion violation. */
#define BUG_A
#define NO_LEMMAS
#include "srwl1.pml"
