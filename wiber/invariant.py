"""Always-on internal invariants.

`assert` disappears under `python -O`; a broken invariant in a replicated log must never be
silently ignored, so pure code calls `invariant()` instead.
"""

from __future__ import annotations


class InvariantViolation(Exception):
    """An internal invariant does not hold: a bug in Wiber, never a user error."""


def invariant(condition: bool, message: str) -> None:
    if not condition:
        raise InvariantViolation(message)
