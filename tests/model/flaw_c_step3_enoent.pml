/* Flaw (c) in srwl/1 as written: reader step 3 looks up `closed` through a
   handle that may be stale; the lookup then fails with ENOENT, which the
   protocol reads as "closed does not exist" and grants. SPIN must find an
   exclusion violation. */
#define ASIS_STEP3
#define NO_LEMMAS
#include "srwl1.pml"
