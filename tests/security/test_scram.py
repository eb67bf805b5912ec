"""SCRAM-SHA-256 against RFC 7677's example exchange, and its failure modes."""

from __future__ import annotations

import base64

import pytest

from wiber.security.scram import (
    AuthError,
    ScramClient,
    ScramServer,
    derive,
    format_credential,
    parse_credential,
)

# RFC 7677 section 3: user "user", password "pencil".
CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = (
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
CLIENT_FINAL = (
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
CREDENTIAL = derive("pencil", SALT, 4096)


def server(nonce: str = SERVER_NONCE) -> ScramServer:
    return ScramServer(
        lambda name: CREDENTIAL if name == "user" else None, nonce, lambda name: CREDENTIAL
    )


def test_the_client_side_reproduces_rfc_7677() -> None:
    client = ScramClient("user", "pencil", CLIENT_NONCE)
    assert client.first() == CLIENT_FIRST
    assert client.final(SERVER_FIRST) == CLIENT_FINAL
    client.verify(SERVER_FINAL)


def test_the_server_side_reproduces_rfc_7677() -> None:
    scram = server()
    assert scram.first(CLIENT_FIRST) == SERVER_FIRST
    assert scram.final(CLIENT_FINAL) == ("user", SERVER_FINAL)


def test_a_wrong_password_fails() -> None:
    scram = server()
    client = ScramClient("user", "pencil2", CLIENT_NONCE)
    final = client.final(scram.first(client.first()))
    with pytest.raises(AuthError, match="authentication failed"):
        scram.final(final)


def test_an_unknown_user_fails_even_with_the_decoys_password() -> None:
    scram = server()
    client = ScramClient("nobody", "pencil", CLIENT_NONCE)
    final = client.final(scram.first(client.first()))  # the decoy is CREDENTIAL itself
    with pytest.raises(AuthError, match="authentication failed"):
        scram.final(final)


def test_a_forged_server_signature_is_caught_by_the_client() -> None:
    client = ScramClient("user", "pencil", CLIENT_NONCE)
    client.final(SERVER_FIRST)
    with pytest.raises(AuthError, match="did not prove"):
        client.verify("v=" + base64.b64encode(b"x" * 32).decode())


def test_a_replayed_final_with_another_nonce_is_refused() -> None:
    scram = server(nonce="another-server-nonce")
    scram.first(CLIENT_FIRST)
    with pytest.raises(AuthError, match="does not match"):
        scram.final(CLIENT_FINAL)


def test_verifiers_round_trip_through_their_text_form() -> None:
    text = format_credential(CREDENTIAL)
    assert text.startswith("SCRAM-SHA-256$4096:")
    assert parse_credential(text) == CREDENTIAL
    with pytest.raises(AuthError):
        parse_credential("md5$nope")
