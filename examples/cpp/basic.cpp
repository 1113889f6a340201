// basic.cpp: the C++ wrapper (include/softrwlock.hpp) in one page.
//
// Appends a line to a data file under the write lock, reads it back under the read lock,
// and shows both ways of handling failure: exceptions (srwl::Error) and status codes.
//
//   c++ -std=c++11 basic.cpp -I include -L target/release -lsoftrwlock -o basic_cpp
//   ./basic_cpp [DATA_FILE]          (default: basic-example-cpp.dat)

#include <softrwlock.hpp>

#include <fstream>
#include <iostream>
#include <string>

int main(int argc, char **argv) {
    const std::string path = argc > 1 ? argv[1] : "basic-example-cpp.dat";
    try {
        // Heartbeat 1 s; stale threshold 3 s and poll interval 0.5 s derived from it.
        srwl::Lock lock(path, srwl::Options(1.0));

        {
            srwl::WriteGuard w = lock.write(30.0); // throws srwl::Error on timeout
            std::ofstream out(path.c_str(), std::ios::app);
            out << "written under write grant " << w.generation() << "\n";
            out.close();
            w.check();   // still ours? (throws with status SRWL_ELOST if it was evicted)
            w.release(); // optional: the destructor releases too, but silently
        }

        {
            srwl::ReadGuard r(lock, 30.0);
            std::ifstream in(path.c_str());
            std::string line, last;
            int n = 0;
            while (std::getline(in, line)) {
                last = line;
                ++n;
            }
            std::cout << path << ": " << n << " line(s); last: " << last << "\n";
        } // released here

        // Status codes instead of exceptions: another handle (another participant) tries
        // while this one writes.
        srwl::Lock other(path, srwl::Options(1.0));
        srwl::WriteGuard w = lock.write();
        srwl::ReadGuard r(other, 0, std::nothrow);
        if (!r) {
            std::cout << "as expected, the second handle could not read: "
                      << srwl::status_name(r.status()) << ": " << r.message() << "\n";
        } else {
            std::cerr << "basic_cpp: a reader got in while a writer held the lock\n";
            return 1;
        }
    } catch (const srwl::Error &e) {
        std::cerr << "basic_cpp: " << e.status_name() << ": " << e.what() << "\n";
        return 1;
    }
    std::cout << "libsoftrwlock " << srwl::version() << ": ok\n";
    return 0;
}
