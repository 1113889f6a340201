#!/bin/sh
# Builds the consumer with pkg-config, three ways, into directory $1:
#   consumer_pc             shared:  cc main.c $(pkg-config --cflags --libs softrwlock)
#   consumer_pc_static      static:  the .a (taken with -Bstatic, since the .so sits next to it)
#                                    plus the Libs.private of `pkg-config --static --libs`
#   consumer_pc_allstatic   fully static (-static): every Libs.private library must exist as .a
# Uses PKG_CONFIG_PATH (or PKG_CONFIG_LIBDIR) to find softrwlock.pc, and $CC (default cc).
set -eu
out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}

cflags=$($PKG_CONFIG --cflags softrwlock)
libs=$($PKG_CONFIG --libs softrwlock)
static_libs=$($PKG_CONFIG --static --libs softrwlock)
echo "pkg-config --cflags: $cflags"
echo "pkg-config --libs: $libs"
echo "pkg-config --static --libs: $static_libs"

set -x
# shellcheck disable=SC2086
$CC -Wall -Wextra -Werror -o "$out/consumer_pc" "$here/main.c" $cflags $libs
# shellcheck disable=SC2086
$CC -Wall -Wextra -Werror -o "$out/consumer_pc_static" "$here/main.c" $cflags \
    $(echo "$static_libs" | sed 's/-lsoftrwlock/-Wl,-Bstatic -lsoftrwlock -Wl,-Bdynamic/')
if [ "${SRWL_SKIP_ALLSTATIC:-0}" != 1 ]; then
    # shellcheck disable=SC2086
    $CC -static -Wall -Wextra -Werror -o "$out/consumer_pc_allstatic" "$here/main.c" $cflags $static_libs
fi
