#!/usr/bin/env bash
# tests/fsbeds/s3fs.sh: the refusal test on an object-store mount.
#
# Sets up a private S3 server (moto's, from PyPI, on 127.0.0.1 only) and two s3fs mounts of
# one bucket (two clients), then checks:
#   1. srwl_open (through the Python module, i.e. the C API) refuses a lock there with
#      SRWL_EUNSAFE and a message naming fuse.s3fs and why, and creates nothing;
#   2. the CLI refuses the same way (exit 125, same message);
#   3. `softrwlock verify --second-mount` shows why: racing O_EXCL creates of one name from
#      the two clients both succeed, and its verdict is FAIL.
# Tears everything down on exit (and first, whatever an earlier run left). Needs root,
# /dev/fuse, s3fs (Debian) and moto[server] (PyPI: installed into a venv if not on PATH).
# Exit 0 pass, 1 fail (a missing tool is a failure, not a skip).
#
#   tests/fsbeds/s3fs.sh            run the test
#   tests/fsbeds/s3fs.sh down       tear down only
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
STATE=/tmp/srwl-fsbed-s3fs
VENV=${SRWL_FSBEDS_VENV:-/tmp/srwl-fsbeds-venv}
BUCKET=srwl-bed

say() { echo "s3fs.sh: $*"; }
fail() { say "FAIL: $*"; exit 1; }

down() {
    for m in "$STATE/a" "$STATE/b"; do
        mountpoint -q "$m" 2>/dev/null && { fusermount -u "$m" 2>/dev/null || umount -l "$m"; }
    done
    if [ -f "$STATE/moto.pid" ]; then
        pid=$(cat "$STATE/moto.pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    fi
    rm -rf "$STATE"
}

if [ "${1:-}" = down ]; then down; exit 0; fi
down
trap down EXIT

[ "$(id -u)" = 0 ] || fail "needs root (FUSE mounts)"
[ -c /dev/fuse ] || fail "/dev/fuse is missing"
command -v s3fs >/dev/null || fail "s3fs is not installed (apt-get install s3fs)"
MOTO=$(command -v moto_server || true)
if [ -z "$MOTO" ]; then
    if [ ! -x "$VENV/bin/moto_server" ]; then
        say "installing moto[server] into $VENV"
        python3 -m venv "$VENV" >/dev/null || fail "python3 -m venv failed (apt-get install python3-venv)"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'moto[server]' \
            || fail "pip install 'moto[server]' failed"
    fi
    MOTO=$VENV/bin/moto_server
fi
cargo build --release --quiet || fail "cargo build --release failed"
BIN=$ROOT/target/release/softrwlock

mkdir -p "$STATE/a" "$STATE/b"
chmod 700 "$STATE"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$MOTO" -H 127.0.0.1 -p "$PORT" >"$STATE/moto.log" 2>&1 &
echo $! >"$STATE/moto.pid"
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.2
done
curl -sf -X PUT "http://127.0.0.1:$PORT/$BUCKET" >/dev/null || fail "cannot create the bucket (moto log: $(tail -3 "$STATE/moto.log"))"
echo "bed:secret" >"$STATE/passwd"
chmod 600 "$STATE/passwd"
for m in a b; do
    s3fs "$BUCKET" "$STATE/$m" -o url="http://127.0.0.1:$PORT" -o use_path_request_style \
        -o passwd_file="$STATE/passwd" || fail "s3fs mount of $STATE/$m failed"
done
mountpoint -q "$STATE/a" && mountpoint -q "$STATE/b" || fail "the s3fs mounts are not there"
say "moto on 127.0.0.1:$PORT, s3fs mounts $STATE/a and $STATE/b"
grep " $STATE/a " /proc/self/mountinfo

rc=0
# 1. The C API (through the Python module) refuses, names the filesystem, creates nothing.
SOFTRWLOCK_LIB=$ROOT/target/release/libsoftrwlock.so PYTHONPATH=$ROOT/python python3 - "$STATE/a/data.lock" <<'EOF' || rc=1
import os, sys, softrwlock
path = sys.argv[1]
try:
    softrwlock.Lock(path)
    print("s3fs.sh: FAIL: srwl_open accepted a lock on s3fs"); sys.exit(1)
except softrwlock.Unsafe as e:
    print("s3fs.sh: srwl_open refused:", e.status.name, e.message)
    want = "open %s: the filesystem is fuse.s3fs (s3fs, source s3fs, mounted on %s), which cannot keep exclusion: concurrent renames and O_EXCL creates" % (path, os.path.dirname(path))
    if e.status != softrwlock.Status.EUNSAFE or not e.message.startswith(want):
        print("s3fs.sh: FAIL: expected SRWL_EUNSAFE and a message starting with:", want); sys.exit(1)
except softrwlock.SoftRWLockError as e:
    print("s3fs.sh: FAIL: srwl_open failed with", e.status.name, "instead of EUNSAFE:", e.message); sys.exit(1)
if os.path.lexists(path + ".srwl"):
    print("s3fs.sh: FAIL: the refused open left", path + ".srwl"); sys.exit(1)
print("s3fs.sh: PASS: srwl_open refuses s3fs with SRWL_EUNSAFE and names it; nothing created")
EOF

# 2. The CLI: exit 125, the same message.
out=$("$BIN" --write "$STATE/b/data.lock" -- true 2>&1); st=$?
echo "$out"
if [ $st = 125 ] && grep -q "refused: unsafe filesystem object: open $STATE/b/data.lock: the filesystem is fuse.s3fs" <<<"$out"; then
    say "PASS: softrwlock --write refuses s3fs (exit 125)"
else
    say "FAIL: softrwlock --write on s3fs: exit $st (expected 125 and the refusal)"; rc=1
fi

# 3. verify through both clients: the racing probe shows why.
out=$(timeout 300 "$BIN" verify --second-mount "$STATE/b" "$STATE/a" 2>&1); st=$?
echo "$out"
if [ $st = 1 ] && grep -q "^FAIL  racing exclusive creates (O_CREAT|O_EXCL) of one name: never both succeed: BOTH SUCCEEDED" <<<"$out" \
    && grep -q "^FAIL  the library can be used on this filesystem: srwl_open refuses it (SRWL_EUNSAFE)" <<<"$out" \
    && grep -q "^host .*, filesystem fuse.s3fs (s3fs, source s3fs" <<<"$out" \
    && grep -q "^VERDICT: FAIL" <<<"$out"; then
    say "PASS: verify names s3fs, shows double successes of racing creates, and fails"
else
    say "FAIL: verify on s3fs (exit $st) did not show the double successes and FAIL"; rc=1
fi
[ $rc = 0 ] && say "all passed" || say "FAILED"
exit $rc
