"""Sans-I/O wire formats: bytes in -> commands and frames out; values in -> bytes out.

- `sniff`: which protocol a connection speaks, from its first bytes (one client port).
- `line`: the seed's text protocol (`nc`-friendly), plus new verbs.
- `framed` + `messages`: the binary protocol (length-prefixed msgpack frames, request ids,
  pipelining, batching, a version handshake, pushes).
- `names`: topic and group name rules shared by both.

Nothing here reads a clock, a socket or a file; every refusal is a `CodecError` or an error
value, so bad input from a client never crashes a node. See docs/protocol.md.
"""

from wiber.codec.errors import CodecError
from wiber.codec.names import validate_group, validate_topic
from wiber.codec.sniff import MAGIC, sniff

__all__ = ["MAGIC", "CodecError", "sniff", "validate_group", "validate_topic"]
