/* Known-bad variant: the reader's check does not require its own record in the listing. SPIN must find an exclusion violation. */
#define BUG_C
#include "srwl2.pml"
