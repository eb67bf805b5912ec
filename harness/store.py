"""The run store (DESIGN.md 4.5): `reports/<test>/<YYYYmmddTHHMMSS>/` and `reports/latest`.

A run directory holds `test.json` (the full test spec, seed included), `history.jsonl`
(streamed while the test runs), `results.json`, `index.html` and `nodes/<node>/`. `latest`
(at the store's top) and `<test>/latest` point at the newest run; they are relative links so
that a store can be moved or archived whole.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_STORE = Path("reports")


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def history(self) -> Path:
        return self.path / "history.jsonl"

    @property
    def test(self) -> Path:
        return self.path / "test.json"

    @property
    def results(self) -> Path:
        return self.path / "results.json"

    @property
    def report(self) -> Path:
        return self.path / "index.html"

    @property
    def nodes(self) -> Path:
        return self.path / "nodes"

    def write_test(self, spec: dict[str, Any]) -> None:
        _write_json(self.test, spec)

    def write_results(self, results: dict[str, Any]) -> None:
        _write_json(self.results, results)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n", "utf-8")
    tmp.replace(path)


def timestamp(now: float | None = None) -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.localtime(now))


def new_run(store: Path, test: str, now: float | None = None) -> RunDir:
    """A fresh run directory (a suffix keeps two runs in one second apart), linked as latest."""
    base = store / test / timestamp(now)
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True)
            break
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")
    (path / "nodes").mkdir()
    _link(store / "latest", path)
    _link(store / test / "latest", path)
    return RunDir(path)


def _link(link: Path, target: Path) -> None:
    """Point `link` at `target` atomically (a new link renamed over the old one)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(os.path.relpath(target, link.parent), target_is_directory=True)
    tmp.replace(link)


def latest(store: Path, test: str | None = None) -> Path | None:
    link = store / test / "latest" if test else store / "latest"
    return link.resolve() if link.is_symlink() else None
