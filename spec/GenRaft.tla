------------------------------ MODULE GenRaft ------------------------------
(***************************************************************************)
(* Behaviours of Raft.tla for model-based tests of wiber/core (issue 10;   *)
(* research/tla.md 3.2 and appendix B). `act` names each step and its      *)
(* parameters so that spec/replay.py can drive the core with the same      *)
(* input and compare the whole mapped state after it.                      *)
(*                                                                         *)
(* Scope: elections (timeouts, votes, term updates, stale and lost         *)
(* messages, restarts, a new leader's NOOP) and log replication (proposals,*)
(* AppendEntries, the consistency check, back-off, truncation, commit).    *)
(*                                                                         *)
(* The core sends appends on its own schedule, so the leader's side here   *)
(* is the least general form of Raft.tla's AppendEntries and              *)
(* HandleAppendResp that does exactly what the core does when the replayer *)
(* configures it with one entry per AppendEntries (max_append_bytes) and   *)
(* one AppendEntries in flight per follower (max_inflight): `pr` mirrors   *)
(* wiber/core/progress.py (probe and replicate states, next, match, the    *)
(* commit index a follower was sent), a leader sends only in the step that *)
(* makes it leader, a proposal, or the answer to an append, and every      *)
(* append it sends carries a slice of its log with the consistency-check   *)
(* pair before it and its commit index (TraceRaft.tla's SendAppendSlice:   *)
(* Raft.tla's AppendEntries as the core batches it). The follower's side   *)
(* is Raft.tla's.                                                          *)
(* Heartbeats are not modelled (the replayer never ticks the cores).       *)
(***************************************************************************)
EXTENDS Raft

VARIABLES
    act,        \* the step taken: [e, n, msg, v]
    rejects,    \* who refused this candidate its vote in its current campaign
    pr,         \* leader i's progress of follower j (wiber/core/progress.py)
    knowsLeader,\* i heard from the leader of its term (the core then refuses other votes)
    drops       \* messages lost so far

genVars == <<vars, act, rejects, pr, knowsLeader, drops>>

\* Budgets are guards rather than a CONSTRAINT: TLC 2.15's simulation ends a behaviour at its
\* first state outside the constraint, so a random walk keeps going with the other actions.
CONSTANT MaxDrops

\* `prior` and `pcommit`: the node's log and commit index before the step (test purposes read them).
Act(e, n, m, v) == [e |-> e, n |-> n, msg |-> m, v |-> v, prior |-> log[n], pcommit |-> commit[n]]
Ev(e, n, m) == act' = Act(e, n, m, Nil)
NoMsg == Msg("none", Nil, Nil, 0)

NoPr == [next |-> 1, match |-> 0, state |-> "probe", probeSent |-> FALSE, inflight |-> 0,
         sentCommit |-> 0]

GenInit ==
    /\ Init
    /\ act = [e |-> "init", n |-> Nil, msg |-> NoMsg, v |-> Nil, prior |-> <<>>, pcommit |-> 0]
    /\ rejects = [i \in Server |-> {}]
    /\ pr = [i \in Server |-> [j \in Server |-> NoPr]]
    /\ knowsLeader = [i \in Server |-> FALSE]
    /\ drops = 0

\* A refusal counts while its candidate campaigns in that term; a new term or role forgets.
Refused(i, m) ==
    IF m.type = "vote-resp" /\ m.reject /\ m.dst = i /\ m.term = term[i] /\ role[i] = "candidate"
    THEN {m.src} ELSE {}

TallyRejects(m) ==
    rejects' = [i \in Server |->
                   IF term'[i] # term[i] \/ role'[i] # role[i] THEN {}
                   ELSE rejects[i] \cup Refused(i, m)]

\* A node forgets the leader it knew when its term changes.
ForgetLeaders ==
    knowsLeader' = [i \in Server |-> knowsLeader[i] /\ term'[i] = term[i]]

-----------------------------------------------------------------------------
(* The leader's side, as wiber/core/replication.py does it with one entry per *)
(* message and one message in flight per follower.                            *)

LogTermOf(lg, k) == IF k = 0 THEN 0 ELSE lg[k].term

Paused(p) == IF p.state = "probe" THEN p.probeSent ELSE p.inflight # 0

\* At most one entry: the one at next, if the log has it.
Batch(p, lg) == SubSeq(lg, p.next, Min(p.next, Len(lg)))

CanSend(p, lg, ifEmpty) ==
    /\ ~Paused(p)
    /\ p.next - 1 <= Len(lg)
    /\ ifEmpty \/ p.next <= Len(lg)

LastSent(p, lg) == p.next - 1 + Len(Batch(p, lg))

AppendTo(i, j, p, lg, cm) ==
    [Msg("append", i, j, term[i]) EXCEPT
        !.index = p.next - 1, !.log_term = LogTermOf(lg, p.next - 1),
        !.entries = Batch(p, lg), !.commit = cm]

\* progress.sent_entries and the commit index the follower can now learn.
AfterSend(p, lg, cm) ==
    [p EXCEPT
        !.next = IF p.state = "replicate" /\ Len(Batch(p, lg)) > 0 THEN LastSent(p, lg) + 1 ELSE @,
        !.inflight = IF p.state = "replicate" /\ Len(Batch(p, lg)) > 0 THEN LastSent(p, lg) ELSE @,
        !.probeSent = IF p.state = "probe" THEN TRUE ELSE @,
        !.sentCommit = Max(@, Min(cm, LastSent(p, lg)))]

Peers(i) == Config(i) \ {i}

\* _bcast_append: one append to every follower that is not paused (the pipelining loop
\* stops after it: one message in flight).
BcastMsgs(i, prs, lg, cm) ==
    {AppendTo(i, j, prs[j], lg, cm) : j \in {k \in Peers(i) : CanSend(prs[k], lg, TRUE)}}
BcastPrs(i, prs, lg, cm) ==
    [j \in Server |-> IF j \in Peers(i) /\ CanSend(prs[j], lg, TRUE)
                      THEN AfterSend(prs[j], lg, cm) ELSE prs[j]]

\* The highest index stored by a quorum (the leader holds its whole log).
Agreeing(i, prs, k) == {i} \cup {j \in Server : prs[j].match >= k}
QuorumIndex(i, prs) ==
    CHOOSE k \in 0..LastIndex(i) :
        /\ IsQuorum(Agreeing(i, prs, k), Config(i))
        /\ \A k2 \in (k + 1)..LastIndex(i) : ~IsQuorum(Agreeing(i, prs, k2), Config(i))

\* Raft.tla's BecomeLeader, then the NOOP sent to every follower (nextIndex: its old tail).
LeaderUp(i) ==
    /\ role[i] = "candidate"
    /\ IsQuorum(votes[i], Config(i))
    /\ role' = [role EXCEPT ![i] = "leader"]
    /\ log' = [log EXCEPT ![i] = Append(log[i], Entry(term[i], "noop", Nil, {}))]
    /\ nextIndex' = [nextIndex EXCEPT ![i] = [j \in Server |-> LastIndex(i) + 1]]
    /\ matchIndex' = [matchIndex EXCEPT ![i] = [j \in Server |-> 0]]
    /\ pr' = [pr EXCEPT ![i] = BcastPrs(i, [j \in Server |-> [NoPr EXCEPT !.next = LastIndex(i) + 1]],
                                        log'[i], commit[i])]
    /\ messages' = messages \cup BcastMsgs(i, [j \in Server |-> [NoPr EXCEPT !.next = LastIndex(i) + 1]],
                                           log'[i], commit[i])
    /\ UNCHANGED <<term, vote, commit, snapshotIndex, votes, client, restarts, readVars>>

\* Raft.tla's ClientRequest, then the new entry sent to every follower not paused.
Propose(i, v) ==
    /\ role[i] = "leader"
    /\ client[v] = "idle"
    /\ log' = [log EXCEPT ![i] = Append(log[i], Entry(term[i], "normal", v, {}))]
    /\ client' = [client EXCEPT ![v] = "sent"]
    /\ pr' = [pr EXCEPT ![i] = BcastPrs(i, pr[i], log'[i], commit[i])]
    /\ messages' = messages \cup BcastMsgs(i, pr[i], log'[i], commit[i])
    /\ UNCHANGED <<term, vote, commit, snapshotIndex, role, votes, leaderVars, restarts,
                   readVars>>

\* progress.maybe_update, then the state change of an accepted probe.
AckUpdate(p, idx) ==
    [p EXCEPT !.match = Max(@, idx), !.probeSent = IF idx > p.match THEN FALSE ELSE @,
              !.next = Max(@, idx + 1), !.inflight = IF @ # 0 /\ @ <= idx THEN 0 ELSE @]
Replicating(p) ==
    IF p.state = "probe"
    THEN [p EXCEPT !.state = "replicate", !.probeSent = FALSE, !.inflight = 0, !.next = p.match + 1]
    ELSE p

\* The answer to one follower: what is left to send, or only the commit index.
FollowUp(p, lg, cm) ==
    IF CanSend(p, lg, FALSE) THEN TRUE
    ELSE p.sentCommit < Min(p.match, cm) /\ CanSend(p, lg, TRUE)

StaleAckPr(i, m) == AckUpdate(pr[i][m.src], m.index)
AckPr(i, m) == Replicating(AckUpdate(pr[i][m.src], m.index))
AckPrs(i, m) == [pr[i] EXCEPT ![m.src] = AckPr(i, m)]
AckCommits(i, m) ==
    /\ QuorumIndex(i, AckPrs(i, m)) > commit[i]
    /\ LogTerm(i, QuorumIndex(i, AckPrs(i, m))) = term[i]

\* _handle_append_ack: a stale answer only unpauses; a new one may commit (then every
\* follower hears of it) or lets the follower have the next entry.
HandleAck(i, m) ==
    /\ m.type = "append-resp" /\ ~m.reject
    /\ m.term = term[i] /\ role[i] = "leader"
    /\ m.index <= LastIndex(i)
    /\ IF m.index <= pr[i][m.src].match
       THEN IF Paused(pr[i][m.src]) /\ CanSend(StaleAckPr(i, m), log[i], FALSE)
            THEN /\ pr' = [pr EXCEPT ![i][m.src] = AfterSend(StaleAckPr(i, m), log[i], commit[i])]
                 /\ messages' = (messages \ {m}) \cup
                                {AppendTo(i, m.src, StaleAckPr(i, m), log[i], commit[i])}
                 /\ UNCHANGED <<commit, client>>
            ELSE /\ pr' = [pr EXCEPT ![i][m.src] = StaleAckPr(i, m)]
                 /\ messages' = messages \ {m}
                 /\ UNCHANGED <<commit, client>>
       ELSE IF AckCommits(i, m)
       THEN /\ commit' = [commit EXCEPT ![i] = QuorumIndex(i, AckPrs(i, m))]
            /\ client' = [v \in Value |-> IF InLog(v, SubSeq(log[i], 1, commit'[i]))
                                          THEN "acked" ELSE client[v]]
            /\ pr' = [pr EXCEPT ![i] = BcastPrs(i, AckPrs(i, m), log[i], commit'[i])]
            /\ messages' = (messages \ {m}) \cup BcastMsgs(i, AckPrs(i, m), log[i], commit'[i])
       ELSE /\ pr' = [pr EXCEPT ![i][m.src] =
                         IF FollowUp(AckPr(i, m), log[i], commit[i])
                         THEN AfterSend(AckPr(i, m), log[i], commit[i]) ELSE AckPr(i, m)]
            /\ messages' = (messages \ {m}) \cup
                           IF FollowUp(AckPr(i, m), log[i], commit[i])
                           THEN {AppendTo(i, m.src, AckPr(i, m), log[i], commit[i])} ELSE {}
            /\ UNCHANGED <<commit, client>>
    /\ matchIndex' = [matchIndex EXCEPT ![i][m.src] = Max(@, m.index)]
    /\ UNCHANGED <<term, vote, log, snapshotIndex, role, votes, nextIndex, restarts, readVars>>

\* progress.maybe_decrease (fast back-off by term in a probe, back to match + 1 and
\* probing from replicate), then the next probe.
Hint(i, m) == IF m.hint_term > 0 THEN BackOff(i, m) ELSE m.reject_hint
Decreases(p, m) == IF p.state = "replicate" THEN m.index > p.match ELSE p.next - 1 = m.index
Decreased(p, i, m) ==
    IF p.state = "replicate"
    THEN [p EXCEPT !.state = "probe", !.probeSent = FALSE, !.inflight = 0, !.next = p.match + 1]
    ELSE [p EXCEPT !.next = Max(Min(m.index, Hint(i, m) + 1), p.match + 1), !.probeSent = FALSE]
RejectPr(i, m) == Decreased(pr[i][m.src], i, m)

HandleReject(i, m) ==
    /\ m.type = "append-resp" /\ m.reject
    /\ m.term = term[i] /\ role[i] = "leader"
    /\ IF Decreases(pr[i][m.src], m) /\ CanSend(RejectPr(i, m), log[i], TRUE)
       THEN /\ pr' = [pr EXCEPT ![i][m.src] = AfterSend(RejectPr(i, m), log[i], commit[i])]
            /\ messages' = (messages \ {m}) \cup {AppendTo(i, m.src, RejectPr(i, m), log[i], commit[i])}
       ELSE /\ pr' = [pr EXCEPT ![i][m.src] =
                          IF Decreases(@, m) THEN RejectPr(i, m) ELSE @]
            /\ messages' = messages \ {m}
    /\ UNCHANGED <<serverVars, votes, leaderVars, client, restarts, readVars>>

\* An answer from this term to a node that is no longer its leader (it restarted).
IgnoreResp(i, m) ==
    /\ m.type = "append-resp" /\ m.term = term[i] /\ role[i] # "leader"
    /\ DropMessage(m)
    /\ UNCHANGED pr

-----------------------------------------------------------------------------
(* The voter's side: the core refuses a vote in a term whose leader it heard from  *)
(* (etcd raft; TraceRaft.tla's RefuseVote): a refusal is always safe.               *)

RefuseKnowingLeader(i, m) ==
    /\ m.type = "vote" /\ m.term = term[i] /\ knowsLeader[i] /\ vote[i] # m.src
    /\ Reply(m, FALSE, [Msg("vote-resp", i, m.src, m.term) EXCEPT !.reject = TRUE])
    /\ UNCHANGED <<serverVars, votes, leaderVars, client, restarts, readVars>>

GenReceive(m) ==
    \/ DropStale(m.dst, m) /\ UNCHANGED pr
    \/ m.type = "vote" /\ RefuseKnowingLeader(m.dst, m) /\ UNCHANGED pr
    \/ /\ m.type = "vote"
       /\ ~(m.term = term[m.dst] /\ knowsLeader[m.dst] /\ vote[m.dst] # m.src)
       /\ HandleVote(m.dst, m, FALSE) /\ UNCHANGED pr
    \/ HandleVoteResp(m.dst, m, FALSE) /\ UNCHANGED pr
    \/ UpdateTerm(m.dst, m, FALSE) /\ UNCHANGED pr
    \/ HandleAppend(m.dst, m, FALSE) /\ UNCHANGED pr
    \/ HandleAck(m.dst, m)
    \/ HandleReject(m.dst, m)
    \/ IgnoreResp(m.dst, m)

KnowsAfter(m) ==
    knowsLeader' = [i \in Server |->
                       IF i = m.dst /\ m.type = "append" /\ m.term >= term[i] THEN TRUE
                       ELSE knowsLeader[i] /\ term'[i] = term[i]]

Others ==
    \/ \E i \in Server :
        \/ term[i] < MaxTerm /\ Timeout(i) /\ Ev("timeout", i, NoMsg) /\ TallyRejects(NoMsg)
           /\ ForgetLeaders /\ UNCHANGED <<pr, drops>>
        \/ restarts < MaxRestarts /\ Restart(i) /\ Ev("restart", i, NoMsg)
           /\ TallyRejects(NoMsg) /\ knowsLeader' = [knowsLeader EXCEPT ![i] = FALSE]
           /\ UNCHANGED <<pr, drops>>
    \/ \E i \in Server, v \in Value :
        /\ LastIndex(i) < MaxLogLen
        /\ Propose(i, v) /\ act' = Act("propose", i, NoMsg, v)
        /\ UNCHANGED <<rejects, knowsLeader, drops>>
    \/ \E m \in messages :
        /\ GenReceive(m) /\ Ev("receive", m.dst, m)
        /\ TallyRejects(m)   \* after the step: it reads term' and role'
        /\ KnowsAfter(m)
        /\ UNCHANGED drops
    \/ \E m \in messages :
        /\ drops < MaxDrops
        /\ DropMessage(m) /\ Ev("drop", m.dst, m)
        /\ drops' = drops + 1
        /\ UNCHANGED <<rejects, pr, knowsLeader>>

\* The core becomes leader in the step that brings its quorum of votes, so a candidate with
\* a quorum takes LeaderUp before anything else happens.
\* Likewise a candidate refused by a quorum returns to following in that step (the core's
\* election result LOST; an action Raft.tla does not have, as in TraceRaft.tla's GiveUp).
Elected(i) == role[i] = "candidate" /\ IsQuorum(votes[i], Config(i))
Defeated(i) == role[i] = "candidate" /\ IsQuorum(rejects[i], Config(i))

GiveUp(i) ==
    /\ role' = [role EXCEPT ![i] = "follower"]
    /\ UNCHANGED <<messages, term, vote, commit, log, snapshotIndex, votes, leaderVars,
                   client, restarts, readVars>>

GenNext ==
    CASE \E i \in Server : Elected(i) ->
             \E i \in Server : Elected(i) /\ LeaderUp(i) /\ Ev("become-leader", i, NoMsg)
                 /\ UNCHANGED <<rejects, knowsLeader, drops>>
      [] \E i \in Server : Defeated(i) ->
             \E i \in Server : Defeated(i) /\ GiveUp(i) /\ Ev("give-up", i, NoMsg)
                 /\ rejects' = [rejects EXCEPT ![i] = {}]
                 /\ UNCHANGED <<pr, knowsLeader, drops>>
      [] OTHER -> Others

GenSpec == GenInit /\ [][GenNext]_genVars

\* Keep random walks short and bounded: a few terms, entries, messages and restarts.
GenBounds ==
    /\ \A i \in Server : term[i] <= MaxTerm /\ LastIndex(i) <= MaxLogLen
    /\ restarts <= MaxRestarts
    /\ Cardinality(messages) <= MaxMessages

=============================================================================
