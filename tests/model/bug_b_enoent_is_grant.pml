/* Known-bad variant: a writer takes ENOENT from rmdir(R) as its grant. SPIN must find an exclusion violation. */
#define BUG_B
#include "srwl2.pml"
