"""The line model: one SimPy process per station, a ``Store`` per input buffer.

A part is a small list ``[variant, step, moved_at, route, released]``; ``route`` is the tuple of
input stores of the stations on its variant's routing. A station loops: take a part (starved while
it waits), wait out the conveyor's travel time, set up when the variant changes, process (failing
when its operating time reaches the drawn time to failure: failures are operation-dependent, a
machine does not wear while idle), scrap or rework it, and put it into the next station's input
(blocked while that is full: blocking after service). Shifts and breaks are honoured at the start
of a cycle; a cycle under way finishes.

Each station records the time it spends in each state, exactly (a state's time is booked when it
is left, and at the warm-up and at the end). Random numbers come in numpy blocks, one stream per
station and purpose, seeded from (seed, replication, name): two scenarios run with the same seed
see the same random numbers at the same stations (common random numbers), which makes their
paired comparison sharper.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from werk.core.errors import MissingExtraError
from werk.sim.distributions import Sampler, stream
from werk.sim.scenario import DAY_S, CalendarSpec, Scenario, StationSpec

try:
    import simpy
except ImportError as error:  # pragma: no cover - simpy is the sim extra
    raise MissingExtraError("simpy", "sim") from error

BUSY, SETUP, DOWN, STARVED, BLOCKED, OFF = range(6)
STATES = ("busy", "setup", "down", "starved", "blocked", "off_shift")

# part fields
VARIANT, STEP, MOVED, ROUTE, RELEASED = range(5)


class StationState:
    """What a station did: time per state, cycles, quality; exposed live for the sensor models."""

    __slots__ = (
        "acc",
        "cycles",
        "failures",
        "id",
        "periods",
        "rework",
        "scrap",
        "since",
        "state",
        "ttf_left",
        "ttf_total",
    )

    def __init__(self, station_id: str) -> None:
        self.id = station_id
        self.acc = [0.0] * 6
        self.state = STARVED
        self.since = 0.0
        self.periods = 0  # active periods ended (active: busy, setup, down)
        self.cycles = 0
        self.scrap = 0
        self.rework = 0
        self.failures = 0
        self.ttf_left = math.inf  # operating time left before the next failure
        self.ttf_total = math.inf

    def enter(self, state: int, now: float) -> None:
        old = self.state
        self.acc[old] += now - self.since
        if state >= STARVED and old < STARVED:
            self.periods += 1
        self.state = state
        self.since = now

    def close(self, now: float) -> None:
        self.acc[self.state] += now - self.since
        self.since = now

    def reset(self) -> None:
        self.acc = [0.0] * 6
        self.periods = self.cycles = self.scrap = self.rework = self.failures = 0


class LineState:
    """Line-level counters: parts out, lead time, the time integral of WIP."""

    __slots__ = ("area", "exits", "last", "lead_sq", "lead_sum", "released", "scrapped", "wip")

    def __init__(self) -> None:
        self.wip = 0
        self.area = 0.0
        self.last = 0.0
        self.exits = 0
        self.released = 0
        self.scrapped = 0
        self.lead_sum = 0.0
        self.lead_sq = 0.0

    def reset(self, now: float) -> None:
        self.area = 0.0
        self.last = now
        self.exits = self.released = self.scrapped = 0
        self.lead_sum = self.lead_sq = 0.0


def calendar_gate(calendar: CalendarSpec) -> Callable[[float], float]:
    """``resume(t)``: ``t`` when working, else the end of the non-working time around ``t``."""
    starts = [s for s, _ in calendar.off]
    ends = [e for _, e in calendar.off]
    offset = calendar.start_s

    def resume(t: float) -> float:
        while True:
            day = (t + offset) % DAY_S
            i = bisect_right(starts, day) - 1
            if i < 0 or day >= ends[i]:
                return t
            t += ends[i] - day + 1e-9

    return resume


class LineModel:
    """The scenario's line in a SimPy environment, ready to ``run`` one replication."""

    def __init__(
        self,
        scenario: Scenario,
        replication: int = 0,
        seed: int | None = None,
        env: simpy.Environment | None = None,
    ) -> None:
        self.scenario = scenario
        self.env = env or simpy.Environment()
        self.seed = scenario.seed if seed is None else seed
        self.replication = replication
        self.line = LineState()
        self.stations = {s.id: StationState(s.id) for s in scenario.stations}
        firsts = {v.routing[0] for v in scenario.variants}
        saturated = scenario.release.policy == "saturated"
        self.inputs = {
            s.id: simpy.Store(self.env, capacity=_input_capacity(s, saturated and s.id in firsts))
            for s in scenario.stations
        }
        self.variant_ids = [v.id for v in scenario.variants]
        self.routes = [tuple(self.inputs[s] for s in v.routing) for v in scenario.variants]
        self.resume = calendar_gate(scenario.calendar) if scenario.calendar else None
        for spec in scenario.stations:
            self.env.process(self._station(spec, self.stations[spec.id], self.inputs[spec.id]))
        self.env.process(self._release())

    def _stream(self, key: str) -> np.random.Generator:
        return stream(self.seed, self.replication, key)

    # -- processes -------------------------------------------------------------------------------

    def _station(
        self, spec: StationSpec, st: StationState, inq: simpy.Store
    ) -> Generator[Any, Any, None]:
        env = self.env
        timeout = env.timeout
        get = inq.get
        enter = st.enter
        exit_part = self._exit
        scrap_part = self._scrap
        resume = self.resume
        base = spec.cycle_time.sampler(self._stream(f"{spec.id}.cycle"))
        cycle: list[Callable[[], float]] = [
            spec.cycle_time_by_variant[v].sampler(self._stream(f"{spec.id}.cycle.{v}"))
            if v in spec.cycle_time_by_variant
            else base
            for v in self.variant_ids
        ]
        setups = spec.setup_by_variant
        setup: list[Callable[[], float] | None] | None = None
        if setups:
            setup = [
                setups[v].sampler(self._stream(f"{spec.id}.setup.{v}"))
                if v in setups
                else setups["*"].sampler(self._stream(f"{spec.id}.setup"))
                if "*" in setups
                else None
                for v in self.variant_ids
            ]
        fails = spec.time_to_failure is not None and spec.time_to_repair is not None
        ttf_draw: Callable[[], float] = lambda: math.inf  # noqa: E731
        ttr_draw: Callable[[], float] = lambda: 0.0  # noqa: E731
        if fails:
            assert spec.time_to_failure is not None and spec.time_to_repair is not None
            ttf_draw = spec.time_to_failure.sampler(self._stream(f"{spec.id}.ttf"))
            ttr_draw = spec.time_to_repair.sampler(self._stream(f"{spec.id}.ttr"))
        ttf = ttf_draw()
        st.ttf_left = st.ttf_total = ttf
        scrap_p = spec.scrap_rate
        loss_p = spec.scrap_rate + spec.rework_rate
        uniform = Sampler(lambda rng, n: rng.random(n), self._stream(f"{spec.id}.quality"))
        travel = spec.input_travel_s
        last_variant = -1
        while True:
            ev = get()
            if not ev.triggered:
                enter(STARVED, env.now)
            part = yield ev
            if travel:
                wait = part[MOVED] + travel - env.now
                if wait > 0:
                    if st.state != STARVED:
                        enter(STARVED, env.now)
                    yield timeout(wait)
            if resume is not None:
                now = env.now
                until = resume(now)
                if until > now:
                    enter(OFF, now)
                    yield timeout(until - now)
            variant = part[VARIANT]
            if setup is not None and variant != last_variant:
                draw = setup[variant]
                if draw is not None and last_variant >= 0:
                    enter(SETUP, env.now)
                    yield timeout(draw())
                last_variant = variant
            while True:
                if st.state:
                    enter(BUSY, env.now)
                p = cycle[variant]()
                while p >= ttf:  # the machine fails during this cycle
                    yield timeout(ttf)
                    p -= ttf
                    enter(DOWN, env.now)
                    st.failures += 1
                    yield timeout(ttr_draw())
                    ttf = st.ttf_total = ttf_draw()
                    enter(BUSY, env.now)
                ttf -= p
                st.ttf_left = ttf
                yield timeout(p)
                st.cycles += 1
                if not loss_p:
                    break
                u = uniform()
                if u >= loss_p:
                    break
                if u < scrap_p:
                    st.scrap += 1
                    scrap_part(part)
                    part = None
                    break
                st.rework += 1  # reworked at once, here
            if part is None:
                continue
            step = part[STEP] + 1
            route = part[ROUTE]
            if step < len(route):
                part[STEP] = step
                ev = route[step].put(part)
                if not ev.triggered:
                    enter(BLOCKED, env.now)
                yield ev
                part[MOVED] = env.now
            else:
                exit_part(part)

    def _release(self) -> Generator[Any, Any, None]:
        env = self.env
        line = self.line
        routes = self.routes
        release = self.scenario.release
        weights = np.array([v.weight for v in self.scenario.variants])
        if len(weights) > 1:
            cumulative = np.cumsum(weights / weights.sum())
            pick = Sampler(
                lambda rng, n: np.searchsorted(cumulative, rng.random(n), side="right"),
                self._stream("release.variant"),
            )
        else:
            pick = Sampler(lambda rng, n: np.zeros(n, np.int64), self._stream("release.variant"))
        arrival: Callable[[], float] | None = None
        if release.policy == "push":
            assert release.interarrival is not None
            arrival = release.interarrival.sampler(self._stream("release.interarrival"))
        tokens = None
        if release.policy == "conwip":
            assert release.wip is not None
            tokens = simpy.Container(env, capacity=release.wip, init=release.wip)
            self._tokens = tokens
        timeout = env.timeout
        batch = release.batch
        left = 0
        variant = 0
        while True:
            if arrival is not None:
                yield timeout(arrival())
            elif tokens is not None:
                yield tokens.get(1)
            if not left:
                variant = min(int(pick()), len(routes) - 1)
                left = batch
            left -= 1
            route = routes[variant]
            part: list[Any] = [variant, 0, 0.0, route, 0.0]
            yield route[0].put(part)
            now = env.now
            part[MOVED] = part[RELEASED] = now
            line.area += line.wip * (now - line.last)
            line.last = now
            line.wip += 1
            line.released += 1

    def _exit(self, part: list[Any]) -> None:
        line = self.line
        now = self.env.now
        line.area += line.wip * (now - line.last)
        line.last = now
        line.wip -= 1
        line.exits += 1
        lead = now - part[RELEASED]
        line.lead_sum += lead
        line.lead_sq += lead * lead
        if self.scenario.release.policy == "conwip":
            self._tokens.put(1)

    def _scrap(self, part: list[Any]) -> None:
        line = self.line
        now = self.env.now
        line.area += line.wip * (now - line.last)
        line.last = now
        line.wip -= 1
        line.scrapped += 1
        if self.scenario.release.policy == "conwip":
            self._tokens.put(1)

    # -- running ---------------------------------------------------------------------------------

    def _warmed_up(self) -> None:
        now = self.env.now
        line = self.line
        line.area += line.wip * (now - line.last)
        line.reset(now)
        for st in self.stations.values():
            st.close(now)
            st.reset()

    def run(self) -> dict[str, float]:
        """One replication: warm up, observe ``duration``, return the KPIs (see :func:`kpis`)."""
        scenario = self.scenario
        if scenario.warmup_s > 0:
            self.env.run(until=scenario.warmup_s)
        self._warmed_up()
        end = scenario.warmup_s + scenario.duration_s
        self.env.run(until=end)
        return self.kpis(end)

    def kpis(self, now: float) -> dict[str, float]:
        """KPIs of the observation so far, as a flat ``{name: value}`` (see docs/simulation.md)."""
        scenario = self.scenario
        line = self.line
        line.area += line.wip * (now - line.last)
        line.last = now
        observed = now - scenario.warmup_s
        hours = observed / 3600.0
        out: dict[str, float] = {
            "throughput_per_h": line.exits / hours,
            "scrap_per_h": line.scrapped / hours,
            "lead_time_s": line.lead_sum / line.exits if line.exits else math.nan,
            "wip": line.area / observed,
            "events": float(next(self.env._eid)),  # events scheduled (simpy's own counter)
        }
        for spec in scenario.stations:
            st = self.stations[spec.id]
            st.close(now)
            acc = st.acc
            for state, name in enumerate(STATES):
                out[f"{spec.id}.{name}"] = acc[state] / observed
            planned = observed - acc[OFF]
            run_time = acc[BUSY]
            availability = run_time / planned if planned > 0 else math.nan
            performance = st.cycles * spec.ideal_cycle_s / run_time if run_time > 0 else math.nan
            good = st.cycles - st.scrap - st.rework
            quality = good / st.cycles if st.cycles else math.nan
            active = acc[BUSY] + acc[SETUP] + acc[DOWN]
            periods = st.periods + (1 if st.state < STARVED else 0)
            out[f"{spec.id}.utilisation"] = (acc[BUSY] + acc[SETUP]) / planned if planned else 0.0
            out[f"{spec.id}.availability"] = availability
            out[f"{spec.id}.technical_availability"] = (
                run_time / (run_time + acc[DOWN]) if run_time + acc[DOWN] > 0 else math.nan
            )
            out[f"{spec.id}.performance"] = performance
            out[f"{spec.id}.quality"] = quality
            out[f"{spec.id}.oee"] = availability * performance * quality
            out[f"{spec.id}.active_period_s"] = active / periods if periods else 0.0
            out[f"{spec.id}.parts_per_h"] = good / hours
        return out


def _input_capacity(spec: StationSpec, saturated_first: bool) -> float:
    """A saturated line's first station has its next part waiting: an unlimited input there would
    fill without end, so it holds one part."""
    if saturated_first and spec.input_capacity == math.inf:
        return 1
    return spec.input_capacity


def run_replication(
    scenario: Scenario, replication: int, seed: int | None = None
) -> dict[str, float]:
    """Run replication ``replication`` of ``scenario``; a top-level function, so processes can."""
    return LineModel(scenario, replication, seed).run()
