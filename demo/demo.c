/*
 * demo.c: several processes share one libsoftrwlock lock in a temporary directory and
 * print a timeline of who holds what. Midway, one writer is killed with SIGKILL while it
 * holds the write lock; the others wait out the stale threshold, evict it, and go on.
 *
 * Build and run: ./demo/run.sh   (builds the library and this program, then runs it)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "softrwlock.h"

#define READERS 3
#define WRITERS 2
#define RUN_SECONDS 7.0

static double t0;
static int out_fd;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One line per event, written whole to the shared pipe (atomic below PIPE_BUF). */
static void say(const char *who, const char *fmt, const char *arg) {
    char msg[256], line[400];
    snprintf(msg, sizeof msg, fmt, arg);
    int n = snprintf(line, sizeof line, "[%6.2f s] %-9s pid %-6d %s\n", now() - t0, who, (int)getpid(), msg);
    if (write(out_fd, line, (size_t)n) < 0) _exit(1);
}

static void fail(const char *who, const char *what, srwl_status st) {
    char buf[300];
    snprintf(buf, sizeof buf, "%s failed: %s: %s", what, srwl_status_str(st), srwl_last_error());
    say(who, "%s", buf);
    _exit(1);
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void participant(const char *who, const char *path, int writer, int doomed) {
    srwl_options opts;
    srwl_options_init(&opts);
    opts.heartbeat_interval = 0.25;
    opts.stale_threshold = 1.0;
    opts.poll_interval = 0.05;
    srwl_lock *lock = NULL;
    srwl_status st = srwl_open(path, &opts, &lock);
    if (st != SRWL_OK) fail(who, "srwl_open", st);
    unsigned seed = (unsigned)getpid();
    int grants = 0;
    while (now() - t0 < RUN_SECONDS) {
        double asked = now();
        st = writer ? srwl_acquire_write(lock, 5.0) : srwl_acquire_read(lock, 5.0);
        if (st == SRWL_TIMEOUT) { say(who, "%s", "timed out, trying again"); continue; }
        if (st != SRWL_OK) fail(who, "acquire", st);
        grants++;
        char buf[120];
        uint64_t gen = 0;
        srwl_generation(lock, &gen);
        if (writer)
            snprintf(buf, sizeof buf, "holds WRITE (generation %llu, waited %.2f s)", (unsigned long long)gen, now() - asked);
        else
            snprintf(buf, sizeof buf, "holds read  (waited %.2f s)", now() - asked);
        say(who, "%s", buf);
        if (doomed && grants == 2) {
            say(who, "%s", "holds WRITE and is about to be killed with SIGKILL");
            pause(); /* the parent kills us here */
        }
        sleep_s(writer ? 0.15 : 0.2 + (rand_r(&seed) % 100) / 1000.0);
        st = srwl_release(lock);
        if (st != SRWL_OK) fail(who, "release", st);
        say(who, "%s", writer ? "released WRITE" : "released read");
        sleep_s((rand_r(&seed) % 300) / 1000.0);
    }
    srwl_close(lock);
    _exit(0);
}

int main(void) {
    char dir[] = "/tmp/srwl-demo-XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/dataset.lock", dir);
    int fds[2];
    if (pipe(fds) != 0) { perror("pipe"); return 1; }
    out_fd = fds[1];
    t0 = now();
    printf("libsoftrwlock %s demo: %d readers and %d writers share %s\n", srwl_version(), READERS, WRITERS, path);
    printf("heartbeat 0.25 s, stale threshold 1.0 s. writer-1 will be killed while it holds the lock.\n\n");
    fflush(stdout);

    pid_t pids[READERS + WRITERS];
    pid_t doomed = 0;
    for (int i = 0; i < READERS + WRITERS; i++) {
        int writer = i >= READERS;
        char who[16];
        snprintf(who, sizeof who, writer ? "writer-%d" : "reader-%d", writer ? i - READERS + 1 : i + 1);
        pid_t p = fork();
        if (p < 0) { perror("fork"); return 1; }
        if (p == 0) { close(fds[0]); participant(who, path, writer, writer && i == READERS); }
        pids[i] = p;
        if (writer && i == READERS) doomed = p;
    }
    close(fds[1]);

    FILE *in = fdopen(fds[0], "r");
    char line[512];
    double killed_at = 0;
    int after_kill_writes = 0;
    while (fgets(line, sizeof line, in)) {
        fputs(line, stdout);
        fflush(stdout);
        if (doomed && strstr(line, "about to be killed")) {
            kill(doomed, SIGKILL);
            waitpid(doomed, NULL, 0);
            killed_at = now() - t0;
            printf("[%6.2f s] *** writer-1 (pid %d) killed with SIGKILL while holding WRITE: its record stays on disk\n", killed_at, (int)doomed);
            doomed = 0;
        } else if (killed_at > 0 && after_kill_writes == 0 && strstr(line, "holds")) {
            after_kill_writes = 1;
            printf("[%6.2f s] *** the dead writer was evicted after %.2f s (threshold 1.0 s); the lock moves on\n", now() - t0, now() - t0 - killed_at);
        }
    }
    int failures = 0;
    for (int i = 0; i < READERS + WRITERS; i++) {
        int status;
        if (waitpid(pids[i], &status, 0) == pids[i] && !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && pids[i] != 0) {
            if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) failures++;
        }
    }
    char cmd[sizeof dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    printf("\n%s\n", failures ? "demo FAILED: a participant reported an error" : "demo finished: every participant exited cleanly.");
    return failures ? 1 : 0;
}
