/*
 * counter_worker.c: a C participant in python/test_softrwlock.py's mixed-language test.
 *
 *   counter_worker LOCK_PATH COUNTER_FILE ITERATIONS
 *
 * For ITERATIONS rounds: takes the write lock, checks that no other writer is inside (a
 * marker file created with O_EXCL), increments the decimal counter in COUNTER_FILE in place,
 * releases; then takes the read lock and checks that no writer is inside. Prints the number
 * of write grants and exits 0, or prints errors and exits 1.
 */

#include <softrwlock.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int errors;

static void fail_status(const char *what, srwl_status st) {
    fprintf(stderr, "counter_worker %d: %s: %s: %s\n", (int)getpid(), what, srwl_status_str(st),
            srwl_last_error());
    errors++;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: counter_worker LOCK_PATH COUNTER_FILE ITERATIONS\n");
        return 2;
    }
    const char *path = argv[1], *counter = argv[2];
    int iterations = atoi(argv[3]), grants = 0;
    char marker[4096];
    snprintf(marker, sizeof marker, "%s.inside", counter);

    srwl_options opts;
    srwl_options_init(&opts);
    opts.heartbeat_interval = 0.5;
    opts.stale_threshold = 10.0;
    opts.poll_interval = 0.02;
    srwl_lock *lock = NULL;
    srwl_status st = srwl_open(path, &opts, &lock);
    if (st != SRWL_OK) {
        fail_status("srwl_open", st);
        return 1;
    }
    for (int i = 0; i < iterations && errors == 0; i++) {
        if ((st = srwl_acquire_write(lock, 60)) != SRWL_OK) {
            fail_status("srwl_acquire_write", st);
            break;
        }
        int m = open(marker, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (m < 0) {
            fprintf(stderr, "counter_worker: another writer is inside (%s: %s)\n", marker,
                    strerror(errno));
            errors++;
        } else {
            close(m);
        }
        FILE *f = fopen(counter, "r+");
        long n = 0;
        if (f == NULL || fscanf(f, "%ld", &n) != 1) {
            fprintf(stderr, "counter_worker: cannot read %s\n", counter);
            errors++;
        } else {
            rewind(f);
            fprintf(f, "%ld\n", n + 1);
            grants++;
        }
        if (f != NULL) {
            fclose(f);
        }
        if (m >= 0) {
            unlink(marker);
        }
        if ((st = srwl_release(lock)) != SRWL_OK) {
            fail_status("srwl_release (write)", st);
        }

        if ((st = srwl_acquire_read(lock, 60)) != SRWL_OK) {
            fail_status("srwl_acquire_read", st);
            break;
        }
        if (access(marker, F_OK) == 0) {
            fprintf(stderr, "counter_worker: a writer is inside during a read hold\n");
            errors++;
        }
        if ((st = srwl_release(lock)) != SRWL_OK) {
            fail_status("srwl_release (read)", st);
        }
    }
    if ((st = srwl_close(lock)) != SRWL_OK) {
        fail_status("srwl_close", st);
    }
    printf("%d\n", grants);
    return errors == 0 ? 0 : 1;
}
