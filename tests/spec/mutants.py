"""Mutated copies of the specs, each expected to violate one named invariant or property.

A mutant is a list of exact textual edits to a spec (each `old` must occur exactly once, so
a mutant that no longer applies fails loudly instead of silently testing nothing) and the
small model that TLC searches for the counterexample. The cfg lists only the target, so the
verdict names exactly the invariant the bug breaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"

RAFT_BASE: dict[str, str] = {
    "Server": "{s1, s2, s3}",
    "InitVoters": "{s1, s2, s3}",
    "Value": "{v1}",
    "Nil": "Nil",
    "PreVote": "FALSE",
    "CheckQuorum": "FALSE",
    "Duplicate": "FALSE",
    "Restarts": "FALSE",
    "Snapshots": "FALSE",
    "Transfer": "FALSE",
    "ReadIndex": "FALSE",
    "Membership": "FALSE",
    "MaxTerm": "2",
    "MaxLogLen": "2",
    "MaxMessages": "2",
    "MaxRestarts": "0",
    "MaxReads": "0",
}

ORDERING_BASE: dict[str, str] = {
    "Topic": "{t1, t2}",
    "Producer": "{p1}",
    "Subscriber": "{s1}",
    "Consumer": "{c1}",
    "GroupTopic": "t1",
    "MaxSeq": "2",
    "Window": "2",
    "MaxProposals": "3",
}

INVARIANT = "invariant"
PROPERTY = "property"


@dataclass(frozen=True)
class Mutant:
    name: str
    module: str  # "Raft" or "MessageOrdering"
    target: str  # the invariant or property TLC must report violated
    kind: str  # INVARIANT or PROPERTY
    edits: tuple[tuple[str, str], ...]
    constants: dict[str, str] = field(default_factory=dict)

    def mutated_source(self) -> str:
        text = (SPEC_DIR / f"{self.module}.tla").read_text()
        for old, new in self.edits:
            count = text.count(old)
            if count != 1:
                raise ValueError(f"mutant {self.name}: {old!r} occurs {count} times in the spec")
            text = text.replace(old, new)
        return text

    def config(self) -> str:
        base = RAFT_BASE if self.module == "Raft" else ORDERING_BASE
        constants = {**base, **self.constants}
        lines = ["CONSTANTS"] + [f"    {name} = {value}" for name, value in constants.items()]
        lines += ["SPECIFICATION Spec", "CONSTRAINT Bounds"]
        if self.module == "Raft":
            lines += ["SYMMETRY Symmetry", "VIEW View"]
        lines.append(f"{'INVARIANT' if self.kind == INVARIANT else 'PROPERTY'} {self.target}")
        return "\n".join(lines) + "\n"


RAFT_MUTANTS = (
    Mutant(
        "restart-forgets-role-values",
        "Raft",
        "TypeOK",
        INVARIANT,
        (
            (
                '/\\ Restarts\n    /\\ role\' = [role EXCEPT ![i] = "follower"]',
                '/\\ Restarts\n    /\\ role\' = [role EXCEPT ![i] = "down"]',
            ),
        ),
        {"Restarts": "TRUE", "MaxRestarts": "1", "MaxTerm": "0"},
    ),
    Mutant(
        "second-vote-in-a-term",
        "Raft",
        "ElectionSafety",
        INVARIANT,
        (
            (
                "GrantVote(i, m) == VoteSeen(i, m) \\in {Nil, m.src} /\\ UpToDate(i, m)",
                "GrantVote(i, m) == UpToDate(i, m)",
            ),
        ),
        {"MaxTerm": "1", "MaxLogLen": "1", "MaxMessages": "3"},
    ),
    Mutant(
        "append-after-own-tail",
        "Raft",
        "LogMatching",
        INVARIANT,
        (
            (
                "IF Matches(l, idx, ents) THEN l ELSE SubSeq(l, 1, idx) \\o ents",
                "IF Matches(l, idx, ents) THEN l ELSE l \\o ents",
            ),
        ),
        {"MaxTerm": "1", "MaxLogLen": "3"},
    ),
    Mutant(
        "vote-without-log-check",
        "Raft",
        "LeaderCompleteness",
        INVARIANT,
        (
            (
                "    \\/ m.log_term > LastTerm(i)\n"
                "    \\/ m.log_term = LastTerm(i) /\\ m.index >= LastIndex(i)",
                "    TRUE",
            ),
        ),
        {"MaxLogLen": "1"},
    ),
    Mutant(
        "commit-without-majority",
        "Raft",
        "StateMachineSafety",
        INVARIANT,
        (
            (
                "CanCommit(i, k) == log[i][k].term = term[i] /\\ IsQuorum(Agree(i, k), Config(i))",
                "CanCommit(i, k) == log[i][k].term = term[i]",
            ),
        ),
        {"MaxLogLen": "1"},
    ),
    Mutant(
        "restart-loses-log-keeps-commit",
        "Raft",
        "CommitIndexBound",
        INVARIANT,
        (
            (
                "    /\\ restarts' = restarts + 1\n"
                "    /\\ UNCHANGED <<messages, term, vote, log, snapshotIndex,",
                "    /\\ restarts' = restarts + 1\n"
                "    /\\ log' = [log EXCEPT ![i] = <<>>]\n"
                "    /\\ UNCHANGED <<messages, term, vote, snapshotIndex,",
            ),
        ),
        {"Restarts": "TRUE", "MaxRestarts": "1", "MaxTerm": "1", "MaxLogLen": "1"},
    ),
    Mutant(
        "ack-before-commit",
        "Raft",
        "AckedValueNotLost",
        INVARIANT,
        (
            (
                '/\\ client\' = [client EXCEPT ![v] = "sent"]',
                '/\\ client\' = [client EXCEPT ![v] = "acked"]',
            ),
        ),
    ),
    Mutant(
        "term-not-persisted",
        "Raft",
        "MonotonicTerm",
        PROPERTY,
        (
            (
                "    /\\ restarts' = restarts + 1\n    /\\ UNCHANGED <<messages, term, vote,",
                "    /\\ restarts' = restarts + 1\n"
                "    /\\ term' = [term EXCEPT ![i] = 0]\n"
                "    /\\ UNCHANGED <<messages, vote,",
            ),
        ),
        {"Restarts": "TRUE", "MaxRestarts": "1", "MaxTerm": "1", "MaxLogLen": "1"},
    ),
    Mutant(
        "proposal-overwrites-tail",
        "Raft",
        "LeaderAppendOnly",
        PROPERTY,
        (
            (
                'Append(log[i], Entry(term[i], "normal", v, {}))',
                'Append(SubSeq(log[i], 1, LastIndex(i) - 1), Entry(term[i], "normal", v, {}))',
            ),
        ),
        {"MaxTerm": "1"},
    ),
    Mutant(
        "restart-loses-unsynced-tail",
        "Raft",
        "CommittedLogAppendOnly",
        PROPERTY,
        (
            (
                "    /\\ restarts' = restarts + 1\n"
                "    /\\ UNCHANGED <<messages, term, vote, log, snapshotIndex,",
                "    /\\ restarts' = restarts + 1\n"
                "    /\\ log' = [log EXCEPT ![i] = SubSeq(@, 1, Len(@) - 1)]\n"
                "    /\\ UNCHANGED <<messages, term, vote, snapshotIndex,",
            ),
        ),
        {"Restarts": "TRUE", "MaxRestarts": "1", "MaxTerm": "1", "MaxLogLen": "1"},
    ),
    Mutant(
        "append-lowers-commit",
        "Raft",
        "MonotonicCommitIndex",
        PROPERTY,
        (
            (
                "= Max(commit[i], Min(m.commit, m.index + Len(m.entries)))]",
                "= Min(m.commit, m.index + Len(m.entries))]",
            ),
        ),
        # a new leader that has not learned the commit index yet sends a lower one
        {"Value": "{}"},
    ),
    Mutant(
        "stale-append-response-lowers-match",
        "Raft",
        "MonotonicMatchIndex",
        PROPERTY,
        (
            (
                "ELSE /\\ matchIndex' = [matchIndex EXCEPT ![i][m.src] = Max(@, m.index)]",
                "ELSE /\\ matchIndex' = [matchIndex EXCEPT ![i][m.src] = m.index]",
            ),
        ),
        {"Duplicate": "TRUE", "MaxTerm": "1"},
    ),
)

FEATURE_MUTANTS = (
    Mutant(
        "read-served-without-quorum",
        "Raft",
        "ReadIndexLinearizable",
        INVARIANT,
        (
            (
                "    /\\ IsQuorum(pendingRead[i].acks, Config(i))\n",
                "",
            ),
        ),
        {"ReadIndex": "TRUE", "MaxReads": "1", "Value": "{}"},
    ),
    Mutant(
        "timeout-now-campaigns-in-same-term",
        "Raft",
        "ElectionSafety",
        INVARIANT,
        (
            ("    /\\ Campaign(i, m.term)\n", "    /\\ Campaign(i, m.term - 1)\n"),
            ('VoteRequests(i, "vote", m.term + 1)', 'VoteRequests(i, "vote", m.term)'),
        ),
        {"Transfer": "TRUE", "MaxTerm": "1", "MaxLogLen": "1", "MaxMessages": "3"},
    ),
)

ORDERING_MUTANTS = (
    Mutant(
        "producer-seq-starts-at-zero",
        "MessageOrdering",
        "TypeOK",
        INVARIANT,
        (("/\\ nextSeq = [p \\in Producer |-> 1]", "/\\ nextSeq = [p \\in Producer |-> 0]"),),
    ),
    Mutant(
        "retry-without-dedup",
        "MessageOrdering",
        "NoDuplicateAppend",
        INVARIANT,
        (
            (
                "    /\\ m.seq = lastSeq[m.producer] + 1\n    /\\ brokerHlc'",
                "    /\\ m.seq <= lastSeq[m.producer] + 1\n    /\\ brokerHlc'",
            ),
        ),
    ),
    Mutant(
        "dedup-without-sequence-check",
        "MessageOrdering",
        "ProducerFIFO",
        INVARIANT,
        (
            (
                "OffsetOf(m) ==",
                "Appended(m) == \\E k \\in 1..Len(topicLog[m.topic]) :\n"
                "    /\\ topicLog[m.topic][k].producer = m.producer\n"
                "    /\\ topicLog[m.topic][k].seq = m.seq\n"
                "OffsetOf(m) ==",
            ),
            (
                "    /\\ m.seq = lastSeq[m.producer] + 1\n    /\\ brokerHlc'",
                "    /\\ ~Appended(m)\n    /\\ brokerHlc'",
            ),
            ("    /\\ m.seq <= lastSeq[m.producer]\n", "    /\\ Appended(m)\n"),
            ("    /\\ m.seq > lastSeq[m.producer] + 1\n", "    /\\ FALSE\n"),
        ),
    ),
    Mutant(
        "offset-is-log-index",
        "MessageOrdering",
        "OffsetsDense",
        INVARIANT,
        (("offset |-> Len(@), hlc", "offset |-> applied, hlc"),),
    ),
    Mutant(
        "duplicate-acked-with-newest-offset",
        "MessageOrdering",
        "AckedDurable",
        INVARIANT,
        (
            (
                "replies' = replies \\cup {Ack(m, m.topic, OffsetOf(m))}",
                "replies' = replies \\cup {Ack(m, m.topic, Len(topicLog[m.topic]) - 1)}",
            ),
        ),
    ),
    Mutant(
        "deliver-without-waiting-for-dependency",
        "MessageOrdering",
        "CausalDelivery",
        INVARIANT,
        (("    /\\ At(d).deps \\subseteq Range(delivered[s])\n", ""),),
    ),
    Mutant(
        "deliver-out-of-offset-order",
        "MessageOrdering",
        "TopicOrder",
        INVARIANT,
        (("    /\\ d[2] = 0 \\/ <<d[1], d[2] - 1>> \\in Range(delivered[s])\n", ""),),
    ),
    Mutant(
        "resume-after-committed-offset",
        "MessageOrdering",
        "ConsumerPrefix",
        INVARIANT,
        (
            (
                "/\\ cursor' = [cursor EXCEPT ![c] = groupOffset]",
                "/\\ cursor' = [cursor EXCEPT ![c] = groupOffset + 1]",
            ),
        ),
    ),
    Mutant(
        "stamped-with-producer-clock",
        "MessageOrdering",
        "HLCMonotone",
        INVARIANT,
        (("hlc |-> Max(brokerHlc, m.hlc) + 1,\n", "hlc |-> m.hlc,\n"),),
    ),
    Mutant(
        "retry-restamps-stored-message",
        "MessageOrdering",
        "OffsetsImmutable",
        PROPERTY,
        (
            (
                "    /\\ replies' = replies \\cup {Ack(m, m.topic, OffsetOf(m))}\n"
                "    /\\ UNCHANGED <<topicLog, lastSeq, brokerHlc>>",
                "    /\\ replies' = replies \\cup {Ack(m, m.topic, OffsetOf(m))}\n"
                "    /\\ topicLog' =\n"
                "        [topicLog EXCEPT ![m.topic][OffsetOf(m) + 1].hlc = brokerHlc + 1]\n"
                "    /\\ brokerHlc' = brokerHlc + 1\n"
                "    /\\ UNCHANGED lastSeq",
            ),
        ),
    ),
)

ALL_MUTANTS = RAFT_MUTANTS + FEATURE_MUTANTS + ORDERING_MUTANTS
