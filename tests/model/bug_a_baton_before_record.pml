/* Known-bad variant: readers look for the baton BEFORE creating their record. SPIN must find an exclusion violation. */
#define BUG_A
#include "srwl2.pml"
