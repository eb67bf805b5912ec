"""Combinators: generators built from generators (jepsen-io/generator's vocabulary).

Times are integer nanoseconds since the test began, as in the history. Every combinator is an
immutable value: `op` and `update` return the generator that comes next and never change self.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from harness.generator.core import (
    NEMESIS,
    PENDING,
    Context,
    Generator,
    GenLike,
    Op,
    Result,
    Seq,
    Thread,
    lift,
)

SECOND = 1_000_000_000


def secs(seconds: float) -> int:
    return int(seconds * SECOND)


def _lifted(gens: Sequence[GenLike]) -> tuple[Generator, ...]:
    return tuple(g for g in map(lift, gens) if g is not None)


class Mix(Generator):
    """A random choice among the generators for each op (weights optional); an exhausted one
    drops out. Every event reaches every generator."""

    __slots__ = ("even", "gens", "weights")

    def __init__(self, gens: Sequence[GenLike], weights: Sequence[float] | None = None) -> None:
        lifted = [(lift(g), w) for g, w in zip(gens, weights or [1.0] * len(gens), strict=True)]
        self.gens = tuple(g for g, _ in lifted if g is not None)
        self.weights = tuple(w for g, w in lifted if g is not None)
        self.even = len(set(self.weights)) <= 1

    def _with(self, i: int, gen: Generator | None) -> Mix:
        out = Mix(())
        out.even = self.even
        if gen is None:
            out.gens = self.gens[:i] + self.gens[i + 1 :]
            out.weights = self.weights[:i] + self.weights[i + 1 :]
        elif gen is self.gens[i]:
            return self
        else:
            out.gens = (*self.gens[:i], gen, *self.gens[i + 1 :])
            out.weights = self.weights
        return out

    def op(self, ctx: Context) -> Result:
        mix = self
        while mix.gens:
            if mix.even:
                i = ctx.rng.randrange(len(mix.gens))
            else:
                i = ctx.rng.choices(range(len(mix.gens)), mix.weights)[0]
            result = mix.gens[i].op(ctx)
            if result is None:
                mix = mix._with(i, None)
                continue
            value, rest = result
            return (value, mix._with(i, rest))
        return None

    def update(self, ctx: Context, event: Op) -> Generator:
        changed = False
        gens = []
        for g in self.gens:
            updated = g.update(ctx, event)
            changed = changed or updated is not g
            gens.append(updated)
        if not changed:
            return self
        out = Mix(())
        out.gens, out.weights, out.even = tuple(gens), self.weights, self.even
        return out


class Limit(Generator):
    """At most `n` ops."""

    __slots__ = ("gen", "n")

    def __init__(self, n: int, gen: GenLike) -> None:
        self.n, self.gen = n, lift(gen)

    def op(self, ctx: Context) -> Result:
        if self.n <= 0 or self.gen is None:
            return None
        result = self.gen.op(ctx)
        if result is None:
            return None
        value, rest = result
        return (value, Limit(self.n if value is PENDING else self.n - 1, rest))

    def update(self, ctx: Context, event: Op) -> Generator:
        gen = self.gen.update(ctx, event) if self.gen is not None else None
        return self if gen is self.gen else Limit(self.n, gen)


def once(gen: GenLike) -> Limit:
    return Limit(1, gen)


class Repeat(Generator):
    """The generator's first op again and again (`n` times, or forever), never advancing it:
    `Repeat({"f": "read"})` reads forever."""

    __slots__ = ("gen", "n")

    def __init__(self, gen: GenLike, n: int | None = None) -> None:
        self.gen, self.n = lift(gen), n

    def op(self, ctx: Context) -> Result:
        if self.gen is None or self.n == 0:
            return None
        result = self.gen.op(ctx)
        if result is None or result[0] is PENDING:
            return result if result is None else (PENDING, self)
        return (result[0], Repeat(self.gen, None if self.n is None else self.n - 1))

    def update(self, ctx: Context, event: Op) -> Generator:
        gen = self.gen.update(ctx, event) if self.gen is not None else None
        return self if gen is self.gen else Repeat(gen, self.n)


class Stagger(Generator):
    """Ops spaced by uniformly random intervals averaging `dt` (ns) across ALL threads: a total
    rate of 1/dt, as Jepsen's `stagger`."""

    __slots__ = ("dt", "gen", "jitter", "next_time")

    def __init__(
        self, dt: int, gen: GenLike, next_time: int | None = None, *, jitter: bool = True
    ) -> None:
        self.dt, self.gen, self.next_time, self.jitter = dt, lift(gen), next_time, jitter

    def op(self, ctx: Context) -> Result:
        if self.gen is None:
            return None
        result = self.gen.op(ctx)
        if result is None:
            return None
        value, rest = result
        if value is PENDING or not isinstance(value, dict):
            return (PENDING, Stagger(self.dt, rest, self.next_time, jitter=self.jitter))
        next_time = ctx.time if self.next_time is None else self.next_time
        value["time"] = max(value["time"], next_time)
        step = int(ctx.rng.random() * 2 * self.dt) if self.jitter else self.dt
        return (value, Stagger(self.dt, rest, next_time + step, jitter=self.jitter))

    def update(self, ctx: Context, event: Op) -> Generator:
        gen = self.gen.update(ctx, event) if self.gen is not None else None
        return (
            self if gen is self.gen else Stagger(self.dt, gen, self.next_time, jitter=self.jitter)
        )


def delay(dt: int, gen: GenLike) -> Stagger:
    """Ops exactly `dt` apart (in total)."""
    return Stagger(dt, gen, jitter=False)


def rate(per_second: float, gen: GenLike) -> Generator:
    """About `per_second` ops per second in total; 0 or less: as fast as threads allow."""
    lifted = lift(gen)
    if lifted is None:
        raise ValueError("rate() of an empty generator")
    return lifted if per_second <= 0 else Stagger(int(SECOND / per_second), lifted)


class TimeLimit(Generator):
    """Ends `dt` ns after its first op was asked for; drops ops scheduled past the end."""

    __slots__ = ("deadline", "dt", "gen")

    def __init__(self, dt: int, gen: GenLike, deadline: int | None = None) -> None:
        self.dt, self.gen, self.deadline = dt, lift(gen), deadline

    def op(self, ctx: Context) -> Result:
        deadline = ctx.time + self.dt if self.deadline is None else self.deadline
        if self.gen is None or ctx.time >= deadline:
            return None
        result = self.gen.op(ctx)
        if result is None:
            return None
        value, rest = result
        if isinstance(value, dict) and value["time"] >= deadline:
            return None
        return (value, TimeLimit(self.dt, rest, deadline))

    def update(self, ctx: Context, event: Op) -> Generator:
        gen = self.gen.update(ctx, event) if self.gen is not None else None
        return self if gen is self.gen else TimeLimit(self.dt, gen, self.deadline)


class Sleep(Generator):
    """No op for `dt` ns from when it is first asked, then exhausted."""

    __slots__ = ("dt", "wake")

    def __init__(self, dt: int, wake: int | None = None) -> None:
        self.dt, self.wake = dt, wake

    def op(self, ctx: Context) -> Result:
        wake = ctx.time + self.dt if self.wake is None else self.wake
        return None if ctx.time >= wake else (PENDING, Sleep(self.dt, wake))


class Synchronize(Generator):
    """Waits until every thread in scope is free, then behaves as `gen`."""

    __slots__ = ("gen", "started")

    def __init__(self, gen: GenLike, started: bool = False) -> None:
        self.gen, self.started = lift(gen), started

    def op(self, ctx: Context) -> Result:
        if self.gen is None:
            return None
        if not self.started and not ctx.all_free():
            return (PENDING, self)
        result = self.gen.op(ctx)
        if result is None:
            return None
        return (result[0], Synchronize(result[1], True))

    def update(self, ctx: Context, event: Op) -> Generator:
        gen = self.gen.update(ctx, event) if self.gen is not None else None
        return self if gen is self.gen else Synchronize(gen, self.started)


def phases(*gens: GenLike) -> Seq:
    """Each generator in turn, each starting once every op of the one before has completed."""
    return Seq(tuple(Synchronize(g) for g in gens))


class OnThreads(Generator):
    """Runs `gen` on the threads `keep` accepts, and tells it only about their events."""

    __slots__ = ("gen", "keep")

    def __init__(self, keep: Callable[[Thread], bool], gen: GenLike) -> None:
        self.keep, self.gen = keep, lift(gen)

    def op(self, ctx: Context) -> Result:
        if self.gen is None:
            return None
        result = self.gen.op(self._narrow(ctx))
        if result is None:
            return None
        return (result[0], OnThreads(self.keep, result[1]))

    def _narrow(self, ctx: Context) -> Context:
        if self.keep is _is_client:
            return ctx.clients_only()
        return ctx.restrict(self.keep)

    def update(self, ctx: Context, event: Op) -> Generator:
        thread = ctx.event_thread(event)
        if self.gen is None or thread is None or not self.keep(thread):
            return self
        gen = self.gen.update(self._narrow(ctx), event)
        return self if gen is self.gen else OnThreads(self.keep, gen)


def _is_client(thread: Thread) -> bool:
    return thread != NEMESIS


def _is_nemesis(thread: Thread) -> bool:
    return thread == NEMESIS


def clients(gen: GenLike) -> OnThreads:
    return OnThreads(_is_client, gen)


def nemesis(gen: GenLike) -> OnThreads:
    return OnThreads(_is_nemesis, gen)


class Any_(Generator):
    """All generators at once: each op comes from whichever offers the soonest one."""

    __slots__ = ("gens",)

    def __init__(self, gens: Sequence[GenLike]) -> None:
        self.gens = _lifted(gens)

    def op(self, ctx: Context) -> Result:
        best: tuple[int, Op, Generator | None] | None = None
        after: list[Generator | None] = list(self.gens)
        live = False
        for i, gen in enumerate(self.gens):
            result = gen.op(ctx)
            if result is None:
                continue
            live = True
            value, rest = result
            if isinstance(value, dict):
                if best is None or value["time"] < best[1]["time"]:
                    best = (i, value, rest)
            else:
                after[i] = rest
        if not live:
            return None
        out = Any_(())
        if best is None:
            out.gens = tuple(g for g in after if g is not None)
            return (PENDING, out)
        i, value, rest = best
        out.gens = tuple(g for g in (*self.gens[:i], rest, *self.gens[i + 1 :]) if g is not None)
        return (value, out)

    def update(self, ctx: Context, event: Op) -> Generator:
        gens = tuple(g.update(ctx, event) for g in self.gens)
        if all(a is b for a, b in zip(gens, self.gens, strict=True)):
            return self
        out = Any_(())
        out.gens = gens
        return out


def any_of(*gens: GenLike) -> Any_:
    return Any_(gens)


def with_nemesis(client_gen: GenLike, nemesis_gen: GenLike) -> Any_:
    """Client ops on client threads and nemesis ops on the nemesis thread, side by side."""
    return Any_((clients(client_gen), nemesis(nemesis_gen)))


def _only(thread: Thread) -> Callable[[Thread], bool]:
    return lambda t: t == thread


class EachThread(Generator):
    """A separate copy of `gen` for every thread in scope: `EachThread(once(op))` runs the op
    once on each thread. Ends when every copy has ended."""

    __slots__ = ("copies", "fresh")

    def __init__(self, gen: GenLike, copies: dict[Thread, Generator | None] | None = None) -> None:
        self.fresh, self.copies = lift(gen), copies or {}

    def _copy(self, thread: Thread) -> Generator | None:
        return self.copies.get(thread, self.fresh)

    def op(self, ctx: Context) -> Result:
        if all(self._copy(t) is None for t in ctx.threads):
            return None
        best: tuple[Thread, Op, Generator | None] | None = None
        copies = dict(self.copies)
        for thread in ctx.free:
            gen = self._copy(thread)
            if gen is None:
                continue
            result = gen.op(ctx.restrict(_only(thread)))
            if result is None:
                copies[thread] = None
                continue
            value, rest = result
            if not isinstance(value, dict):
                copies[thread] = rest
            elif best is None or value["time"] < best[1]["time"]:
                best = (thread, value, rest)
        if best is None:
            return (PENDING, EachThread(self.fresh, copies))
        copies[best[0]] = best[2]
        return (best[1], EachThread(self.fresh, copies))

    def update(self, ctx: Context, event: Op) -> Generator:
        thread = ctx.event_thread(event)
        gen = None if thread is None else self._copy(thread)
        if thread is None or gen is None:
            return self
        mine = ctx.restrict(_only(thread))
        return EachThread(self.fresh, {**self.copies, thread: gen.update(mine, event)})


class UntilOk(Generator):
    """Runs `gen` until one of the ops it emitted completes ok."""

    __slots__ = ("done", "gen", "mine")

    def __init__(self, gen: GenLike, mine: frozenset[Any] = frozenset(), done: bool = False):
        self.gen, self.mine, self.done = lift(gen), mine, done

    def op(self, ctx: Context) -> Result:
        if self.done or self.gen is None:
            return None
        result = self.gen.op(ctx)
        if result is None:
            return None
        value, rest = result
        mine = self.mine | {value["process"]} if isinstance(value, dict) else self.mine
        return (value, UntilOk(rest, mine, False))

    def update(self, ctx: Context, event: Op) -> Generator:
        if self.done or self.gen is None:
            return self
        gen = self.gen.update(ctx, event)
        process = event.get("process")
        if process not in self.mine or event.get("type") == "invoke":
            return UntilOk(gen, self.mine, False)
        return UntilOk(gen, self.mine - {process}, event.get("type") == "ok")


class Cycle(Generator):
    """`make(ctx)` builds a generator; when it is exhausted, `make` builds the next."""

    __slots__ = ("current", "make")

    def __init__(self, make: Callable[[Context], GenLike], current: Generator | None = None):
        self.make, self.current = make, current

    def op(self, ctx: Context) -> Result:
        current = self.current
        for _ in range(2):  # a freshly made generator that is already empty ends the cycle
            gen = current if current is not None else lift(self.make(ctx))
            result = gen.op(ctx) if gen is not None else None
            if result is not None:
                return (result[0], Cycle(self.make, result[1]))
            current = None
        return None

    def update(self, ctx: Context, event: Op) -> Generator:
        current = self.current.update(ctx, event) if self.current is not None else None
        return self if current is self.current else Cycle(self.make, current)
