/* Flaw (d) in srwl/1 as written: nobody removes an empty R/closed whose
   writer record is gone (writer or evictor died between the unlink of the
   record and the rmdir of R/closed). SPIN must find a wedge (invalid end
   state: live processes wait forever, nothing left to evict). */
#define LIVE
#define ASIS_NO_CLEANUP
#include "srwl1.pml"
