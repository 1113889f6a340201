#!/usr/bin/env bash
# Make the two Python virtual environments that hold the filelock versions we compare
# libsoftrwlock with:
#   $SRWL_VENV_DIR/filelock-4.2.11   (filelock 4.x: generation log published by hard link)
#   $SRWL_VENV_DIR/filelock-3.32.7   (filelock 3.x: .state mutex + .write + .readers/)
# Default SRWL_VENV_DIR: /tmp/srwl-netfs-venvs. Idempotent. Prints each venv's python.
# Exit 77 if python3 or pip cannot make them (no registry, no venv module).
set -u
DIR=${SRWL_VENV_DIR:-/tmp/srwl-netfs-venvs}
PY=${SRWL_PYTHON:-python3}
mkdir -p "$DIR"
for ver in 4.2.11 3.32.7; do
    v="$DIR/filelock-$ver"
    if [ -x "$v/bin/python" ] && "$v/bin/python" -c "import filelock,sys; sys.exit(filelock.__version__ != '$ver')" 2>/dev/null; then
        echo "make-venvs.sh: $v has filelock $ver"
        continue
    fi
    echo "make-venvs.sh: creating $v with filelock==$ver"
    rm -rf "$v"
    "$PY" -m venv "$v" >/dev/null 2>&1 || { echo "make-venvs.sh: SKIP: '$PY -m venv' does not work here." >&2; exit 77; }
    "$v/bin/python" -m pip install --quiet --disable-pip-version-check "filelock==$ver" \
        || { echo "make-venvs.sh: SKIP: pip could not install filelock==$ver." >&2; exit 77; }
    "$v/bin/python" -c "import filelock; print('make-venvs.sh: installed filelock', filelock.__version__)"
done
