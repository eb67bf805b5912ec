------------------------------ MODULE GenRaft ------------------------------
(***************************************************************************)
(* Behaviours of Raft.tla for model-based tests of wiber/core (issue 10;   *)
(* research/tla.md 3.2 and appendix B). `act` names each step and its      *)
(* parameters so that spec/replay.py can drive the core with the same      *)
(* input and compare the whole mapped state after it.                      *)
(*                                                                         *)
(* Scope: elections (timeouts, votes, term updates, stale and lost         *)
(* messages, restarts, a new leader's NOOP). Replication is left out: the  *)
(* core sends appends on its own schedule (batching, pipelining), which    *)
(* has no one-to-one counterpart here.                                     *)
(***************************************************************************)
EXTENDS Raft

VARIABLES
    act,        \* the step taken: [e, n, msg]
    rejects     \* who refused this candidate its vote in its current campaign

genVars == <<vars, act, rejects>>

Ev(e, n, m) == act' = [e |-> e, n |-> n, msg |-> m]
NoMsg == Msg("none", Nil, Nil, 0)

VoteTypes == {"vote", "vote-resp"}

GenInit == Init /\ act = [e |-> "init", n |-> Nil, msg |-> NoMsg] /\ rejects = [i \in Server |-> {}]

\* A refusal counts while its candidate campaigns in that term; a new term or role forgets.
Refused(i, m) ==
    IF m.type = "vote-resp" /\ m.reject /\ m.dst = i /\ m.term = term[i] /\ role[i] = "candidate"
    THEN {m.src} ELSE {}

TallyRejects(m) ==
    rejects' = [i \in Server |->
                   IF term'[i] # term[i] \/ role'[i] # role[i] THEN {}
                   ELSE rejects[i] \cup Refused(i, m)]

Others ==
    \/ \E i \in Server :
        \/ Timeout(i) /\ Ev("timeout", i, NoMsg) /\ TallyRejects(NoMsg)
        \/ Restart(i) /\ Ev("restart", i, NoMsg) /\ TallyRejects(NoMsg)
    \/ \E m \in messages :
        /\ m.type \in VoteTypes
        /\ \/ DropStale(m.dst, m) /\ Ev("receive", m.dst, m)
           \/ HandleVote(m.dst, m, FALSE) /\ Ev("receive", m.dst, m)
           \/ HandleVoteResp(m.dst, m, FALSE) /\ Ev("receive", m.dst, m)
           \/ UpdateTerm(m.dst, m, FALSE) /\ Ev("receive", m.dst, m)
        /\ TallyRejects(m)   \* after the step: it reads term' and role'
    \/ \E m \in messages :
        /\ m.type \in VoteTypes
        /\ DropMessage(m) /\ Ev("drop", m.dst, m)
        /\ UNCHANGED rejects


\* The core becomes leader in the step that brings its quorum of votes, so a candidate with
\* a quorum takes BecomeLeader before anything else happens.
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
             \E i \in Server : Elected(i) /\ BecomeLeader(i) /\ Ev("become-leader", i, NoMsg)
                 /\ UNCHANGED rejects
      [] \E i \in Server : Defeated(i) ->
             \E i \in Server : Defeated(i) /\ GiveUp(i) /\ Ev("give-up", i, NoMsg)
                 /\ rejects' = [rejects EXCEPT ![i] = {}]
      [] OTHER -> Others

GenSpec == GenInit /\ [][GenNext]_genVars

\* Keep random walks short and bounded: a few terms, a few restarts.
GenBounds == \A i \in Server : term[i] <= MaxTerm /\ restarts <= MaxRestarts

=============================================================================
