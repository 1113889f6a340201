#!/usr/bin/env bash
# Compiles and runs the README's per-language snippets (the ```cpp, ```fortran, ```python and
# ```sh blocks under "Snippets"), so that the README cannot drift from the bindings.
# The placeholder lock path /shared/project/data.lock is replaced by a temporary one.
#
# usage: readme_snippets.sh README INCLUDE_DIR LIBSOFTRWLOCK_SO CXX \
#            FORTRAN_COMPILER FORTRAN_MOD_DIR FORTRAN_LIB PYTHON_DIR PYTHON SOFTRWLOCK_CLI
# An empty FORTRAN_* or SOFTRWLOCK_CLI argument fails the test, unless SRWL_ALLOW_SKIPS=1
# (scripts/test.sh --allow-skips): then that snippet is skipped, said so, and the exit is 77.
set -euo pipefail
readme=$1 inc=$2 lib=$3 cxx=$4 fc=$5 fmod=$6 flib=$7 pydir=$8 py=$9 cli=${10}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lock="$tmp/data.lock"
libdir=$(dirname "$lib")
# The library's SONAME (libsoftrwlock.so.0) next to it, for the run-time linker.
soname=$(objdump -p "$lib" 2>/dev/null | awk '$1=="SONAME"{print $2}')
mkdir -p "$tmp/lib"
cp "$lib" "$tmp/lib/libsoftrwlock.so"
[ -n "$soname" ] && cp "$lib" "$tmp/lib/$soname"
export LD_LIBRARY_PATH="$tmp/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

extract() {  # tag output: the first ```tag block after the "### Snippets" heading
    awk -v tag="$1" '/^### Snippets/{s=1} s && $0=="```"tag {on=1; next} on && /^```$/ {exit} on' "$readme" \
        | sed "s#/shared/project/data.lock#$lock#g" > "$2"
    [ -s "$2" ] || { echo "no \`\`\`$1 snippet in $readme"; exit 1; }
}
ran=()
skipped=()
cannot_run() {  # cannot_run SNIPPET WHY: fails, or with SRWL_ALLOW_SKIPS=1 says so and goes on
    if [ "${SRWL_ALLOW_SKIPS:-0}" = 1 ]; then
        echo "SKIP: $1 snippet: $2"
        skipped+=("$1")
    else
        echo "FAIL: $1 snippet cannot run: $2 (SRWL_ALLOW_SKIPS=1 lets it go)"
        exit 1
    fi
}

extract cpp "$tmp/snippet.cpp"
"$cxx" -std=c++17 -Wall -Wextra -Werror -I "$inc" "$tmp/snippet.cpp" -L "$tmp/lib" -lsoftrwlock -o "$tmp/snippet_cpp"
# Output is captured first and matched from a here-string: under pipefail, a pipe into
# grep -q fails whenever grep exits at its match before the writer has finished (SIGPIPE).
out=$("$tmp/snippet_cpp")
grep -q "writing under generation" <<<"$out" || { echo "C++ snippet: unexpected output: $out"; exit 1; }
ran+=(C++)

if [ -n "$fc" ] && [ -n "$fmod" ] && [ -f "$flib" ]; then
    extract fortran "$tmp/snippet.f90"
    "$fc" -I "$fmod" "$tmp/snippet.f90" "$flib" -L "$tmp/lib" -lsoftrwlock -o "$tmp/snippet_f"
    "$tmp/snippet_f"
    ran+=(Fortran)
else
    cannot_run Fortran "no Fortran compiler or module"
fi

extract python "$tmp/snippet.py"
out=$(SOFTRWLOCK_LIB="$tmp/lib/libsoftrwlock.so" PYTHONPATH="$pydir" "$py" "$tmp/snippet.py")
grep -q "writing under generation" <<<"$out" || { echo "Python snippet: unexpected output: $out"; exit 1; }
ran+=(Python)

if [ -n "$cli" ] && [ -x "$cli" ]; then
    extract sh "$tmp/snippet.sh"
    mkdir -p "$tmp/bin"
    ln -s "$cli" "$tmp/bin/softrwlock"
    out=$(PATH="$tmp/bin:$PATH" bash -e "$tmp/snippet.sh")
    grep -q "^updating" <<<"$out" || { echo "shell snippet: unexpected output: $out"; exit 1; }
    ran+=(shell)
else
    cannot_run shell "no softrwlock command"
fi
echo "README snippets compiled and ran: ${ran[*]}"
if [ ${#skipped[@]} -gt 0 ]; then echo "README snippets skipped: ${skipped[*]}"; exit 77; fi
