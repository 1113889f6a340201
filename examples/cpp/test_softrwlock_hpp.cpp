// Tests of the C++ wrapper include/softrwlock.hpp (C++11 and later).
//
// Usage: test_softrwlock_hpp [SCRATCH_DIR]
// Works in a fresh directory made under SCRATCH_DIR (default $TMPDIR or /tmp), removed at the end.

#include <softrwlock.hpp>

#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

static_assert(!std::is_copy_constructible<srwl::Lock>::value, "Lock is not copyable");
static_assert(!std::is_copy_assignable<srwl::Lock>::value, "Lock is not copy-assignable");
static_assert(std::is_nothrow_move_constructible<srwl::Lock>::value, "Lock is movable");
static_assert(std::is_nothrow_move_assignable<srwl::Lock>::value, "Lock is move-assignable");
static_assert(!std::is_copy_constructible<srwl::ReadGuard>::value, "ReadGuard is not copyable");
static_assert(!std::is_copy_assignable<srwl::ReadGuard>::value, "ReadGuard is not copy-assignable");
static_assert(std::is_nothrow_move_constructible<srwl::ReadGuard>::value, "ReadGuard is movable");
static_assert(std::is_nothrow_move_assignable<srwl::ReadGuard>::value, "ReadGuard is move-assignable");
static_assert(!std::is_copy_constructible<srwl::WriteGuard>::value, "WriteGuard is not copyable");
static_assert(std::is_nothrow_move_constructible<srwl::WriteGuard>::value, "WriteGuard is movable");
static_assert(std::is_nothrow_destructible<srwl::WriteGuard>::value, "guards never throw on destruction");
static_assert(std::is_nothrow_destructible<srwl::Lock>::value, "Lock never throws on destruction");
static_assert(std::is_base_of<std::runtime_error, srwl::Error>::value, "Error is a runtime_error");

static int failures = 0;

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::cerr << __FILE__ << ":" << __LINE__ << ": FAILED: " #cond << std::endl;           \
            ++failures;                                                                            \
        }                                                                                          \
    } while (0)

#define EXPECT_STATUS(expr, want)                                                                  \
    do {                                                                                           \
        srwl::Status got_ = (expr);                                                                \
        if (got_ != (want)) {                                                                      \
            std::cerr << __FILE__ << ":" << __LINE__ << ": FAILED: " #expr " = "                   \
                      << srwl::status_name(got_) << ", want " << srwl::status_name(want) << " ("  \
                      << srwl::last_error() << ")" << std::endl;                                   \
            ++failures;                                                                            \
        }                                                                                          \
    } while (0)

// Runs `body`, which must throw srwl::Error with status `want`; returns the message.
template <typename F> static std::string expect_throw(F body, srwl::Status want, int line) {
    try {
        body();
    } catch (const srwl::Error &e) {
        if (e.status() != want) {
            std::cerr << __FILE__ << ":" << line << ": FAILED: threw " << e.status_name()
                      << ", want " << srwl::status_name(want) << " (" << e.what() << ")" << std::endl;
            ++failures;
        }
        return e.what();
    }
    std::cerr << __FILE__ << ":" << line << ": FAILED: did not throw " << srwl::status_name(want)
              << std::endl;
    ++failures;
    return std::string();
}

static int rm_entry(const char *path, const struct stat *, int, struct FTW *) {
    return ::remove(path);
}

// Short intervals so that nothing in the test waits long.
static srwl::Options fast() { return srwl::Options(0.2); }

static void test_options_and_errors(const std::string &dir) {
    srwl::Options d;
    EXPECT(d.heartbeat_interval() == 30.0);
    EXPECT(d.stale_threshold() == 90.0);
    EXPECT(d.poll_interval() == 1.0);
    srwl::Options f(0.2);
    EXPECT(f.stale_threshold() > 0.59 && f.stale_threshold() < 0.61);
    EXPECT(f.poll_interval() > 0.099 && f.poll_interval() < 0.101);

    // A bad option: SRWL_EINVAL, and the message names the field.
    std::string msg = expect_throw(
        [&] { srwl::Lock l(dir + "/bad", srwl::Options().heartbeat_interval(10).stale_threshold(5)); },
        SRWL_EINVAL, __LINE__);
    EXPECT(msg.find("stale_threshold") != std::string::npos);

    msg = expect_throw([&] { srwl::Lock l{std::string()}; }, SRWL_EINVAL, __LINE__);
    EXPECT(!msg.empty());
    expect_throw([&] { srwl::Lock l(static_cast<const char *>(nullptr)); }, SRWL_EINVAL, __LINE__);
    // A lock path in a directory that does not exist.
    msg = expect_throw([&] { srwl::Lock l(dir + "/no/such/dir/x"); }, SRWL_EIO, __LINE__);
    EXPECT(msg.find("no/such/dir") != std::string::npos);

    EXPECT(std::string(srwl::status_name(SRWL_TIMEOUT)) == "SRWL_TIMEOUT");
    EXPECT(std::string(srwl::status_name(99)) == "SRWL_UNKNOWN");
    EXPECT(std::string(srwl::status_str(SRWL_OK)) == "success");
    EXPECT(std::string(srwl::version()) == SRWL_VERSION_STRING);
}

static void test_guards(const std::string &dir) {
    const std::string path = dir + "/guards";
    srwl::Lock a(path, fast());
    srwl::Lock b(path, fast());
    EXPECT(a.valid() && b.valid());
    EXPECT(!a.held());

    std::uint64_t g1 = 0;
    {
        srwl::WriteGuard w = a.write();
        EXPECT(w.owns_lock());
        EXPECT(a.held());
        w.check();
        g1 = w.generation();
        EXPECT(g1 == a.generation());
        // Another handle cannot enter while `a` writes.
        EXPECT_STATUS(b.try_write(0), SRWL_TIMEOUT);
        EXPECT_STATUS(b.try_read(0), SRWL_TIMEOUT);
        srwl::ReadGuard r(b, 0, std::nothrow);
        EXPECT(!r);
        EXPECT_STATUS(r.status(), SRWL_TIMEOUT);
        EXPECT(!r.message().empty());
        std::string m = expect_throw([&] { srwl::WriteGuard w2 = b.write(0.05); }, SRWL_TIMEOUT, __LINE__);
        EXPECT(m.find("guards") != std::string::npos);
        try {
            b.acquire_read(0);
            ++failures;
        } catch (const srwl::Error &e) {
            EXPECT(e.is_timeout());
            EXPECT(!e.is_lost());
        }
        // An interrupt (here pending: it ends the next acquire) throws is_interrupted().
        EXPECT_STATUS(b.interrupt(), SRWL_OK);
        try {
            b.acquire_read(5);
            ++failures;
        } catch (const srwl::Error &e) {
            EXPECT(e.is_interrupted());
            EXPECT(!e.is_timeout());
        }
        // Downgrade is refused.
        expect_throw([&] { a.acquire_read(0); }, SRWL_ESTATE, __LINE__);
        // Write holds nest in the owning thread.
        {
            srwl::WriteGuard inner = a.write(0);
            EXPECT(inner);
        }
        EXPECT(a.held());
        EXPECT_STATUS(b.try_read(0), SRWL_TIMEOUT);
    }
    EXPECT(!a.held());

    // The guard released: `b` gets in, and the fencing token grew.
    {
        srwl::WriteGuard w(b, 5.0);
        EXPECT(w.generation() > g1);
    }

    // Readers share.
    {
        srwl::ReadGuard r1 = a.read(5);
        srwl::ReadGuard r2(b, 5);
        EXPECT(r1 && r2);
        EXPECT(r1.generation() >= g1 + 1);
        // Upgrade is refused.
        expect_throw([&] { a.acquire_write(0); }, SRWL_ESTATE, __LINE__);
        srwl::WriteGuard w(a, 0, std::nothrow);
        EXPECT_STATUS(w.status(), SRWL_ESTATE);
        // Read holds nest.
        srwl::ReadGuard r3 = a.read(0);
        EXPECT(r3);
        r3.release();
        EXPECT(!r3.owns_lock());
        EXPECT(a.held());
        r3.release(); // no-op: owns nothing
    }
    EXPECT(!a.held() && !b.held());

    // Release, check and generation without a hold: SRWL_ESTATE.
    expect_throw([&] { a.release(); }, SRWL_ESTATE, __LINE__);
    expect_throw([&] { a.check(); }, SRWL_ESTATE, __LINE__);
    expect_throw([&] { a.generation(); }, SRWL_ESTATE, __LINE__);
    std::uint64_t g = 0;
    EXPECT_STATUS(a.try_generation(g), SRWL_ESTATE);
    EXPECT_STATUS(a.try_check(), SRWL_ESTATE);
    EXPECT_STATUS(a.try_release(), SRWL_ESTATE);

    // Explicit acquire/release, non-throwing.
    EXPECT_STATUS(a.try_write(1), SRWL_OK);
    EXPECT_STATUS(a.try_generation(g), SRWL_OK);
    EXPECT(g > g1);
    EXPECT_STATUS(a.try_release(), SRWL_OK);

    // Invalid timeouts.
    EXPECT_STATUS(a.try_read(-2), SRWL_EINVAL);
    EXPECT(srwl::last_error().find("timeout") != std::string::npos);

    // Guard move: construction, assignment, into a function's result.
    {
        srwl::ReadGuard r;
        EXPECT(!r);
        r = a.read(1);
        EXPECT(r);
        srwl::ReadGuard moved(std::move(r));
        EXPECT(!r && moved);
        EXPECT(a.held());
        moved = srwl::ReadGuard(); // releases
        EXPECT(!a.held());
        std::vector<srwl::ReadGuard> v;
        v.push_back(a.read(1));
        v.push_back(a.read(1)); // second level
        v.pop_back();
        EXPECT(a.held());
        v.clear();
        EXPECT(!a.held());
    }

    // Lock move: guards keep working, a moved-from Lock is empty.
    {
        srwl::Lock c(path, fast());
        srwl::WriteGuard w = c.write(1);
        srwl::Lock d(std::move(c));
        EXPECT(!c.valid() && d.valid());
        EXPECT_STATUS(c.try_check(), SRWL_EINVAL);
        EXPECT(d.held());
        EXPECT_STATUS(a.try_read(0), SRWL_TIMEOUT);
        w.release();
        EXPECT(!d.held());
        srwl::Lock e(path, fast());
        e = std::move(d);
        EXPECT(e.valid() && !d.valid());
        e.close();
        EXPECT(!e.valid());
        e.close(); // closing an empty Lock does nothing
    }

    // Closing a Lock releases its hold.
    {
        srwl::Lock c(path, fast());
        c.acquire_write(1);
        EXPECT_STATUS(a.try_read(0), SRWL_TIMEOUT);
        EXPECT_STATUS(c.try_close(), SRWL_OK);
        EXPECT_STATUS(a.try_read(1), SRWL_OK);
        a.release();
    }

    // adopt / release_handle round trip.
    {
        ::srwl_lock *h = a.release_handle();
        EXPECT(!a.valid());
        srwl::Lock back = srwl::Lock::adopt(h);
        EXPECT(back.valid());
        a = std::move(back);
    }
}

// Threads, each with its own handle (one handle = one participant), increment a counter
// kept in a file, read-modify-write under the write lock. No update may be lost.
static void test_threads(const std::string &dir) {
    const std::string path = dir + "/threads";
    const std::string data = dir + "/threads.data";
    {
        FILE *f = std::fopen(data.c_str(), "w");
        std::fputs("0\n", f);
        std::fclose(f);
    }
    const int nthreads = 4, iters = 25;
    std::atomic<int> grants(0), errors(0), inside(0);
    std::vector<std::thread> ts;
    for (int t = 0; t < nthreads; ++t) {
        ts.push_back(std::thread([&, t] {
            try {
                srwl::Lock l(path, fast());
                for (int i = 0; i < iters; ++i) {
                    if ((i + t) % 3 == 0) {
                        srwl::ReadGuard r = l.read(30);
                        if (inside.load() != 0) {
                            ++errors;
                        }
                        continue;
                    }
                    srwl::WriteGuard w = l.write(30);
                    if (inside.fetch_add(1) != 0) {
                        ++errors;
                    }
                    FILE *f = std::fopen(data.c_str(), "r+");
                    long n = 0;
                    if (std::fscanf(f, "%ld", &n) != 1) {
                        ++errors;
                    }
                    std::rewind(f);
                    std::fprintf(f, "%ld\n", n + 1);
                    std::fclose(f);
                    ++grants;
                    inside.fetch_sub(1);
                }
            } catch (const srwl::Error &e) {
                std::cerr << "thread " << t << ": " << e.status_name() << ": " << e.what() << std::endl;
                ++errors;
            }
        }));
    }
    for (size_t i = 0; i < ts.size(); ++i) {
        ts[i].join();
    }
    FILE *f = std::fopen(data.c_str(), "r");
    long n = -1;
    EXPECT(std::fscanf(f, "%ld", &n) == 1);
    std::fclose(f);
    EXPECT(errors.load() == 0);
    EXPECT(n == grants.load());
    EXPECT(grants.load() > 0);
}

int main(int argc, char **argv) {
    std::string base = argc > 1 ? argv[1] : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    std::string templ = base + "/srwl-hpp-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) {
        std::perror("mkdtemp");
        return 2;
    }
    const std::string dir(buf.data());
    try {
        test_options_and_errors(dir);
        test_guards(dir);
        test_threads(dir);
    } catch (const srwl::Error &e) {
        std::cerr << "unexpected srwl::Error " << e.status_name() << ": " << e.what() << std::endl;
        ++failures;
    }
    nftw(dir.c_str(), rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (failures) {
        std::cerr << failures << " failure(s)" << std::endl;
        return 1;
    }
    std::cout << "softrwlock.hpp: all tests passed (C++ " << __cplusplus << ")" << std::endl;
    return 0;
}
