---------------------------- MODULE GenPurposes ----------------------------
(***************************************************************************)
(* Test purposes: trap invariants whose shortest counterexample (TLC's     *)
(* BFS) is a behaviour that reaches a chosen situation. spec/replay.py     *)
(* stores each as a fixture in tests/spec/fixtures and replays it into the *)
(* core (research/tla.md 3.2 and 6.3).                                     *)
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

=============================================================================
