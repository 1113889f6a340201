#!/bin/sh
# Installs a built libsoftrwlock into a temporary prefix, checks the installed layout, moves the
# prefix elsewhere (the CMake package and the .pc file must be relocatable), then builds and
# runs the consumer projects against it:
#   tests/consumer/cmake      find_package(SoftRWLock CONFIG COMPONENTS C CXX [Fortran] MPI),
#                             shared and static, the MPI collectives under mpiexec -n 2
#   tests/consumer/pkgconfig  pkg-config softrwlock, softrwlock-static, softrwlock-fortran
#   tests/consumer/modulefile.sh  the installed Lmod and Tcl modulefiles
# It also checks the docs and licenses, and that `cmake --install --strip` strips (and that a
# Release build installs no debug info).
#
# usage: tests/consumer/run.sh BUILD_DIR      (a configured and built CMake build directory)
# Environment: CMAKE_COMMAND (default cmake), CC, CXX, SRWL_KEEP=1 keeps the temporary tree.
set -eu

build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
cmake=${CMAKE_COMMAND:-cmake}
work=$(mktemp -d /tmp/srwl-consumer-XXXXXX)
if [ "${SRWL_KEEP:-0}" = 1 ]; then
    echo "keeping $work"
else
    trap 'rm -rf "$work"' EXIT
fi

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

for tool in readelf pkg-config mpiexec; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (install binutils, pkg-config, mpich)"
done
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt")

echo "== install into $work/prefix"
"$cmake" --install "$build" --prefix "$work/prefix" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install"; }
cat "$work/install.log"

# Relocate: nothing may depend on the prefix given at install time.
mv "$work/prefix" "$work/moved"
prefix=$work/moved

so_real=$(cd "$prefix" && find * -name 'libsoftrwlock.so.*.*.*' -type f | head -n 1)
[ -n "$so_real" ] || fail "no versioned libsoftrwlock.so.X.Y.Z installed"
libdir=$prefix/$(dirname "$so_real")
real=$(basename "$so_real")
version=${real#libsoftrwlock.so.}
major=${version%%.*}
echo "== layout: libdir $libdir, version $version"

header_version=$(sed -n 's/^#define SRWL_VERSION_STRING "\(.*\)"$/\1/p' "$prefix/include/softrwlock.h")
[ "$header_version" = "$version" ] || fail "installed header says $header_version, library file says $version"

[ -L "$libdir/libsoftrwlock.so.$major" ] || fail "libsoftrwlock.so.$major is not a symlink"
[ "$(readlink "$libdir/libsoftrwlock.so.$major")" = "$real" ] || fail "libsoftrwlock.so.$major -> $(readlink "$libdir/libsoftrwlock.so.$major"), expected $real"
[ -L "$libdir/libsoftrwlock.so" ] || fail "libsoftrwlock.so (dev symlink) is not a symlink"
[ "$(readlink -f "$libdir/libsoftrwlock.so")" = "$(readlink -f "$libdir/$real")" ] || fail "libsoftrwlock.so does not lead to $real"
case $(readlink "$libdir/libsoftrwlock.so") in /*) fail "libsoftrwlock.so is an absolute symlink" ;; esac
[ -x "$libdir/$real" ] || fail "$real is not executable"
[ -f "$libdir/libsoftrwlock.a" ] || fail "libsoftrwlock.a not installed"
readelf -d "$libdir/$real" | grep -q "(SONAME).*\[libsoftrwlock.so.$major\]" ||
    fail "SONAME of $real is not libsoftrwlock.so.$major: $(readelf -d "$libdir/$real" | grep SONAME)"
for sym in srwl_open srwl_acquire_read srwl_acquire_write srwl_release srwl_check srwl_generation srwl_close \
           srwl_options_init srwl_status_str srwl_last_error srwl_version; do
    readelf --dyn-syms -W "$libdir/$real" | grep -q " $sym$" || fail "$real does not export $sym"
done
[ -f "$prefix/include/softrwlock.h" ] || fail "include/softrwlock.h not installed"
if [ -f "$here/../../include/softrwlock.hpp" ]; then
    [ -f "$prefix/include/softrwlock.hpp" ] || fail "include/softrwlock.hpp exists in the source tree but is not installed"
fi
[ -f "$libdir/cmake/SoftRWLock/SoftRWLockConfig.cmake" ] || fail "SoftRWLockConfig.cmake not installed"
[ -f "$libdir/cmake/SoftRWLock/SoftRWLockConfigVersion.cmake" ] || fail "SoftRWLockConfigVersion.cmake not installed"
[ -f "$libdir/pkgconfig/softrwlock.pc" ] || fail "softrwlock.pc not installed"
grep -q '^Libs.private:' "$libdir/pkgconfig/softrwlock.pc" || fail "softrwlock.pc has no Libs.private"
if grep -rq "$work/prefix" "$libdir/cmake" "$libdir/pkgconfig"; then
    fail "the installed CMake/pkg-config files name the install prefix (not relocatable)"
fi
if [ -f "$here/../../src/bin/softrwlock.rs" ]; then
    [ -x "$prefix/bin/softrwlock" ] || fail "the softrwlock tool (src/bin/softrwlock.rs) is not installed in bin/"
    [ "$("$prefix/bin/softrwlock" --version)" = "softrwlock $version" ] || fail "bin/softrwlock --version: $("$prefix/bin/softrwlock" --version)"
fi
for f in README.md LICENSE-MIT LICENSE-APACHE docs/PROTOCOL.md; do
    [ -f "$prefix/share/doc/softrwlock/$f" ] || fail "share/doc/softrwlock/$f not installed"
done
grep -q "Apache License" "$prefix/share/doc/softrwlock/LICENSE-APACHE" || fail "LICENSE-APACHE is not the Apache license"
grep -q "Permission is hereby granted" "$prefix/share/doc/softrwlock/LICENSE-MIT" || fail "LICENSE-MIT is not the MIT license"
[ -f "$prefix/share/modulefiles/softrwlock/$version.lua" ] || fail "the Lmod modulefile share/modulefiles/softrwlock/$version.lua is not installed"
[ -f "$prefix/share/modulefiles/softrwlock/$version" ] || fail "the Tcl modulefile share/modulefiles/softrwlock/$version is not installed"
[ -f "$libdir/pkgconfig/softrwlock-static.pc" ] || fail "softrwlock-static.pc not installed"
[ -f "$prefix/include/softrwlock_mpi.h" ] || fail "include/softrwlock_mpi.h not installed"
mod=$(find "$prefix" -name softrwlock.mod | head -n 1)
if [ -n "$mod" ]; then
    case $mod in
        "$prefix"/include/softrwlock/fortran/*-*/softrwlock.mod) ;;
        *) fail "softrwlock.mod is not in a compiler-versioned directory include/softrwlock/fortran/<id>-<version>/: $mod" ;;
    esac
    [ -f "$libdir/libsoftrwlock_fortran.a" ] || fail "libsoftrwlock_fortran.a not installed"
    [ -f "$libdir/pkgconfig/softrwlock-fortran.pc" ] || fail "softrwlock-fortran.pc not installed"
fi
# A Release build carries no debug info; RelWithDebInfo and Debug do.
case $build_type in
    Release | MinSizeRel)
        if readelf -S -W "$libdir/$real" | grep -q '[.]debug_info'; then
            fail "a $build_type build installed $real with debug info ($(wc -c <"$libdir/$real") bytes)"
        fi ;;
esac
echo "layout OK ($build_type: $real is $(wc -c <"$libdir/$real") bytes, libsoftrwlock.a $(wc -c <"$libdir/libsoftrwlock.a") bytes)"
(cd "$prefix" && find . | sort)

run() { # run NAME: runs a consumer binary with a directory for its lock
    echo "-- $*"
    "$@" "$work" || fail "$1 failed"
}
no_needed_so() { # the binary must not need libsoftrwlock.so
    if readelf -d "$1" | grep -q 'NEEDED.*libsoftrwlock'; then
        fail "$1 links libsoftrwlock dynamically: $(readelf -d "$1" | grep NEEDED)"
    fi
}
needs_soname() {
    readelf -d "$1" | grep -q "NEEDED.*\[libsoftrwlock.so.$major\]" || fail "$1 does not need libsoftrwlock.so.$major"
}

echo "== cmake --install --strip"
"$cmake" --install "$build" --prefix "$work/stripped" --strip >/dev/null || fail "cmake --install --strip"
s_libdir=$work/stripped/${libdir#"$prefix"/}
if readelf -S -W "$s_libdir/$real" | grep -q -E '[.]symtab|[.]debug_'; then
    fail "--strip left a symbol table or debug info in $real"
fi
if readelf -S -W "$s_libdir/libsoftrwlock.a" | grep -q '[.]debug_info'; then
    fail "--strip left debug info in libsoftrwlock.a"
fi
readelf --dyn-syms -W "$s_libdir/$real" | grep -q " srwl_open$" || fail "--strip removed the exported srwl_open"
echo "stripped: $real $(wc -c <"$s_libdir/$real") bytes (unstripped $(wc -c <"$libdir/$real")), libsoftrwlock.a $(wc -c <"$s_libdir/libsoftrwlock.a") bytes"
rm -rf "$work/stripped"

echo "== CMake consumer (find_package with components)"
set -- -S "$here/cmake" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DSRWL_WANT_MPI=ON
[ -n "$mod" ] && set -- "$@" -DSRWL_WANT_FORTRAN=ON
[ -n "${CC:-}" ] && set -- "$@" -DCMAKE_C_COMPILER="$CC"
[ -n "${CXX:-}" ] && set -- "$@" -DCMAKE_CXX_COMPILER="$CXX"
"$cmake" "$@" >"$work/cmake-configure.log" 2>&1 || { cat "$work/cmake-configure.log"; fail "consumer configure"; }
grep -E "SoftRWLock|Fortran consumer" "$work/cmake-configure.log" || true
"$cmake" --build "$work/cmake-build" >"$work/cmake-build.log" 2>&1 || { cat "$work/cmake-build.log"; fail "consumer build"; }
needs_soname "$work/cmake-build/consumer_c"
needs_soname "$work/cmake-build/consumer_cxx"
no_needed_so "$work/cmake-build/consumer_c_static"
run "$work/cmake-build/consumer_c"
run "$work/cmake-build/consumer_cxx"
run "$work/cmake-build/consumer_c_static"
if [ -n "$mod" ]; then
    # A Fortran module was installed: the Fortran consumer must have been built against it.
    [ -x "$work/cmake-build/consumer_f" ] || fail "a Fortran module is installed but the Fortran consumer was not built"
    run "$work/cmake-build/consumer_f"
fi
run mpiexec -n 2 "$work/cmake-build/consumer_mpi_c"
if [ -n "$mod" ]; then
    run mpiexec -n 2 "$work/cmake-build/consumer_mpi_f"
fi
# A component the package does not have makes it NOT FOUND.
mkdir -p "$work/badcomp"
cat >"$work/badcomp/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(badcomp LANGUAGES C)
find_package(SoftRWLock CONFIG QUIET COMPONENTS C Pascal)
if(SoftRWLock_FOUND)
  message(FATAL_ERROR "SoftRWLock was found with a component Pascal it does not have")
endif()
EOF
"$cmake" -S "$work/badcomp" -B "$work/badcomp/b" -DCMAKE_PREFIX_PATH="$prefix" >"$work/badcomp.log" 2>&1 ||
    { cat "$work/badcomp.log"; fail "an unknown component was accepted"; }
# A version the package cannot satisfy must be refused.
mkdir -p "$work/badver"
cat >"$work/badver/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(badver LANGUAGES C)
find_package(SoftRWLock $((major + 1)).0 CONFIG QUIET)
if(SoftRWLock_FOUND)
  message(FATAL_ERROR "SoftRWLock $((major + 1)).0 was accepted by version $version")
endif()
EOF
"$cmake" -S "$work/badver" -B "$work/badver/b" -DCMAKE_PREFIX_PATH="$prefix" >"$work/badver.log" 2>&1 ||
    { cat "$work/badver.log"; fail "the version check accepted a newer major version"; }

echo "== pkg-config consumer"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
[ "$(pkg-config --modversion softrwlock)" = "$version" ] || fail "pkg-config --modversion: $(pkg-config --modversion softrwlock)"
mkdir -p "$work/pc"
if [ -n "$mod" ]; then
    FC=${FC:-gfortran}
    export FC
fi
sh "$here/pkgconfig/build.sh" "$work/pc" || fail "pkg-config build"
needs_soname "$work/pc/consumer_pc"
no_needed_so "$work/pc/consumer_pc_static"
LD_LIBRARY_PATH=$libdir run "$work/pc/consumer_pc"
run "$work/pc/consumer_pc_static"
if [ -n "$mod" ]; then
    needs_soname "$work/pc/consumer_pc_f"
    LD_LIBRARY_PATH=$libdir run "$work/pc/consumer_pc_f"
fi
if [ -x "$work/pc/consumer_pc_allstatic" ]; then
    readelf -d "$work/pc/consumer_pc_allstatic" 2>/dev/null | grep -q NEEDED && fail "consumer_pc_allstatic is not static"
    run "$work/pc/consumer_pc_allstatic"
fi

echo "== modulefiles"
bash "$here/modulefile.sh" "$prefix" "$version" || fail "modulefiles"
echo "PASS"
