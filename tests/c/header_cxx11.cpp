// The public header on its own, twice, as strict C++11 (-std=c++11 -pedantic -Wall -Wextra -Werror).
#include "softrwlock.h"
#include "softrwlock.h"

int main()
{
    srwl_options o;
    srwl_options_init(&o);
    srwl_lock *l = nullptr;
    srwl_status s = srwl_open(nullptr, &o, &l);
    const char *v = srwl_version();
    return (s == SRWL_EINVAL && l == nullptr && v[0] != '\0' && srwl_close(nullptr) == SRWL_OK) ? 0 : 1;
}
