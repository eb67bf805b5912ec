------------------------------ MODULE TraceRaft ------------------------------
(***************************************************************************)
(* Trace validation: the behaviours of Raft.tla that match a node event    *)
(* trace (DESIGN.md 4.6; research/tla.md 3.1 and appendix A).              *)
(*                                                                         *)
(* `Trace` comes from a generated module (spec/trace.py writes             *)
(* TraceData.tla). `l` is the next trace line to explain. Each line is one *)
(* core event: its node, the node's state when the event was recorded and, *)
(* for "receive" and "send", every scalar field of the message. A line is  *)
(* explained by a Raft.tla action (or by a check that the step it belongs *)
(* to already did what the line says) and by the node's state matching.   *)
(* Steps the core takes without an event (a proposal, a leader's commit)   *)
(* are silent Raft.tla actions taken only when the next line needs them,   *)
(* so that each trace line leaves a single state.                          *)
(*                                                                         *)
(* Delivered messages stay in `messages` (Raft.tla with Duplicate = TRUE): *)
(* the core sends identical heartbeats and appends, which a set holds once.*)
(*                                                                         *)
(* Where the core does more than Raft.tla has actions for, the action here *)
(* is marked IMPL and is the least general form that keeps the protocol's *)
(* safety argument: a slice of the log rather than all of it from          *)
(* nextIndex, periodic heartbeats, answers that only teach a stale sender  *)
(* the current term, a vote refused while a leader is known, and a         *)
(* campaign given up.                                                      *)
(*                                                                         *)
(* Acceptance is the inverted invariant NotFullyMatched (violated means    *)
(* the whole trace was explained); Raft.tla's safety invariants are checked*)
(* on every reconstructed state at the same time.                          *)
(***************************************************************************)
EXTENDS Raft, TraceData

VARIABLES
    l,      \* the trace line to explain next
    nv      \* values proposed so far: the next proposal carries nv + 1

traceVars == <<vars, l, nv>>

\* Values are strings: TLC cannot test a string for membership in an integer interval.
TraceValue == {ValueSeq[k] : k \in 1..Len(ValueSeq)}

SetOf(seq) == {seq[k] : k \in DOMAIN seq}

Line == Trace[l]
Node == Trace[l].node
Seen == Trace[l].state

\* The configuration in force is a function of the log (in force when appended, gone when
\* truncated), so a node's `voters` says which config entries its log holds.
StateOK(n, s, tm, rl, vt, lg, cm) ==
    /\ tm[n] = s.term
    /\ rl[n] = s.role
    /\ vt[n] = s.vote
    /\ Len(lg[n]) = s.last_index
    /\ cm[n] = s.commit
    /\ "voters" \in DOMAIN s => ConfigOf(lg[n]) = SetOf(s.voters)

Before(n, s) == StateOK(n, s, term, role, vote, log, commit)
After(n, s) == StateOK(n, s, term', role', vote', log', commit')

\* The indexes of the config entries an append carries.
ConfigsIn(m) == {m.index + k : k \in {k2 \in 1..Len(m.entries) : m.entries[k2].kind = "config"}}
TracedConfigs(t) == IF "config_indexes" \in DOMAIN t THEN SetOf(t.config_indexes) ELSE {}

\* Every scalar field the core logs; entries are logged as their count, and (in a trace that
\* records configurations) the indexes of the config entries among them.
MsgOK(m, t) ==
    /\ m.type = t.type /\ m.src = t.src /\ m.dst = t.dst /\ m.term = t.term
    /\ m.index = t.index /\ m.log_term = t.log_term /\ Len(m.entries) = t.entries
    /\ m.commit = t.commit /\ m.reject = t.reject
    /\ m.reject_hint = t.reject_hint /\ m.hint_term = t.hint_term
    /\ "snapshot_index" \in DOMAIN t =>
           m.snapshot.index = t.snapshot_index /\ m.snapshot.term = t.snapshot_term
    /\ TraceMembership /\ t.type = "append" => ConfigsIn(m) = TracedConfigs(t)

\* Message types the core has and Raft.tla does not model (the forwarded ReadIndex).
Unmodelled == {"read-index", "read-index-resp"}

Stutter == UNCHANGED vars

-----------------------------------------------------------------------------
(* IMPL: sends Raft.tla has no action for *)

\* Any slice of the leader's log with its consistency-check pair and commit index: the
\* core batches (max_append_bytes) and pipelines (progress.next runs ahead of acks).
SendAppendSlice(i, t) ==
    /\ role[i] = "leader"
    /\ t.type = "append" /\ t.src = i /\ t.term = term[i] /\ t.commit = commit[i]
    /\ t.index + t.entries <= LastIndex(i)
    /\ t.log_term = LogTerm(i, t.index)
    /\ messages' = messages \cup
          {[Msg("append", i, t.dst, term[i]) EXCEPT
              !.index = t.index, !.log_term = t.log_term, !.commit = t.commit,
              !.entries = SubSeq(log[i], t.index + 1, t.index + t.entries)]}
    /\ UNCHANGED <<serverVars, votes, leaderVars, client, restarts, readVars>>

\* The periodic heartbeat: a commit index the follower is known to hold.
SendHeartbeat(i, t) ==
    /\ role[i] = "leader"
    /\ t.type = "heartbeat" /\ t.src = i /\ t.term = term[i]
    /\ t.commit <= commit[i] /\ t.commit <= matchIndex[i][t.dst]
    /\ messages' = messages \cup {[Msg("heartbeat", i, t.dst, term[i]) EXCEPT
                                     !.commit = t.commit]}
    /\ UNCHANGED <<serverVars, votes, leaderVars, client, restarts, readVars>>

\* A snapshot of a committed prefix (the core snapshots at its applied index).
SendSnapshotAt(i, t) ==
    /\ role[i] = "leader"
    /\ t.type = "snapshot" /\ t.src = i /\ t.term = term[i]
    /\ t.snapshot_index <= commit[i]
    /\ t.snapshot_term = LogTerm(i, t.snapshot_index)
    /\ messages' = messages \cup
          {[Msg("snapshot", i, t.dst, term[i]) EXCEPT
              !.snapshot = [index |-> t.snapshot_index, term |-> t.snapshot_term,
                            data |-> SubSeq(log[i], 1, t.snapshot_index)]]}
    /\ UNCHANGED <<serverVars, votes, leaderVars, client, restarts, readVars>>

\* A stale leader's append or heartbeat, or a stale pre-vote, is answered with the
\* receiver's term, which only makes the sender a follower of it.
StaleAnswer(i, m, keep) ==
    /\ m.term < term[i]
    /\ m.type \in {"append", "heartbeat", "pre-vote"}
    /\ messages' = Consumed(m, keep) \cup
          {IF m.type = "pre-vote"
           THEN [Msg("pre-vote-resp", i, m.src, term[i]) EXCEPT !.reject = TRUE]
           ELSE Msg("append-resp", i, m.src, term[i])}
    /\ UNCHANGED <<serverVars, votes, leaderVars, client, restarts, readVars>>

\* A voter may refuse a vote Raft.tla would grant: the core also refuses while it knows a
\* leader of the term (etcd raft), which the spec does not track. Refusing is always safe.
RefuseVote(i, m, keep) ==
    /\ m.type \in {"vote", "pre-vote"}
    /\ m.term >= term[i]
    /\ term' = [term EXCEPT ![i] = IF m.type = "vote" THEN m.term ELSE @]
    /\ vote' = [vote EXCEPT ![i] = IF m.type = "vote" THEN VoteSeen(i, m) ELSE @]
    /\ role' = [role EXCEPT ![i] = IF m.type = "vote" THEN RoleSeen(i, m) ELSE @]
    /\ pendingRead' = [pendingRead EXCEPT ![i] = IF m.type = "vote" /\ Bumps(i, m) THEN Nil ELSE @]
    /\ messages' = Consumed(m, keep) \cup
          {[Msg(m.type \o "-resp", i, m.src, IF m.type = "vote" THEN m.term ELSE term[i])
              EXCEPT !.reject = TRUE]}
    /\ UNCHANGED <<commit, log, snapshotIndex, votes, leaderVars, client, restarts, readSeq,
                   served>>

\* A (pre-)candidate that lost its election returns to following in the same term.
GiveUp(i) ==
    /\ role[i] \in {"pre-candidate", "candidate"}
    /\ role' = [role EXCEPT ![i] = "follower"]
    /\ UNCHANGED <<messages, term, vote, commit, log, snapshotIndex, votes, leaderVars,
                   client, restarts, readVars>>

-----------------------------------------------------------------------------
(* One trace line *)

\* A receive: the node's state before it, then Raft.tla's handling of that message. A
\* message the core ignores is one the network lost (DropMessage).
Lost(m) == IF Line.keep THEN Stutter ELSE DropMessage(m)

Handles(i, m) ==
    IF m.term < term[i]
    THEN IF Line.answered THEN StaleAnswer(i, m, Line.keep) ELSE Lost(m)
    ELSE IF m.type \in {"vote", "pre-vote"} /\ ~Line.answered
         THEN Lost(m)   \* the leader lease: a (pre-)vote ignored
         ELSE IF m.type \in {"vote", "pre-vote"} /\ Line.refused
              THEN RefuseVote(i, m, Line.keep)
              ELSE IF ENABLED Handle(i, m, Line.keep) THEN Handle(i, m, Line.keep)
                   ELSE Lost(m)

Receive1 ==
    /\ Before(Node, Seen)
    /\ IF Line.msg.type \in Unmodelled
       THEN Stutter
       ELSE \E m \in messages : MsgOK(m, Line.msg) /\ Handles(Node, m)

\* A send: the step that made it already put the message in the network, or this line is
\* the step (a leader's append, heartbeat, snapshot or TimeoutNow).
Sent(t) == \E m \in messages : MsgOK(m, t)

Send1 ==
    /\ IF Line.msg.type \in Unmodelled \/ Sent(Line.msg)
       THEN Stutter
       ELSE \/ SendAppendSlice(Node, Line.msg)
            \/ SendHeartbeat(Node, Line.msg)
            \/ SendSnapshotAt(Node, Line.msg)
            \/ Line.msg.type = "timeout-now" /\ TransferLeadership(Node, Line.msg.dst)
    /\ \/ Line.msg.type \in Unmodelled
       \/ \E m \in messages' : MsgOK(m, Line.msg)
    /\ After(Node, Seen)

\* A role change is a step of its own, or the visible half of the receive before it: the
\* core notes a term change before it handles the message, so only term and role are
\* settled at that point (the next line of the node checks the rest).
AlreadyThere == term[Node] = Seen.term /\ role[Node] = Seen.role /\ Stutter

BecomeFollower1 ==
    \/ AlreadyThere
    \/ (StepDown(Node) \/ GiveUp(Node)) /\ After(Node, Seen)

\* Only the election timer makes a pre-candidate, also of a pre-candidate.
BecomePreCandidate1 == Timeout(Node) /\ After(Node, Seen)

BecomeCandidate1 ==
    \/ AlreadyThere
    \/ (StartElection(Node) \/ Timeout(Node)) /\ After(Node, Seen)

\* The core notes the new role before it appends the leader's NOOP entry.
BecomeLeader1 ==
    /\ BecomeLeader(Node)
    /\ StateOK(Node, [Seen EXCEPT !.last_index = @ + 1], term', role', vote', log', commit')

\* Raft.tla's Restart: the commit index a node comes back with is any it had (volatile).
\* A restart line written by an older runtime carries no state: the node's next line checks.
Restart1 ==
    /\ Restart(Node)
    /\ "state" \in DOMAIN Line => After(Node, Seen)

TraceStep ==
    /\ l <= Len(Trace)
    /\ CASE Line.event = "receive" -> Receive1
         [] Line.event = "send" -> Send1
         [] Line.event = "become-follower" -> BecomeFollower1
         [] Line.event = "become-pre-candidate" -> BecomePreCandidate1
         [] Line.event = "become-candidate" -> BecomeCandidate1
         [] Line.event = "become-leader" -> BecomeLeader1
         [] Line.event = "restart" -> Restart1
         [] OTHER -> FALSE
    /\ l' = l + 1
    /\ UNCHANGED nv

\* Silent steps: a leader's proposals, configuration changes and commits, taken only as far
\* as the next line of that leader shows them. Where among the proposals a change went is
\* left open here; the leader's next append that carries it says (MsgOK).
NeedsEntries == role[Node] = "leader" /\ Line.event # "restart" /\ LastIndex(Node) < Seen.last_index
NeedsCommit == role[Node] = "leader" /\ Line.event # "restart" /\ commit[Node] < Seen.commit
NeedsConfig == "voters" \in DOMAIN Seen /\ Config(Node) # SetOf(Seen.voters)

Silent ==
    /\ l <= Len(Trace)
    /\ \/ NeedsEntries /\ nv < Len(ValueSeq) /\ ClientRequest(Node, ValueSeq[nv + 1]) /\ nv' = nv + 1
       \/ NeedsEntries /\ NeedsConfig /\ ProposeConfig(Node, SetOf(Seen.voters)) /\ UNCHANGED nv
       \/ NeedsCommit /\ AdvanceCommitIndex(Node) /\ UNCHANGED nv
    /\ UNCHANGED l

\* Diagnostic for a rejected trace: the line no step explains and the node's spec state.
Stuck ==
    /\ l <= Len(Trace)
    /\ ~ENABLED (TraceStep \/ Silent)
    /\ PrintT(<<"STUCK", l, Node,
                [term |-> term[Node], role |-> role[Node], vote |-> vote[Node],
                 last_index |-> LastIndex(Node), commit |-> commit[Node],
                 voters |-> Config(Node)]>>)
    /\ FALSE

-----------------------------------------------------------------------------
(* Raft.tla's LogMatching and AckedValueNotLost, restated to cost time linear in the *)
(* logs' length on every state of a long trace: agreeing terms at k imply agreeing  *)
(* entries at k and agreeing terms at k - 1, which by induction is the whole prefix. *)

LogMatchingLinear ==
    \A i, j \in Server : \A k \in 1..Min(LastIndex(i), LastIndex(j)) :
        log[i][k].term = log[j][k].term =>
            /\ log[i][k] = log[j][k]
            /\ k > 1 => log[i][k - 1].term = log[j][k - 1].term

AckedValueNotLostLinear ==
    \A i \in Server :
        role[i] = "leader" /\ (\A j \in Server : term[j] <= term[i]) => Acked \subseteq Values(log[i])

TraceInit == Init /\ l = 1 /\ nv = 0

TraceNext == TraceStep \/ Silent \/ Stuck

TraceSpec == TraceInit /\ [][TraceNext]_traceVars

NotFullyMatched == l <= Len(Trace)

=============================================================================
