#!/bin/sh
# Installs a CMake build into a temporary prefix, moves the prefix elsewhere, and uses the
# installed Python package with only PYTHONPATH set: it must load the installed library.
#   cmake_install.sh BUILD_DIR PYTHON PYTHON_INSTALL_DIR(relative to the prefix) [CMAKE]
set -eu
build=$1 python=$2 pydir=$3 cmake=${4:-cmake}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "python.cmake_install: $*" >&2; exit 1; }
"$cmake" --install "$build" --prefix "$work/prefix" >"$work/install.log" || { cat "$work/install.log"; fail "cmake --install"; }
mv "$work/prefix" "$work/moved"
[ -f "$work/moved/$pydir/softrwlock/__init__.py" ] || fail "no $pydir/softrwlock/__init__.py installed"
[ -f "$work/moved/$pydir/softrwlock/_libdir.py" ] || fail "no $pydir/softrwlock/_libdir.py installed"
cd "$work"
out=$(env -u SOFTRWLOCK_LIB -u LD_LIBRARY_PATH PYTHONPATH="$work/moved/$pydir" PYTHONDONTWRITEBYTECODE=1 "$python" -c '
import os, sys, softrwlock
from softrwlock import SoftReadWriteLock
lock = SoftReadWriteLock(os.path.join(sys.argv[1], "x.lock"), heartbeat_interval=1)
with lock.write_lock(timeout=10):
    print(softrwlock.library_path(), lock.generation)
' "$work")
echo "$out"
case "$out" in
  "$work/moved/"*"/libsoftrwlock.so"*" 1") echo "python.cmake_install: ok" ;;
  *) fail "the installed package did not load the installed library: $out" ;;
esac
