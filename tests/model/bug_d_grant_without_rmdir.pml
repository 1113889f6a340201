/* Known-bad variant: a writer is granted as soon as it holds the baton (no rmdir). SPIN must find an exclusion violation. */
#define BUG_D
#include "srwl2.pml"
