"""A tabu search over the critical path: werk's warm start for classic job shops (makespan).

CP-SAT's own first solutions on a 15 × 15 job shop are within a few per cent of the best known
after a second, so a dispatching rule's start (about +20 %) buys it nothing. What does is a start
close to the optimum, and the method known to reach one quickly is a tabu search over the
critical path (Nowicki & Smutnicki's N5 neighbourhood: swap the first two or the last two
operations of a block of the critical path; Balas & Vazacopoulos's estimate of each swap's
makespan from heads and tails, so a step costs two passes over the graph instead of one per
candidate; a random tenure, aspiration by the best, and a return to the best with a few random
swaps after a stall). No library offers it, and in Python a step costs ~1 ms where the compiled
kernel takes a few µs: the kernel is compiled with numba (extra ``plan``) and runs without the
GIL, one search per worker thread. Without numba the same code runs as Python, correct and ~170
times slower (ft10: 3,300 steps a second against 570,000), and a chunk of steps can overrun the
budget by about half a second.

It applies where the disjunctive graph is the whole problem (``applies``): makespan, one machine
per operation, no changeovers, no blocked windows, nothing fixed. Release dates are heads.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from werk.plan.model import Assignment, Problem, Schedule

try:  # numba compiles the kernel; without it the same code runs in Python
    from numba import njit
except ImportError:  # pragma: no cover - exercised where the extra is missing

    def njit(*args: Any, **kwargs: Any) -> Any:  # type: ignore[no-redef]
        return lambda function: function


CHUNK = 2_000
"""Steps between two looks at the clock (the kernel cannot read it): ~10 ms compiled."""
STALL_PER_OPERATION = 200
"""Steps without a new best, per operation, before the search goes back to the best and shakes
it (chosen on ta02, ta05, ta09, ta10, 225 operations, among 1k, 4k, 20k, 50k and 100k steps:
20k-100k alike, 4k and 1k worse)."""
MAX_OPERATIONS = 2_000
"""The tabu list is an n × n matrix (16 MB a search at 2,000): past this many operations the
search is not used."""


def applies(problem: Problem, objective: str) -> bool:
    """True where the search's graph is the whole problem (see the module's docstring)."""
    return (
        objective == "makespan"
        and 2 <= problem.operation_count <= MAX_OPERATIONS
        and not problem.flexible
        and not problem.has_setups
        and not any(machine.blocked for machine in problem.machines)
    )


def improve(
    problem: Problem,
    start: Schedule,
    budget_s: float,
    *,
    workers: int = 1,
    seed: int = 0,
    patience: int = 0,
    stop: threading.Event | None = None,
    on_best: Callable[[int], None] | None = None,
) -> Schedule:
    """The best schedule ``workers`` searches from ``start`` find in ``budget_s`` seconds.

    Never worse than ``start`` (a search keeps its best). A search ends early at the lower
    bound, after ``patience`` steps without a new best (0: never) or when ``stop`` is set.
    ``on_best`` hears each new best makespan of all searches (every ~10 ms at most).
    """
    started = time.perf_counter()
    graph = _Graph(problem, start)
    deadline = started + budget_s
    best = _Best(int(start.objective), on_best)
    searches = max(1, min(workers, os.cpu_count() or 1))  # more threads than cores: no gain
    at_bound = threading.Event()  # one search at the lower bound ends the others
    with ThreadPoolExecutor(max_workers=searches) as pool:
        runs = [
            pool.submit(graph.search, deadline, seed + k, patience, (stop, at_bound), best)
            for k in range(searches)
        ]
        results = [run.result() for run in runs]
    makespan, sequence, _ = min(results, key=lambda r: r[0])
    schedule = graph.schedule(sequence)
    total_steps = sum(r[2] for r in results)
    note = (
        f"tabu search: {start.objective:g} -> {makespan:g} in {total_steps:,} steps "
        f"({time.perf_counter() - started:.2f} s, {len(results)} threads)"
    )
    return Schedule(
        problem=problem.name,
        assignments=schedule,
        objective_name="makespan",
        objective=float(makespan),
        status="heuristic",
        solver="tabu",
        elapsed_s=time.perf_counter() - started,
        notes=(note,),
    )


class _Graph:
    """The problem as arrays (``graph``: each operation's duration, release (its order's, on the
    first operation), job predecessor and successor) and the start's machine order
    (``sequence``: each operation's machine predecessor and successor; -1 for none)."""

    def __init__(self, problem: Problem, start: Schedule) -> None:
        self.problem = problem
        self.keys = [(o.id, k) for o in problem.orders for k in range(len(o.operations))]
        self.operations = [op for o in problem.orders for op in o.operations]
        self.machines = [op.options[0].machine for op in self.operations]
        n = len(self.keys)
        self.graph = np.full((4, n), -1, dtype=np.int64)
        i = 0
        for order in problem.orders:
            for k, operation in enumerate(order.operations):
                self.graph[_DURATION, i] = operation.options[0].duration
                self.graph[_RELEASE, i] = order.release if k == 0 else 0
                if k > 0:
                    self.graph[_JOB_PREV, i] = i - 1
                    self.graph[_JOB_NEXT, i - 1] = i
                i += 1
        number = {key: i for i, key in enumerate(self.keys)}
        by_machine: dict[str, list[Assignment]] = {}
        for assignment in start.assignments:
            by_machine.setdefault(assignment.machine, []).append(assignment)
        self.sequence = np.full((2, n), -1, dtype=np.int64)
        for on_machine in by_machine.values():
            on_machine.sort(key=lambda a: (a.start, a.end))
            for before, after in itertools.pairwise(on_machine):
                self.sequence[_MACHINE_NEXT, number[before.key]] = number[after.key]
                self.sequence[_MACHINE_PREV, number[after.key]] = number[before.key]
        durations = self.graph[_DURATION].tolist()
        loads: dict[str, int] = {}
        for machine, duration in zip(self.machines, durations, strict=True):
            loads[machine] = loads.get(machine, 0) + duration
        longest_job = max(
            o.release + sum(op.options[0].duration for op in o.operations) for o in problem.orders
        )
        self.lower_bound = max(longest_job, *loads.values())

    def search(
        self,
        deadline: float,
        seed: int,
        patience: int,
        events: tuple[threading.Event | None, threading.Event],
        best_of_all: _Best,
    ) -> tuple[int, np.ndarray, int]:
        """One search until ``deadline`` or either event (the caller's stop, any search at the
        lower bound, which this one sets when it gets there): (best makespan, its machine
        order, steps)."""
        stop, at_bound = events
        n = len(self.keys)
        sequence, best = self.sequence.copy(), self.sequence.copy()
        tabu = np.zeros((n, n), dtype=np.int32)  # the step until which a move is tabu
        counters = np.zeros(_COUNTERS, dtype=np.int64)
        tenure = 10 + n // len(set(self.machines))
        while True:
            finished = _steps(
                self.graph, sequence, best, tabu, counters,
                tenure, STALL_PER_OPERATION * n, patience, seed, CHUNK, self.lower_bound,
            )  # fmt: skip
            best_of_all.offer(int(counters[_BEST]))
            if finished and counters[_BEST] <= self.lower_bound:
                at_bound.set()
            if finished or at_bound.is_set() or (stop is not None and stop.is_set()):
                break
            if time.perf_counter() >= deadline:
                break
        return int(counters[_BEST]), best, int(counters[_STEP])

    def schedule(self, sequence: np.ndarray) -> tuple[Assignment, ...]:
        """The semi-active schedule of a machine order: every operation as early as it can."""
        times = np.zeros((2, len(self.keys)), dtype=np.int64)
        if _evaluate(self.graph, sequence, times, np.zeros(len(self.keys), dtype=np.int64)) < 0:
            raise RuntimeError("tabu search produced a cyclic machine order")  # a bug here
        heads, durations = times[_HEAD].tolist(), self.graph[_DURATION].tolist()
        return tuple(
            Assignment(
                order=order,
                index=index,
                operation=operation.id,
                machine=machine,
                start=head,
                end=head + duration,
            )
            for (order, index), operation, machine, head, duration in zip(
                self.keys, self.operations, self.machines, heads, durations, strict=True
            )
        )


class _Best:
    """The best makespan of all searches, told to ``on_best`` when it improves."""

    def __init__(self, start: int, on_best: Callable[[int], None] | None) -> None:
        self.value = start
        self.on_best = on_best
        self.lock = threading.Lock()

    def offer(self, makespan: int) -> None:
        if self.on_best is None or makespan >= self.value:
            return
        with self.lock:
            if makespan >= self.value:
                return
            self.value = makespan
            self.on_best(makespan)


# Rows of the kernel's arrays. graph: what the problem fixes; sequence: the machine order being
# searched; times: heads (earliest starts) and tails (work after the end) of that order.
_DURATION, _RELEASE, _JOB_PREV, _JOB_NEXT = range(4)
_MACHINE_PREV, _MACHINE_NEXT = range(2)
_HEAD, _TAIL = range(2)
# the kernel's counters, kept from chunk to chunk
_STEP, _BEST, _SINCE_SHAKE, _SINCE_BEST, _SEEDED = range(5)
_COUNTERS = 5


@njit(cache=True, nogil=True)
def _evaluate(graph, sequence, times, order):  # type: ignore[no-untyped-def]
    """Fills ``times`` for ``sequence`` and returns the makespan, or -1 when the machine order
    has a cycle. ``order`` gets a topological order of the operations."""
    duration, release = graph[_DURATION], graph[_RELEASE]
    job_prev, job_next = graph[_JOB_PREV], graph[_JOB_NEXT]
    machine_prev, machine_next = sequence[_MACHINE_PREV], sequence[_MACHINE_NEXT]
    heads, tails = times[_HEAD], times[_TAIL]
    n = duration.shape[0]
    waiting = np.zeros(n, dtype=np.int64)
    ready = np.empty(n, dtype=np.int64)
    top = 0
    for i in range(n):
        waiting[i] = int(job_prev[i] >= 0) + int(machine_prev[i] >= 0)  # numpy: bool + bool is or
        if waiting[i] == 0:
            ready[top] = i
            top += 1
    count = 0
    while top > 0:
        top -= 1
        i = ready[top]
        order[count] = i
        count += 1
        head = release[i]
        for p in (job_prev[i], machine_prev[i]):
            if p >= 0 and heads[p] + duration[p] > head:
                head = heads[p] + duration[p]
        heads[i] = head
        for s in (job_next[i], machine_next[i]):
            if s >= 0:
                waiting[s] -= 1
                if waiting[s] == 0:
                    ready[top] = s
                    top += 1
    if count < n:
        return -1
    makespan = 0
    for k in range(n - 1, -1, -1):
        i = order[k]
        tail = 0
        for s in (job_next[i], machine_next[i]):
            if s >= 0 and tails[s] + duration[s] > tail:
                tail = tails[s] + duration[s]
        tails[i] = tail
        makespan = max(makespan, heads[i] + duration[i] + tail)
    return makespan


@njit(cache=True, nogil=True)
def _critical_moves(graph, sequence, times, makespan, moves, every_pair):  # type: ignore[no-untyped-def]
    """N5 on one critical path: fills ``moves`` with each operation to swap with its machine
    successor (the first pair of every block but the first, the last pair of every block but
    the last; both where the path is one block; never two operations of one job). Returns how
    many. ``every_pair``: every pair in a block (N1, slower to search but connected: N5 alone
    can leave the optimum out of reach, as on small shops with release dates)."""
    duration, job_prev, job_next = graph[_DURATION], graph[_JOB_PREV], graph[_JOB_NEXT]
    machine_prev, machine_next = sequence[_MACHINE_PREV], sequence[_MACHINE_NEXT]
    heads = times[_HEAD]
    n = duration.shape[0]
    i = -1
    for k in range(n):
        if heads[k] + duration[k] == makespan:
            i = k
            break
    path = np.empty(n, dtype=np.int64)
    length = 0
    while i >= 0:  # walk back from the end, preferring the machine predecessor: longer blocks
        path[length] = i
        length += 1
        p = machine_prev[i]
        if p >= 0 and heads[p] + duration[p] == heads[i]:
            i = p
            continue
        p = job_prev[i]
        i = p if p >= 0 and heads[p] + duration[p] == heads[i] else -1
    path[:length] = path[:length][::-1].copy()
    block_start = np.empty(length, dtype=np.int64)
    block_size = np.empty(length, dtype=np.int64)
    blocks = 0
    k = 0
    while k < length:
        size = 1
        while k + size < length and machine_next[path[k + size - 1]] == path[k + size]:
            size += 1
        block_start[blocks] = k
        block_size[blocks] = size
        blocks += 1
        k += size
    count = 0
    for b in range(blocks):
        size = block_size[b]
        if size < 2:
            continue
        k = block_start[b]
        if every_pair:
            for j in range(k, k + size - 1):
                if job_next[path[j]] != path[j + 1]:
                    moves[count] = path[j]
                    count += 1
            continue
        first_pair = b > 0 or blocks == 1
        if first_pair and job_next[path[k]] != path[k + 1]:
            moves[count] = path[k]
            count += 1
        last_pair = (b < blocks - 1 or blocks == 1) and (size > 2 or not first_pair)
        if last_pair and job_next[path[k + size - 2]] != path[k + size - 1]:
            moves[count] = path[k + size - 2]
            count += 1
    return count


@njit(cache=True, nogil=True)
def _estimate(u, graph, sequence, times):  # type: ignore[no-untyped-def]
    """The makespan through ``u`` and its machine successor ``v`` once swapped (Balas and
    Vazacopoulos): new heads from the operations before, new tails from those after."""
    duration, release = graph[_DURATION], graph[_RELEASE]
    job_prev, job_next = graph[_JOB_PREV], graph[_JOB_NEXT]
    heads, tails = times[_HEAD], times[_TAIL]
    v = sequence[_MACHINE_NEXT, u]
    head_v = release[v]
    for p in (job_prev[v], sequence[_MACHINE_PREV, u]):
        if p >= 0 and heads[p] + duration[p] > head_v:
            head_v = heads[p] + duration[p]
    head_u = max(release[u], head_v + duration[v])
    p = job_prev[u]
    if p >= 0 and heads[p] + duration[p] > head_u:
        head_u = heads[p] + duration[p]
    tail_u = 0
    for s in (job_next[u], sequence[_MACHINE_NEXT, v]):
        if s >= 0 and tails[s] + duration[s] > tail_u:
            tail_u = tails[s] + duration[s]
    tail_v = tail_u + duration[u]
    s = job_next[v]
    if s >= 0 and tails[s] + duration[s] > tail_v:
        tail_v = tails[s] + duration[s]
    return max(head_v + duration[v] + tail_v, head_u + duration[u] + tail_u)


@njit(cache=True, nogil=True)
def _swap(u, sequence):  # type: ignore[no-untyped-def]
    """``u`` and its machine successor trade places."""
    machine_prev, machine_next = sequence[_MACHINE_PREV], sequence[_MACHINE_NEXT]
    v = machine_next[u]
    a = machine_prev[u]
    c = machine_next[v]
    if a >= 0:
        machine_next[a] = v
    machine_prev[v] = a
    machine_next[v] = u
    machine_prev[u] = v
    machine_next[u] = c
    if c >= 0:
        machine_prev[c] = u


@njit(cache=True, nogil=True)
def _steps(  # type: ignore[no-untyped-def]
    graph, sequence, best, tabu, counters, tenure, stall, patience, seed, chunk, lower_bound
):
    """``chunk`` steps of the search; True once it is at the lower bound, has no move left, or
    has gone ``patience`` steps without a new best (0: no such limit)."""
    n = graph.shape[1]
    if counters[_SEEDED] == 0:
        np.random.seed(seed)
        counters[_SEEDED] = 1
        counters[_BEST] = 1 << 62
    times = np.zeros((2, n), dtype=np.int64)
    order = np.zeros(n, dtype=np.int64)
    moves = np.empty(2 * n, dtype=np.int64)
    for _ in range(chunk):
        step = counters[_STEP]
        counters[_STEP] += 1
        makespan = _evaluate(graph, sequence, times, order)
        if makespan < counters[_BEST]:
            counters[_BEST] = makespan
            counters[_SINCE_SHAKE] = 0
            counters[_SINCE_BEST] = 0
            best[:, :] = sequence
            if makespan <= lower_bound:
                return True
        else:
            counters[_SINCE_SHAKE] += 1
            counters[_SINCE_BEST] += 1
            if patience and counters[_SINCE_BEST] >= patience:
                return True
        if counters[_SINCE_SHAKE] > stall:  # back to the best, shaken by a few random swaps
            sequence[:, :] = best
            tabu[:, :] = 0
            counters[_SINCE_SHAKE] = 0
            for _shake in range(2 + np.random.randint(4)):
                makespan = _evaluate(graph, sequence, times, order)
                count = _critical_moves(graph, sequence, times, makespan, moves, True)
                if count == 0:
                    break
                _swap(moves[np.random.randint(count)], sequence)
            continue
        count = _critical_moves(graph, sequence, times, makespan, moves, False)
        if count == 0:  # N5 has nothing where a block holds two steps of a job: N1 may
            count = _critical_moves(graph, sequence, times, makespan, moves, True)
        if count == 0:
            return True  # the critical path is one job's chain: the makespan is its length
        chosen = -1
        chosen_value = 1 << 62
        ties = 0
        for k in range(count):
            u = moves[k]
            value = _estimate(u, graph, sequence, times)
            allowed = tabu[u, sequence[_MACHINE_NEXT, u]] <= step or value < counters[_BEST]
            if not allowed:  # tabu, and not better than the best (aspiration)
                continue
            if value < chosen_value:
                chosen, chosen_value, ties = u, value, 1
            elif value == chosen_value:
                ties += 1
                if np.random.randint(ties) == 0:
                    chosen = u
        if chosen < 0:
            chosen = moves[np.random.randint(count)]
        v = sequence[_MACHINE_NEXT, chosen]
        _swap(chosen, sequence)
        tabu[chosen, v] = step + tenure + np.random.randint(tenure)  # chosen before v again
    return False


def warm_up() -> None:
    """Compile the kernel now (a few seconds the first time on a machine; numba caches it on
    disk), so that the first plan does not pay for it."""
    from werk.plan.heuristic import solve_heuristic
    from werk.plan.model import Machine, Operation, Option, Order

    machines = (Machine("m0"), Machine("m1"))
    orders = tuple(
        Order(
            f"j{j}",
            tuple(Operation(f"o{k}", (Option(f"m{(j + k) % 2}", 1 + j + k),)) for k in range(2)),
        )
        for j in range(2)
    )
    problem = Problem("warm-up", machines=machines, orders=orders)
    improve(problem, solve_heuristic(problem), 0.0)
