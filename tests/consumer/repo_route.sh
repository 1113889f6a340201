#!/bin/sh
# The README's "build against the repository" route, run as written: the ```sh block after
# "Build against the repository" in README.md. Its first line (cargo build --release) runs in the
# repository; the others in a scratch directory that sees the repository's include/ and
# target/ and holds app.c: the README's C example with a main that calls it.
# usage: repo_route.sh REPO_ROOT      Environment: CC (default cc)
set -eu
root=$(cd "${1:?usage: repo_route.sh REPO_ROOT}" && pwd)
work=$(mktemp -d /tmp/srwl-repo-route-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

awk '/^Build against the repository/{s=1} s && /^```sh$/{on=1; next} on && /^```$/{exit} on' \
    "$root/README.md" >"$work/route.sh"
[ -s "$work/route.sh" ] || fail "README.md has no \`\`\`sh block after 'Build against the repository'"
echo "== the README's route:"; cat "$work/route.sh"
[ "$(head -n 1 "$work/route.sh")" = "cargo build --release" ] || fail "the route does not start with cargo build --release"
grep -q -- '-Ltarget/release -lsoftrwlock' "$work/route.sh" || fail "the route does not link -Ltarget/release -lsoftrwlock"

# app.c: the README's C example (the first ```c block) and a main that runs it.
awk '/^```c$/{on=1; next} /^```$/{if(on) exit} on' "$root/README.md" >"$work/app.c"
cat >>"$work/app.c" <<MAIN

int main(void) { return update_dataset("$work/data.lock") == 0 ? 0 : 1; }
MAIN
ln -s "$root/include" "$work/include"
ln -s "$root/target" "$work/target"

(cd "$root" && head -n 1 "$work/route.sh" | sh -ex) || fail "cargo build --release"
if [ -n "${CC:-}" ] && [ "$CC" != cc ]; then
    mkdir -p "$work/bin" && ln -s "$(command -v "$CC")" "$work/bin/cc" && PATH=$work/bin:$PATH
fi
(cd "$work" && tail -n +2 "$work/route.sh" | sh -ex) >"$work/out" 2>&1 || { cat "$work/out"; fail "the README's route failed"; }
cat "$work/out"
[ -d "$work/data.lock.srwl" ] || fail "app ran but made no lock directory data.lock.srwl"
echo "PASS: the README's build-from-repository route builds and runs"
