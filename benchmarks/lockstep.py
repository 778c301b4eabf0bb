"""Contenders that take turns of a few steps each, so that every contender's steps are timed
within a fraction of a second of the others'.

On a shared virtual machine the processor's speed drifts by 5-40% over seconds. Runs made one
after another compare only as well as the speed held between them; here every contender runs in
its own thread and the threads pass a single turn around (a step-end hook counts the steps of a
turn, then hands the turn on and waits for the next), so a drift lasting longer than one round
of turns slows every contender alike. Only one contender runs at a time; the wait for the others
is left out of its step times, what its own loop does between steps is not (`TurnClock` says
which steps are timed).
"""
from __future__ import annotations

import random
import statistics
import threading
import time
from typing import Callable, Optional, Sequence

from common import Workload, progress, quartiles, warm_up
from contenders import Clock

__all__ = ["Turns", "TurnClock", "run_in_turns", "bench_in_turns", "step_table"]


class Turns:
    """One turn, passed around the contenders still running, in a fixed order."""

    def __init__(self, order: Sequence[str], turn_steps: int = 1) -> None:
        self.turn_steps = turn_steps
        self._running = list(order)
        self._holder: Optional[str] = self._running[0] if self._running else None
        self._changed = threading.Condition()

    def wait(self, name: str) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._holder == name)

    def pass_on(self, name: str, leaving: bool = False) -> None:
        with self._changed:
            i = self._running.index(name)
            if leaving:
                self._running.remove(name)
            if not self._running:
                self._holder = None
            else:
                self._holder = self._running[(i if leaving else i + 1) % len(self._running)]
            self._changed.notify_all()


class TurnClock(Clock):
    """A contender's clock in a run with turns of `turns.turn_steps` steps: `tick` notes a step's
    end and, at the end of a turn, hands the turn on and waits for the next one.

    With one step per turn a step is timed from getting the turn to its end. With more, only the
    steps after the first of each turn are timed, end to end: the first step of a turn absorbs
    what the handover brings (the caches the others used, the batches the others' loaders fetch
    in the background right after their turn), and the later ones are the contender's own loop,
    its own loader fetching beside its own steps, as in a run on its own."""

    def __init__(self, name: str, turns: Turns) -> None:
        super().__init__()
        self.name, self.turns = name, turns
        self.cycles: list[float] = []
        self._resumed = 0.0
        self._in_turn = 0

    def start(self) -> None:
        self.turns.wait(self.name)
        self._resumed = time.perf_counter()
        self._in_turn = 0

    def tick(self) -> None:
        now = time.perf_counter()
        if self.turns.turn_steps == 1:
            self.cycles.append(now - self._resumed)
        elif self._in_turn > 0:
            self.cycles.append(now - self.marks[-1])
        self.marks.append(now)
        self._in_turn += 1
        if self._in_turn >= self.turns.turn_steps:
            self.turns.pass_on(self.name)
            self.start()

    def leave(self) -> None:
        self.turns.pass_on(self.name, leaving=True)

    def step_s(self) -> Optional[float]:
        # with one step per turn, the first holds the set-up before the first step
        cycles = self.cycles[1:] if self.turns.turn_steps == 1 else self.cycles
        return statistics.median(cycles) if cycles else None

    def since_last_step(self) -> Optional[float]:
        return time.perf_counter() - self._resumed if self.marks else None


def run_in_turns(runners: dict[str, Callable[..., dict]], order: Sequence[str],
                 call: Callable[[Callable[..., dict], TurnClock], dict], turn_steps: int = 1) -> dict[str, dict]:
    """Run every contender in its own thread, taking turns in `order`; `call(runner, clock)` makes
    one contender's run. Returns each contender's result; a contender that fails stops the round
    with its error once the others have finished."""
    turns = Turns(order, turn_steps)
    results: dict[str, dict] = {}
    errors: dict[str, Exception] = {}

    def contend(name: str) -> None:
        clock = TurnClock(name, turns)
        clock.start()
        try:
            results[name] = call(runners[name], clock)
        except Exception as error:  # handed to the caller below
            errors[name] = error
        finally:
            clock.leave()

    threads = [threading.Thread(target=contend, args=(name,), name=f"contender-{name}") for name in order]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        name, error = next(iter(errors.items()))
        raise RuntimeError(f"{name} failed in a run with turns: {error}") from error
    return results


def bench_in_turns(w: Workload, device: str, runners: dict[str, Callable[..., dict]], turn_steps: int = 1,
                   seed: int = 0, order: Optional[Sequence[str]] = None) -> dict:
    """Warm every contender up once on its own, then R rounds in which all contenders train at
    once, taking turns of `turn_steps` steps, in a random order drawn afresh for every round (so
    no contender always follows the same one), or in `order` every round. Each contender's step
    time in a round is divided by the baseline's (the first runner) in the same round. The
    whole-call times are left out: a call's time here includes the others' turns."""
    warmups = warm_up(w, device, runners)
    names = list(runners)
    base = names[0]

    orders = random.Random(seed)
    steps: dict[str, list[float]] = {n: [] for n in names}
    extras: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(w.repeats):
        turns = list(order) if order is not None else orders.sample(names, len(names))
        t0 = time.perf_counter()
        results = run_in_turns(runners, turns, lambda runner, clock: runner(w, w.steps, device, clock), turn_steps)
        for name in names:
            res = results[name]
            if res.get("steps") != w.steps:
                raise RuntimeError(f"{name} ran {res.get('steps')} steps, expected {w.steps}")
            steps[name].append(res["step_s"])
            extras[name].append({k: v for k, v in res.items() if k not in ("seconds", "steps", "step_s")})
        progress(f"  [{w.name}] round {r + 1}/{w.repeats} ({time.perf_counter() - t0:.1f}s): "
                 + ", ".join(f"{n} {1000 * steps[n][-1]:.2f}ms" for n in turns))

    rows = []
    for name in names:
        ratios = None if name == base else [m / b for m, b in zip(steps[name], steps[base])]
        rows.append({"contender": name, "step_times_s": steps[name], "step_median_s": statistics.median(steps[name]),
                     "warmup_s": warmups[name], "step_ratios": ratios, "extra": extras[name]})
    return {"workload": w.name, "description": w.description, "steps": w.steps, "repeats": w.repeats,
            "batch_size": w.batch_size, "turn_steps": turn_steps, "rows": rows}


def step_table(results: Sequence[dict]) -> str:
    """Per contender: the median step (ms) and its ratio to the baseline's step in the same round
    (median over rounds, and the middle half of the rounds). Takes `bench_in_turns`'s results and
    `common.bench`'s alike."""
    lines = ["| workload | contender | step: median ms | min-max ms | step ratio: median | middle half | warm-up s |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for res in results:
        for r in res["rows"]:
            ratios = r["step_ratios"] or [1.0]
            q1, q3 = quartiles(ratios)
            times = [1000 * t for t in r["step_times_s"]]
            lines.append(f"| {res['workload']} ({res['steps']} steps x{res['repeats']}) | {r['contender']} | "
                         f"{1000 * r['step_median_s']:.2f} | {min(times):.2f}-{max(times):.2f} | "
                         f"**{statistics.median(ratios):.3f}** | {q1:.3f}-{q3:.3f} | {r['warmup_s']:.2f} |")
    return "\n".join(lines)
