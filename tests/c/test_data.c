/*
 * The data helpers (srwl_data_begin/end and their _path forms) through the C API.
 *
 * On a regular file they succeed and change nothing (bytes, size, mtime: a reader calls
 * srwl_data_begin under a shared hold). Bad input ends in the documented status and a message
 * naming the descriptor or path and the OS error, never a hang or a followed symlink: fd -1
 * and a closed fd (SRWL_EINVAL), a pipe (SRWL_EIO, ESPIPE), NULL (SRWL_EINVAL), a missing file
 * (SRWL_EIO, ENOENT), a symlink to a canary (SRWL_EUNSAFE, canary untouched), a directory and
 * a FIFO without writer (SRWL_EUNSAFE, at once). Whether the helpers make another client's
 * bytes visible is measured on GlusterFS and MooseFS by tests/netfs/data-test.py and
 * data-probe.py.
 */
#include "testutil.h"

static const char *read_text(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "r");
    size_t n;
    CHECK(f != NULL, "fopen %s: %s", path, strerror(errno));
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void same_file(const char *path, const struct stat *before, const char *what)
{
    struct stat st;
    CHECK(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
    CHECK(st.st_size == before->st_size && st.st_mtim.tv_sec == before->st_mtim.tv_sec &&
              st.st_mtim.tv_nsec == before->st_mtim.tv_nsec,
          "%s changed the file (size %lld -> %lld, mtime changed: %d)", what, (long long)before->st_size,
          (long long)st.st_size, st.st_mtim.tv_nsec != before->st_mtim.tv_nsec);
    CHECK(strcmp(read_text(path), "counter 41\n") == 0, "%s changed the file's bytes", what);
}

int main(int argc, char **argv)
{
    const char *dir, *file, *link, *fifo, *canary;
    struct stat before;
    int fd, p[2];

    tu_init(argc, argv);
    dir = tu_tmpdir();
    alarm(60); /* a FIFO must never block */
    file = tu_fmt("%s/counter", dir);
    tu_write_text(file, "counter 41\n");
    CHECK(stat(file, &before) == 0, "stat: %s", strerror(errno));
    tu_sleep(0.02); /* a changed mtime would differ */

    /* A regular file: by descriptor (read-only and read-write) and by path. */
    fd = open(file, O_RDONLY);
    CHECK(fd >= 0, "open: %s", strerror(errno));
    EXPECT_OK(srwl_data_begin(fd));
    EXPECT_OK(srwl_data_end(fd));
    close(fd);
    fd = open(file, O_RDWR);
    EXPECT_OK(srwl_data_begin(fd));
    EXPECT_OK(srwl_data_end(fd));
    close(fd);
    EXPECT_OK(srwl_data_begin_path(file));
    EXPECT_OK(srwl_data_end_path(file));
    same_file(file, &before, "srwl_data_begin/end");
    printf("  regular file: begin and end succeed, the file is unchanged\n");

    /* Descriptors that are not open. */
    EXPECT_ST(srwl_data_begin(-1), SRWL_EINVAL);
    EXPECT_ERR_HAS("fd -1");
    EXPECT_ERR_HAS("EBADF");
    EXPECT_ST(srwl_data_end(-1), SRWL_EINVAL);
    EXPECT_ERR_HAS("EBADF");
    fd = open(file, O_RDONLY);
    close(fd);
    EXPECT_ST(srwl_data_begin(fd), SRWL_EINVAL);
    printf("  closed descriptor: EINVAL: %s\n", srwl_last_error());

    /* A pipe has no file to make coherent. */
    CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
    EXPECT_ST(srwl_data_begin(p[0]), SRWL_EIO);
    EXPECT_ERR_HAS("ESPIPE");
    printf("  pipe: EIO: %s\n", srwl_last_error());
    close(p[0]);
    close(p[1]);

    /* Paths. */
    EXPECT_ST(srwl_data_begin_path(NULL), SRWL_EINVAL);
    EXPECT_ERR_HAS("path is NULL");
    EXPECT_ST(srwl_data_end_path(NULL), SRWL_EINVAL);
    EXPECT_ST(srwl_data_end_path(tu_fmt("%s/missing", dir)), SRWL_EIO);
    EXPECT_ERR_HAS("ENOENT");
    EXPECT_ERR_HAS("/missing");
    printf("  missing file: EIO: %s\n", srwl_last_error());

    canary = tu_fmt("%s/canary", dir);
    tu_write_text(canary, "canary\n");
    link = tu_fmt("%s/link", dir);
    CHECK(symlink(canary, link) == 0, "symlink: %s", strerror(errno));
    EXPECT_ST(srwl_data_begin_path(link), SRWL_EUNSAFE);
    EXPECT_ERR_HAS("symlink");
    EXPECT_ERR_HAS("/link");
    EXPECT_ST(srwl_data_end_path(link), SRWL_EUNSAFE);
    CHECK(strcmp(read_text(canary), "canary\n") == 0, "the canary behind the symlink changed");
    printf("  symlink: EUNSAFE: %s\n", srwl_last_error());

    EXPECT_ST(srwl_data_end_path(dir), SRWL_EUNSAFE);
    EXPECT_ERR_HAS("not a regular file");
    fifo = tu_fmt("%s/fifo", dir);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
    EXPECT_ST(srwl_data_begin_path(fifo), SRWL_EUNSAFE);
    EXPECT_ERR_HAS("not a regular file");
    printf("  directory, FIFO: EUNSAFE: %s\n", srwl_last_error());
    printf("%s: ok\n", tu_name);
    return 0;
}
