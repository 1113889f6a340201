/* Known-bad variant of the host share, as SHARE.md has it: the closer's "if header.e == e write
 * closed = e" is a pread and a later pwrite. A closer of an old entry stalled between them
 * overwrites the `closed` of a newer entry that was published and closed meanwhile: the newer
 * entry, whose record is gone, looks open again and a joiner joins it. SPIN must find an
 * exclusion violation. */
#define SHARE
#define BUG_MARKRACE
#include "srwl2.pml"
