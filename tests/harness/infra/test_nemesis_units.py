"""Nemesis logic against a recording fake database: no cluster needed."""

from __future__ import annotations

import asyncio
import random
import struct
from typing import Any, cast

import pytest

from harness.cluster.inventory import Inventory, NodeSpec
from harness.control import Remote
from harness.db import WiberDB
from harness.nemesis import (
    NEMESES,
    NemesisContext,
    NemesisError,
    get_nemesis,
    nfq_holder,
    pick_targets,
)
from harness.nemesis.clock import bump_ms
from tests.harness.infra.helpers import run

NAMES = ["n1", "n2", "n3", "n4", "n5"]


class FakeDB:
    """Records what the nemeses ask of the database."""

    def __init__(self, leader: str | None = "n2") -> None:
        self._leader = leader
        self.offsets: list[tuple[str, float]] = []
        self.calls: list[tuple[str, str]] = []
        self.running = set(NAMES)

    async def leader(self) -> str | None:
        return self._leader

    async def uses_faketime(self, node: NodeSpec) -> bool:
        return True

    async def clock_mode(self, node: NodeSpec) -> str | None:
        return "faketime"

    async def set_clock_offset(self, name: str, seconds: float) -> None:
        self.offsets.append((name, seconds))

    async def kill(self, name: str) -> bool:
        self.calls.append(("kill", name))
        was = name in self.running
        self.running.discard(name)
        return was

    async def start(self, name: str) -> int:
        self.calls.append(("start", name))
        self.running.add(name)
        return 1

    async def is_running(self, name: str) -> bool:
        return name in self.running


def fake_context(db: FakeDB, seed: int = 1) -> NemesisContext:
    inventory = Inventory("netns", tuple(NodeSpec(n, f"10.9.9.{i}") for i, n in enumerate(NAMES)))
    return NemesisContext(inventory, cast(Remote, None), cast(WiberDB, db), random.Random(seed))


def test_registry_has_every_nemesis_of_the_issue() -> None:
    wanted = {"partition", "kill", "pause", "clock", "loss", "delay", "membership", "disk"}
    assert set(NEMESES) == wanted
    for name in wanted:
        assert get_nemesis(name).name == name
    with pytest.raises(NemesisError, match="unknown nemesis"):
        get_nemesis("meteor")


def test_pick_targets_understands_leader_names_and_lists() -> None:
    ctx = fake_context(FakeDB(leader="n4"))
    assert run(pick_targets(ctx, "leader")) == ["n4"]
    assert run(pick_targets(ctx, "n3")) == ["n3"]
    assert run(pick_targets(ctx, ["n1", "n5"])) == ["n1", "n5"]
    assert len(run(pick_targets(ctx, "majority"))) == 3
    with pytest.raises(NemesisError, match="unknown target nodes"):
        run(pick_targets(ctx, ["n9"]))
    with pytest.raises(NemesisError, match="unknown target spec"):
        run(pick_targets(ctx, "most"))


def test_bump_sizes_follow_jepsen() -> None:
    ctx = fake_context(FakeDB())
    sizes = [abs(bump_ms(ctx)) for _ in range(2000)]
    assert min(sizes) >= 1.5**6 * 0.999
    assert max(sizes) <= 1.5**31 * 1.001
    signs = {bump_ms(ctx) > 0 for _ in range(200)}
    assert signs == {True, False}


def test_clock_bumps_accumulate_and_heal_resets_every_node() -> None:
    db = FakeDB()
    ctx = fake_context(db)
    clock = get_nemesis("clock")
    run(clock.start(ctx, {"kind": "bump", "targets": ["n1"], "delta_ms": 1000}))
    done = run(clock.start(ctx, {"kind": "bump", "targets": ["n1"], "delta_ms": 500}))
    assert done["offsets_s"] == {"n1": 1.5}
    healed = run(clock.heal(ctx))
    assert healed["offsets_s"] == dict.fromkeys(NAMES, 0.0)
    assert db.offsets[-5:] == [(n, 0.0) for n in NAMES]


def test_clock_delta_list_is_taken_in_turn_across_heals() -> None:
    db = FakeDB(leader=None)
    ctx = fake_context(db)
    clock = get_nemesis("clock")
    bump = {"kind": "bump", "targets": "n3", "delta_ms": [4000, -4000]}
    assert run(clock.start(ctx, bump))["offsets_s"] == {"n3": 4.0}
    run(clock.heal(ctx))
    assert run(clock.start(ctx, bump))["offsets_s"] == {"n3": -4.0}
    run(clock.heal(ctx))
    db._leader = "n4"  # the leader stamps: "leader" must mean it once one is known
    done = run(clock.start(ctx, {**bump, "targets": "leader"}))
    assert done["offsets_s"] == {"n4": 4.0}


def test_clock_strobe_flips_and_heal_stops_it() -> None:
    db = FakeDB()

    async def scenario() -> list[tuple[str, float]]:
        ctx = fake_context(db)
        clock = get_nemesis("clock")
        await clock.start(
            ctx,
            {
                "kind": "strobe",
                "targets": ["n2"],
                "delta_ms": 200,
                "period_ms": 100,
                "duration_s": 30,
            },
        )
        await asyncio.sleep(0.55)
        await clock.heal(ctx)
        seen = list(db.offsets)
        await asyncio.sleep(0.3)
        assert db.offsets == seen, "the strobe kept running after heal"
        return seen

    seen = run(scenario())
    n2 = [offset for name, offset in seen if name == "n2"]
    assert 0.2 in n2
    assert n2.count(0.0) >= 2  # flipped back at least once, and reset by heal


def test_kill_heal_restarts_whatever_is_down() -> None:
    db = FakeDB()
    ctx = fake_context(db)
    kill = get_nemesis("kill")
    done = run(kill.start(ctx, {"targets": "majority"}))
    assert len(done["killed"]) == 3
    db.running.discard("n5")  # died on its own meanwhile
    healed = run(kill.heal(ctx))
    assert set(healed["restarted"]) == set(done["killed"]) | {"n5"}
    assert db.running == set(NAMES)


def test_unknown_kinds_are_refused() -> None:
    ctx = fake_context(FakeDB())
    with pytest.raises(NemesisError, match="partition kind"):
        run(get_nemesis("partition").start(ctx, {"kind": "diagonal"}))
    with pytest.raises(NemesisError, match="clock kind"):
        run(get_nemesis("clock").start(ctx, {"kind": "reverse"}))
    with pytest.raises(NemesisError, match="disk mode"):
        run(get_nemesis("disk").start(ctx, {"mode": "shred"}))


def test_nfq_messages_round_trip_through_the_parsers() -> None:
    packet_hdr = nfq_holder._attr(nfq_holder.PACKET_HDR, struct.pack("!IHB", 4242, 0x0800, 1))
    other = nfq_holder._attr(9, b"abc")  # padded to 4 bytes
    message = nfq_holder._message(nfq_holder.MSG_PACKET, 7, [other, packet_hdr])
    ((kind, payload),) = nfq_holder._messages(message + b"")
    assert kind == (nfq_holder.NFNL_SUBSYS_QUEUE << 8) | nfq_holder.MSG_PACKET
    assert struct.unpack_from("!H", payload, 2) == (7,)
    attrs = nfq_holder._attrs(payload[4:])
    assert attrs[9] == b"abc"
    assert struct.unpack_from("!I", attrs[nfq_holder.PACKET_HDR]) == (4242,)


def test_nfq_verdict_is_an_accept_for_the_packet_id() -> None:
    sent: list[bytes] = []

    class Sock:
        def send(self, data: bytes) -> int:
            sent.append(data)
            return len(data)

    nfq_holder._accept(cast(Any, Sock()), 7, 99)
    ((kind, payload),) = nfq_holder._messages(sent[0])
    assert kind == (nfq_holder.NFNL_SUBSYS_QUEUE << 8) | nfq_holder.MSG_VERDICT
    verdict = nfq_holder._attrs(payload[4:])[nfq_holder.VERDICT_HDR]
    assert struct.unpack("!II", verdict) == (nfq_holder.NF_ACCEPT, 99)
