"""Tell the two client protocols apart on the one client port.

A framed client opens its connection with the 4-byte `MAGIC`, whose first byte is NUL: no
line-protocol client (a person at `nc`, the seed's scripts) ever starts a line with NUL, and
every line verb starts with a letter. So the rule needs at most 4 bytes and no timeout:

- the first bytes begin with `MAGIC`            -> "framed" (the frames follow the magic)
- they are a proper prefix of `MAGIC` (or none) -> "need-more" (wait for more bytes)
- anything else                                 -> "line"

The server's `FrameDecoder(expect_magic=True)` consumes the magic itself, so a runtime feeds
the very first bytes it read to whichever decoder `sniff` chose.
"""

from __future__ import annotations

from typing import Final, Literal

MAGIC: Final = b"\x00WBR"

Protocol = Literal["line", "framed", "need-more"]


def sniff(first_bytes: bytes) -> Protocol:
    """Which protocol a connection speaks, given the first bytes the client sent."""
    if first_bytes.startswith(MAGIC):
        return "framed"
    if MAGIC.startswith(first_bytes):
        return "need-more"
    return "line"
