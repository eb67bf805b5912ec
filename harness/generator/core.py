"""Pure generators of operations, on the model of jepsen-io/generator (research/jepsen.md 1.3).

A generator is an immutable value with two methods:

- `op(ctx)` returns None when it is exhausted, `(PENDING, gen')` when it has nothing to
  offer yet (every eligible thread is busy, or it waits for time to pass), or `(op, gen')`:
  an invocation for a free thread of `ctx`, whose `time` may lie in the future (the
  interpreter waits until then). `gen'` is the generator that comes next (None: exhausted).
- `update(ctx, event)` returns the generator after an invocation or completion it may care
  about (the interpreter calls it for every op it journals).

The interpreter owns threads, clocks and I/O; generators only see a `Context` (the time, the
free threads, which process each thread runs) and draw randomness from `ctx.rng`, so a test can
drive them with a fake context and replay them from a seed. Dicts, functions and sequences are
lifted into generators (`lift`), as in Jepsen.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeAlias

Op = dict[str, Any]
Thread: TypeAlias = int | str  # client threads are 0..C-1; the nemesis thread is "nemesis"
NEMESIS: Final = "nemesis"


class _Pending:
    __slots__ = ()

    def __repr__(self) -> str:
        return "PENDING"


PENDING: Final = _Pending()
Result: TypeAlias = "tuple[Op | _Pending, Generator | None] | None"


def thread_order(thread: Thread) -> tuple[int, int]:
    """Client threads by number, the nemesis thread last."""
    return (1, 0) if isinstance(thread, str) else (0, thread)


class Context:
    """What a generator may know: time (ns since the test began) and the threads.

    `free` is sorted by `thread_order`; `threads` are all threads this generator may use
    (combinators like `clients()` narrow both). `process_of` maps every thread of the test to
    the process it runs now; a thread gets a new process after an indeterminate op.
    A value: never changed after it is made (a plain class because one is made per op and
    a frozen dataclass costs several times more to build).
    """

    __slots__ = ("free", "process_of", "rng", "thread_of", "threads", "time")

    def __init__(
        self,
        time: int,
        free: tuple[Thread, ...],
        threads: tuple[Thread, ...],
        process_of: Mapping[Thread, Any],
        thread_of: Mapping[Any, Thread],
        rng: random.Random,
    ) -> None:
        self.time = time
        self.free = free
        self.threads = threads
        self.process_of = process_of
        self.thread_of = thread_of
        self.rng = rng

    def restrict(self, keep: Callable[[Thread], bool]) -> Context:
        return Context(
            self.time,
            tuple(t for t in self.free if keep(t)),
            tuple(t for t in self.threads if keep(t)),
            self.process_of,
            self.thread_of,
            self.rng,
        )

    def clients_only(self) -> Context:
        """`restrict` to client threads, fast: the nemesis thread sorts last."""
        free, threads = self.free, self.threads
        if free and free[-1] == NEMESIS:
            free = free[:-1]
        if threads and threads[-1] == NEMESIS:
            threads = threads[:-1]
        return Context(self.time, free, threads, self.process_of, self.thread_of, self.rng)

    def at(self, time: int) -> Context:
        return Context(time, self.free, self.threads, self.process_of, self.thread_of, self.rng)

    def all_free(self) -> bool:
        return len(self.free) == len(self.threads)

    def event_thread(self, event: Op) -> Thread | None:
        return self.thread_of.get(event.get("process"))


def make_context(
    concurrency: int, rng: random.Random, *, nemesis: bool = True, time: int = 0
) -> Context:
    """A context with every thread free and thread i running process i."""
    threads: tuple[Thread, ...] = tuple(range(concurrency)) + ((NEMESIS,) if nemesis else ())
    process_of: dict[Thread, Any] = {t: t for t in threads}
    return Context(time, threads, threads, process_of, dict(process_of), rng)


class Generator:
    """Base class: subclasses override `op`, and `update` when events matter to them."""

    __slots__ = ()

    def op(self, ctx: Context) -> Result:
        raise NotImplementedError

    def update(self, ctx: Context, event: Op) -> Generator:
        return self


GenLike: TypeAlias = (
    "Generator | Mapping[str, Any] | Callable[[Context], Any] | Sequence[Any] | None"
)


def lift(x: GenLike) -> Generator | None:
    """Generators stay; a dict emits itself once; a function is called for each op until it
    returns None; a list or tuple runs its elements one after another."""
    if x is None or isinstance(x, Generator):
        return x
    if isinstance(x, Mapping):
        return OpGen(dict(x))
    if callable(x):
        return FnGen(x)
    if isinstance(x, Sequence) and not isinstance(x, str):
        return Seq(tuple(x))
    raise TypeError(f"cannot make a generator from {x!r}")


def fill(template: Op, ctx: Context) -> Op | None:
    """The template as an invocation on the first free thread, or None when none is free."""
    if not ctx.free:
        return None
    thread = ctx.free[0]
    op: Op = {"type": "invoke", **template}
    op["process"] = ctx.process_of[thread]
    op["time"] = max(int(template.get("time", 0)), ctx.time)
    return op


class OpGen(Generator):
    """One op, once."""

    __slots__ = ("template",)

    def __init__(self, template: Op) -> None:
        self.template = template

    def op(self, ctx: Context) -> Result:
        op = fill(self.template, ctx)
        return (PENDING, self) if op is None else (op, None)


class FnGen(Generator):
    """Calls `fn(ctx)` for each op and emits the dict it returns; None ends it."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Context], Any]) -> None:
        self.fn = fn

    def op(self, ctx: Context) -> Result:
        if not ctx.free:
            return (PENDING, self)
        made = self.fn(ctx)
        if made is None:
            return None
        op = fill(made, ctx)
        return (PENDING, self) if op is None else (op, self)


class Seq(Generator):
    """Each generator in turn: the next starts when the one before is exhausted."""

    __slots__ = ("gens",)

    def __init__(self, gens: tuple[Any, ...]) -> None:
        self.gens = gens

    def op(self, ctx: Context) -> Result:
        gens = self.gens
        while gens:
            head = lift(gens[0])
            result = head.op(ctx) if head is not None else None
            if result is not None:
                value, rest = result
                return (
                    value,
                    Seq((rest, *gens[1:])) if rest is not None or len(gens) > 1 else None,
                )
            gens = gens[1:]
        return None

    def update(self, ctx: Context, event: Op) -> Generator:
        if not self.gens:
            return self
        head = lift(self.gens[0])
        if head is None:
            return self
        updated = head.update(ctx, event)
        return self if updated is self.gens[0] else Seq((updated, *self.gens[1:]))
