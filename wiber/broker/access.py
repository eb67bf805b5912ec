"""Who may do what: users (SCRAM credentials) and ACL rules, as replicated broker state.

Pure and deterministic like the rest of the broker: every node applies the same `PutUser`,
`RemoveUser` and `ChangeAcl` commands in log order, so every node enforces the same rules.

A rule allows `principal` (a name, or `*` for every authenticated principal) one `operation`
on the topics its `pattern` matches. Patterns are a literal topic name, or a prefix written
`orders.*` or `prefix:orders.`; `*` alone matches every topic. Prefix patterns are stored in
their canonical form `prefix:<prefix>` so that the two spellings are one rule.

Operations: `publish`, `subscribe` (which covers reads, history and the group offsets of the
topic), and `admin`. `admin` on a topic implies publish and subscribe on it; cluster actions
(membership, leadership transfer, users and ACLs) need `admin` on `*`. Superusers (from the
node configuration) may do everything; there is no deny rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, NamedTuple

from wiber.broker.names import topic_error

OPERATIONS: Final = ("publish", "subscribe", "admin")
CLUSTER: Final = "*"  # the resource cluster actions are checked against
ANY_PRINCIPAL: Final = "*"
_PREFIX: Final = "prefix:"
MAX_PRINCIPAL_CHARS: Final = 255


class Credential(NamedTuple):
    """A SCRAM-SHA-256 verifier: what the server keeps instead of a password (RFC 5802)."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


class AclRule(NamedTuple):
    principal: str
    operation: str
    pattern: str  # canonical: a topic name, `prefix:<p>`, or `*`


def canonical_pattern(pattern: str) -> str:
    """The stored form of a pattern; raises ValueError on one that can match no topic."""
    if pattern == "*":
        return "*"
    if pattern.startswith(_PREFIX):
        prefix = pattern[len(_PREFIX) :]
    elif pattern.endswith(".*"):
        prefix = pattern[:-1]
    else:
        if (error := topic_error(pattern)) is not None:
            raise ValueError(f"pattern {pattern!r}: {error}")
        return pattern
    if not prefix:
        return "*"
    if (error := topic_error(prefix)) is not None and prefix not in (".", ".."):
        raise ValueError(f"pattern {pattern!r}: {error}")
    return _PREFIX + prefix


def pattern_matches(pattern: str, topic: str) -> bool:
    """Whether a canonical `pattern` covers `topic` (`*` as a topic: the cluster itself)."""
    if pattern == "*":
        return True
    if topic == CLUSTER:
        return False
    if pattern.startswith(_PREFIX):
        return topic.startswith(pattern[len(_PREFIX) :])
    return pattern == topic


def rule_error(rule: AclRule) -> str | None:
    """Why `rule` cannot be stored, or None."""
    if not rule.principal or len(rule.principal) > MAX_PRINCIPAL_CHARS:
        return f"principal must have 1..{MAX_PRINCIPAL_CHARS} characters"
    if rule.operation not in OPERATIONS:
        return f"operation {rule.operation!r} is not one of {', '.join(OPERATIONS)}"
    try:
        if canonical_pattern(rule.pattern) != rule.pattern:
            return f"pattern {rule.pattern!r} is not canonical"
    except ValueError as e:
        return str(e)
    return None


def allows(
    rules: frozenset[AclRule] | set[AclRule],
    superusers: frozenset[str],
    principal: str,
    operation: str,
    topic: str,
) -> bool:
    """Whether `principal` may do `operation` on `topic` (CLUSTER for cluster actions)."""
    if principal in superusers:
        return True
    granting = ("admin",) if operation == "admin" else (operation, "admin")
    return any(
        rule.principal in (principal, ANY_PRINCIPAL)
        and rule.operation in granting
        and pattern_matches(rule.pattern, topic)
        for rule in rules
    )


@dataclass
class AccessState:
    users: dict[str, Credential] = field(default_factory=dict)
    rules: set[AclRule] = field(default_factory=set)
