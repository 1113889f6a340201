#!/usr/bin/env bash
# The EasyBuild easyconfig (packaging/easybuild/softrwlock-<version>.eb), for real: EasyBuild
# from PyPI in a venv, Lmod from Debian; `eb` builds from packaging/dist.sh's tarballs (no
# network for the build) into a scratch prefix; then `module load softrwlock` and a C program
# builds with pkg-config and with CMake (find_package) and runs, and the package's own
# modulefile (share/modulefiles) is seen through EasyBuild's module tree.
# usage: easybuild.sh REPO_ROOT       Environment: SRWL_EB_VENV (a venv to reuse), CC
set -euo pipefail
root=$(cd "${1:?usage: easybuild.sh REPO_ROOT}" && pwd)
work=$(mktemp -d /tmp/srwl-easybuild-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
version=$(sed -n 's/^version[ \t]*=[ \t]*"\([0-9.]*\)".*/\1/p' "$root/Cargo.toml" | head -n 1)
easyconfig=$root/packaging/easybuild/softrwlock-$version.eb
[ -f "$easyconfig" ] || fail "no easyconfig for version $version: $easyconfig"

lmod_init=/usr/share/lmod/lmod/init/bash
[ -f "$lmod_init" ] || fail "Lmod is not installed ($lmod_init): apt-get install lmod"
# shellcheck disable=SC1090
. "$lmod_init"

venv=${SRWL_EB_VENV:-$work/venv}
if [ ! -x "$venv/bin/eb" ]; then
    echo "== pip install easybuild into $venv"
    python3 -m venv "$venv" || fail "python3 -m venv (apt-get install python3-venv)"
    # Pinned: the version this easyconfig was tested with.
    "$venv/bin/pip" install -q easybuild-framework==5.4.1 easybuild-easyblocks==5.4.1 || fail "pip install easybuild"
fi
export PATH="$venv/bin:$PATH"
eb --version

sh "$root/packaging/dist.sh" "$work/sources" || fail "packaging/dist.sh"

eb_flags=(--prefix="$work/eb" --installpath="$work/eb/install" --buildpath="$work/eb/build"
          --sourcepath="$work/sources" --modules-tool=Lmod --module-syntax=Lua
          --tmpdir="$work/eb/tmp" --disable-cleanup-tmpdir)
[ "$(id -u)" = 0 ] && eb_flags+=(--allow-use-as-root-and-accept-consequences)
echo "== eb $easyconfig"
if ! nice eb "$easyconfig" "${eb_flags[@]}" >"$work/eb.log" 2>&1; then
    cat "$work/eb.log"
    for f in $(sed -n 's/.*Results of the build can be found in the log file(s) \(.*\)/\1/p' "$work/eb.log") \
             $(find "$work/eb/tmp" -name 'easybuild-*.log' 2>/dev/null); do
        [ -f "$f" ] && tail -60 "$f"
    done
    fail "eb did not build the easyconfig"
fi
tail -5 "$work/eb.log"

echo "== module load softrwlock"
unset PKG_CONFIG_PATH CMAKE_PREFIX_PATH LD_LIBRARY_PATH LIBRARY_PATH CPATH
module use "$work/eb/install/modules/all"
module load "softrwlock/$version" || fail "module load softrwlock/$version"
module list 2>&1
[ "$(pkg-config --modversion softrwlock)" = "$version" ] || fail "pkg-config does not find softrwlock after module load"
softrwlock --version | grep -q "$version" || fail "softrwlock --version after module load"
mkdir -p "$work/c"
# shellcheck disable=SC2046
${CC:-cc} -o "$work/c/app" "$root/tests/consumer/pkgconfig/main.c" $(pkg-config --cflags --libs softrwlock) ||
    fail "cc with pkg-config after module load"
"$work/c/app" "$work/c" || fail "the pkg-config-built program does not run under the module"
cat >"$work/c/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(ebconsumer LANGUAGES C)
find_package(SoftRWLock $version CONFIG REQUIRED)
add_executable(app_cmake "$root/tests/consumer/pkgconfig/main.c")
target_link_libraries(app_cmake PRIVATE SoftRWLock::softrwlock)
CM
{ cmake -S "$work/c" -B "$work/c/b" && cmake --build "$work/c/b"; } >"$work/cmake.log" 2>&1 ||
    { cat "$work/cmake.log"; fail "CMake find_package after module load"; }
"$work/c/b/app_cmake" "$work/c" || fail "the CMake-built program does not run under the module"
module unload "softrwlock/$version"
echo "PASS: eb built softrwlock $version from the local sources; module load, pkg-config and CMake work"
