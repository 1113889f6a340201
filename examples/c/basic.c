/*
 * basic.c: the C API of libsoftrwlock in one page.
 *
 * Opens a lock on a data file, appends a line to the file under the write lock, then reads
 * it back under the read lock. Every failure prints the status and srwl_last_error().
 *
 *   cc basic.c -I include -L target/release -lsoftrwlock -o basic
 *   ./basic [DATA_FILE]          (default: basic-example.dat in the current directory)
 *
 * The lock path may be the data file itself: the library never creates or opens it and keeps
 * its own files in the sidecar directory DATA_FILE.srwl/.
 */

#include <softrwlock.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Prints a failed call's status and message. Call it right after the failing call: the
 * message belongs to this thread's last libsoftrwlock call. */
static int fail(const char *what, srwl_status st) {
    fprintf(stderr, "basic: %s: %s: %s\n", what, srwl_status_str(st), srwl_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "basic-example.dat";

    /* Options: start from the defaults, then shorten the intervals (a short job: a holder
     * that dies is evicted after 3 s instead of 90 s). */
    srwl_options opts;
    srwl_options_init(&opts);
    opts.heartbeat_interval = 1.0;
    opts.stale_threshold = 3.0;
    opts.poll_interval = 0.1;

    srwl_lock *lock = NULL;
    srwl_status st = srwl_open(path, &opts, &lock);
    if (st != SRWL_OK) {
        return fail("srwl_open", st);
    }

    /* Write: wait at most 30 s for the exclusive lock. */
    st = srwl_acquire_write(lock, 30.0);
    if (st != SRWL_OK) {
        fail("srwl_acquire_write", st);
        srwl_close(lock);
        return 1;
    }
    uint64_t generation = 0;
    st = srwl_generation(lock, &generation); /* the fencing token of this grant */
    if (st != SRWL_OK) {
        fail("srwl_generation", st);
        srwl_close(lock);
        return 1;
    }
    FILE *f = fopen(path, "a");
    if (f == NULL) {
        perror(path);
        srwl_close(lock); /* releases the write lock too */
        return 1;
    }
    fprintf(f, "written under write grant %llu\n", (unsigned long long)generation);
    fclose(f);
    /* Before publishing the result of a long job, a holder can make sure it was not evicted. */
    st = srwl_check(lock);
    if (st != SRWL_OK) {
        fail("srwl_check", st);
        srwl_close(lock);
        return 1;
    }
    st = srwl_release(lock);
    if (st != SRWL_OK) {
        fail("srwl_release", st);
        srwl_close(lock);
        return 1;
    }

    /* Read: shared with other readers. */
    st = srwl_acquire_read(lock, 30.0);
    if (st != SRWL_OK) {
        fail("srwl_acquire_read", st);
        srwl_close(lock);
        return 1;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        srwl_close(lock);
        return 1;
    }
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lines++;
    }
    fclose(f);
    printf("%s: %d line(s); last: %s", path, lines, lines > 0 ? line : "\n");
    st = srwl_release(lock);
    if (st != SRWL_OK) {
        fail("srwl_release", st);
        srwl_close(lock);
        return 1;
    }

    /* An error on purpose: releasing with no hold is SRWL_ESTATE, with a message. */
    st = srwl_release(lock);
    if (st != SRWL_ESTATE) {
        fprintf(stderr, "basic: expected SRWL_ESTATE, got %s\n", srwl_status_str(st));
        srwl_close(lock);
        return 1;
    }
    printf("expected error: %s: %s\n", srwl_status_str(st), srwl_last_error());

    st = srwl_close(lock);
    if (st != SRWL_OK) {
        return fail("srwl_close", st);
    }
    printf("libsoftrwlock %s: ok\n", srwl_version());
    return 0;
}
