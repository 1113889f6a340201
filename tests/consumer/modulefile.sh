#!/usr/bin/env bash
# The installed modulefiles under Lmod: `module use PREFIX/share/modulefiles`, `module load
# softrwlock`, then a C program builds with pkg-config alone and runs with nothing else set, a
# CMake project finds the package through CMAKE_PREFIX_PATH alone, and `module unload` takes
# it all back. Done for the Lmod (.lua) file, then for the Tcl one (the .lua moved aside).
# usage: modulefile.sh PREFIX VERSION     (PREFIX: an installed tree that may be changed)
set -euo pipefail
prefix=$1 version=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/srwl-modules-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

lmod_init=/usr/share/lmod/lmod/init/bash
[ -f "$lmod_init" ] || fail "Lmod is not installed ($lmod_init): apt-get install lmod"
# shellcheck disable=SC1090
. "$lmod_init"
unset PKG_CONFIG_PATH CMAKE_PREFIX_PATH LD_LIBRARY_PATH LIBRARY_PATH CPATH
modfile_dir=$prefix/share/modulefiles/softrwlock

check_loaded() { # check_loaded FLAVOUR
    local flavour=$1 root
    module use "$prefix/share/modulefiles"
    module load softrwlock || fail "$flavour: module load softrwlock"
    module list 2>&1 | grep -q "softrwlock/$version" || fail "$flavour: softrwlock/$version is not loaded: $(module list 2>&1)"
    root=$(cd "$prefix" && pwd -P)
    [ "$(cd "${SOFTRWLOCK_ROOT:?}" && pwd -P)" = "$root" ] || fail "$flavour: SOFTRWLOCK_ROOT=$SOFTRWLOCK_ROOT, expected $root"
    [ "$(pkg-config --modversion softrwlock)" = "$version" ] || fail "$flavour: pkg-config does not find softrwlock through the module"
    if [ -x "$prefix/bin/softrwlock" ]; then
        [ "$(command -v softrwlock)" -ef "$prefix/bin/softrwlock" ] || fail "$flavour: softrwlock is not on PATH"
    fi
    mkdir -p "$work/$flavour"
    # shellcheck disable=SC2046
    cc -o "$work/$flavour/app" "$here/pkgconfig/main.c" $(pkg-config --cflags --libs softrwlock) ||
        fail "$flavour: cc with pkg-config"
    "$work/$flavour/app" "$work/$flavour" || fail "$flavour: the program does not run with the module's LD_LIBRARY_PATH"
    # cc alone, through CPATH and LIBRARY_PATH.
    cc -o "$work/$flavour/app2" "$here/pkgconfig/main.c" -lsoftrwlock || fail "$flavour: cc app.c -lsoftrwlock"
    "$work/$flavour/app2" "$work/$flavour" || fail "$flavour: cc app.c -lsoftrwlock does not run"
    mkdir -p "$work/$flavour/cm"
    cat >"$work/$flavour/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(modconsumer LANGUAGES C)
find_package(SoftRWLock $version CONFIG REQUIRED)
add_executable(app "$here/pkgconfig/main.c")
target_link_libraries(app PRIVATE SoftRWLock::softrwlock)
CM
    cmake -S "$work/$flavour/cm" -B "$work/$flavour/cm/b" >"$work/$flavour/cm.log" 2>&1 &&
        cmake --build "$work/$flavour/cm/b" >>"$work/$flavour/cm.log" 2>&1 ||
        { cat "$work/$flavour/cm.log"; fail "$flavour: CMake find_package through the module's CMAKE_PREFIX_PATH"; }
    "$work/$flavour/cm/b/app" "$work/$flavour" || fail "$flavour: the CMake-built program does not run"
    module unload softrwlock
    if pkg-config --exists softrwlock 2>/dev/null; then fail "$flavour: softrwlock still found after module unload"; fi
    [ -z "${SOFTRWLOCK_ROOT:-}" ] || fail "$flavour: SOFTRWLOCK_ROOT still set after module unload"
    module unuse "$prefix/share/modulefiles"
    echo "$flavour modulefile OK"
}

check_loaded lua
mv "$modfile_dir/$version.lua" "$work/lua.off"
module --ignore_cache avail >/dev/null 2>&1 || true
check_loaded tcl
mv "$work/lua.off" "$modfile_dir/$version.lua"
