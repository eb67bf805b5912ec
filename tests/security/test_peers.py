"""The peer half of the matrix: only a node with a cluster-CA certificate naming its own id
can join or send Raft messages; everything else is refused, counted and has no effect."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator

import pytest

from tests.runtime.clusters import free_base_port
from tests.security.conftest import SecureCluster
from wiber import admin, localcluster
from wiber.codec import messages as m
from wiber.codec.peer import encode_hello, encode_message
from wiber.core.types import Message, MessageType
from wiber.security import certs
from wiber.security.tls import TlsFiles, client_context

REFUSED = "wiber_rejected_requests_total"


async def term_of(cluster: SecureCluster, node: localcluster.LocalNode) -> int:
    row = await admin.node_status(node.address, credentials=cluster.admin)
    return int(row["term"])


async def knock(cluster: SecureCluster, context: object, claim: str) -> bytes:
    """Dial n1's peer port, say we are `claim`, send a vote request with a term far ahead
    (which would make n1 step down and adopt it, were it accepted); return what n1 answers
    before it closes the stream."""
    target = cluster.nodes[0]
    reader, writer = await asyncio.open_connection(
        "127.0.0.1",
        target.peer_port,
        ssl=context,
    )
    vote = Message(MessageType.VOTE, claim, target.id, 10_000, index=10**6, log_term=10_000)
    try:
        writer.write(encode_hello(claim) + encode_message(vote))
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    except (ConnectionError, OSError):
        return b""
    finally:
        writer.close()


@pytest.mark.parametrize("who", ["certificate naming another id", "another CA", "plaintext"])
def test_a_peer_without_a_valid_certificate_cannot_send_raft_messages(
    secure_cluster: SecureCluster, who: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cluster = secure_cluster
    n1 = cluster.nodes[0]
    reason = {
        "certificate naming another id": 'reason="peer-identity"',
        "another CA": 'reason="tls-handshake"',
        "plaintext": 'reason="peer-plaintext"',
    }[who]
    if who == "certificate naming another id":
        issued = certs.issue_client(cluster.certs, "mallory")  # signed by the cluster CA
        files = TlsFiles(cluster.certs / "ca.crt", issued.cert, issued.key)
        context: object = client_context(files, check_hostname=False)
    elif who == "another CA":
        other = tmp_path_factory.mktemp("rogue-ca")
        certs.init_ca(other)
        issued = certs.issue_node(other, "n2")  # the right name, the wrong signer
        files = TlsFiles(cluster.certs / "ca.crt", issued.cert, issued.key)
        context = client_context(files, check_hostname=False)
    else:
        context = None

    async def scenario() -> None:
        before_term = await term_of(cluster, n1)
        before = cluster.metric(n1, REFUSED, reason)
        assert await knock(cluster, context, "n2") == b""
        assert cluster.metric(n1, REFUSED, reason) == before + 1
        assert await term_of(cluster, n1) == before_term  # the vote never reached Raft

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def impostor_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureCluster]:
    """n1 and n2 with good certificates; n3 holds a cluster-CA certificate issued for n9."""
    directory = tmp_path_factory.mktemp("impostor").resolve()
    certs_dir = directory / localcluster.CERTS
    certs.init_ca(certs_dir)
    wrong = certs.issue_node(certs_dir, "n9")
    shutil.copy(wrong.cert, certs_dir / "node-n3.crt")
    shutil.copy(wrong.key, certs_dir / "node-n3.key")
    nodes = localcluster.up(directory, 3, free_base_port(3), tls=True)
    try:
        yield SecureCluster(directory, nodes)
    finally:
        localcluster.down(directory)


def test_a_node_whose_certificate_names_another_id_cannot_join(
    impostor_cluster: SecureCluster,
) -> None:
    cluster = impostor_cluster
    n1 = cluster.nodes[0]

    async def scenario() -> None:
        await cluster.wait_for_leader()
        async with cluster.client(cluster.admin) as client:
            for i in range(3):
                await client.request(_publish(f"m{i}"), leader=True)
        rows = {r["id"]: r for r in await admin.cluster_status(cluster.addresses, cluster.admin)}
        assert rows["n3"]["leader"] is None
        assert rows["n3"]["applied_index"] == 0
        assert max(r["applied_index"] for r in rows.values()) >= 4
        refusals = cluster.metric(n1, REFUSED, 'reason="peer-identity"')
        assert refusals > 0
        log = (cluster.directory / "n1.log").read_text()
        assert "refused a peer connection (peer-identity)" in log

    asyncio.run(scenario())


def _publish(text: str) -> m.Publish:
    return m.Publish("t", [m.PublishMessage(text.encode())])
