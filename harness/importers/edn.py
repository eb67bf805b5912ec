"""A reader for the subset of EDN that Jepsen writes in `history.edn`.

Supported: maps, vectors, lists, sets, keywords, symbols, strings, integers, floats, nil,
true/false, characters, comments and `#_` discards; tagged literals (`#jepsen.history.Op{...}`,
`#inst "..."`) read as their inner value. Keywords keep their leading colon (":invoke") so
that a caller can tell them from strings; `kw()` strips it.
"""

from __future__ import annotations

import re
from typing import Any

_DELIMS = frozenset('()[]{}"; \t\r\n,')
_INT = re.compile(r"[+-]?\d+N?$")
_FLOAT = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "b": "\b", "f": "\f"}
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


class EdnError(ValueError):
    """Text that this reader does not understand as EDN."""


class Keyword(str):
    """An EDN keyword, spelt with its colon; a str so that it hashes and compares cheaply."""

    __slots__ = ()


def kw(value: Any) -> Any:
    """A keyword's name without the colon; anything else unchanged."""
    return value[1:] if isinstance(value, Keyword) else value


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            c = text[self.pos]
            if c in " \t\r\n,":
                self.pos += 1
            elif c == ";":
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end + 1
            elif text.startswith("#_", self.pos):
                self.pos += 2
                self.read()
            else:
                return

    def at_end(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.text)

    def read(self) -> Any:
        self.skip_space()
        if self.pos >= len(self.text):
            raise EdnError("unexpected end of input")
        c = self.text[self.pos]
        if c in _CLOSERS:
            self.pos += 1
            items = self._read_seq(_CLOSERS[c])
            return _pairs_to_map(items) if c == "{" else items
        if c == '"':
            return self._read_string()
        if c == "\\":
            return self._read_char()
        if c == "#":
            return self._read_dispatch()
        if c in ")]}":
            raise EdnError(f"unexpected {c!r} at {self.pos}")
        return self._read_atom()

    def _read_seq(self, closer: str) -> list[Any]:
        items: list[Any] = []
        while True:
            self.skip_space()
            if self.pos >= len(self.text):
                raise EdnError(f"missing {closer!r}")
            if self.text[self.pos] == closer:
                self.pos += 1
                return items
            items.append(self.read())

    def _read_string(self) -> str:
        out: list[str] = []
        i = self.pos + 1
        text = self.text
        while i < len(text):
            c = text[i]
            if c == '"':
                self.pos = i + 1
                return "".join(out)
            if c == "\\":
                i += 1
                if i >= len(text):
                    break
                e = text[i]
                if e == "u":
                    out.append(chr(int(text[i + 1 : i + 5], 16)))
                    i += 4
                else:
                    out.append(_ESCAPES.get(e, e))
            else:
                out.append(c)
            i += 1
        raise EdnError("unterminated string")

    def _read_char(self) -> str:
        token = self._token(self.pos + 1)
        named = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r"}
        return named.get(token, token[:1])

    def _read_dispatch(self) -> Any:
        nxt = self.text[self.pos + 1 : self.pos + 2]
        if nxt == "{":
            self.pos += 2
            return frozenset(_hashable(v) for v in self._read_seq("}"))
        # A tagged literal: drop the tag, keep the value it tags.
        self._token(self.pos + 1)
        return self.read()

    def _token(self, start: int) -> str:
        end = start
        text = self.text
        while end < len(text) and (end == start or text[end] not in _DELIMS):
            end += 1
        self.pos = end
        return text[start:end]

    def _read_atom(self) -> Any:
        start = self.pos
        token = self._token(start)
        if not token:
            raise EdnError(f"empty token at {start}")
        if token.startswith(":"):
            return Keyword(token)
        if token == "nil":
            return None
        if token in ("true", "false"):
            return token == "true"
        if _INT.match(token):
            return int(token.rstrip("N"))
        if _FLOAT.match(token):
            return float(token.rstrip("M"))
        return Keyword(token) if token.startswith(":") else _Symbol(token)


class _Symbol(str):
    __slots__ = ()


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((repr(k), _hashable(v)) for k, v in value.items()))
    return value


def _pairs_to_map(items: list[Any]) -> dict[Any, Any]:
    if len(items) % 2:
        raise EdnError("a map needs an even number of forms")
    return {_hashable(items[i]): items[i + 1] for i in range(0, len(items), 2)}


def loads(text: str) -> Any:
    """The first EDN form in `text`."""
    return _Reader(text).read()


def loads_all(text: str) -> list[Any]:
    """Every top-level form in `text` (Jepsen's history.edn holds one op map per line)."""
    reader = _Reader(text)
    forms: list[Any] = []
    while not reader.at_end():
        forms.append(reader.read())
    return forms
