"""The one exception type the codecs raise.

Every way that bytes from the network can be wrong ends in a `CodecError` (or in an error value
that a decoder returns while staying usable), never in a `KeyError`, `struct.error` or a
library's own exception: the runtime catches exactly one type and turns it into an `ERR` line or
an `Error` frame, so garbage from a client can never crash a node.
"""

from __future__ import annotations


class CodecError(Exception):
    """Input that the wire protocols refuse, or a value that cannot be put on the wire.

    `code` is the framed protocol's error code for it (see `wiber.codec.messages.ErrorCode`),
    so a runtime can answer with `Error(code=e.code, message=str(e), definite=True)`.
    """

    def __init__(self, message: str, code: str = "bad-request") -> None:
        super().__init__(message)
        self.code = code
