---------------------------- MODULE GenPurposes ----------------------------
(***************************************************************************)
(* Test purposes: trap invariants whose shortest counterexample (TLC's     *)
(* BFS) is a behaviour that reaches a chosen situation. spec/replay.py     *)
(* stores each as a fixture in tests/spec/fixtures and replays it into the *)
(* core (research/tla.md 3.2 and 6.3). GenPurposes.cfg bounds the model    *)
(* so that each search takes seconds to minutes.                           *)
(***************************************************************************)
EXTENDS GenRaft

\* A voter that has not voted in the candidate's term refuses it: only the log check can.
TP_VoteDeniedByLog ==
    ~(/\ act.e = "receive" /\ act.msg.type = "vote"
      /\ act.msg.term = term[act.n] /\ vote[act.n] = Nil)

\* A vote granted in an old term arrives after its candidate moved on, and is ignored.
TP_StaleResponseIgnored ==
    ~(/\ act.e = "receive" /\ act.msg.type = "vote-resp" /\ ~act.msg.reject
      /\ act.msg.term < term[act.n])

\* A follower replaces a conflicting suffix of its log with the leader's entries.
TP_FollowerTruncates ==
    ~(/\ act.e = "receive" /\ act.msg.type = "append"
      /\ ~IsPrefix(act.prior, log[act.n]))

\* A leader's commit index moves over an entry of an earlier term (by committing one of its
\* own term after it).
TP_CommitAfterTermChange ==
    ~(/\ act.e = "receive" /\ role[act.n] = "leader"
      /\ commit[act.n] > act.pcommit
      /\ \E k \in (act.pcommit + 1)..commit[act.n] : log[act.n][k].term < term[act.n])

\* Figure 8 of the Raft paper: a quorum holds an entry of an earlier term that the leader
\* must not commit by counting (a leader of a later term could still overwrite it).
TP_Figure8 ==
    ~(\E i \in Server :
        /\ role[i] = "leader"
        /\ \E k \in (commit[i] + 1)..LastIndex(i) :
            /\ log[i][k].term < term[i]
            /\ IsQuorum(Agreeing(i, pr[i], k), Config(i)))

=============================================================================
