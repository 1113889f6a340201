#!/bin/sh
# Builds the consumer with pkg-config, as the README says, into directory $1:
#   consumer_pc             shared:  cc main.c $(pkg-config --cflags --libs softrwlock)
#   consumer_pc_static      static:  cc main.c $(pkg-config --cflags --libs softrwlock-static)
#   consumer_pc_allstatic   fully static (-static) with softrwlock-static: every library it
#                           names must exist as .a
#   consumer_pc_f           Fortran: $FC main.f90 $(pkg-config --cflags --libs softrwlock-fortran)
#                           (only if FC is set)
# Uses PKG_CONFIG_PATH (or PKG_CONFIG_LIBDIR) to find the .pc files, and $CC (default cc).
set -eu
out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}

set -x
# shellcheck disable=SC2046
$CC -Wall -Wextra -Werror -o "$out/consumer_pc" "$here/main.c" $($PKG_CONFIG --cflags --libs softrwlock)
# shellcheck disable=SC2046
$CC -Wall -Wextra -Werror -o "$out/consumer_pc_static" "$here/main.c" $($PKG_CONFIG --cflags --libs softrwlock-static)
if [ "${SRWL_SKIP_ALLSTATIC:-0}" != 1 ]; then
    # shellcheck disable=SC2046
    $CC -static -Wall -Wextra -Werror -o "$out/consumer_pc_allstatic" "$here/main.c" \
        $($PKG_CONFIG --cflags --libs softrwlock-static)
fi
if [ -n "${FC:-}" ]; then
    # shellcheck disable=SC2046
    $FC -o "$out/consumer_pc_f" "$here/../cmake/main.f90" $($PKG_CONFIG --cflags --libs softrwlock-fortran)
fi
