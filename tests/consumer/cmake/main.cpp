// Locks, unlocks and prints the version, from C++ through the C header.
#include <softrwlock.h>

#include <cstdio>
#include <string>
#include <unistd.h>

int main(int argc, char **argv)
{
    std::string path = std::string(argc > 1 ? argv[1] : "/tmp") + "/consumer-cxx-" + std::to_string(getpid());
    srwl_lock *l = nullptr;
    srwl_status s = srwl_open(path.c_str(), nullptr, &l);
    if (s == SRWL_OK)
        s = srwl_acquire_write(l, 5);
    if (s == SRWL_OK)
        s = srwl_release(l);
    if (s == SRWL_OK)
        s = srwl_close(l);
    if (s != SRWL_OK || std::string(srwl_version()) != SRWL_VERSION_STRING) {
        std::fprintf(stderr, "%s: %s\n", srwl_status_str(s), srwl_last_error());
        return 1;
    }
    std::printf("softrwlock %s (C++): locked and unlocked %s\n", srwl_version(), path.c_str());
    return 0;
}
