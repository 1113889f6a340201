/* srwl/1 with the two fixes: no-wedge configuration (see srwl1.pml, README) */
#define LIVE
#include "srwl1.pml"
