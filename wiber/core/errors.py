"""Typed refusals the core hands to its caller (never used for bad peer input)."""

from __future__ import annotations

from wiber.core.types import NodeId


class ProposalDropped(Exception):
    """The core refused a proposal, conf change, transfer or read; it certainly did not happen.

    `reason` is a short stable word ("not-leader", "transferring", "too-large",
    "pending-conf-change", "no-commit-in-term", ...); `leader_hint` names the leader this node
    believes in, so a client can retry there.
    """

    definite = True

    def __init__(self, reason: str, leader_hint: NodeId | None = None) -> None:
        super().__init__(f"proposal dropped: {reason} (leader: {leader_hint})")
        self.reason = reason
        self.leader_hint = leader_hint
