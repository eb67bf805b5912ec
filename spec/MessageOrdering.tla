-------------------------- MODULE MessageOrdering --------------------------
(***************************************************************************)
(* Wiber's publish/subscribe promises (DESIGN.md section 1), on top of an  *)
(* abstract committed log: `committed` is append-only and every node       *)
(* applies it in order, which is what Raft.tla proves of the Raft log. So  *)
(* this state space does not multiply with Raft's.                         *)
(*                                                                         *)
(* - Producers publish with (producer, seq) ids, pipeline up to Window     *)
(*   messages and retry unacknowledged ones; proposals may be lost, so a   *)
(*   retry may commit twice, and pipelined sends may commit out of order.  *)
(* - The broker (wiber/broker) applies committed entries: it drops         *)
(*   duplicates by (producer, seq), refuses sequence gaps, gives each      *)
(*   message the next dense offset of its topic and stamps it with the     *)
(*   leader's hybrid logical clock, merged with the producer's.            *)
(* - Producers read topics and learn acks; what they have seen becomes     *)
(*   the causal dependencies (deps) of their next message.                 *)
(* - Subscribers fetch every topic in offset order into a reorder buffer   *)
(*   and deliver a message only after its dependencies.                    *)
(* - Group consumers poll one topic, commit their offset (a register kept  *)
(*   through the log) and fail over by resuming from the committed offset. *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets, TLC

CONSTANTS
    Topic,
    Producer,
    Subscriber,     \* causal subscribers of every topic
    Consumer,       \* members of one consumer group on GroupTopic
    GroupTopic,
    MaxSeq,         \* messages per producer
    Window,         \* unacknowledged messages a producer may have in flight
    MaxProposals    \* bound on the committed log (retries make it longer)

VARIABLES
    committed,      \* the abstract committed Raft log: publish requests in commit order
    applied,        \* how much of it the broker has applied
    topicLog,       \* per topic: the messages in offset order (offset o at position o + 1)
    lastSeq,        \* the broker's dedup table: highest seq appended per producer
    brokerHlc,      \* the leader's hybrid logical clock (one integer: time and counter)
    replies,        \* acks sent to producers (an unreceived one is a lost reply)
    nextSeq,        \* per producer: the seq of its next new message
    pending,        \* per producer: seq -> the message it keeps retrying until acked
    acks,           \* history: every ack a producer received, [producer, seq, topic, offset]
    seen,           \* per producer: <<topic, offset>> pairs it has observed (its causal past)
    clientHlc,      \* per producer: its HLC, merged from everything it observed
    fetched,        \* per subscriber and topic: the next offset to fetch
    buffer,         \* per subscriber: fetched <<topic, offset>> pairs not yet delivered
    delivered,      \* per subscriber: <<topic, offset>> pairs in delivery order
    groupOffset,    \* the group's committed offset on GroupTopic (next offset to read)
    cursor,         \* per consumer: the next offset it polls
    sessionStart,   \* per consumer: where its current session began
    session         \* per consumer: the messages polled in its current session

brokerVars == <<committed, applied, topicLog, lastSeq, brokerHlc, replies>>
producerVars == <<nextSeq, pending, acks, seen, clientHlc>>
subscriberVars == <<fetched, buffer, delivered>>
groupVars == <<groupOffset, cursor, sessionStart, session>>
vars == <<brokerVars, producerVars, subscriberVars, groupVars>>

Max(a, b) == IF a > b THEN a ELSE b
Range(s) == {s[k] : k \in DOMAIN s}
IsPrefix(s, t) == Len(s) <= Len(t) /\ SubSeq(t, 1, Len(s)) = s

\* The message at <<topic, offset>>.
At(d) == topicLog[d[1]][d[2] + 1]
Exists(d) == d[2] < Len(topicLog[d[1]])

Init ==
    /\ committed = <<>>
    /\ applied = 0
    /\ topicLog = [t \in Topic |-> <<>>]
    /\ lastSeq = [p \in Producer |-> 0]
    /\ brokerHlc = 0
    /\ replies = {}
    /\ nextSeq = [p \in Producer |-> 1]
    /\ pending = [p \in Producer |-> <<>>]
    /\ acks = {}
    /\ seen = [p \in Producer |-> {}]
    /\ clientHlc = [p \in Producer |-> 0]
    /\ fetched = [s \in Subscriber |-> [t \in Topic |-> 0]]
    /\ buffer = [s \in Subscriber |-> {}]
    /\ delivered = [s \in Subscriber |-> <<>>]
    /\ groupOffset = 0
    /\ cursor = [c \in Consumer |-> 0]
    /\ sessionStart = [c \in Consumer |-> 0]
    /\ session = [c \in Consumer |-> <<>>]

-----------------------------------------------------------------------------
(* Producers *)

\* `pending[p]` maps each unacknowledged seq to its message; a retry resends it unchanged.
Unacked(p) == DOMAIN pending[p]

\* Its id, topic, HLC and causal past travel with the message (DESIGN.md 1).
NewMessage(p, t) ==
    [producer |-> p, seq |-> nextSeq[p], topic |-> t, hlc |-> clientHlc[p], deps |-> seen[p]]

Publish(p, t) ==
    /\ nextSeq[p] <= MaxSeq
    /\ Cardinality(Unacked(p)) < Window
    /\ pending' = [pending EXCEPT ![p] = (nextSeq[p] :> NewMessage(p, t)) @@ @]
    /\ \/ committed' = Append(committed, NewMessage(p, t))
       \/ UNCHANGED committed  \* the request was lost before it reached the leader
    /\ nextSeq' = [nextSeq EXCEPT ![p] = @ + 1]
    /\ UNCHANGED <<applied, topicLog, lastSeq, brokerHlc, replies, acks, seen, clientHlc,
                   subscriberVars, groupVars>>

\* A proposal that never committed, or whose ack was lost, is sent again.
\* A lost first send lets a later pipelined message commit first: a sequence gap.
Retry(p, k) ==
    /\ k \in Unacked(p)
    /\ committed' = Append(committed, pending[p][k])
    /\ UNCHANGED <<applied, topicLog, lastSeq, brokerHlc, replies, producerVars,
                   subscriberVars, groupVars>>

Observe(p, d) ==
    /\ seen' = [seen EXCEPT ![p] = @ \cup {d}]
    /\ clientHlc' = [clientHlc EXCEPT ![p] = Max(@, At(d).hlc)]

\* A producer reads the newest message of a topic (it is a consumer too).
Read(p, t) ==
    /\ topicLog[t] # <<>>
    /\ Observe(p, <<t, Len(topicLog[t]) - 1>>)
    /\ UNCHANGED <<brokerVars, nextSeq, pending, acks, subscriberVars, groupVars>>

ReceiveAck(p, r) ==
    /\ r.producer = p
    /\ r.seq \in Unacked(p)
    /\ pending' = [pending EXCEPT ![p] = [k \in Unacked(p) \ {r.seq} |-> @[k]]]
    /\ acks' = acks \cup {r}
    /\ Observe(p, <<r.topic, r.offset>>)
    /\ UNCHANGED <<brokerVars, nextSeq, subscriberVars, groupVars>>

-----------------------------------------------------------------------------
(* The broker applies the committed log *)

Ack(m, t, offset) == [producer |-> m.producer, seq |-> m.seq, topic |-> t, offset |-> offset]

\* Where an already appended (producer, seq) sits, for the duplicate's ack.
OffsetOf(m) == CHOOSE o \in 0..(Len(topicLog[m.topic]) - 1) :
                   /\ topicLog[m.topic][o + 1].producer = m.producer
                   /\ topicLog[m.topic][o + 1].seq = m.seq

\* The next seq: a new dense offset, an HLC above both the leader's and the producer's.
ApplyNew(m) ==
    /\ m.seq = lastSeq[m.producer] + 1
    /\ brokerHlc' = Max(brokerHlc, m.hlc) + 1
    /\ topicLog' = [topicLog EXCEPT ![m.topic] =
                       Append(@, [producer |-> m.producer, seq |-> m.seq,
                                  offset |-> Len(@), hlc |-> Max(brokerHlc, m.hlc) + 1,
                                  deps |-> m.deps])]
    /\ lastSeq' = [lastSeq EXCEPT ![m.producer] = m.seq]
    /\ replies' = replies \cup {Ack(m, m.topic, Len(topicLog[m.topic]))}

\* A retry of something already appended: acknowledged again with its original offset.
ApplyDuplicate(m) ==
    /\ m.seq <= lastSeq[m.producer]
    /\ replies' = replies \cup {Ack(m, m.topic, OffsetOf(m))}
    /\ UNCHANGED <<topicLog, lastSeq, brokerHlc>>

\* A gap in the sequence (an earlier message is not in yet): refused, the producer retries.
ApplyGap(m) ==
    /\ m.seq > lastSeq[m.producer] + 1
    /\ UNCHANGED <<topicLog, lastSeq, brokerHlc, replies>>

ApplyEntry(m) == ApplyNew(m) \/ ApplyDuplicate(m) \/ ApplyGap(m)

Apply ==
    /\ applied < Len(committed)
    /\ applied' = applied + 1
    /\ ApplyEntry(committed[applied + 1])
    /\ UNCHANGED <<committed, producerVars, subscriberVars, groupVars>>

-----------------------------------------------------------------------------
(* Causal subscribers: fetch in offset order, deliver through the reorder buffer *)

Fetch(s, t) ==
    /\ fetched[s][t] < Len(topicLog[t])
    /\ buffer' = [buffer EXCEPT ![s] = @ \cup {<<t, fetched[s][t]>>}]
    /\ fetched' = [fetched EXCEPT ![s][t] = @ + 1]
    /\ UNCHANGED <<brokerVars, producerVars, delivered, groupVars>>

\* Deliverable once the previous offset of its topic and every dependency are delivered.
Deliverable(s, d) ==
    /\ d[2] = 0 \/ <<d[1], d[2] - 1>> \in Range(delivered[s])
    /\ At(d).deps \subseteq Range(delivered[s])

Deliver(s, d) ==
    /\ d \in buffer[s]
    /\ Deliverable(s, d)
    /\ delivered' = [delivered EXCEPT ![s] = Append(@, d)]
    /\ buffer' = [buffer EXCEPT ![s] = @ \ {d}]
    /\ UNCHANGED <<brokerVars, producerVars, fetched, groupVars>>

-----------------------------------------------------------------------------
(* Consumer group on GroupTopic *)

Poll(c) ==
    /\ cursor[c] < Len(topicLog[GroupTopic])
    /\ session' = [session EXCEPT ![c] = Append(@, topicLog[GroupTopic][cursor[c] + 1])]
    /\ cursor' = [cursor EXCEPT ![c] = @ + 1]
    /\ UNCHANGED <<brokerVars, producerVars, subscriberVars, groupOffset, sessionStart>>

CommitOffset(c) ==
    /\ groupOffset # cursor[c]
    /\ groupOffset' = cursor[c]
    /\ UNCHANGED <<brokerVars, producerVars, subscriberVars, cursor, sessionStart, session>>

\* The consumer's node fails; it resumes, maybe elsewhere, from the group's offset.
Failover(c) ==
    /\ session[c] # <<>>
    /\ cursor' = [cursor EXCEPT ![c] = groupOffset]
    /\ sessionStart' = [sessionStart EXCEPT ![c] = groupOffset]
    /\ session' = [session EXCEPT ![c] = <<>>]
    /\ UNCHANGED <<brokerVars, producerVars, subscriberVars, groupOffset>>

-----------------------------------------------------------------------------

Next ==
    \/ \E p \in Producer, t \in Topic : Publish(p, t) \/ Read(p, t)
    \/ \E p \in Producer : \E k \in Unacked(p) : Retry(p, k)
    \/ \E p \in Producer, r \in replies : ReceiveAck(p, r)
    \/ Apply
    \/ \E s \in Subscriber, t \in Topic : Fetch(s, t)
    \/ \E s \in Subscriber : \E d \in buffer[s] : Deliver(s, d)
    \/ \E c \in Consumer : Poll(c) \/ CommitOffset(c) \/ Failover(c)

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Invariants *)

Record == [producer : Producer, seq : 1..MaxSeq, offset : Nat, hlc : Nat,
           deps : SUBSET (Topic \X Nat)]

TypeOK ==
    /\ \A t \in Topic : \A k \in 1..Len(topicLog[t]) : topicLog[t][k] \in Record
    /\ applied \in 0..Len(committed)
    /\ \A p \in Producer : nextSeq[p] \in 1..(MaxSeq + 1) /\ Unacked(p) \subseteq 1..MaxSeq
    /\ \A s \in Subscriber : buffer[s] \subseteq Topic \X Nat

\* Offsets are 0, 1, 2, ... in every topic: none skipped, none reused.
OffsetsDense == \A t \in Topic : \A k \in 1..Len(topicLog[t]) : topicLog[t][k].offset = k - 1

\* Each subscriber delivers each topic in offset order, from offset 0, without a gap.
IsTopic(d, t) == d[1] = t
DeliveredOf(s, t) == SelectSeq(delivered[s], LAMBDA d : IsTopic(d, t))

TopicOrder ==
    \A s \in Subscriber, t \in Topic :
        \A k \in 1..Len(DeliveredOf(s, t)) : DeliveredOf(s, t)[k][2] = k - 1

\* A group consumer's session is exactly the topic from where it resumed: no gap and no
\* duplicate at the seam between history and live messages, or across a failover.
ConsumerPrefix ==
    \A c \in Consumer :
        session[c] = SubSeq(topicLog[GroupTopic], sessionStart[c] + 1,
                            sessionStart[c] + Len(session[c]))

\* A (producer, seq) is appended once, however often it is retried.
NoDuplicateAppend ==
    \A t1, t2 \in Topic : \A k1 \in 1..Len(topicLog[t1]), k2 \in 1..Len(topicLog[t2]) :
        /\ topicLog[t1][k1].producer = topicLog[t2][k2].producer
        /\ topicLog[t1][k1].seq = topicLog[t2][k2].seq
        => t1 = t2 /\ k1 = k2

\* A producer's messages appear in the order it sent them.
ProducerFIFO ==
    \A t \in Topic : \A k1, k2 \in 1..Len(topicLog[t]) :
        k1 < k2 /\ topicLog[t][k1].producer = topicLog[t][k2].producer =>
            topicLog[t][k1].seq < topicLog[t][k2].seq

\* An acknowledged message is at the offset its ack named (and stays: OffsetsImmutable).
AckedDurable ==
    \A r \in acks :
        /\ Exists(<<r.topic, r.offset>>)
        /\ At(<<r.topic, r.offset>>).producer = r.producer
        /\ At(<<r.topic, r.offset>>).seq = r.seq

\* Every dependency of a delivered message was delivered before it.
CausalDelivery ==
    \A s \in Subscriber : \A k \in 1..Len(delivered[s]) :
        At(delivered[s][k]).deps \subseteq Range(SubSeq(delivered[s], 1, k - 1))

\* HLCs grow along every topic and from every message to the ones that depend on it.
HLCMonotone ==
    /\ \A t \in Topic : \A k \in 2..Len(topicLog[t]) :
           topicLog[t][k - 1].hlc < topicLog[t][k].hlc
    /\ \A t \in Topic : \A k \in 1..Len(topicLog[t]) : \A d \in topicLog[t][k].deps :
           At(d).hlc < topicLog[t][k].hlc

\* Offset o, once assigned, always names the same message.
OffsetsImmutable == [][\A t \in Topic : IsPrefix(topicLog[t], topicLog'[t])]_vars

-----------------------------------------------------------------------------
(* Model-checking bounds *)

Bounds == Len(committed) <= MaxProposals

\* For configurations with two or more producers (TLC rejects a symmetry set of one).
Symmetry == Permutations(Producer)

=============================================================================
