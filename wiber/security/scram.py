"""SCRAM-SHA-256 (RFC 5802 with the RFC 7677 hash), both ends, without I/O or randomness.

The exchange, with the messages RFC 5802 defines (no channel binding, `n,,` GS2 header):

    client-first   n,,n=<user>,r=<client nonce>
    server-first   r=<client nonce + server nonce>,s=<salt b64>,i=<iterations>
    client-final   c=biws,r=<nonce>,p=<client proof b64>
    server-final   v=<server signature b64>

The server keeps only a `Credential` (salt, iterations, StoredKey, ServerKey): a stolen one
does not give the password, nor does it let anyone answer a challenge. Callers supply nonces
(the runtime uses `secrets`), so this module stays deterministic and testable against the
RFC's vectors. Passwords are used as UTF-8 without SASLprep.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

from wiber.broker.access import Credential

MECHANISM = "SCRAM-SHA-256"
DEFAULT_ITERATIONS = 4096
_GS2 = "n,,"


class AuthError(Exception):
    """The exchange failed: bad message, unknown user or wrong password (deliberately vague)."""


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise AuthError("bad base64 in SCRAM message") from None


def salted_password(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)


def derive(password: str, salt: bytes, iterations: int = DEFAULT_ITERATIONS) -> Credential:
    salted = salted_password(password, salt, iterations)
    client_key = _hmac(salted, b"Client Key")
    return Credential(
        salt, iterations, hashlib.sha256(client_key).digest(), _hmac(salted, b"Server Key")
    )


def format_credential(cred: Credential) -> str:
    """PostgreSQL's text form, `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`."""
    return (
        f"{MECHANISM}${cred.iterations}:{_b64(cred.salt)}"
        f"${_b64(cred.stored_key)}:{_b64(cred.server_key)}"
    )


def parse_credential(text: str) -> Credential:
    try:
        mechanism, params, keys = text.split("$")
        iterations, salt = params.split(":")
        stored, server = keys.split(":")
        if mechanism != MECHANISM:
            raise ValueError(mechanism)
        return Credential(_unb64(salt), int(iterations), _unb64(stored), _unb64(server))
    except (ValueError, AuthError):
        raise AuthError(f"not a {MECHANISM}$<iter>:<salt>$<stored>:<server> verifier") from None


def _escape(name: str) -> str:
    return name.replace("=", "=3D").replace(",", "=2C")


def _unescape(name: str) -> str:
    return name.replace("=2C", ",").replace("=3D", "=")


def _attributes(message: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in message.split(","):
        key, sep, value = part.partition("=")
        if not sep or len(key) != 1:
            raise AuthError(f"malformed SCRAM attribute {part[:20]!r}")
        out.setdefault(key, value)
    return out


class ScramClient:
    def __init__(self, user: str, password: str, nonce: str) -> None:
        self.user = user
        self.password = password
        self.nonce = nonce
        self._first_bare = f"n={_escape(user)},r={nonce}"
        self._server_signature = b""

    def first(self) -> str:
        return _GS2 + self._first_bare

    def final(self, server_first: str) -> str:
        attrs = _attributes(server_first)
        nonce, salt, iterations = attrs.get("r", ""), attrs.get("s"), attrs.get("i", "")
        if not nonce.startswith(self.nonce) or nonce == self.nonce or salt is None:
            raise AuthError("the server's challenge does not extend our nonce")
        if not iterations.isdigit() or int(iterations) < 1:
            raise AuthError("bad iteration count in the server's challenge")
        salted = salted_password(self.password, _unb64(salt), int(iterations))
        client_key = _hmac(salted, b"Client Key")
        without_proof = f"c={_b64(_GS2.encode())},r={nonce}"
        auth_message = f"{self._first_bare},{server_first},{without_proof}".encode()
        signature = _hmac(hashlib.sha256(client_key).digest(), auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self._server_signature = _hmac(_hmac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={_b64(proof)}"

    def verify(self, server_final: str) -> None:
        attrs = _attributes(server_final)
        if "e" in attrs:
            raise AuthError(f"server refused: {attrs['e']}")
        if not hmac.compare_digest(_unb64(attrs.get("v", "")), self._server_signature):
            raise AuthError("the server did not prove it knows our credential")


class ScramServer:
    """One server side of one exchange. `lookup` gives a user's credential (None: unknown);
    an unknown user gets a plausible challenge from `decoy` and fails at the end like a wrong
    password, so the exchange does not reveal which users exist."""

    def __init__(
        self,
        lookup: Callable[[str], Credential | None],
        nonce: str,
        decoy: Callable[[str], Credential],
    ) -> None:
        self._lookup = lookup
        self._nonce = nonce
        self._decoy = decoy
        self._user: str | None = None
        self._cred: Credential | None = None
        self._known = False
        self._client_first_bare = ""
        self._server_first = ""

    def first(self, client_first: str) -> str:
        if not client_first.startswith(_GS2):
            raise AuthError("only the `n,,` GS2 header (no channel binding) is supported")
        bare = client_first[len(_GS2) :]
        attrs = _attributes(bare)
        if "n" not in attrs or "r" not in attrs or not attrs["r"]:
            raise AuthError("client-first lacks n= or r=")
        self._user = _unescape(attrs["n"])
        cred = self._lookup(self._user)
        self._known = cred is not None
        self._cred = cred if cred is not None else self._decoy(self._user)
        self._client_first_bare = bare
        nonce = attrs["r"] + self._nonce
        self._server_first = f"r={nonce},s={_b64(self._cred.salt)},i={self._cred.iterations}"
        return self._server_first

    def final(self, client_final: str) -> tuple[str, str]:
        """(authenticated user, server-final message); raises AuthError on a bad proof."""
        if self._cred is None or self._user is None:
            raise AuthError("client-final before client-first")
        without_proof, sep, proof_part = client_final.rpartition(",p=")
        attrs = _attributes(without_proof) if sep else {}
        expected_nonce = _attributes(self._server_first)["r"]
        if not sep or attrs.get("c") != _b64(_GS2.encode()) or attrs.get("r") != expected_nonce:
            raise AuthError("client-final does not match the exchange")
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        signature = _hmac(self._cred.stored_key, auth_message)
        proof = _unb64(proof_part)
        if len(proof) != len(signature):
            raise AuthError("authentication failed")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        ok = hmac.compare_digest(hashlib.sha256(client_key).digest(), self._cred.stored_key)
        if not (ok and self._known):
            raise AuthError("authentication failed")
        return self._user, f"v={_b64(_hmac(self._cred.server_key, auth_message))}"
