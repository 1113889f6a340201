/* Known-bad variant of the host share: a closer unlinks the entry's record without marking the
 * entry closed first; a joiner that read the header before can take the holders lock after the
 * closer let it go and join a removed record. SPIN must find an exclusion violation. */
#define SHARE
#define BUG_NOMARK
#include "srwl2.pml"
