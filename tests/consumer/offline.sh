#!/bin/sh
# The offline build, as INSTALL.md describes it: packaging/dist.sh makes the source and vendor
# tarballs; unpacked together in a scratch directory they configure, build and install with
# CMake with an empty CARGO_HOME (no registry cache), CARGO_NET_OFFLINE=true and, as root, in a
# network namespace with no network at all (unshare -n); the installed library then links and
# runs a program. The build is a user's default one (SRWL_BUILD_TESTS off), with CXX pointing
# at no compiler: it must not need C++.
# usage: offline.sh REPO_ROOT      Environment: CMAKE_COMMAND (default cmake), CC
set -eu
root=$(cd "${1:?usage: offline.sh REPO_ROOT}" && pwd)
cmake=${CMAKE_COMMAND:-cmake}
work=$(mktemp -d /tmp/srwl-offline-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

sh "$root/packaging/dist.sh" "$work/dist" || fail "packaging/dist.sh"
version=$(sed -n 's/^version[ \t]*=[ \t]*"\([0-9.]*\)".*/\1/p' "$root/Cargo.toml" | head -n 1)
mkdir -p "$work/x"
tar -xzf "$work/dist/softrwlock-$version.tar.gz" -C "$work/x"
tar -xzf "$work/dist/softrwlock-$version-vendor.tar.gz" -C "$work/x"
src=$work/x/softrwlock-$version
[ -f "$src/.cargo/config.toml" ] && [ -d "$src/vendor" ] || fail "the vendor tarball did not give .cargo/config.toml and vendor/"

# No registry cache, no network. rustup's proxies find their toolchains through RUSTUP_HOME.
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
export CARGO_HOME="$work/empty-cargo-home"
export CARGO_NET_OFFLINE=true
mkdir -p "$CARGO_HOME"
nonet=""
if [ "$(id -u)" = 0 ]; then
    command -v unshare >/dev/null || fail "unshare (util-linux) not found"
    nonet="unshare -n"
    if $nonet bash -c 'exec 3<>/dev/tcp/index.crates.io/443' 2>/dev/null; then
        fail "unshare -n left crates.io reachable"
    fi
fi
echo "== offline build (CARGO_HOME empty, CARGO_NET_OFFLINE=true${nonet:+, $nonet})"
CXX=/nonexistent/c++ $nonet "$cmake" -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" 2>&1 ||
    { cat "$work/configure.log"; fail "configure"; }
$nonet "$cmake" --build "$work/build" -j2 >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; fail "offline build"; }
grep -q "Downloading\|Updating crates.io" "$work/build.log" && fail "the build downloaded crates"
"$cmake" --install "$work/build" --prefix "$work/prefix" >/dev/null || fail "install"
libdir=$(dirname "$(find "$work/prefix" -name libsoftrwlock.so | head -n 1)")
${CC:-cc} -o "$work/app" "$root/tests/consumer/pkgconfig/main.c" -I"$work/prefix/include" -L"$libdir" -lsoftrwlock ||
    fail "linking against the offline build"
LD_LIBRARY_PATH=$libdir "$work/app" "$work" || fail "the program built against the offline build does not run"
echo "PASS: offline build from packaging/dist.sh's tarballs"
