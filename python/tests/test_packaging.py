"""`pip install .` from the repository gives a package that works with no environment variable:
installed into a fresh venv, imported from a directory outside the repository."""

import os
import re
import subprocess
import sys
import textwrap

import pytest

import softrwlock
from conftest import PYDIR, ROOT


def _cargo_version():
    with open(os.path.join(ROOT, "Cargo.toml")) as f:
        return re.search(r'(?m)^version = "([^"]+)"', f.read()).group(1)


def test_versions_agree():
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        pyproject = re.search(r'(?m)^version = "([^"]+)"', f.read()).group(1)
    assert pyproject == _cargo_version() == softrwlock.__version__ == softrwlock.version()


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SOFTRWLOCK_LIB", "PYTHONPATH", "LD_LIBRARY_PATH", "VIRTUAL_ENV")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def _run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    assert r.returncode == 0, "%s failed (%d):\n%s" % (" ".join(cmd), r.returncode, r.stdout[-4000:])
    return r.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv with the package installed by `pip install <repository>`."""
    base = tmp_path_factory.mktemp("wheel")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], env=_clean_env())
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
          "--disable-pip-version-check", ROOT], env=_clean_env(), cwd=str(base), timeout=1800)
    return venv


USE = textwrap.dedent("""
    import os, subprocess, sys
    import softrwlock
    from softrwlock import SoftReadWriteLock, Timeout
    print("library", softrwlock.library_path())
    print("module", softrwlock.__file__)
    path = os.path.join(sys.argv[1], "data.lock")
    lock = SoftReadWriteLock(path, heartbeat_interval=1)
    with lock.write_lock(timeout=10):
        rival = subprocess.run([sys.executable, "-c",
            "import softrwlock, sys\\n"
            "l = softrwlock.SoftReadWriteLock(sys.argv[1])\\n"
            "try:\\n"
            "    l.acquire_read(blocking=False)\\n"
            "except softrwlock.Timeout:\\n"
            "    print('busy')\\n", path], stdout=subprocess.PIPE, text=True)
        print("rival while written:", rival.stdout.strip(), "generation", lock.generation)
    print("ok")
""")


def test_pip_install_gives_a_working_package(venv, tmp_path):
    py = str(venv / "bin" / "python")
    prog = tmp_path / "use.py"
    prog.write_text(USE)
    out = _run([py, str(prog), str(tmp_path)], cwd=str(tmp_path), env=_clean_env())
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])"],
                          stdout=subprocess.PIPE, text=True).stdout.strip()
    lines = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    # The library inside the installed package, not the repository's or the system's.
    assert lines["library"].startswith(os.path.join(site, "softrwlock", "_libsoftrwlock")), out
    assert lines["module"].startswith(os.path.join(site, "softrwlock")), out
    assert "rival while written: busy generation 1" in out
    # One library in the package (a stale one from an earlier build could be loaded instead).
    libs = [n for n in os.listdir(os.path.join(site, "softrwlock")) if "libsoftrwlock" in n]
    assert libs == ["_libsoftrwlock.abi3.so"], libs
    assert out.rstrip().endswith("ok")


def test_the_wheel_installs_the_command(venv, tmp_path):
    cli = str(venv / "bin" / "softrwlock")
    out = _run([cli, "--version"], cwd=str(tmp_path), env=_clean_env())
    assert out.strip() == "softrwlock " + _cargo_version()
    # The command and the module share one lock.
    out = _run([cli, "--write", "--timeout", "10", str(tmp_path / "x.lock"), "--",
                str(venv / "bin" / "python"), "-c",
                "import softrwlock, sys; l = softrwlock.SoftReadWriteLock(sys.argv[1]);"
                "\ntry:\n l.acquire_read(blocking=False); print('free')"
                "\nexcept softrwlock.Timeout: print('held by the command')",
                str(tmp_path / "x.lock")], cwd=str(tmp_path), env=_clean_env())
    assert out.strip() == "held by the command"


def test_softrwlock_lib_overrides(venv, tmp_path):
    py = str(venv / "bin" / "python")
    code = "import softrwlock; print(softrwlock.library_path())"
    built = os.path.join(ROOT, "target", "release")
    # A directory holding the library.
    out = _run([py, "-c", code], cwd=str(tmp_path), env=_clean_env(SOFTRWLOCK_LIB=built))
    assert os.path.dirname(out.strip()) == built
    # A directory without it: an error naming the directory, not "Is a directory".
    empty = tmp_path / "empty"
    empty.mkdir()
    r = subprocess.run([py, "-c", code], cwd=str(tmp_path), env=_clean_env(SOFTRWLOCK_LIB=str(empty)),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert r.returncode != 0
    assert "OSError: SOFTRWLOCK_LIB=%s is a directory without libsoftrwlock.so.0 or libsoftrwlock.so" % empty in r.stderr
    # A file that does not exist: named, and nothing else is tried.
    missing = str(tmp_path / "nope" / "libsoftrwlock.so")
    r = subprocess.run([py, "-c", code], cwd=str(tmp_path), env=_clean_env(SOFTRWLOCK_LIB=missing),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert r.returncode != 0 and "tried: %s:" % missing in r.stderr
    assert "_libsoftrwlock" not in r.stderr


def test_source_tree_package_finds_the_built_library(tmp_path):
    # PYTHONPATH=python from a checkout uses target/release/ (no wheel, no variable).
    r = subprocess.run([sys.executable, "-c", "import softrwlock; print(softrwlock.library_path())"],
                       cwd=str(tmp_path), env=_clean_env(PYTHONPATH=PYDIR),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stderr
    assert os.path.dirname(r.stdout.strip()) == os.path.join(ROOT, "target", "release")
