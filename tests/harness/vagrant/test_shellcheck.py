"""Every shell script shipped for the Vagrant cluster passes shellcheck (Debian `shellcheck`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.cluster.vagrant import VAGRANT_DIR

SCRIPTS = sorted(VAGRANT_DIR.rglob("*.sh")) + sorted(Path(__file__).parent.glob("*.sh"))


def test_the_scripts_are_found() -> None:
    names = {p.name for p in SCRIPTS}
    assert {"system.sh", "ssh.sh", "wiber.sh", "node-config.sh", "lxc-bridge.sh"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_script_passes_shellcheck(script: Path) -> None:
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (Debian package `shellcheck`)")
    done = subprocess.run(
        ["shellcheck", "--external-sources", "--severity=style", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert script.stat().st_mode & 0o111, f"{script} is not executable"


def test_shellcheck_catches_a_planted_mistake(tmp_path: Path) -> None:
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (Debian package `shellcheck`)")
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n")
    done = subprocess.run(["shellcheck", str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "SC2086" in done.stdout
