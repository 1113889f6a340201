"""Shared fixtures of the Python tests: the source package on sys.path, real filelock
releases installed with pip (into target/python-tests/, reused by later runs)."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
ROOT = os.path.dirname(PYDIR)
CACHE = os.path.join(ROOT, "target", "python-tests")
sys.path.insert(0, PYDIR)

# The filelock releases the interface is checked against: the last before the generation log
# (no `generation`, `on_compromise`) and the current one.
FILELOCK_OLD = "3.32.7"
FILELOCK_NEW = "4.2.11"


def pip_target(requirement):
    """A directory holding `requirement` installed by pip --target (installed on first use).
    Fails the test, never skips it, when pip cannot install it."""
    name = requirement.replace("==", "-")
    dest = os.path.join(CACHE, name)
    if not os.path.isdir(dest):
        os.makedirs(CACHE, exist_ok=True)
        tmp = dest + ".tmp%d" % os.getpid()
        r = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--target", tmp, requirement],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        if r.returncode != 0:
            pytest.fail("pip could not install %s:\n%s" % (requirement, r.stdout))
        os.replace(tmp, dest)
    return dest


@pytest.fixture(scope="session")
def filelock_old():
    return pip_target("filelock==" + FILELOCK_OLD)


@pytest.fixture(scope="session")
def filelock_new():
    return pip_target("filelock==" + FILELOCK_NEW)


def run_python(args, pythonpath=(), cwd=None, env=None, timeout=300):
    """Runs sys.executable with PYTHONPATH set to exactly `pythonpath`; returns the result."""
    e = dict(os.environ if env is None else env)
    e["PYTHONPATH"] = os.pathsep.join(pythonpath)
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run([sys.executable] + list(args), cwd=cwd, env=e, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
