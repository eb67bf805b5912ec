"""The client half of the matrix on a real 3-node TLS cluster: who is refused, how clearly,
and that nothing a refused client sent is stored or delivered."""

from __future__ import annotations

import asyncio
import socket
import ssl

import pytest

from tests.security.conftest import SecureCluster
from wiber import admin
from wiber.client import ClientError, Credentials
from wiber.client.connection import Connection
from wiber.codec import messages as m
from wiber.security import certs

BOB = {"user": "bob", "password": "correct horse"}


@pytest.fixture(scope="module")
def cluster(secure_cluster: SecureCluster) -> SecureCluster:
    """bob (password) may publish and subscribe on orders.*; carol has no rule at all."""
    c = secure_cluster

    async def setup() -> None:
        await admin.add_user(c.addresses, "bob", BOB["password"], c.admin)
        await admin.add_user(c.addresses, "carol", "carols password", c.admin)
        await admin.change_acl(c.addresses, "add", "bob", "publish", "orders.*", c.admin)
        await admin.change_acl(c.addresses, "add", "bob", "subscribe", "prefix:orders.", c.admin)

    asyncio.run(setup())
    return c


async def publish(cluster: SecureCluster, credentials: Credentials, topic: str) -> m.Message:
    async with cluster.client(credentials) as client:
        return await client.request(
            m.Publish(topic, [m.PublishMessage(b"from " + topic.encode())]), leader=True
        )


def test_authorized_clients_work_unchanged(cluster: SecureCluster) -> None:
    async def scenario() -> None:
        assert isinstance(await publish(cluster, cluster.admin, "audit"), m.PublishOk)
        bob = cluster.credentials(**BOB)
        async with cluster.client(bob) as client:
            conn = await client.any_connection()
            assert conn.principal == "bob"
            sub = await conn.request(m.Subscribe("orders.eu", from_offset=0))
            assert isinstance(sub, m.SubscribeOk)
            await client.request(m.Publish("orders.eu", [m.PublishMessage(b"o1")]), leader=True)
            delivery = await asyncio.wait_for(conn.deliveries(sub.subscription_id).get(), 10)
            assert delivery is not None
            assert [x.payload for x in delivery.messages] == [b"o1"]
        assert await cluster.stored("audit") == [b"from audit"]

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("no credentials", "auth-required"),
        ("wrong password", "auth-failed"),
        ("unknown user", "auth-failed"),
        ("certificate from another CA", "tls-failed"),
        ("no ACL for the topic", "denied"),
        ("a user with no rules", "denied"),
    ],
)
def test_refused_clients_get_a_clear_error_and_nothing_is_stored(
    cluster: SecureCluster, who: str, code: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    topic = "orders.refused" if who != "no ACL for the topic" else "payments"
    if who == "no credentials":
        credentials = cluster.credentials()
    elif who == "wrong password":
        credentials = cluster.credentials(user="bob", password="Tr0ub4dor&3")
    elif who == "unknown user":
        credentials = cluster.credentials(user="mallory", password="x")
    elif who == "certificate from another CA":
        other = tmp_path_factory.mktemp("other-ca")
        certs.init_ca(other)
        issued = certs.issue_client(other, "admin")  # even the superuser's name
        credentials = cluster.credentials(cert=str(issued.cert), key=str(issued.key))
    elif who == "a user with no rules":
        credentials = cluster.credentials(user="carol", password="carols password")
    else:
        credentials = cluster.credentials(**BOB)

    async def scenario() -> None:
        with pytest.raises(ClientError) as refused:
            await publish(cluster, credentials, topic)
        assert refused.value.code == code
        assert refused.value.definite
        if code == "denied":
            principal = credentials.user
            assert f"principal {principal!r} may not publish on topic {topic!r}" in str(
                refused.value
            )
        assert await cluster.stored(topic) == []

    asyncio.run(scenario())


def test_a_denied_subscription_delivers_nothing(cluster: SecureCluster) -> None:
    async def scenario() -> None:
        await publish(cluster, cluster.admin, "payments.eu")
        carol = cluster.credentials(user="carol", password="carols password")
        conn = await Connection.open(cluster.addresses[0], credentials=carol)
        try:
            with pytest.raises(ClientError, match="'carol' may not subscribe") as refused:
                await conn.request(m.Subscribe("payments.eu", from_offset=0))
            assert refused.value.code == "denied"
            with pytest.raises(ClientError, match="may not subscribe"):
                await conn.request(m.Fetch("payments.eu", from_offset=0))
            assert conn.deliveries(1).empty()
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_admin_actions_need_admin_rights(cluster: SecureCluster) -> None:
    bob = cluster.credentials(**BOB)

    async def scenario() -> None:
        for action in (
            admin.change_acl(cluster.addresses, "add", "bob", "admin", "*", bob),
            admin.add_user(cluster.addresses, "eve", "pw", bob),
            admin.change_members(cluster.addresses, "remove", "n3", bob),
            admin.transfer_leader(cluster.addresses, "n2", credentials=bob),
            admin.reset_group(cluster.addresses, "g", "orders.eu", to="earliest", credentials=bob),
        ):
            with pytest.raises(ClientError, match="'bob' may not admin on the cluster"):
                await action
        # A consumer's own commit needs only subscribe; an operator's reset needs admin.
        async with cluster.client(bob) as client:
            await client.request(m.CommitOffset("g", "orders.eu", 0), leader=True)
        await admin.reset_group(
            cluster.addresses, "g", "orders.eu", to="earliest", credentials=cluster.admin
        )
        listing = await admin.list_acls(cluster.addresses, cluster.admin)
        assert ("bob", "admin", "*") not in listing.rules
        assert "eve" not in listing.users

    asyncio.run(scenario())


def test_the_line_protocol_is_refused_with_an_err(cluster: SecureCluster) -> None:
    node = cluster.nodes[0]
    with socket.create_connection(("127.0.0.1", node.client_port), timeout=10) as plain:
        plain.sendall(b"PUB orders.line sneaky\n")
        assert plain.makefile("rb").readline().startswith(b"ERR tls-required")
    context = ssl.create_default_context(cafile=str(cluster.certs / "ca.crt"))
    raw = socket.create_connection(("127.0.0.1", node.client_port), timeout=10)
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"PUB orders.line sneaky\n")
        assert tls.makefile("rb").readline().startswith(b"ERR auth-required")
    assert asyncio.run(cluster.stored("orders.line")) == []
