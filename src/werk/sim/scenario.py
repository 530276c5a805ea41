"""Scenario files: what to simulate, on which plant, for how long.

A scenario (TOML; ``docs/simulation.md`` and ``examples/sim/line1.toml`` document every key) names
a plant file and gives what the plant file does not know: cycle-time distributions, failures,
scrap, setups per variant, routings, the release policy, shifts and breaks, and the run length::

    [scenario]
    name = "baseline"
    plant = "../plant.toml"          # relative to this file; optional
    line = "line1"                   # the plant asset whose machines form the line

    [run]
    duration = "8h"
    warmup = "1h"
    replications = 30
    seed = 1

    [stations.press1]
    cycle_time = { dist = "lognormal", mean_s = 42, cv = 0.1 }
    mttf_h = 8
    mttr_min = 20

Every problem is reported at once, each naming the file and the field, in a
:class:`~werk.sim.errors.ScenarioError`.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werk.sim.distributions import (
    Distribution,
    SpecError,
    exponential,
    fixed,
    parse_distribution,
    parse_duration_s,
)
from werk.sim.errors import ScenarioError, ScenarioProblem

DAY_S = 86_400.0
POLICIES = ("saturated", "push", "conwip")
INFINITE = math.inf

_TOP = ("scenario", "run", "release", "calendar", "stations", "buffers", "conveyors", "variants")
_SCENARIO = ("name", "description", "plant", "line")
_RUN = ("duration", "warmup", "replications", "seed")
_RELEASE = ("policy", "interarrival", "wip", "batch")
_CALENDAR = ("start", "shifts", "breaks")
_STATION = (
    "name",
    "cycle_time",
    "ideal_cycle_s",
    "setup",
    "time_to_failure",
    "time_to_repair",
    "mttf_h",
    "mttr_min",
    "scrap_rate",
    "rework_rate",
    "input_capacity",
    "variants",
)
_STATION_VARIANT = ("cycle_time", "setup")
_VARIANT = ("routing", "weight")
_BUFFER = ("capacity",)
_CONVEYOR = ("capacity", "travel")


@dataclass(frozen=True, slots=True)
class StationSpec:
    """A machine of the line and how it behaves (durations in seconds)."""

    id: str
    cycle_time: Distribution
    ideal_cycle_s: float
    name: str = ""
    cycle_time_by_variant: Mapping[str, Distribution] = field(default_factory=dict)
    setup_by_variant: Mapping[str, Distribution] = field(default_factory=dict)
    time_to_failure: Distribution | None = None
    time_to_repair: Distribution | None = None
    scrap_rate: float = 0.0
    rework_rate: float = 0.0
    input_capacity: float = INFINITE
    input_travel_s: float = 0.0


@dataclass(frozen=True, slots=True)
class VariantSpec:
    id: str
    routing: tuple[str, ...]
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class ReleaseSpec:
    """How parts enter: ``saturated`` (the first station never starves), ``push`` (arrivals with
    ``interarrival`` times) or ``conwip`` (a new part whenever one leaves, ``wip`` at most).
    Variants are drawn by weight for each run of ``batch`` parts of one variant."""

    policy: str = "saturated"
    interarrival: Distribution | None = None
    wip: int | None = None
    batch: int = 1


@dataclass(frozen=True, slots=True)
class CalendarSpec:
    """Non-working intervals of a day, in seconds after midnight, sorted and merged; simulation
    time 0 is ``start_s`` after midnight."""

    start_s: float
    off: tuple[tuple[float, float], ...]

    def working_share(self) -> float:
        return 1.0 - sum(end - start for start, end in self.off) / DAY_S


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    stations: tuple[StationSpec, ...]
    variants: tuple[VariantSpec, ...]
    release: ReleaseSpec = ReleaseSpec()
    calendar: CalendarSpec | None = None
    duration_s: float = 8 * 3600.0
    warmup_s: float = 0.0
    replications: int = 10
    seed: int = 1
    description: str = ""
    source: str = ""
    plant_id: str = ""

    def station(self, station_id: str) -> StationSpec:
        return next(s for s in self.stations if s.id == station_id)


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; :class:`ScenarioError` lists every problem."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([ScenarioProblem(str(source), "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError([ScenarioProblem(str(source), "", f"cannot read: {error}")]) from error
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(
            [ScenarioProblem(str(source), "", f"not valid TOML: {error}")]
        ) from error
    return scenario_from_dict(data, file=str(source), base=source.parent)


def scenario_from_dict(
    data: Mapping[str, Any], *, file: str = "<scenario>", base: Path | None = None
) -> Scenario:
    """Check a parsed scenario; ``file`` is used in messages, ``base`` resolves the plant path."""
    reader = _Reader(file)
    scenario = reader.build(data, base or Path.cwd())
    if reader.problems:
        raise ScenarioError(reader.problems)
    assert scenario is not None
    return scenario


# ------------------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[ScenarioProblem] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(ScenarioProblem(self.file, path, message))

    def table(self, value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.error(path, f"must be a table, not {_kind(value)}")
            return {}
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = (
                    f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(allowed)}"
                )
                self.error(f"{path}.{key}" if path else key, f"unknown key{hint}")
        return dict(value)

    def duration(self, value: Any, path: str, default: float) -> float:
        if value is None:
            return default
        try:
            return parse_duration_s(value, path)
        except SpecError as error:
            self.error(path, str(error))
            return default

    def distribution(self, value: Any, path: str) -> Distribution | None:
        try:
            return parse_distribution(value)
        except SpecError as error:
            self.error(f"{path}.{error.field}" if error.field else path, str(error))
            return None

    def rate(self, value: Any, path: str) -> float:
        if value is None:
            return 0.0
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            self.error(path, f"must be a share in [0, 1), not {value!r}")
            return 0.0
        return float(value)

    def capacity(self, value: Any, path: str) -> float | None:
        if value is None:
            return None
        if value == "inf":
            return INFINITE
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.error(path, f'must be a whole number >= 1 or "inf", not {value!r}')
            return None
        return float(value)

    # --------------------------------------------------------------------------------------------

    def build(self, data: Mapping[str, Any], base: Path) -> Scenario | None:
        top = self.table(data, "", _TOP)
        head = self.table(top.get("scenario"), "scenario", _SCENARIO)
        run = self.table(top.get("run"), "run", _RUN)
        flow = self._plant_flow(head, base)
        stations = self._stations(top, flow)
        variants = self._variants(top.get("variants"), stations, flow)
        release = self._release(top.get("release"))
        calendar = self._calendar(top.get("calendar"))
        duration = self.duration(run.get("duration"), "run.duration", 8 * 3600.0)
        if duration <= 0:
            self.error("run.duration", "must be > 0")
        warmup = self.duration(run.get("warmup"), "run.warmup", 0.0)
        replications = run.get("replications", 10)
        if isinstance(replications, bool) or not isinstance(replications, int) or replications < 2:
            self.error("run.replications", f"must be a whole number >= 2, not {replications!r}")
            replications = 10
        seed = run.get("seed", 1)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            self.error("run.seed", f"must be a whole number >= 0, not {seed!r}")
            seed = 1
        name = head.get("name", Path(self.file).stem)
        if not isinstance(name, str) or not name:
            self.error("scenario.name", "must be a non-empty string")
            name = "scenario"
        return Scenario(
            name=name,
            description=str(head.get("description", "")),
            stations=tuple(stations),
            variants=tuple(variants),
            release=release,
            calendar=calendar,
            duration_s=duration,
            warmup_s=warmup,
            replications=replications,
            seed=seed,
            source=self.file,
            plant_id=flow.plant_id if flow else "",
        )

    def _plant_flow(self, head: dict[str, Any], base: Path) -> _Flow | None:
        plant_path = head.get("plant")
        if plant_path is None:
            if head.get("line") is not None:
                self.error("scenario.line", "needs scenario.plant")
            return None
        if not isinstance(plant_path, str):
            self.error("scenario.plant", "must be a path to a plant file")
            return None
        from werk.core.errors import ConfigError
        from werk.twin.plant import load_plant

        try:
            plant = load_plant(base / plant_path)
        except ConfigError as error:
            self.error("scenario.plant", str(error))
            return None
        return _Flow.of(plant, head.get("line"), self)

    def _stations(self, top: dict[str, Any], flow: _Flow | None) -> list[StationSpec]:
        given = self.table(top.get("stations"), "stations", tuple(top.get("stations") or ()))
        buffers = self.table(top.get("buffers"), "buffers", tuple(top.get("buffers") or ()))
        conveyors = self.table(top.get("conveyors"), "conveyors", tuple(top.get("conveyors") or ()))
        if flow is None:
            order = list(given)
            for section, table in (("buffers", buffers), ("conveyors", conveyors)):
                for key in table:
                    self.error(f"{section}.{key}", "needs scenario.plant (they are plant assets)")
        else:
            order = list(flow.machines)
            for key in given:
                if key not in flow.machines:
                    self.error(
                        f"stations.{key}", _not_in(key, flow.machines, "machine of the line")
                    )
            for key in buffers:
                if key not in flow.buffers:
                    self.error(f"buffers.{key}", _not_in(key, flow.buffers, "buffer of the line"))
            for key in conveyors:
                if key not in flow.conveyors:
                    self.error(
                        f"conveyors.{key}", _not_in(key, flow.conveyors, "conveyor of the line")
                    )
        if not order:
            self.error(
                "stations", "no stations: give [stations.<id>] or a plant line with machines"
            )
        links = self._links(flow, buffers, conveyors)
        return [s for s in (self._station(k, given.get(k), flow, links) for k in order) if s]

    def _links(
        self, flow: _Flow | None, buffers: dict[str, Any], conveyors: dict[str, Any]
    ) -> dict[str, tuple[float, float]]:
        """Each machine's input: (capacity, travel seconds) from the buffers and conveyors."""
        if flow is None:
            return {}
        capacity: dict[str, float] = {}
        for asset_id in flow.buffers:
            table = self.table(buffers.get(asset_id), f"buffers.{asset_id}", _BUFFER)
            given = self.capacity(table.get("capacity"), f"buffers.{asset_id}.capacity")
            capacity[asset_id] = given or flow.technical(asset_id, "capacity") or INFINITE
        travel: dict[str, float] = {}
        for asset_id in flow.conveyors:
            table = self.table(conveyors.get(asset_id), f"conveyors.{asset_id}", _CONVEYOR)
            given = self.capacity(table.get("capacity"), f"conveyors.{asset_id}.capacity")
            capacity[asset_id] = given or flow.technical(asset_id, "capacity") or INFINITE
            where = f"conveyors.{asset_id}.travel"
            if "travel" in table:
                travel[asset_id] = self.duration(table["travel"], where, 0.0)
            else:
                length, speed = (
                    flow.technical(asset_id, "length"),
                    flow.technical(asset_id, "speed"),
                )
                travel[asset_id] = length / speed if length and speed else 0.0
        links: dict[str, tuple[float, float]] = {}
        for machine in flow.machines:
            paths = flow.paths_into(machine)
            if not paths:
                links[machine] = (INFINITE, 0.0)
                continue
            total, longest = 0.0, 0.0
            for chain in paths:
                total += sum(capacity[a] for a in chain) if chain else 1.0
                longest = max(longest, sum(travel.get(a, 0.0) for a in chain))
            links[machine] = (total, longest)
        return links

    def _station(
        self,
        key: str,
        raw: Any,
        flow: _Flow | None,
        links: dict[str, tuple[float, float]],
    ) -> StationSpec | None:
        path = f"stations.{key}"
        table = self.table(raw, path, _STATION)
        cycle: Distribution | None = None
        if "cycle_time" in table:
            cycle = self.distribution(table["cycle_time"], f"{path}.cycle_time")
        elif flow is not None and flow.technical(key, "cycle_time"):
            cycle = fixed(flow.technical(key, "cycle_time") or 0.0)
        else:
            self.error(f"{path}.cycle_time", "missing (the plant file gives no cycle_time either)")
        ttf, ttr = self._failures(table, path)
        by_variant: dict[str, Distribution] = {}
        setups: dict[str, Distribution] = {}
        if "setup" in table:
            setup = self.distribution(table["setup"], f"{path}.setup")
            if setup is not None:
                setups["*"] = setup
        variants = self.table(
            table.get("variants"), f"{path}.variants", tuple(table.get("variants") or ())
        )
        for variant, spec in variants.items():
            vpath = f"{path}.variants.{variant}"
            vtable = self.table(spec, vpath, _STATION_VARIANT)
            if "cycle_time" in vtable:
                d = self.distribution(vtable["cycle_time"], f"{vpath}.cycle_time")
                if d is not None:
                    by_variant[variant] = d
            if "setup" in vtable:
                d = self.distribution(vtable["setup"], f"{vpath}.setup")
                if d is not None:
                    setups[variant] = d
        ideal = table.get("ideal_cycle_s")
        if ideal is not None and (
            isinstance(ideal, bool) or not isinstance(ideal, int | float) or ideal <= 0
        ):
            self.error(f"{path}.ideal_cycle_s", f"must be a number of seconds > 0, not {ideal!r}")
            ideal = None
        scrap = self.rate(table.get("scrap_rate"), f"{path}.scrap_rate")
        rework = self.rate(table.get("rework_rate"), f"{path}.rework_rate")
        if scrap + rework >= 1:
            self.error(f"{path}.rework_rate", "scrap_rate + rework_rate must be < 1")
        capacity, travel = links.get(key, (INFINITE, 0.0))
        given_capacity = self.capacity(table.get("input_capacity"), f"{path}.input_capacity")
        if cycle is None:
            return None
        name = table.get("name") or (flow.name(key) if flow else "") or key
        return StationSpec(
            id=key,
            name=str(name),
            cycle_time=cycle,
            ideal_cycle_s=float(ideal) if ideal is not None else cycle.mean,
            cycle_time_by_variant=by_variant,
            setup_by_variant=setups,
            time_to_failure=ttf,
            time_to_repair=ttr,
            scrap_rate=scrap,
            rework_rate=rework,
            input_capacity=given_capacity or capacity,
            input_travel_s=travel,
        )

    def _failures(
        self, table: dict[str, Any], path: str
    ) -> tuple[Distribution | None, Distribution | None]:
        ttf: Distribution | None = None
        ttr: Distribution | None = None
        if "time_to_failure" in table and "mttf_h" in table:
            self.error(f"{path}.mttf_h", "give time_to_failure or mttf_h, not both")
        if "time_to_repair" in table and "mttr_min" in table:
            self.error(f"{path}.mttr_min", "give time_to_repair or mttr_min, not both")
        if "time_to_failure" in table:
            ttf = self.distribution(table["time_to_failure"], f"{path}.time_to_failure")
        elif "mttf_h" in table:
            ttf = self._positive_mean(table["mttf_h"], f"{path}.mttf_h", 3600.0)
        if "time_to_repair" in table:
            ttr = self.distribution(table["time_to_repair"], f"{path}.time_to_repair")
        elif "mttr_min" in table:
            ttr = self._positive_mean(table["mttr_min"], f"{path}.mttr_min", 60.0)
        failure_given = "time_to_failure" in table or "mttf_h" in table
        repair_given = "time_to_repair" in table or "mttr_min" in table
        if failure_given != repair_given:
            missing = (
                "time_to_repair (or mttr_min)" if failure_given else "time_to_failure (or mttf_h)"
            )
            self.error(
                path, f"failures need both a time to failure and a time to repair: add {missing}"
            )
            return None, None
        return ttf, ttr

    def _positive_mean(self, value: Any, path: str, unit_s: float) -> Distribution | None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.error(path, f"must be a number > 0, not {value!r}")
            return None
        return exponential(float(value) * unit_s)

    def _variants(
        self, raw: Any, stations: list[StationSpec], flow: _Flow | None
    ) -> list[VariantSpec]:
        ids = [s.id for s in stations]
        table = self.table(raw, "variants", tuple(raw or ()) if isinstance(raw, Mapping) else ())
        if not table:
            return [VariantSpec("default", tuple(ids))]
        variants = []
        for key, spec in table.items():
            path = f"variants.{key}"
            vtable = self.table(spec, path, _VARIANT)
            routing = vtable.get("routing", ids)
            if (
                not isinstance(routing, list)
                or not routing
                or not all(isinstance(r, str) for r in routing)
            ):
                self.error(f"{path}.routing", "must be a non-empty list of station ids")
                routing = ids
            for step in routing:
                if step not in ids:
                    self.error(f"{path}.routing", _not_in(step, ids, "station"))
            weight = vtable.get("weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                self.error(f"{path}.weight", f"must be a number > 0, not {weight!r}")
                weight = 1.0
            variants.append(VariantSpec(key, tuple(routing), float(weight)))
        known = set(table)
        for station in stations:
            for variant in (*station.cycle_time_by_variant, *station.setup_by_variant):
                if variant != "*" and variant not in known:
                    self.error(
                        f"stations.{station.id}.variants.{variant}",
                        _not_in(variant, known, "variant"),
                    )
        return variants

    def _release(self, raw: Any) -> ReleaseSpec:
        table = self.table(raw, "release", _RELEASE)
        policy = table.get("policy", "push" if "interarrival" in table else "saturated")
        if policy not in POLICIES:
            self.error("release.policy", f"must be one of {', '.join(POLICIES)}, not {policy!r}")
            return ReleaseSpec()
        interarrival = None
        if policy == "push":
            if "interarrival" not in table:
                self.error("release.interarrival", "push needs interarrival times")
            else:
                interarrival = self.distribution(table["interarrival"], "release.interarrival")
        elif "interarrival" in table:
            self.error("release.interarrival", f'only for policy = "push", not {policy!r}')
        wip = table.get("wip")
        if policy == "conwip":
            if isinstance(wip, bool) or not isinstance(wip, int) or wip < 1:
                self.error("release.wip", f"conwip needs wip = a whole number >= 1, not {wip!r}")
                wip = 1
        elif wip is not None:
            self.error("release.wip", f'only for policy = "conwip", not {policy!r}')
            wip = None
        batch = table.get("batch", 1)
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            self.error("release.batch", f"must be a whole number >= 1, not {batch!r}")
            batch = 1
        return ReleaseSpec(policy, interarrival, wip, batch)

    def _calendar(self, raw: Any) -> CalendarSpec | None:
        if raw is None:
            return None
        table = self.table(raw, "calendar", _CALENDAR)
        start = self._clock(table.get("start", "00:00"), "calendar.start")
        working: list[tuple[float, float]] = []
        shifts = table.get("shifts")
        if shifts is None:
            working = [(0.0, DAY_S)]
        elif not isinstance(shifts, list):
            self.error("calendar.shifts", 'must be a list of { start = "06:00", end = "14:00" }')
        for i, shift in enumerate(shifts or []):
            path = f"calendar.shifts[{i}]"
            stable = self.table(shift, path, ("start", "end"))
            begin = self._clock(stable.get("start"), f"{path}.start")
            end = self._clock(stable.get("end"), f"{path}.end")
            working.extend(_wrap(begin, end))
        off = _complement(_merge(working))
        breaks = table.get("breaks") or []
        if not isinstance(breaks, list):
            self.error(
                "calendar.breaks", 'must be a list of { start = "09:00", duration = "15min" }'
            )
            breaks = []
        for i, pause in enumerate(breaks):
            path = f"calendar.breaks[{i}]"
            btable = self.table(pause, path, ("start", "duration"))
            begin = self._clock(btable.get("start"), f"{path}.start")
            length = self.duration(btable.get("duration"), f"{path}.duration", 0.0)
            off.extend(_wrap(begin, (begin + length) % DAY_S if length < DAY_S else begin))
        merged = _merge(off)
        if sum(e - s for s, e in merged) >= DAY_S:
            self.error("calendar", "no working time left in the day")
            return None
        return CalendarSpec(start, tuple(merged))

    def _clock(self, value: Any, path: str) -> float:
        """``"06:30"`` -> seconds after midnight."""
        if not isinstance(value, str) or value.count(":") != 1:
            self.error(path, f'must be a time of day "HH:MM", not {value!r}')
            return 0.0
        hours, minutes = value.split(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            self.error(path, f'must be a time of day "HH:MM", not {value!r}')
            return 0.0
        return int(hours) * 3600.0 + int(minutes) * 60.0


def _wrap(begin: float, end: float) -> list[tuple[float, float]]:
    """An interval of the day that may cross midnight, as one or two intervals in [0, DAY)."""
    if end > begin:
        return [(begin, end)]
    if end == begin:
        return [(0.0, DAY_S)] if begin == 0 else [(begin, DAY_S), (0.0, end)]
    return [(begin, DAY_S), (0.0, end)]


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _complement(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    gaps, cursor = [], 0.0
    for start, end in intervals:
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < DAY_S:
        gaps.append((cursor, DAY_S))
    return gaps


def _not_in(key: str, known: Any, what: str) -> str:
    choices = sorted(known)
    close = difflib.get_close_matches(key, choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(choices) or 'none'}"
    return f"{key!r} is not a {what}{hint}"


def _kind(value: Any) -> str:
    return {
        str: "a string",
        int: "a number",
        float: "a number",
        list: "a list",
        bool: "a boolean",
    }.get(type(value), type(value).__name__)


@dataclass
class _Flow:
    """The material flow of a plant line: its machines in flow order, buffers and conveyors."""

    plant_id: str
    machines: list[str]
    buffers: list[str]
    conveyors: list[str]
    feeds: dict[str, tuple[str, ...]]
    assets: dict[str, Any]

    @classmethod
    def of(cls, plant: Any, line: Any, reader: _Reader) -> _Flow | None:
        scope: list[Any]
        if line is None:
            scope = [a for a in plant.assets if a.level in ("machine", "buffer", "conveyor")]
        elif not isinstance(line, str) or line not in plant:
            known = [a.id for a in plant.assets if a.level in ("line", "cell", "area")]
            reader.error("scenario.line", _not_in(str(line), known, "line of the plant"))
            return None
        else:
            inside = {line}
            for _, asset in plant.walk():
                if asset.parent in inside:
                    inside.add(asset.id)
            scope = [
                a
                for a in plant.assets
                if a.id in inside and a.level in ("machine", "buffer", "conveyor")
            ]
        ids = {a.id for a in scope}
        feeds = {a.id: tuple(f for f in a.feeds if f in ids) for a in scope}
        order = _topological([a.id for a in scope], feeds)
        if order is None:
            reader.error("scenario.plant", "the line's feeds form a loop; the model needs a flow")
            return None
        levels = {a.id: a.level for a in scope}
        return cls(
            plant_id=plant.id,
            machines=[a for a in order if levels[a] == "machine"],
            buffers=[a for a in order if levels[a] == "buffer"],
            conveyors=[a for a in order if levels[a] == "conveyor"],
            feeds=feeds,
            assets={a.id: a for a in scope},
        )

    def name(self, asset_id: str) -> str:
        return str(self.assets[asset_id].name)

    def technical(self, asset_id: str, name: str) -> float | None:
        """A numeric technical datum in seconds where its unit is a time (s, min, h)."""
        for prop in self.assets[asset_id].technical_data:
            if prop.name == name and isinstance(prop.value, int | float):
                scale = {"min": 60.0, "h": 3600.0}.get(prop.unit or "", 1.0)
                return float(prop.value) * scale
        return None

    def paths_into(self, machine: str) -> list[tuple[str, ...]]:
        """Chains of buffers/conveyors from each upstream machine into ``machine`` (() = direct)."""
        feeders: dict[str, list[str]] = {}
        for source, targets in self.feeds.items():
            for target in targets:
                feeders.setdefault(target, []).append(source)
        paths: list[tuple[str, ...]] = []

        def back(node: str, chain: tuple[str, ...]) -> None:
            for source in feeders.get(node, []):
                if source in self.machines:
                    paths.append(chain)
                elif source not in chain:
                    back(source, (source, *chain))

        back(machine, ())
        if not paths and feeders.get(machine):
            # buffers with no machine upstream (raw-material stock): their capacity still counts
            stock: list[str] = []

            def collect(node: str) -> None:
                for source in feeders.get(node, []):
                    if source not in stock:
                        stock.append(source)
                        collect(source)

            collect(machine)
            paths.append(tuple(stock))
        return paths


def _topological(nodes: list[str], feeds: dict[str, tuple[str, ...]]) -> list[str] | None:
    indegree = dict.fromkeys(nodes, 0)
    for targets in feeds.values():
        for target in targets:
            indegree[target] += 1
    ready = [n for n in nodes if indegree[n] == 0]
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for target in feeds.get(node, ()):
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    return order if len(order) == len(nodes) else None
