/* The no-wedge configuration (see srwl2.pml). */
#define LIVE
#include "srwl2.pml"
