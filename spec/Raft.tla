-------------------------------- MODULE Raft --------------------------------
(***************************************************************************)
(* The Raft protocol as Wiber's core (wiber/core) implements it.           *)
(*                                                                         *)
(* Names follow wiber/core/types.py so that a node event trace maps onto   *)
(* this spec field for field: HardState is <<term, vote, commit>>, roles   *)
(* and message types are the enum values, messages carry `index`,         *)
(* `log_term`, `entries`, `commit`, `reject`, `reject_hint`, `hint_term`,  *)
(* `snapshot` and `context`.                                               *)
(*                                                                         *)
(* The network is a set of messages: any message may be delivered (reorder),*)
(* delivered and kept for later delivery again (duplicate, when            *)
(* Duplicate = TRUE) or dropped (loss). A step is atomic with the fsync of *)
(* everything it changes, which is what plan(ready) enforces: persist      *)
(* before send.                                                            *)
(*                                                                         *)
(* Features the small configurations leave out are constant switches       *)
(* (DESIGN.md 4.6): PreVote, CheckQuorum, Snapshots, Transfer, ReadIndex,  *)
(* Membership. Every sub-action is a top-level operator with parameters:   *)
(* TLC 2.15 mis-evaluates some 0-ary LET definitions inside actions.       *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets, TLC

CONSTANTS
    Server,         \* every server that may ever be a member
    InitVoters,     \* the voters before any membership change
    Value,          \* client values; each is proposed at most once
    Nil

CONSTANTS
    PreVote,        \* campaign only after a quorum would grant the vote
    CheckQuorum,    \* a leader that loses contact with a quorum steps down
    Duplicate,      \* the network may deliver a message more than once
    Restarts,       \* servers crash and restart from their durable state
    Snapshots,      \* log compaction and InstallSnapshot
    Transfer,       \* leadership transfer through TimeoutNow
    ReadIndex,      \* linearizable reads confirmed by a heartbeat quorum
    Membership      \* one-server-at-a-time configuration changes

VARIABLES
    messages,       \* the network: a set of message records
    term,           \* HardState.term (durable)
    vote,           \* HardState.vote (durable)
    commit,         \* HardState.commit (durable)
    log,            \* the durable log: a sequence of entries, index = position
    snapshotIndex,  \* entries at or below it are compacted into the snapshot (durable)
    role,           \* SoftState.role
    votes,          \* who granted this (pre-)candidate a vote in its campaign
    nextIndex,      \* leader: next index to send to each follower (progress.next)
    matchIndex,     \* leader: highest index known replicated on each follower
    client,         \* per value: "idle", "sent" (appended by a leader) or "acked"
    restarts,       \* number of crashes so far (bounded by the configs)
    pendingRead,    \* leader: the ReadIndex request awaiting confirmation, or Nil
    readSeq,        \* number of ReadIndex requests started (gives each a unique context)
    served          \* history: reads answered, with what they had to see and what they saw

serverVars == <<term, vote, commit, log, snapshotIndex, role>>
leaderVars == <<nextIndex, matchIndex>>
readVars == <<pendingRead, readSeq, served>>
vars == <<messages, serverVars, votes, leaderVars, client, restarts, readVars>>

-----------------------------------------------------------------------------
(* Helpers *)

Min(a, b) == IF a < b THEN a ELSE b
Max(a, b) == IF a > b THEN a ELSE b

LastIndex(i) == Len(log[i])
LogTerm(i, k) == IF k = 0 THEN 0 ELSE log[i][k].term
LastTerm(i) == LogTerm(i, LastIndex(i))

\* The membership in force at i: the newest config entry in its log, appended or not.
ConfigIndexes(l) == {k \in 1..Len(l) : l[k].kind = "config"}
ConfigOf(l) == IF ConfigIndexes(l) = {} THEN InitVoters
               ELSE l[CHOOSE k \in ConfigIndexes(l) :
                          \A k2 \in ConfigIndexes(l) : k2 <= k].voters
Config(i) == ConfigOf(log[i])
LastConfigIndex(l) == IF ConfigIndexes(l) = {} THEN 0
                      ELSE CHOOSE k \in ConfigIndexes(l) : \A k2 \in ConfigIndexes(l) : k2 <= k

\* A voter campaigns; so does a voter whose own removal is still uncommitted (the core's
\* _promotable): it may hold the only copy of that change, without which the remaining
\* voters cannot elect anyone. It counts votes in its latest configuration, which overlaps
\* every other candidate's.
RemovedPending(i, k) == k > commit[i] /\ i \in ConfigOf(SubSeq(log[i], 1, k - 1))
Promotable(i) == i \in Config(i) \/ RemovedPending(i, LastConfigIndex(log[i]))

IsQuorum(q, voters) == 2 * Cardinality(q \cap voters) > Cardinality(voters)

Values(l) == {l[k].value : k \in {k2 \in 1..Len(l) : l[k2].kind = "normal"}}
InLog(v, l) == \E k \in 1..Len(l) : l[k].kind = "normal" /\ l[k].value = v
Acked == {v \in Value : client[v] = "acked"}

IsPrefix(s, t) == Len(s) <= Len(t) /\ SubSeq(t, 1, Len(s)) = s

Entry(t, kind, v, voters) == [term |-> t, kind |-> kind, value |-> v, voters |-> voters]

NoSnapshot == [index |-> 0, term |-> 0, data |-> <<>>]

\* Every message has every field, as the core's Message dataclass does.
Msg(type, src, dst, t) ==
    [type |-> type, src |-> src, dst |-> dst, term |-> t, index |-> 0, log_term |-> 0,
     entries |-> <<>>, commit |-> 0, reject |-> FALSE, reject_hint |-> 0, hint_term |-> 0,
     snapshot |-> NoSnapshot, context |-> 0]

\* A delivered message is consumed, or kept for a duplicate delivery later.
KeepChoices == IF Duplicate THEN BOOLEAN ELSE {FALSE}
Consumed(m, keep) == IF keep THEN messages ELSE messages \ {m}
Discard(m, keep) == messages' = Consumed(m, keep)
Reply(m, keep, r) == messages' = Consumed(m, keep) \cup {r}
Broadcast(ms) == messages' = messages \cup ms

-----------------------------------------------------------------------------
(* Initial state *)

Init ==
    /\ messages = {}
    /\ term = [i \in Server |-> 0]
    /\ vote = [i \in Server |-> Nil]
    /\ commit = [i \in Server |-> 0]
    /\ log = [i \in Server |-> <<>>]
    /\ snapshotIndex = [i \in Server |-> 0]
    /\ role = [i \in Server |-> "follower"]
    /\ votes = [i \in Server |-> {}]
    /\ nextIndex = [i \in Server |-> [j \in Server |-> 1]]
    /\ matchIndex = [i \in Server |-> [j \in Server |-> 0]]
    /\ client = [v \in Value |-> "idle"]
    /\ restarts = 0
    /\ pendingRead = [i \in Server |-> Nil]
    /\ readSeq = 0
    /\ served = {}

-----------------------------------------------------------------------------
(* Elections *)

VoteRequests(i, type, t) ==
    {[Msg(type, i, j, t) EXCEPT !.index = LastIndex(i), !.log_term = LastTerm(i)]
        : j \in Config(i) \ {i}}

\* Campaign for real: a new term, a vote for itself, vote requests to the other voters.
Campaign(i, t) ==
    /\ term' = [term EXCEPT ![i] = t + 1]
    /\ vote' = [vote EXCEPT ![i] = i]
    /\ role' = [role EXCEPT ![i] = "candidate"]
    /\ votes' = [votes EXCEPT ![i] = {i}]
    /\ pendingRead' = [pendingRead EXCEPT ![i] = Nil]

\* The election timer fires on a voter that is not leader.
Timeout(i) ==
    /\ role[i] # "leader"
    /\ Promotable(i)
    /\ IF PreVote
       THEN /\ role' = [role EXCEPT ![i] = "pre-candidate"]
            /\ votes' = [votes EXCEPT ![i] = {i}]
            /\ Broadcast(VoteRequests(i, "pre-vote", term[i] + 1))
            /\ UNCHANGED <<term, vote, pendingRead>>
       ELSE /\ Campaign(i, term[i])
            /\ Broadcast(VoteRequests(i, "vote", term[i] + 1))
    /\ UNCHANGED <<commit, log, snapshotIndex, leaderVars, client, restarts, readSeq, served>>

\* A pre-candidate that a quorum would vote for starts the real campaign.
StartElection(i) ==
    /\ role[i] = "pre-candidate"
    /\ IsQuorum(votes[i], Config(i))
    /\ Campaign(i, term[i])
    /\ Broadcast(VoteRequests(i, "vote", term[i] + 1))
    /\ UNCHANGED <<commit, log, snapshotIndex, leaderVars, client, restarts, readSeq, served>>

\* A new leader appends a NOOP entry of its term: it commits the term, and membership
\* changes wait for it (Raft thesis 4.1, the single-server change bug).
BecomeLeader(i) ==
    /\ role[i] = "candidate"
    /\ IsQuorum(votes[i], Config(i))
    /\ role' = [role EXCEPT ![i] = "leader"]
    /\ log' = [log EXCEPT ![i] = Append(log[i], Entry(term[i], "noop", Nil, {}))]
    /\ nextIndex' = [nextIndex EXCEPT ![i] = [j \in Server |-> LastIndex(i) + 1]]
    /\ matchIndex' = [matchIndex EXCEPT ![i] = [j \in Server |-> 0]]
    /\ UNCHANGED <<messages, term, vote, commit, snapshotIndex, votes, client, restarts,
                   readVars>>

\* CheckQuorum: a leader that has not heard from a quorum for an election timeout steps
\* down. Timing is not modelled, so it may step down at any time (a superset of the core).
\* The matching follower-side lease (ignore votes while a leader is live) is message loss.
StepDown(i) ==
    /\ CheckQuorum
    /\ role[i] = "leader"
    /\ role' = [role EXCEPT ![i] = "follower"]
    /\ pendingRead' = [pendingRead EXCEPT ![i] = Nil]
    /\ UNCHANGED <<messages, term, vote, commit, log, snapshotIndex, votes, leaderVars,
                   client, restarts, readSeq, served>>

\* A message from a higher term makes anyone a follower of that term, in the same step
\* that handles it (as the core does). Pre-vote requests never do, and neither does a
\* granted pre-vote: its term is the one the pre-candidate has not started yet.
Bumps(i, m) ==
    /\ m.term > term[i]
    /\ m.type # "pre-vote"
    /\ ~(m.type = "pre-vote-resp" /\ ~m.reject)

\* The receiver's vote and role as the handler sees them, after any term update.
VoteSeen(i, m) == IF Bumps(i, m) THEN Nil ELSE vote[i]
RoleSeen(i, m) == IF Bumps(i, m) THEN "follower" ELSE role[i]

\* A request from the leader of the receiver's (possibly new) term makes it a follower.
FollowLeader(i, m) ==
    /\ m.term >= term[i]
    /\ RoleSeen(i, m) # "leader"
    /\ term' = [term EXCEPT ![i] = m.term]
    /\ vote' = [vote EXCEPT ![i] = VoteSeen(i, m)]
    /\ role' = [role EXCEPT ![i] = "follower"]
    /\ pendingRead' = [pendingRead EXCEPT ![i] = Nil]

UpToDate(i, m) ==
    \/ m.log_term > LastTerm(i)
    \/ m.log_term = LastTerm(i) /\ m.index >= LastIndex(i)

GrantPreVote(i, m) == (m.term > term[i] \/ vote[i] \in {Nil, m.src}) /\ UpToDate(i, m)

\* A pre-vote changes nothing at the voter: it asks "would you vote for me next term?".
HandlePreVote(i, m, keep) ==
    /\ m.type = "pre-vote"
    /\ m.term >= term[i]
    /\ Reply(m, keep, [Msg("pre-vote-resp", i, m.src,
                           IF GrantPreVote(i, m) THEN m.term ELSE term[i])
                         EXCEPT !.reject = ~GrantPreVote(i, m)])
    /\ UNCHANGED <<serverVars, votes, leaderVars, client, restarts, readVars>>

GrantVote(i, m) == VoteSeen(i, m) \in {Nil, m.src} /\ UpToDate(i, m)

HandleVote(i, m, keep) ==
    /\ m.type = "vote"
    /\ m.term >= term[i]
    /\ term' = [term EXCEPT ![i] = m.term]
    /\ vote' = [vote EXCEPT ![i] = IF GrantVote(i, m) THEN m.src ELSE VoteSeen(i, m)]
    /\ role' = [role EXCEPT ![i] = RoleSeen(i, m)]
    /\ pendingRead' = [pendingRead EXCEPT ![i] = IF Bumps(i, m) THEN Nil ELSE @]
    /\ Reply(m, keep, [Msg("vote-resp", i, m.src, m.term) EXCEPT !.reject = ~GrantVote(i, m)])
    /\ UNCHANGED <<commit, log, snapshotIndex, votes, leaderVars, client, restarts, readSeq,
                   served>>

\* A granted pre-vote carries the term the pre-candidate will campaign in.
HandlePreVoteResp(i, m, keep) ==
    /\ m.type = "pre-vote-resp"
    /\ m.term = term[i] + 1 /\ ~m.reject
    /\ votes' = [votes EXCEPT ![i] = IF role[i] = "pre-candidate" THEN @ \cup {m.src} ELSE @]
    /\ Discard(m, keep)
    /\ UNCHANGED <<serverVars, leaderVars, client, restarts, readVars>>

HandleVoteResp(i, m, keep) ==
    /\ m.type = "vote-resp"
    /\ m.term = term[i]
    /\ votes' = [votes EXCEPT ![i] = IF role[i] = "candidate" /\ ~m.reject
                                     THEN @ \cup {m.src} ELSE @]
    /\ Discard(m, keep)
    /\ UNCHANGED <<serverVars, leaderVars, client, restarts, readVars>>

-----------------------------------------------------------------------------
(* Replication *)

\* The leader sends every entry from nextIndex on, with the consistency-check pair
\* (index, log_term) of the entry before them, or a snapshot when those are compacted.
AppendEntries(i, j) ==
    /\ role[i] = "leader"
    /\ j \in Config(i) \ {i}
    /\ nextIndex[i][j] > snapshotIndex[i]
    /\ Broadcast({[Msg("append", i, j, term[i]) EXCEPT
                     !.index = nextIndex[i][j] - 1,
                     !.log_term = LogTerm(i, nextIndex[i][j] - 1),
                     !.entries = SubSeq(log[i], nextIndex[i][j], LastIndex(i)),
                     !.commit = commit[i]]})
    /\ UNCHANGED <<serverVars, votes, leaderVars, client, restarts, readVars>>

\* Entries replace the log from the first conflicting index; a log that already matches
\* them is left alone, so a stale or duplicated append never shortens the log.
Matches(l, idx, ents) ==
    \A k \in 1..Len(ents) : idx + k <= Len(l) /\ l[idx + k].term = ents[k].term
MergeLog(l, idx, ents) == IF Matches(l, idx, ents) THEN l ELSE SubSeq(l, 1, idx) \o ents

LogOk(i, m) == m.index <= LastIndex(i) /\ LogTerm(i, m.index) = m.log_term

\* Fast back-off: the follower's best guess of the last index that can match, which is
\* the last index at or before the probe whose term is not above the probe's term.
HintIndex(i, m) ==
    CHOOSE k \in 0..Min(m.index, LastIndex(i)) :
        /\ LogTerm(i, k) <= m.log_term
        /\ \A k2 \in (k + 1)..Min(m.index, LastIndex(i)) : LogTerm(i, k2) > m.log_term

AcceptAppend(i, m, keep) ==
    /\ LogOk(i, m)
    /\ log' = [log EXCEPT ![i] = MergeLog(log[i], m.index, m.entries)]
    /\ commit' = [commit EXCEPT ![i] = Max(commit[i], Min(m.commit, m.index + Len(m.entries)))]
    /\ Reply(m, keep, [Msg("append-resp", i, m.src, m.term) EXCEPT
                         !.index = m.index + Len(m.entries)])

RejectAppend(i, m, keep) ==
    /\ ~LogOk(i, m)
    /\ Reply(m, keep, [Msg("append-resp", i, m.src, m.term) EXCEPT
                         !.index = m.index, !.reject = TRUE,
                         !.reject_hint = HintIndex(i, m),
                         !.hint_term = LogTerm(i, HintIndex(i, m))])
    /\ UNCHANGED <<log, commit>>

\* An append below the commit index is answered with the commit index (etcd raft).
StaleAppend(i, m, keep) ==
    /\ m.index < commit[i]
    /\ Reply(m, keep, [Msg("append-resp", i, m.src, m.term) EXCEPT !.index = commit[i]])
    /\ UNCHANGED <<log, commit>>

HandleAppend(i, m, keep) ==
    /\ m.type = "append"
    /\ FollowLeader(i, m)
    /\ IF m.index < commit[i] THEN StaleAppend(i, m, keep)
       ELSE AcceptAppend(i, m, keep) \/ RejectAppend(i, m, keep)
    /\ UNCHANGED <<snapshotIndex, votes, leaderVars, client, restarts, readSeq, served>>

\* The leader's guess after a rejection: the last index at or before the hint whose term
\* is not above the hint's term; never at or below what is known to match.
BackOff(i, m) ==
    CHOOSE k \in 0..Min(m.reject_hint, LastIndex(i)) :
        /\ LogTerm(i, k) <= m.hint_term
        /\ \A k2 \in (k + 1)..Min(m.reject_hint, LastIndex(i)) : LogTerm(i, k2) > m.hint_term

HandleAppendResp(i, m, keep) ==
    /\ m.type = "append-resp"
    /\ m.term = term[i]
    /\ role[i] = "leader"
    /\ IF m.reject
       THEN /\ nextIndex' = [nextIndex EXCEPT ![i][m.src] =
                  Max(Min(@ - 1, BackOff(i, m) + 1), matchIndex[i][m.src] + 1)]
            /\ UNCHANGED matchIndex
       ELSE /\ matchIndex' = [matchIndex EXCEPT ![i][m.src] = Max(@, m.index)]
            /\ nextIndex' = [nextIndex EXCEPT ![i][m.src] = Max(@, m.index + 1)]
    /\ Discard(m, keep)
    /\ UNCHANGED <<serverVars, votes, client, restarts, readVars>>

\* Commit only by counting replicas of an entry of the leader's own term (Raft 5.4.2);
\* the leader counts itself through its own log. Applying acknowledges the clients.
Agree(i, k) == {i} \cup {j \in Server : matchIndex[i][j] >= k}

CanCommit(i, k) == log[i][k].term = term[i] /\ IsQuorum(Agree(i, k), Config(i))

AdvanceCommitIndex(i) ==
    /\ role[i] = "leader"
    /\ \E k \in (commit[i] + 1)..LastIndex(i) :
        /\ CanCommit(i, k)
        /\ \A k2 \in (k + 1)..LastIndex(i) : ~CanCommit(i, k2)
        /\ commit' = [commit EXCEPT ![i] = k]
        /\ client' = [v \in Value |-> IF InLog(v, SubSeq(log[i], 1, k)) THEN "acked"
                                      ELSE client[v]]
    /\ UNCHANGED <<messages, term, vote, log, snapshotIndex, role, votes, leaderVars,
                   restarts, readVars>>

ClientRequest(i, v) ==
    /\ role[i] = "leader"
    /\ client[v] = "idle"
    /\ log' = [log EXCEPT ![i] = Append(log[i], Entry(term[i], "normal", v, {}))]
    /\ client' = [client EXCEPT ![v] = "sent"]
    /\ UNCHANGED <<messages, term, vote, commit, snapshotIndex, role, votes, leaderVars,
                   restarts, readVars>>

-----------------------------------------------------------------------------
(* Terms, crashes, the network *)

\* An answer from a higher term (a rejected pre-vote) only teaches the receiver that term.
UpdateTerm(i, m, keep) ==
    /\ m.type \in {"pre-vote-resp", "vote-resp", "append-resp", "heartbeat-resp"}
    /\ Bumps(i, m)
    /\ term' = [term EXCEPT ![i] = m.term]
    /\ vote' = [vote EXCEPT ![i] = Nil]
    /\ role' = [role EXCEPT ![i] = "follower"]
    /\ pendingRead' = [pendingRead EXCEPT ![i] = Nil]
    /\ Discard(m, keep)
    /\ UNCHANGED <<commit, log, snapshotIndex, votes, leaderVars, client, restarts, readSeq,
                   served>>

\* Messages from older terms are dropped; so are answers the receiver no longer awaits.
DropStale(i, m) ==
    /\ \/ m.term < term[i]
       \/ m.type = "pre-vote-resp" /\ ~Bumps(i, m) /\ (m.reject \/ m.term # term[i] + 1)
    /\ Discard(m, FALSE)
    /\ UNCHANGED <<serverVars, votes, leaderVars, client, restarts, readVars>>

\* A crash keeps exactly the durable state: term, vote, log and snapshot. The commit index is
\* volatile (the runtime does not fsync a change of the commit index alone), so a restarted
\* server comes back with one it had before, never below its snapshot; it learns the rest
\* from the leader again.
Restart(i) ==
    /\ Restarts
    /\ role' = [role EXCEPT ![i] = "follower"]
    /\ commit' \in {[commit EXCEPT ![i] = c] : c \in snapshotIndex[i]..commit[i]}
    /\ votes' = [votes EXCEPT ![i] = {}]
    /\ nextIndex' = [nextIndex EXCEPT ![i] = [j \in Server |-> 1]]
    /\ matchIndex' = [matchIndex EXCEPT ![i] = [j \in Server |-> 0]]
    /\ pendingRead' = [pendingRead EXCEPT ![i] = Nil]
    /\ restarts' = restarts + 1
    /\ UNCHANGED <<messages, term, vote, log, snapshotIndex, client, readSeq, served>>

DropMessage(m) ==
    /\ Discard(m, FALSE)
    /\ UNCHANGED <<serverVars, votes, leaderVars, client, restarts, readVars>>

-----------------------------------------------------------------------------
(* Snapshots: the snapshot is the state machine as of its index, which this spec   *)
(* represents by the committed prefix it was made from (membership included).      *)

Compact(i) ==
    /\ Snapshots
    /\ snapshotIndex[i] < commit[i]
    /\ snapshotIndex' = [snapshotIndex EXCEPT ![i] = commit[i]]
    /\ UNCHANGED <<messages, term, vote, commit, log, role, votes, leaderVars, client,
                   restarts, readVars>>

SendSnapshot(i, j) ==
    /\ Snapshots
    /\ role[i] = "leader"
    /\ j \in Config(i) \ {i}
    /\ nextIndex[i][j] <= snapshotIndex[i]
    /\ Broadcast({[Msg("snapshot", i, j, term[i]) EXCEPT
                    !.snapshot = [index |-> snapshotIndex[i],
                                  term |-> LogTerm(i, snapshotIndex[i]),
                                  data |-> SubSeq(log[i], 1, snapshotIndex[i])]]})
    /\ UNCHANGED <<serverVars, votes, leaderVars, client, restarts, readVars>>

\* A snapshot at or below the commit index is old news; one whose last entry the
\* follower already has only moves the commit index; anything else replaces the log.
RestoredLog(i, s) ==
    IF s.index <= LastIndex(i) /\ LogTerm(i, s.index) = s.term THEN log[i] ELSE s.data

HandleSnapshot(i, m, keep) ==
    /\ m.type = "snapshot"
    /\ FollowLeader(i, m)
    /\ IF m.snapshot.index <= commit[i]
       THEN /\ Reply(m, keep, [Msg("append-resp", i, m.src, m.term) EXCEPT
                                 !.index = commit[i]])
            /\ UNCHANGED <<log, commit, snapshotIndex>>
       ELSE /\ log' = [log EXCEPT ![i] = RestoredLog(i, m.snapshot)]
            /\ commit' = [commit EXCEPT ![i] = m.snapshot.index]
            /\ snapshotIndex' = [snapshotIndex EXCEPT ![i] = m.snapshot.index]
            /\ Reply(m, keep, [Msg("append-resp", i, m.src, m.term) EXCEPT
                                 !.index = m.snapshot.index])
    /\ UNCHANGED <<votes, leaderVars, client, restarts, readSeq, served>>

-----------------------------------------------------------------------------
(* Leadership transfer *)

\* The leader hands over to a voter whose log is as long as its own.
TransferLeadership(i, j) ==
    /\ Transfer
    /\ role[i] = "leader"
    /\ j \in Config(i) \ {i}
    /\ matchIndex[i][j] = LastIndex(i)
    /\ Broadcast({Msg("timeout-now", i, j, term[i])})
    /\ UNCHANGED <<serverVars, votes, leaderVars, client, restarts, readVars>>

\* TimeoutNow makes the target campaign at once, without a pre-vote round.
HandleTimeoutNow(i, m, keep) ==
    /\ m.type = "timeout-now"
    /\ m.term >= term[i]
    /\ RoleSeen(i, m) = "follower"
    /\ Promotable(i)
    /\ Campaign(i, m.term)
    /\ messages' = Consumed(m, keep) \cup
                   {[r EXCEPT !.context = 1] : r \in VoteRequests(i, "vote", m.term + 1)}
    /\ UNCHANGED <<commit, log, snapshotIndex, leaderVars, client, restarts, readSeq, served>>

-----------------------------------------------------------------------------
(* ReadIndex: a read may be served at the commit index once a quorum has confirmed, *)
(* after the read arrived, that the leader is still the leader.                      *)

\* Every entry committed anywhere, as <<index, term>>: a read must see the writes that
\* completed before it (committed is the stronger, state-level form of acknowledged).
CommittedEntries == UNION {{<<k, log[j][k].term>> : k \in 1..commit[j]} : j \in Server}
EntriesUpTo(i, n) == {<<k, log[i][k].term>> : k \in 1..n}

HasCommittedInTerm(i) == commit[i] > 0 /\ LogTerm(i, commit[i]) = term[i]

ReadRequest(i) ==
    /\ ReadIndex
    /\ role[i] = "leader"
    /\ pendingRead[i] = Nil
    /\ HasCommittedInTerm(i)
    /\ readSeq' = readSeq + 1
    /\ pendingRead' = [pendingRead EXCEPT ![i] =
                          [index |-> commit[i], context |-> readSeq + 1, acks |-> {i},
                           mustSee |-> CommittedEntries]]
    /\ Broadcast({[Msg("heartbeat", i, j, term[i]) EXCEPT
                     !.commit = Min(matchIndex[i][j], commit[i]), !.context = readSeq + 1]
                    : j \in Config(i) \ {i}})
    /\ UNCHANGED <<serverVars, votes, leaderVars, client, restarts, served>>

HandleHeartbeat(i, m, keep) ==
    /\ m.type = "heartbeat"
    /\ FollowLeader(i, m)
    /\ commit' = [commit EXCEPT ![i] = Max(@, Min(m.commit, LastIndex(i)))]
    /\ Reply(m, keep, [Msg("heartbeat-resp", i, m.src, m.term) EXCEPT !.context = m.context])
    /\ UNCHANGED <<log, snapshotIndex, votes, leaderVars, client, restarts, readSeq, served>>

HandleHeartbeatResp(i, m, keep) ==
    /\ m.type = "heartbeat-resp"
    /\ m.term = term[i]
    /\ pendingRead' = [pendingRead EXCEPT ![i] =
                          IF @ # Nil /\ role[i] = "leader" /\ @.context = m.context
                          THEN [@ EXCEPT !.acks = @ \cup {m.src}] ELSE @]
    /\ Discard(m, keep)
    /\ UNCHANGED <<serverVars, votes, leaderVars, client, restarts, readSeq, served>>

\* The read sees the applied state at its index: the values committed up to there.
ServeRead(i) ==
    /\ role[i] = "leader"
    /\ pendingRead[i] # Nil
    /\ IsQuorum(pendingRead[i].acks, Config(i))
    /\ served' = served \cup {[mustSee |-> pendingRead[i].mustSee,
                               saw |-> EntriesUpTo(i, pendingRead[i].index)]}
    /\ pendingRead' = [pendingRead EXCEPT ![i] = Nil]
    /\ UNCHANGED <<messages, serverVars, votes, leaderVars, client, restarts, readSeq>>

-----------------------------------------------------------------------------
(* Membership: one server at a time; a change takes effect when appended; at most  *)
(* one uncommitted change; a leader commits an entry of its term before any change. *)

\* The leader keeps progress only for members (membership.py): an added server starts from
\* nothing known, at the change's own index, even if it was a member before.
ProposeConfig(i, voters) ==
    /\ Membership
    /\ role[i] = "leader"
    /\ HasCommittedInTerm(i)
    /\ \A k \in (commit[i] + 1)..LastIndex(i) : log[i][k].kind # "config"
    /\ Cardinality((voters \ Config(i)) \cup (Config(i) \ voters)) = 1
    /\ voters # {}
    /\ log' = [log EXCEPT ![i] = Append(log[i], Entry(term[i], "config", Nil, voters))]
    /\ matchIndex' = [matchIndex EXCEPT ![i] =
                         [j \in Server |-> IF j \in voters \ Config(i) THEN 0
                                          ELSE matchIndex[i][j]]]
    /\ nextIndex' = [nextIndex EXCEPT ![i] =
                         [j \in Server |-> IF j \in voters \ Config(i) THEN LastIndex(i) + 1
                                          ELSE nextIndex[i][j]]]
    /\ UNCHANGED <<messages, term, vote, commit, snapshotIndex, role, votes, client, restarts,
                   readVars>>

-----------------------------------------------------------------------------
(* The next-state relation *)

Handle(i, m, keep) ==
    \/ HandlePreVote(i, m, keep)
    \/ HandleVote(i, m, keep)
    \/ HandlePreVoteResp(i, m, keep)
    \/ HandleVoteResp(i, m, keep)
    \/ HandleAppend(i, m, keep)
    \/ HandleAppendResp(i, m, keep)
    \/ HandleSnapshot(i, m, keep)
    \/ HandleTimeoutNow(i, m, keep)
    \/ HandleHeartbeat(i, m, keep)
    \/ HandleHeartbeatResp(i, m, keep)
    \/ UpdateTerm(i, m, keep)

Receive(m) ==
    \/ DropStale(m.dst, m)
    \/ \E keep \in KeepChoices : Handle(m.dst, m, keep)

Next ==
    \/ \E i \in Server :
        \/ Timeout(i)
        \/ StartElection(i)
        \/ BecomeLeader(i)
        \/ StepDown(i)
        \/ AdvanceCommitIndex(i)
        \/ Restart(i)
        \/ Compact(i)
        \/ ReadRequest(i)
        \/ ServeRead(i)
    \/ \E i, j \in Server :
        \/ AppendEntries(i, j)
        \/ SendSnapshot(i, j)
        \/ TransferLeadership(i, j)
    \/ \E i \in Server, v \in Value : ClientRequest(i, v)
    \/ Membership /\ \E i \in Server, s \in SUBSET Server : ProposeConfig(i, s)
    \/ \E m \in messages : Receive(m) \/ DropMessage(m)

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Invariants *)

Roles == {"follower", "pre-candidate", "candidate", "leader"}
EntryType == [term : Nat, kind : {"normal", "noop", "config"}, value : Value \cup {Nil},
              voters : SUBSET Server]

TypeOK ==
    /\ \A i \in Server :
        /\ term[i] \in Nat
        /\ vote[i] \in Server \cup {Nil}
        /\ role[i] \in Roles
        /\ commit[i] \in Nat
        /\ snapshotIndex[i] \in 0..commit[i]
        /\ \A k \in 1..Len(log[i]) : log[i][k] \in EntryType
        /\ votes[i] \subseteq Server
        /\ \A j \in Server : nextIndex[i][j] \in Nat \ {0} /\ matchIndex[i][j] \in Nat
    /\ client \in [Value -> {"idle", "sent", "acked"}]
    /\ \A m \in messages : m.src \in Server /\ m.dst \in Server /\ m.term \in Nat

\* At most one leader per term.
ElectionSafety ==
    \A i, j \in Server :
        role[i] = "leader" /\ role[j] = "leader" /\ term[i] = term[j] => i = j

\* Two logs with an entry of the same index and term agree up to there.
LogMatching ==
    \A i, j \in Server : \A k \in 1..Min(LastIndex(i), LastIndex(j)) :
        log[i][k].term = log[j][k].term => SubSeq(log[i], 1, k) = SubSeq(log[j], 1, k)

\* What a server knows committed by its current term is in the log of every leader of a
\* later term.
LeaderCompleteness ==
    \A i, j \in Server :
        role[j] = "leader" /\ term[j] > term[i] =>
            IsPrefix(SubSeq(log[i], 1, commit[i]), log[j])

\* Committed prefixes never disagree: every server applies the same entries in order.
StateMachineSafety ==
    \A i, j \in Server : \A k \in 1..Min(commit[i], commit[j]) : log[i][k] = log[j][k]

CommitIndexBound == \A i \in Server : commit[i] <= LastIndex(i)

\* A value acknowledged to a client is in the log of the leader of the highest term.
AckedValueNotLost ==
    \A i \in Server :
        role[i] = "leader" /\ (\A j \in Server : term[j] <= term[i]) =>
            \A v \in Acked : InLog(v, log[i])

\* A read served through ReadIndex saw every entry committed before it arrived.
ReadIndexLinearizable == \A r \in served : r.mustSee \subseteq r.saw

-----------------------------------------------------------------------------
(* Action properties *)

MonotonicTerm == [][\A i \in Server : term'[i] >= term[i]]_vars

StaysLeader(i) == role[i] = "leader" /\ role'[i] = "leader" /\ term'[i] = term[i]

LeaderAppendOnly == [][\A i \in Server : StaysLeader(i) => IsPrefix(log[i], log'[i])]_vars

CommittedLogAppendOnly ==
    [][\A i \in Server : IsPrefix(SubSeq(log[i], 1, commit[i]), log'[i])]_vars

\* Only a restart loses commit index (it is volatile).
MonotonicCommitIndex ==
    [][\A i \in Server : commit'[i] < commit[i] => restarts' = restarts + 1]_vars

\* A server the leader has just added back starts from nothing known.
Added(i, j) == j \notin Config(i) /\ j \in ConfigOf(log'[i])

MonotonicMatchIndex ==
    [][\A i \in Server : StaysLeader(i) =>
          \A j \in Server : matchIndex'[i][j] >= matchIndex[i][j] \/ Added(i, j)]_vars

-----------------------------------------------------------------------------
(* Model-checking bounds, used only by the .cfg files *)

CONSTANTS MaxTerm, MaxLogLen, MaxMessages, MaxRestarts, MaxReads

\* At most one message in flight from one server to another (messages between different
\* pairs still reorder), a bounded network, and bounded terms, logs, crashes and reads.
OneMessagePerPair ==
    \A m1, m2 \in messages : m1.src = m2.src /\ m1.dst = m2.dst => m1 = m2

\* For random simulation: TLC 2.15 ends a behaviour at its first state outside the
\* constraint, so the network bound stays loose there.
SimBounds ==
    /\ \A i \in Server : term[i] <= MaxTerm /\ LastIndex(i) <= MaxLogLen
    /\ \A m \in messages : m.term <= MaxTerm
    /\ Cardinality(messages) <= MaxMessages
    /\ restarts <= MaxRestarts
    /\ readSeq <= MaxReads

Bounds == SimBounds /\ OneMessagePerPair

\* Progress and vote tallies mean nothing once a server has left the role that owns them;
\* the view forgets them so that stale copies do not multiply the states.
LeaderView(i) == IF role[i] = "leader" THEN <<nextIndex[i], matchIndex[i]>> ELSE <<>>
VotesView(i) == IF role[i] \in {"pre-candidate", "candidate"} THEN votes[i] ELSE {}
View == <<messages, serverVars, client, restarts, readVars,
          [i \in Server |-> <<LeaderView(i), VotesView(i)>>]>>

Symmetry == Permutations(Server) \cup Permutations(Value)

=============================================================================
