#!/usr/bin/env bash
# Compiles the C example of README.md (the first ```c block) against the header, so that the
# README cannot drift from the API. Usage: readme_snippet.sh README.md INCLUDE_DIR CC
set -euo pipefail
readme=$1 inc=$2 cc=${3:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/{on=1; next} /^```$/{if(on) exit} on' "$readme" > "$tmp/snippet.c"
[ -s "$tmp/snippet.c" ] || { echo "no \`\`\`c block in $readme"; exit 1; }
"$cc" -std=c99 -Wall -Wextra -Werror -I "$inc" -c "$tmp/snippet.c" -o "$tmp/snippet.o"
echo "README C example compiles ($(wc -l < "$tmp/snippet.c") lines)"
