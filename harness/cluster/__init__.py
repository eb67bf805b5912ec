"""Cluster providers: each stands up hosts and writes the inventory everything else reads.

`netns` (the default as root on Linux) makes N network namespaces on a bridge, each with its
own sshd; `local` runs nodes as processes on loopback (no root); `ssh` reads an inventory of
machines the user already has; `vagrant` reads `vagrant ssh-config`.
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from typing import Any, Protocol

from harness.cluster.inventory import Inventory, InventoryError, NodeSpec

__all__ = [
    "PROVIDERS",
    "Inventory",
    "InventoryError",
    "NodeSpec",
    "Provider",
    "ProviderError",
    "default_provider",
    "get_provider",
]


class ProviderError(Exception):
    pass


class Provider(Protocol):
    name: str

    async def up(self, nodes: int, workdir: Path) -> Inventory: ...

    async def down(self, inventory: Inventory) -> None:
        """Idempotent: leaves nothing behind, even after an interrupted `up`."""
        ...

    async def status(self, inventory: Inventory) -> list[dict[str, Any]]: ...


# name -> "module:class"; imported on demand so that a provider's dependencies (and the
# vagrant engineer's module) load only when used.
PROVIDERS: dict[str, str] = {
    "netns": "harness.cluster.netns:NetnsProvider",
    "local": "harness.cluster.local:LocalProvider",
    "ssh": "harness.cluster.ssh:SshProvider",
    "vagrant": "harness.cluster.vagrant:VagrantProvider",
}


def default_provider() -> str:
    """`netns` when this process can make namespaces (root with `ip`), else `local`."""
    return "netns" if os.geteuid() == 0 and shutil.which("ip") else "local"


def get_provider(name: str | None = None, **options: Any) -> Provider:
    name = name or default_provider()
    try:
        module_name, class_name = PROVIDERS[name].split(":")
    except KeyError:
        raise ProviderError(f"unknown provider {name!r}; one of {sorted(PROVIDERS)}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ProviderError(f"provider {name!r} is not available: {e}") from None
    provider: Provider = getattr(module, class_name)(**options)
    return provider
