/* Known-bad variant of the host share: a joiner that took the holders lock, found the marker and
 * then the window over just drops the lock. The entry's last holder may have left meanwhile (its
 * conversion and its second try failed on the joiner's shared lock, so it counted on another
 * holder to close): the record stays in the room with no holder until a stale eviction. SPIN must
 * find a wedge (an invalid end state: the no-wedge configuration evicts no record that live
 * processes left). An orphaned record keeps its entry's slot: one more slot. */
#define LIVE
#define SHARE
#define BUG_DROPJOIN
#define NS (NRS + 2)
#include "srwl2.pml"
