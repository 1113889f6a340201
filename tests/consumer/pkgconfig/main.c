/* Locks, unlocks and prints the version: the smallest real use of the installed library. */
#include <softrwlock.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char path[512];
    srwl_lock *l = NULL;
    srwl_status s;
    snprintf(path, sizeof path, "%s/consumer-c-%ld", argc > 1 ? argv[1] : "/tmp", (long)getpid());
    if (strcmp(srwl_version(), SRWL_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s but library %s\n", SRWL_VERSION_STRING, srwl_version());
        return 1;
    }
    if ((s = srwl_open(path, NULL, &l)) != SRWL_OK || (s = srwl_acquire_write(l, 5)) != SRWL_OK ||
        (s = srwl_release(l)) != SRWL_OK || (s = srwl_acquire_read(l, 5)) != SRWL_OK ||
        (s = srwl_release(l)) != SRWL_OK || (s = srwl_close(l)) != SRWL_OK) {
        fprintf(stderr, "%s: %s\n", srwl_status_str(s), srwl_last_error());
        return 1;
    }
    printf("softrwlock %s: locked and unlocked %s\n", srwl_version(), path);
    return 0;
}
