"""Nemeses: faults injected into a real cluster, each with `start` and `heal`.

`NEMESES` maps each name (as given to `harness run --nemesis a,b`) to its class. Every start
returns a dict fit for the history's nemesis op value (`{"nemesis": name, "targets": [...],
...}`), and every heal undoes all of that nemesis's faults, whatever happened in between.
"""

from __future__ import annotations

from harness.nemesis.base import (
    TARGET_SPECS,
    Nemesis,
    NemesisContext,
    NemesisError,
    pick_targets,
)
from harness.nemesis.clock import Clock
from harness.nemesis.delay import Delay
from harness.nemesis.disk import Disk
from harness.nemesis.kill import Kill
from harness.nemesis.loss import Loss
from harness.nemesis.membership import Membership
from harness.nemesis.partition import Partition
from harness.nemesis.pause import Pause

NEMESES: dict[str, type[Nemesis]] = {
    "partition": Partition,
    "kill": Kill,
    "pause": Pause,
    "clock": Clock,
    "loss": Loss,
    "delay": Delay,
    "membership": Membership,
    "disk": Disk,
}

# Nemeses that need one network address per node (not the `local` provider).
NETWORK_NEMESES = frozenset({"partition", "loss", "delay"})


def get_nemesis(name: str) -> Nemesis:
    try:
        return NEMESES[name]()
    except KeyError:
        raise NemesisError(f"unknown nemesis {name!r}; one of {sorted(NEMESES)}") from None


__all__ = [
    "NEMESES",
    "NETWORK_NEMESES",
    "TARGET_SPECS",
    "Nemesis",
    "NemesisContext",
    "NemesisError",
    "get_nemesis",
    "pick_targets",
]
