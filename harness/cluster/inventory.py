"""The inventory: the one file every provider writes and everything after `cluster up` reads.

Its YAML shape is pinned by DESIGN.md 4.7: `{provider, nodes: [{name, host, ssh_port, user,
key, root_dir, client_port, peer_port}], ...}`; keys other than `provider` and `nodes` are kept
in `extra` (providers put what they need to tear themselves down there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

DEFAULT_ROOT = "/var/lib/wiber-harness"


class InventoryError(Exception):
    pass


@dataclass(frozen=True)
class NodeSpec:
    """One host of the cluster, as the control host reaches it."""

    name: str
    host: str
    ssh_port: int = 22
    user: str = "root"
    key: str | None = None
    root_dir: str = ""  # empty: DEFAULT_ROOT/<name>
    client_port: int = 7070
    peer_port: int = 7071

    def __post_init__(self) -> None:
        if not self.root_dir:
            object.__setattr__(self, "root_dir", f"{DEFAULT_ROOT}/{self.name}")

    @property
    def client_address(self) -> str:
        return f"{self.host}:{self.client_port}"

    @property
    def data_dir(self) -> str:
        """Where the broker keeps its durable state (the log is under `data_dir/log`)."""
        return f"{self.root_dir}/data"


@dataclass(frozen=True)
class Tools:
    """Fault tools a provider's nodes have beyond iptables, from the inventory's `tools` key.

    `netem`: `tc qdisc ... netem` works (the node has a kernel of its own with sch_netem).
    `clock_step`: the node has a clock of its own that `date -s` may step. Namespaces and
    containers share the control host's kernel and clock, so both default to False and the
    nemeses fall back to NFQUEUE delays and libfaketime.
    """

    netem: bool = False
    clock_step: bool = False

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> Tools:
        raw = extra.get("tools") or {}
        if not isinstance(raw, dict):
            raise InventoryError(f"inventory: `tools` must be a mapping, not {raw!r}")
        unknown = sorted(set(raw) - {"netem", "clock_step"})
        if unknown:
            raise InventoryError(f"inventory: unknown tools {unknown}; known: netem, clock_step")
        for key, value in raw.items():
            if not isinstance(value, bool):
                raise InventoryError(f"inventory: tools.{key} must be true or false")
        return cls(**raw)


@dataclass(frozen=True)
class Inventory:
    provider: str
    nodes: tuple[NodeSpec, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def node(self, name: str) -> NodeSpec:
        for node in self.nodes:
            if node.name == name:
                return node
        raise InventoryError(f"no node {name!r} in the inventory ({self.names})")

    @property
    def names(self) -> list[str]:
        return [n.name for n in self.nodes]

    @property
    def tools(self) -> Tools:
        return Tools.from_extra(self.extra)

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "nodes": [asdict(n) for n in self.nodes],
            **self.extra,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> Inventory:
        if not isinstance(raw, dict):
            raise InventoryError("an inventory is a mapping with `provider` and `nodes`")
        raw = dict(raw)
        nodes = raw.pop("nodes", None)
        if not isinstance(nodes, list) or not nodes:
            raise InventoryError("inventory: `nodes` must be a non-empty list")
        provider = str(raw.pop("provider", "ssh"))
        parsed = tuple(_node(n) for n in nodes)
        names = [n.name for n in parsed]
        if len(set(names)) != len(names):
            raise InventoryError(f"inventory: duplicate node names {names}")
        Tools.from_extra(raw)  # a typo in `tools` is an error at load, not a silent fallback
        return cls(provider, parsed, raw)

    def dump(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Inventory:
        try:
            raw = yaml.safe_load(path.read_text())
        except OSError as e:
            raise InventoryError(f"{path}: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise InventoryError(f"{path}: not YAML: {e}") from None
        return cls.from_dict(raw)


_KNOWN = {f.name for f in fields(NodeSpec)}


def _node(raw: Any) -> NodeSpec:
    if not isinstance(raw, dict) or "name" not in raw or "host" not in raw:
        raise InventoryError(f"inventory node needs at least `name` and `host`: {raw!r}")
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise InventoryError(f"inventory node {raw['name']}: unknown keys {unknown}")
    values = {k: v for k, v in raw.items() if v is not None or k == "key"}
    try:
        return NodeSpec(**values)
    except TypeError as e:
        raise InventoryError(f"inventory node {raw['name']}: {e}") from None
