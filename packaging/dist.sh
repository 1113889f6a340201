#!/bin/sh
# Makes the release tarballs of libsoftrwlock in OUTDIR:
#   softrwlock-<version>.tar.gz         the sources (the files git tracks, as they are now)
#   softrwlock-<version>-vendor.tar.gz  every crate the build needs (`cargo vendor`), and the
#                                       .cargo/config.toml that makes cargo use them
# Both unpack into softrwlock-<version>/, so that unpacking the two in one directory gives a
# tree that builds with no network (a login node, a build farm):
#   tar xzf softrwlock-0.1.0.tar.gz && tar xzf softrwlock-0.1.0-vendor.tar.gz
#   cmake -S softrwlock-0.1.0 -B build && cmake --build build && cmake --install build --prefix ...
# Needs git, cargo and network access to crates.io (or crates cargo has already downloaded).
# usage: packaging/dist.sh OUTDIR
set -eu
out=$(mkdir -p "${1:?usage: dist.sh OUTDIR}" && cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
version=$(sed -n 's/^version[ \t]*=[ \t]*"\([0-9.]*\)".*/\1/p' Cargo.toml | head -n 1)
[ -n "$version" ] || { echo "dist.sh: no version in Cargo.toml" >&2; exit 1; }
name=softrwlock-$version
stage=$(mktemp -d /tmp/srwl-dist-XXXXXX)
trap 'rm -rf "$stage"' EXIT

# The sources: what git tracks, with the working tree's contents.
mkdir -p "$stage/$name"
git ls-files -z | xargs -0 sh -c 'for f; do [ -e "$f" ] || [ -L "$f" ] && printf "%s\n" "$f"; done' sh \
    | tar -cf - -T - | tar -xf - -C "$stage/$name"
tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name"

# The crates, and the source replacement that points cargo at them.
mkdir -p "$stage/vendor/$name/.cargo"
cargo vendor --quiet --locked --versioned-dirs --manifest-path Cargo.toml "$stage/vendor/$name/vendor" \
    >"$stage/vendor/$name/.cargo/config.toml.generated"
cat >"$stage/vendor/$name/.cargo/config.toml" <<CONFIG
# Made by packaging/dist.sh: build from the crates in vendor/ (no network needed).
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "vendor"

[net]
offline = true
CONFIG
rm "$stage/vendor/$name/.cargo/config.toml.generated"
tar -C "$stage/vendor" --owner=0 --group=0 --numeric-owner -czf "$out/$name-vendor.tar.gz" "$name"
ls -l "$out/$name.tar.gz" "$out/$name-vendor.tar.gz"
