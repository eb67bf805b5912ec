"""wiber.core: the sans-I/O Raft core.

- `raft.RaftCore`: the state machine (tick / step / propose / ready / advance).
- `types`: the values in and out (Message, Entry, Ready, HardState, Config, LogStorage).
- `plan.plan(ready)`: the ordered actions every runtime executes (persist before send).
- `log`, `progress`, `quorum`, `confchange`, `readonly`: the parts of the protocol.
- `memory.MemoryStorage`: the reference LogStorage; `describe`: canonical texts; `trace`:
  per-step events for TLA+ trace validation; `errors.ProposalDropped`; `status.Status`.
"""
