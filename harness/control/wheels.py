"""Build Wiber's wheel and a wheelhouse of its dependencies once on the control host.

The sources are copied to a scratch folder first, so that building never writes into the
checkout (setuptools leaves `build/` and egg-info behind), and the result is cached under a
hash of the sources: a second run with unchanged code reuses it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import wiber

PROJECT = Path(wiber.__file__).resolve().parents[1]
PACKAGES = ("wiber",)  # nodes need only the broker; the harness stays on the control host
TOP_FILES = ("pyproject.toml", "README.md")
CACHE = Path.home() / ".cache" / "wiber-harness" / "wheelhouse"


class BuildError(Exception):
    pass


def _sources() -> list[Path]:
    files = [PROJECT / name for name in TOP_FILES]
    for package in PACKAGES:
        files += sorted(
            p
            for p in (PROJECT / package).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        )
    return files


def source_hash() -> str:
    digest = hashlib.sha256()
    for path in _sources():
        digest.update(str(path.relative_to(PROJECT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_wheelhouse(cache: Path = CACHE) -> Path:
    """A folder holding `wiber-*.whl` and every dependency's wheel (blocking; run in a thread)."""
    target = cache / source_hash()
    if (target / ".complete").exists():
        return target
    with tempfile.TemporaryDirectory(prefix="wiber-build-") as scratch:
        src = Path(scratch) / "src"
        for path in _sources():
            dest = src / path.relative_to(PROJECT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        partial = Path(scratch) / "wheels"
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(partial), str(src)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise BuildError(f"pip wheel failed:\n{done.stderr.strip()[-2000:]}")
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(partial, target)
    (target / ".complete").write_text("ok\n")
    return target


def prune_cache(cache: Path = CACHE, keep: int = 4) -> list[Path]:
    """Remove all but the `keep` newest wheelhouses and their shared venvs, except any that a
    running process still uses (a cluster started from an older build)."""
    venvs = cache.parent / "venvs"
    builds = sorted(
        (p for p in cache.glob("*") if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
    )
    in_use = _paths_in_use()
    removed = []
    for build in builds[keep:]:
        venv = venvs / build.name
        if any(str(venv) in used or str(build) in used for used in in_use):
            continue
        shutil.rmtree(venv, ignore_errors=True)
        (venvs / f"{build.name}.lock").unlink(missing_ok=True)
        shutil.rmtree(build, ignore_errors=True)
        removed.append(build)
    return removed


def _paths_in_use() -> list[str]:
    """Command lines and executables of every process (what a venv could be in use by)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        found.append(b" ".join(argv).decode(errors="replace"))
        if argv and argv[0]:
            # Nodes run <root_dir>/venv/bin/python, where venv links to the shared venv.
            found.append(str(Path(argv[0].decode(errors="replace")).parent.parent.resolve()))
    return found
