/*
 * srwl_bench.c: the benchmark scenarios of bench.h driven through libsoftrwlock's C API.
 * Built by bench/run.sh:
 *   cc -O2 -I include bench/srwl_bench.c -L LIBDIR -lsoftrwlock -Wl,-rpath,LIBDIR
 */
#include "bench.h"

#include "softrwlock.h"

static void *s_open(const char *path, const struct params *p) {
    srwl_options o;
    srwl_options_init(&o);
    o.heartbeat_interval = p->hb;
    o.stale_threshold = p->stale;
    o.poll_interval = p->poll;
    srwl_lock *l = NULL;
    srwl_status st = srwl_open(path, &o, &l);
    if (st != SRWL_OK) {
        fprintf(stderr, "srwl_open %s: %s: %s\n", path, srwl_status_str(st), srwl_last_error());
        return NULL;
    }
    return l;
}

static int s_acquire(void *h, int write, double timeout) {
    srwl_status st = write ? srwl_acquire_write(h, timeout) : srwl_acquire_read(h, timeout);
    if (st == SRWL_OK)
        return 0;
    if (st == SRWL_TIMEOUT)
        return 1;
    fprintf(stderr, "srwl_acquire_%s: %s: %s\n", write ? "write" : "read", srwl_status_str(st),
            srwl_last_error());
    return -1;
}

static int s_release(void *h) {
    srwl_status st = srwl_release(h);
    if (st == SRWL_OK)
        return 0;
    fprintf(stderr, "srwl_release: %s: %s\n", srwl_status_str(st), srwl_last_error());
    return -1;
}

static void s_close(void *h) { srwl_close(h); }

int main(int argc, char **argv) {
    static const struct impl impl = {"libsoftrwlock", s_open, s_acquire, s_release, s_close};
    return bench_main(argc, argv, &impl);
}
