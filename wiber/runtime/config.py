"""Node configuration: YAML file, then environment, then command-line overrides.

The keys are those of DESIGN.md 4.7. A file may describe one node (`id`, `host`, ...,
`peers: [...]`) or a whole cluster (`nodes: [...]`, with the node chosen by `--id`); both end up
as one `NodeConfig`. Every problem is reported as a `ConfigError` naming the key.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

DEFAULT_HOST = "127.0.0.1"
DEFAULT_CLIENT_PORT = 7070


DEBUG_FAULTS = frozenset({"ack-before-commit", "stale-reads", "raw-clock-stamps"})
CLIENT_AUTH = ("none", "cert", "password", "any")
_TLS_KEYS = frozenset({"ca", "cert", "key", "client_auth", "superusers", "users"})
TRACING_EXPORTERS = ("otlp", "console", "file", "none")
_TRACING_KEYS = frozenset({"exporter", "endpoint", "path", "service_name", "sample_ratio"})
# The module each exporter needs beyond the SDK: checked when the file is read, so a node
# that could not export says so at startup, not at its first span.
_EXPORTER_MODULES = {
    "otlp": (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "opentelemetry-exporter-otlp",
    ),
}


class ConfigError(Exception):
    """The configuration is invalid; the message names the offending key."""


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """The `tls:` section: TLS on both listeners, and how clients authenticate.

    `cert`/`key` may contain `{id}`, replaced by the node id, so one cluster file serves all
    nodes. `client_auth`: `none` (TLS, no identity: every client is `anonymous`), `cert` (a
    client certificate from the CA is required; its CN is the principal), `password` (SCRAM
    over TLS), `any` (either). `users` bootstraps SCRAM verifiers (`wiber user hash` prints
    one) before any is stored through Raft; `superusers` may do everything.
    """

    ca: Path
    cert: Path
    key: Path
    client_auth: str = "any"
    superusers: tuple[str, ...] = ()
    users: tuple[tuple[str, str], ...] = ()  # (name, SCRAM-SHA-256$... verifier)


@dataclass(frozen=True, slots=True)
class TracingConfig:
    """The `tracing:` section: spans of publishes, exported with OpenTelemetry.

    `exporter`: `otlp` (OTLP/HTTP to `endpoint`, default the SDK's
    http://localhost:4318/v1/traces), `console` (stdout), `file` (JSON lines to `path`, which
    may contain `{id}`; default `<data_dir>/spans.jsonl`) or `none`. New traces (publishes
    without a client trace context) are sampled with probability `sample_ratio`; a client's
    trace is sampled as the client decided.
    """

    exporter: str = "none"
    endpoint: str | None = None
    path: Path | None = None
    service_name: str = "wiber"
    sample_ratio: float = 1.0


@dataclass(frozen=True, slots=True)
class PeerConfig:
    id: str
    host: str
    peer_port: int
    client_port: int

    @property
    def client_address(self) -> str:
        return f"{self.host}:{self.client_port}"


@dataclass(frozen=True, slots=True)
class NodeConfig:
    id: str = "n1"
    host: str = DEFAULT_HOST
    client_port: int = DEFAULT_CLIENT_PORT
    peer_port: int = DEFAULT_CLIENT_PORT + 1
    metrics_port: int = DEFAULT_CLIENT_PORT + 2
    data_dir: Path = Path("data")
    fsync: str = "group"
    segment_bytes: int = 64 << 20
    trace: bool = False
    tick_ms: int = 50
    election_ticks: int = 10
    heartbeat_ticks: int = 1
    max_clock_offset_ms: int = 500
    max_line_bytes: int = 1 << 20
    max_frame_bytes: int = 16 << 20
    snapshot_entries: int = 8192  # applied entries between broker snapshots
    retention_entries: int = 0  # log entries kept behind the snapshot; 0 keeps everything
    # Deliberately broken behaviour, so that the harness can show it catches bugs: never set
    # in production. "ack-before-commit": a leader acknowledges a publish with guessed offsets
    # before a quorum has it; "stale-reads": reads skip the ReadIndex barrier;
    # "raw-clock-stamps": a leader stamps publishes with its raw wall clock, not its HLC.
    debug_fault: str | None = None
    peers: tuple[PeerConfig, ...] = ()
    initial_voters: tuple[str, ...] = ()  # empty: every node of the cluster file votes
    tls: TlsConfig | None = None
    tracing: TracingConfig | None = None

    @property
    def client_address(self) -> str:
        return f"{self.host}:{self.client_port}"

    @property
    def voters(self) -> tuple[str, ...]:
        """The voters a brand-new cluster starts with (later changes go through Raft)."""
        if self.initial_voters:
            return tuple(sorted(self.initial_voters))
        return tuple(sorted({self.id, *(p.id for p in self.peers)}))


_INT_KEYS = (
    "client_port",
    "peer_port",
    "metrics_port",
    "segment_bytes",
    "tick_ms",
    "election_ticks",
    "heartbeat_ticks",
    "max_clock_offset_ms",
    "max_line_bytes",
    "max_frame_bytes",
    "snapshot_entries",
    "retention_entries",
)
_KNOWN_KEYS = frozenset(
    {
        *("id", "host", "data_dir", "fsync", "trace", "peers", "tls", "nodes", "voters"),
        "tracing",
        *("debug_fault", *_INT_KEYS),
    }
)


def _port(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    is_port = key.lower().endswith("port")
    if is_port and not 0 <= value <= 65535:
        raise ConfigError(f"{key}: {value} is not a TCP port (0-65535)")
    if key == "retention_entries" and value >= 0:
        return value
    if not is_port and value <= 0:
        raise ConfigError(f"{key}: must be positive, got {value}")
    return value


def _peer(raw: object, where: str) -> PeerConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with id, host, client_port, peer_port")
    missing = {"id", "host"} - raw.keys()
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(sorted(missing))}")
    client_port = _port(raw.get("client_port", DEFAULT_CLIENT_PORT), f"{where}.client_port")
    peer_port = _port(raw.get("peer_port", client_port + 1), f"{where}.peer_port")
    return PeerConfig(str(raw["id"]), str(raw["host"]), peer_port, client_port)


def _section(
    raw: object, name: str, keys: frozenset[str] | set[str], shape: str
) -> dict[str, Any] | None:
    """An optional mapping section of the config (absent or false: None), its keys checked."""
    if raw is None or raw is False:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: expected a mapping with {shape}")
    unknown = set(raw) - keys
    if unknown:
        raise ConfigError(f"{name}: unknown key(s): {', '.join(sorted(unknown))}")
    return raw


def _tls(section: object, node_id: str, base: Path) -> TlsConfig | None:
    raw = _section(section, "tls", _TLS_KEYS, "ca, cert, key, client_auth")
    if raw is None:
        return None
    missing = {"ca", "cert", "key"} - raw.keys()
    if missing:
        raise ConfigError(f"tls: missing {', '.join(sorted(missing))}")

    def path(key: str) -> Path:
        value = raw[key]
        if not isinstance(value, str) or not value:
            raise ConfigError(f"tls.{key}: expected a file path")
        resolved = base / value.replace("{id}", node_id)
        if not resolved.is_file():
            raise ConfigError(f"tls.{key}: no such file {resolved}")
        return resolved

    client_auth = raw.get("client_auth", "any")
    if client_auth not in CLIENT_AUTH:
        raise ConfigError(f"tls.client_auth: {client_auth!r} is not one of {list(CLIENT_AUTH)}")
    superusers = raw.get("superusers") or []
    if not isinstance(superusers, list) or not all(isinstance(x, str) for x in superusers):
        raise ConfigError("tls.superusers: expected a list of principal names")
    users = raw.get("users") or {}
    if not isinstance(users, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.startswith("SCRAM-SHA-256$")
        for k, v in users.items()
    ):
        raise ConfigError("tls.users: expected a mapping of name: SCRAM-SHA-256$... verifier")
    return TlsConfig(
        path("ca"),
        path("cert"),
        path("key"),
        client_auth,
        tuple(superusers),
        tuple(sorted(users.items())),
    )


def _tracing(section: object, base: Path) -> TracingConfig | None:
    raw = _section(section, "tracing", _TRACING_KEYS, "exporter, endpoint, path, ...")
    if raw is None:
        return None
    exporter = raw.get("exporter", "none")
    if exporter not in TRACING_EXPORTERS:
        raise ConfigError(f"tracing.exporter: {exporter!r} is not one of {list(TRACING_EXPORTERS)}")
    ratio = raw.get("sample_ratio", 1.0)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        raise ConfigError(f"tracing.sample_ratio: expected a number in 0..1, got {ratio!r}")
    for key in ("endpoint", "path", "service_name"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key]):
            raise ConfigError(f"tracing.{key}: expected a non-empty string")
    if "endpoint" in raw and exporter != "otlp":
        raise ConfigError("tracing.endpoint: only the otlp exporter has an endpoint")
    if "path" in raw and exporter != "file":
        raise ConfigError("tracing.path: only the file exporter writes to a path")
    if exporter != "none":
        _need_module("opentelemetry.sdk.trace", "opentelemetry-sdk", exporter)
    if exporter in _EXPORTER_MODULES:
        _need_module(*_EXPORTER_MODULES[exporter], exporter)
    return TracingConfig(
        exporter,
        raw.get("endpoint"),
        base / raw["path"] if "path" in raw else None,
        raw.get("service_name", "wiber"),
        float(ratio),
    )


def _need_module(module: str, package: str, exporter: str) -> None:
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        found = False
    if not found:
        raise ConfigError(
            f"tracing.exporter: {exporter} needs the {package} package, which is not "
            f"installed (pip install {package})"
        )


def _from_mapping(raw: Mapping[str, Any], node_id: str | None, base: Path = Path()) -> NodeConfig:
    unknown = set(raw) - _KNOWN_KEYS
    if unknown:
        raise ConfigError(f"unknown key(s): {', '.join(sorted(unknown))}")
    raw = dict(raw)
    if "nodes" in raw:
        raw = _select_node(raw, node_id)
    elif node_id is not None and str(raw.get("id", node_id)) != node_id:
        raise ConfigError(f"id: the file describes node {raw.get('id')!r}, not {node_id!r}")
    values: dict[str, Any] = {}
    for key in _INT_KEYS:
        if key in raw:
            values[key] = _port(raw[key], key)
    if "client_port" in values:
        values.setdefault("peer_port", values["client_port"] + 1)
        values.setdefault("metrics_port", values["client_port"] + 2)
    if "debug_fault" in raw:
        fault = raw["debug_fault"]
        if fault not in DEBUG_FAULTS:
            raise ConfigError(f"debug_fault: {fault!r} is not one of {sorted(DEBUG_FAULTS)}")
        values["debug_fault"] = fault
    for key in ("id", "host", "fsync"):
        if key in raw:
            values[key] = str(raw[key])
    if node_id is not None:
        values["id"] = node_id
    if "data_dir" in raw:
        values["data_dir"] = Path(str(raw["data_dir"]))
    if "trace" in raw:
        values["trace"] = bool(raw["trace"])
    if "tls" in raw:
        values["tls"] = _tls(raw["tls"], values.get("id", "n1"), base)
    if "tracing" in raw:
        values["tracing"] = _tracing(raw["tracing"], base)
    peers = raw.get("peers") or []
    if not isinstance(peers, list):
        raise ConfigError("peers: expected a list")
    values["peers"] = tuple(_peer(p, f"peers[{i}]") for i, p in enumerate(peers))
    voters = raw.get("voters") or []
    if not isinstance(voters, list) or not all(isinstance(v, str) for v in voters):
        raise ConfigError("voters: expected a list of node ids")
    known = {values.get("id", "n1"), *(p.id for p in values["peers"])}
    strangers = sorted(set(voters) - known)
    if strangers:
        raise ConfigError(f"voters: {strangers} are not nodes of the cluster file")
    values["initial_voters"] = tuple(voters)
    return NodeConfig(**values)


def _select_node(raw: dict[str, Any], node_id: str | None) -> dict[str, Any]:
    nodes = raw.pop("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise ConfigError("nodes: expected a non-empty list of nodes")
    if node_id is None:
        raise ConfigError("nodes: a cluster file needs --id to say which node this is")
    ids = [str(n.get("id")) if isinstance(n, dict) else "?" for n in nodes]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"nodes: duplicate node ids in {ids}")
    if node_id not in ids:
        raise ConfigError(f"--id {node_id}: not among the cluster's nodes {ids}")
    me = nodes[ids.index(node_id)]
    merged = {**raw, **me}
    if isinstance(raw.get("tls"), dict) and isinstance(me.get("tls"), dict):
        merged["tls"] = {**raw["tls"], **me["tls"]}  # a node may override its own cert/key
    merged["peers"] = [n for n in nodes if str(n.get("id")) != node_id]
    if "data_dir" in raw and "data_dir" not in me:
        merged["data_dir"] = str(Path(str(raw["data_dir"])) / node_id)
    return merged


def load_config(path: Path | None = None, node_id: str | None = None) -> NodeConfig:
    """Read the YAML file (if any), then apply WIBER_* environment overrides."""
    raw: Mapping[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError(f"{path}: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        raw = loaded or {}
    config = _from_mapping(raw, node_id, path.parent if path is not None else Path())
    return apply_env(config, os.environ)


def apply_env(config: NodeConfig, env: Mapping[str, str]) -> NodeConfig:
    changes: dict[str, Any] = {}
    if "WIBER_HOST" in env:
        changes["host"] = env["WIBER_HOST"]
    if "WIBER_PORT" in env:
        port = _env_int(env, "WIBER_PORT")
        changes.update(client_port=port, peer_port=port + 1, metrics_port=port + 2)
    if "WIBER_PEER_PORT" in env:
        changes["peer_port"] = _env_int(env, "WIBER_PEER_PORT")
    if "WIBER_DATA_DIR" in env:
        changes["data_dir"] = Path(env["WIBER_DATA_DIR"])
    if "WIBER_FSYNC" in env:
        changes["fsync"] = env["WIBER_FSYNC"]
    return replace(config, **changes) if changes else config


def _env_int(env: Mapping[str, str], key: str) -> int:
    try:
        return _port(int(env[key]), key)
    except ValueError:
        raise ConfigError(f"{key}: expected an integer, got {env[key]!r}") from None
