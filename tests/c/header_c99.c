/* The public header on its own, twice, as strict C99 (-std=c99 -pedantic -Wall -Wextra -Werror). */
#include "softrwlock.h"
#include "softrwlock.h"

int main(void)
{
    srwl_options o;
    enum srwl_status s;
    srwl_status t = SRWL_OK;
    struct srwl_lock *l = 0;
    srwl_options_init(&o);
    s = srwl_open(0, &o, &l);
    (void)t;
    return (s == SRWL_EINVAL && l == 0 && srwl_version()[0] != '\0') ? 0 : 1;
}
