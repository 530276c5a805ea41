"""Reading problems: werk's own TOML/JSON/CSV and the classic benchmark formats.

- **OR-Library job shop** (ft06, la01, ...): ``jobs machines``, then per job pairs of
  ``machine duration`` (machines from 0). Lines starting with ``#`` are comments.
- **Taillard** (ta01, ...): a header ``jobs machines [...]``, a ``Times`` block (one row per job),
  a ``Machines`` block (machines from 1).
- **Brandimarte / flexible** (``.fjs``, mk01, ...): ``jobs machines [avg]``, then per job the
  number of operations and, per operation, ``k`` followed by ``k`` pairs ``machine duration``
  (machines from 1).
- **werk TOML/JSON**: machines with shifts and maintenance, setup families, products with
  options, orders (configured or with explicit operations); see ``examples/plan/bikes.toml``.
  With a plant (``plant = "plant.toml"``, or ``plant=`` given), the machines steps name that the
  plan does not list are the plant's assets of level machine, working to their calendars.
- **werk CSV**: one row per order, step and eligible machine:
  ``order,operation,machine,duration[,family,release,due,priority]``.

Benchmark machines are named ``M1`` ... and jobs ``J1`` ...; their times are plain units.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werk.core import NS_PER_S, ValidationError, parse_duration, parse_time
from werk.plan.model import Machine, Operation, Option, Order, Problem, Window
from werk.plan.variants import Product, _list, _number, _only, _text, product_from_dict
from werk.twin.calendar_spec import (
    WEEKDAYS,
    Calendar,
    parse_shift,
    parse_timezone,
    parse_weekday,
)

if TYPE_CHECKING:
    from werk.twin.plant import Plant

DEFAULT_SHIFT_HORIZON = "28d"


def load_problem(path: str | Path, *, plant: Plant | None = None) -> Problem:
    """Read a problem file, choosing the reader by extension (and content for ``.txt``).

    ``plant`` (werk ``.toml``/``.json`` plans only) supplies the machines the plan does not list;
    without it, the plan's own ``plant`` key names the plant file, relative to the plan.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ValidationError(
            f"cannot read {path}: {error.strerror}", field="file", rule="readable"
        ) from error
    name = path.stem
    suffix = path.suffix.lower()
    if plant is not None and suffix not in {".toml", ".json"}:
        raise ValidationError(
            f"{path}: a plant applies to werk .toml/.json plans only",
            field="plant",
            rule="plant-format",
        )
    if suffix == ".toml":
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ValidationError(f"{path}: {error}", field="file", rule="toml") from error
        return problem_from_dict(raw, name=name, base_dir=path.parent, plant=plant)
    if suffix == ".json":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValidationError(f"{path}: {error}", field="file", rule="json") from error
        return problem_from_dict(raw, name=name, base_dir=path.parent, plant=plant)
    if suffix == ".csv":
        return read_csv_routing(text, name)
    if suffix == ".fjs":
        return read_brandimarte(text, name)
    return read_benchmark(text, name)


def read_benchmark(text: str, name: str) -> Problem:
    """Taillard, OR-Library or Brandimarte, recognised by content."""
    if any(line.strip().lower() == "times" for line in text.splitlines()):
        return read_taillard(text, name)
    rows = _numeric_rows(text)
    if rows and len(rows[0]) >= 2:
        jobs, machines = int(rows[0][0]), int(rows[0][1])
        body = rows[1 : 1 + jobs]
        if len(rows[0]) == 2 and body and all(len(r) == 2 * machines for r in body):
            return read_orlib(text, name)
    return read_brandimarte(text, name)


def read_orlib(text: str, name: str) -> Problem:
    rows = _numeric_rows(text)
    if not rows or len(rows[0]) < 2:
        raise _format_error(name, "OR-Library", "the first line must be: jobs machines")
    jobs, machines = int(rows[0][0]), int(rows[0][1])
    if len(rows) < jobs + 1:
        raise _format_error(name, "OR-Library", f"{jobs} job lines expected, {len(rows) - 1} found")
    orders = []
    for j, row in enumerate(rows[1 : 1 + jobs]):
        if len(row) % 2:
            raise _format_error(name, "OR-Library", f"job {j + 1}: pairs of machine duration")
        operations = []
        for k in range(0, len(row), 2):
            machine = int(row[k])
            if not 0 <= machine < machines:
                raise _format_error(
                    name, "OR-Library", f"job {j + 1}: machine {machine} outside 0..{machines - 1}"
                )
            operations.append(_op(k // 2, [(machine + 1, int(row[k + 1]))]))
        orders.append(Order(f"J{j + 1}", tuple(operations)))
    return _benchmark(name, machines, orders)


def read_taillard(text: str, name: str) -> Problem:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    try:
        times_at = next(i for i, line in enumerate(lines) if line.lower() == "times")
        machines_at = next(i for i, line in enumerate(lines) if line.lower() == "machines")
    except StopIteration:
        raise _format_error(name, "Taillard", "needs a Times and a Machines block") from None
    header = [row for row in (_numbers(line) for line in lines[:times_at]) if row]
    if not header:
        raise _format_error(name, "Taillard", "no 'jobs machines' line before Times")
    jobs, machines = int(header[-1][0]), int(header[-1][1])
    times = [_numbers(line) for line in lines[times_at + 1 : times_at + 1 + jobs]]
    order_rows = [_numbers(line) for line in lines[machines_at + 1 : machines_at + 1 + jobs]]
    if len(times) != jobs or len(order_rows) != jobs:
        raise _format_error(name, "Taillard", f"{jobs} rows expected in Times and Machines")
    orders = []
    for j, (durations, sequence) in enumerate(zip(times, order_rows, strict=True)):
        if len(durations) != machines or len(sequence) != machines:
            raise _format_error(name, "Taillard", f"job {j + 1}: {machines} values expected")
        orders.append(
            Order(
                f"J{j + 1}",
                tuple(
                    _op(k, [(int(m), int(d))])
                    for k, (m, d) in enumerate(zip(sequence, durations, strict=True))
                ),
            )
        )
    return _benchmark(name, machines, orders)


def read_brandimarte(text: str, name: str) -> Problem:
    rows = _numeric_rows(text)
    if not rows or len(rows[0]) < 2:
        raise _format_error(name, "Brandimarte", "the first line must be: jobs machines [avg]")
    jobs, machines = int(rows[0][0]), int(rows[0][1])
    if len(rows) < jobs + 1:
        raise _format_error(name, "Brandimarte", f"{jobs} job lines expected")
    orders = []
    for j, row in enumerate(rows[1 : 1 + jobs]):
        values = [int(v) for v in row]
        at, operations = 1, []
        try:
            for k in range(values[0]):
                count = values[at]
                pairs = [(values[at + 1 + 2 * i], values[at + 2 + 2 * i]) for i in range(count)]
                at += 1 + 2 * count
                for machine, _ in pairs:
                    if not 1 <= machine <= machines:
                        raise _format_error(
                            name,
                            "Brandimarte",
                            f"job {j + 1}: machine {machine} outside 1..{machines}",
                        )
                operations.append(_op(k, pairs))
        except IndexError:
            raise _format_error(name, "Brandimarte", f"job {j + 1}: the line ends early") from None
        if at != len(values):
            raise _format_error(
                name, "Brandimarte", f"job {j + 1}: {len(values) - at} values left over"
            )
        orders.append(Order(f"J{j + 1}", tuple(operations)))
    return _benchmark(name, machines, orders)


def _op(k: int, pairs: list[tuple[int, int]]) -> Operation:
    return Operation(str(k + 1), tuple(Option(f"M{m}", d) for m, d in pairs))


def _benchmark(name: str, machines: int, orders: list[Order]) -> Problem:
    return Problem(name, tuple(Machine(f"M{i + 1}") for i in range(machines)), tuple(orders))


def _numbers(line: str) -> list[float]:
    try:
        return [float(v) for v in line.replace(",", " ").split()]
    except ValueError:
        return []


def _numeric_rows(text: str) -> list[list[float]]:
    rows = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        values = _numbers(line)
        if values:
            rows.append(values)
    return rows


def _format_error(name: str, kind: str, why: str) -> ValidationError:
    return ValidationError(f"{name}: not a {kind} instance: {why}", field="file", rule=kind.lower())


# -- werk's own format ---------------------------------------------------------------------------

_TOP = {
    "name",
    "start",
    "unit",
    "horizon",
    "setups",
    "machines",
    "products",
    "orders",
    "orders_csv",
    "plant",
}
_ORDER = {
    "id",
    "product",
    "options",
    "quantity",
    "release",
    "due",
    "priority",
    "weight",
    "operations",
}


class _Clock:
    """Turns the file's times (numbers in units, or ISO 8601) into units since ``start``."""

    def __init__(self, start_ns: int | None, unit_s: float) -> None:
        self.start_ns = start_ns
        self.unit_ns = round(unit_s * NS_PER_S)

    def at(self, value: Any, where: str) -> int:
        if isinstance(value, bool):
            raise ValidationError(f"{where}: a time, not {value!r}", field=where, rule="type")
        if isinstance(value, int | float):
            return int(value)
        if isinstance(value, datetime):
            value = value.isoformat()
        if isinstance(value, str):
            if self.start_ns is None:
                raise ValidationError(
                    f"{where}: {value!r} is a timestamp, but the plan has no start "
                    '(give start = "2026-11-24T06:00:00Z" or times in units)',
                    field=where,
                    rule="start-required",
                )
            try:
                ns = parse_time(value, self.start_ns)
            except ValueError as error:
                raise ValidationError(f"{where}: {error}", field=where, rule="time") from None
            return (ns - self.start_ns) // self.unit_ns
        raise ValidationError(f"{where}: a time, not {value!r}", field=where, rule="type")

    def span(self, value: Any, where: str) -> int:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
        try:
            return parse_duration(str(value)) // self.unit_ns
        except ValueError as error:
            raise ValidationError(f"{where}: {error}", field=where, rule="duration") from None


def problem_from_dict(
    raw: Mapping[str, Any],
    *,
    name: str = "plan",
    base_dir: Path | None = None,
    plant: Plant | None = None,
) -> Problem:
    """A problem from werk's TOML/JSON structure; errors name the field (``orders[3].due``).

    With a ``plant`` (given here, or read from the plan's ``plant`` key, a path relative to
    ``base_dir``), a machine that steps name and ``machines`` does not list is the plant's asset
    of level machine, blocked outside its inherited calendar; a listed machine of the plant keeps
    the plant's calendar unless it gives its own ``shifts``.
    """
    if not isinstance(raw, Mapping):
        raise ValidationError("a plan must be a table/object", field="", rule="type")
    _only(raw, _TOP, "plan")
    start_ns = None
    if raw.get("start") is not None:
        start = raw["start"]
        start_text = start.isoformat() if isinstance(start, datetime) else str(start)
        try:
            start_ns = parse_time(start_text, 0)
        except ValueError as error:
            raise ValidationError(f"start: {error}", field="start", rule="time") from None
    unit_s = 60.0 if start_ns is not None else 1.0
    if raw.get("unit") is not None:
        try:
            unit_s = parse_duration(str(raw["unit"])) / NS_PER_S
        except ValueError as error:
            raise ValidationError(f"unit: {error}", field="unit", rule="duration") from None
    clock = _Clock(start_ns, unit_s)
    products = {}
    for i, p in enumerate(_list(raw.get("products"), "products")):
        if not isinstance(p, Mapping):
            raise ValidationError(
                f"products[{i}] must be a table", field=f"products[{i}]", rule="type"
            )
        product = product_from_dict(p, f"products[{i}]")
        products[product.id] = product
    orders = [
        _order(o, f"orders[{i}]", clock, products)
        for i, o in enumerate(_list(raw.get("orders"), "orders"))
    ]
    wheres = [f"orders[{i}]" for i in range(len(orders))]
    if raw.get("orders_csv"):
        csv_path = Path(str(raw["orders_csv"]))
        if base_dir is not None and not csv_path.is_absolute():
            csv_path = base_dir / csv_path
        try:
            text = csv_path.read_text()
        except OSError as error:
            raise ValidationError(
                f"orders_csv: cannot read {csv_path}: {error.strerror}",
                field="orders_csv",
                rule="readable",
            ) from error
        from_csv = read_orders_csv(text, clock, products)
        orders += from_csv
        wheres += [f"orders_csv ({o.id})" for o in from_csv]
    if plant is None and raw.get("plant") is not None:
        plant = _read_plant(raw["plant"], base_dir)
    specs = _machine_specs(
        _list(raw.get("machines"), "machines"), plant, _named_machines(products, orders, wheres)
    )
    horizon = None
    if raw.get("horizon") is not None:
        horizon = clock.span(raw["horizon"], "horizon")
    elif any(calendar is not None for _, _, calendar in specs):
        horizon = clock.span(DEFAULT_SHIFT_HORIZON, "horizon")
    machines = tuple(
        _machine(m, where, clock, horizon, start_ns, calendar) for m, where, calendar in specs
    )
    families = {op.family for o in orders for op in o.operations}
    setups = _setups(raw.get("setups"), families)
    return Problem(
        name=str(raw.get("name", name)),
        machines=machines,
        orders=tuple(orders),
        setups=setups,
        start_ns=start_ns,
        unit_s=unit_s,
        horizon=horizon,
        products=products,
    )


def _read_plant(value: Any, base_dir: Path | None) -> Plant:
    from werk.core import ConfigError
    from werk.twin.plant import load_plant

    if not isinstance(value, str) or not value.strip():
        raise ValidationError("plant must be the path of a plant file", field="plant", rule="type")
    path = Path(value)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    try:
        return load_plant(path)
    except ConfigError as error:
        raise ValidationError(f"plant: {error}", field="plant", rule="plant-file") from error


def _named_machines(
    products: Mapping[str, Product], orders: list[Order], wheres: list[str]
) -> dict[str, tuple[str, str]]:
    """Machine id -> (field, step) of the first step that names it, products' steps included
    (a rush order configured later may need them)."""
    named: dict[str, tuple[str, str]] = {}
    for order, where in zip(orders, wheres, strict=True):
        for k, operation in enumerate(order.operations):
            for option in operation.options:
                named.setdefault(
                    option.machine,
                    (f"{where}.operations[{k}]", f"order {order.id!r}, step {operation.id!r}"),
                )
    for i, product in enumerate(products.values()):
        for k, step in enumerate(product.steps):
            for machine in step.machines:
                named.setdefault(
                    machine,
                    (f"products[{i}].steps[{k}]", f"product {product.id!r}, step {step.id!r}"),
                )
    return named


_Spec = tuple[Mapping[str, Any], str, Calendar | None]


def _machine_specs(
    listed: list[Any], plant: Plant | None, named: Mapping[str, tuple[str, str]]
) -> list[_Spec]:
    """Each machine's table, where it is written, and the calendar it works to: the plan's
    machines first, then the plant's that steps name."""
    specs: list[_Spec] = []
    ids: set[str] = set()
    for i, m in enumerate(listed):
        where = f"machines[{i}]"
        table: Mapping[str, Any] = {"id": m} if isinstance(m, str) else m
        if not isinstance(table, Mapping):
            raise ValidationError(f"{where} must be a table or an id", field=where, rule="type")
        _only(table, _MACHINE, where)
        machine_id = _text(table, "id", where)
        calendar = _calendar(table, where)
        if calendar is None and plant is not None and _plant_machine(plant, machine_id):
            calendar = plant.calendar_of(machine_id)
            if "name" not in table:
                table = {**table, "name": plant.asset(machine_id).name}
        specs.append((table, where, calendar))
        ids.add(machine_id)
    if plant is None:
        return specs
    for machine_id, (field, step) in named.items():
        if machine_id in ids or machine_id not in plant:
            continue  # unknown machines are explained by check(), naming the step
        asset = plant.asset(machine_id)
        if asset.level != "machine":
            raise ValidationError(
                f"{step}: {machine_id!r} is a {asset.level} of plant {plant.id!r}, not a "
                "machine; a step runs on an asset of level machine",
                field=field,
                rule="not-a-machine",
            )
        specs.append(
            (
                {"id": machine_id, "name": asset.name},
                f"plant {plant.id!r}, machine {machine_id!r}",
                plant.calendar_of(machine_id),
            )
        )
    return specs


def _plant_machine(plant: Plant, machine_id: str) -> bool:
    return machine_id in plant and plant.asset(machine_id).level == "machine"


_MACHINE = {"id", "name", "shifts", "days", "timezone", "maintenance", "down"}


def _machine(
    raw: Mapping[str, Any],
    where: str,
    clock: _Clock,
    horizon: int | None,
    start_ns: int | None,
    calendar: Calendar | None,
) -> Machine:
    blocked: list[Window] = []
    for key in ("maintenance", "down"):
        for i, w in enumerate(_list(raw.get(key), f"{where}.{key}")):
            at = f"{where}.{key}[{i}]"
            if not isinstance(w, Mapping):
                raise ValidationError(
                    f"{at} must be a table with start and end", field=at, rule="type"
                )
            start = clock.at(w.get("start"), f"{at}.start")
            end = clock.at(w.get("end"), f"{at}.end")
            if end <= start:
                raise ValidationError(
                    f"{at}: end must be after start", field=f"{at}.end", rule="start-before-end"
                )
            blocked.append(Window(start, end, str(w.get("reason", key))))
    if calendar is not None:
        if start_ns is None or horizon is None:
            raise ValidationError(
                f"{where}: shifts need the plan's start time",
                field=f"{where}.shifts" if raw.get("shifts") else "start",
                rule="start-required",
            )
        blocked += _off_shift(calendar, start_ns, clock, horizon)
    return Machine(
        _text(raw, "id", where),
        str(raw.get("name", "")),
        tuple(sorted(blocked, key=lambda w: (w.start, w.end))),
    )


def _calendar(raw: Mapping[str, Any], where: str) -> Calendar | None:
    """A listed machine's own ``shifts`` (``HH:MM`` pairs), ``days`` and ``timezone``."""
    if not raw.get("shifts"):
        for key in ("days", "timezone"):
            if raw.get(key):
                raise ValidationError(
                    f"{where}.{key} needs shifts", field=f"{where}.{key}", rule="shifts-required"
                )
        return None
    shifts = []
    for i, pair in enumerate(_list(raw["shifts"], f"{where}.shifts")):
        at = f"{where}.shifts[{i}]"
        try:
            shifts.append(parse_shift(pair))
        except ValueError as error:
            raise ValidationError(f"{at}: {error}", field=at, rule="shift") from None
    days = []
    for d in _list(raw.get("days"), f"{where}.days"):
        try:
            days.append(parse_weekday(d))
        except ValueError as error:
            raise ValidationError(
                f"{where}.days: {error}", field=f"{where}.days", rule="weekday"
            ) from None
    timezone = "UTC"
    if raw.get("timezone") is not None:
        try:
            timezone = parse_timezone(raw["timezone"])
        except ValueError as error:
            raise ValidationError(
                f"{where}.timezone: {error}", field=f"{where}.timezone", rule="timezone"
            ) from None
    return Calendar(tuple(shifts), tuple(d for d in WEEKDAYS if d in days) or WEEKDAYS, timezone)


def _off_shift(calendar: Calendar, start_ns: int, clock: _Clock, horizon: int) -> list[Window]:
    """The calendar's off-shift time up to ``horizon`` as blocked windows (in units, rounded
    outwards: a part-unit of off-shift time blocks the whole unit)."""
    end_ns = start_ns + horizon * clock.unit_ns
    windows = []
    for closes, opens in calendar.closed_between(start_ns, end_ns):
        begin = (closes - start_ns) // clock.unit_ns
        end = min(horizon, -(-(opens - start_ns) // clock.unit_ns))
        if end > begin:
            windows.append(Window(begin, end, "off shift"))
    return windows


def order_from_dict(raw: Mapping[str, Any], problem: Problem, where: str = "order") -> Order:
    """One more order for ``problem`` (a rush order), configured from its product catalog."""
    return _order(raw, where, _Clock(problem.start_ns, problem.unit_s), problem.products)


def time_of(problem: Problem, value: Any, where: str) -> int:
    """A time for ``problem``: a number of units, or ISO 8601 for plans with a start."""
    return _Clock(problem.start_ns, problem.unit_s).at(value, where)


def _order(raw: Any, where: str, clock: _Clock, products: Mapping[str, Product]) -> Order:
    if not isinstance(raw, Mapping):
        raise ValidationError(f"{where} must be a table", field=where, rule="type")
    _only(raw, _ORDER, where)
    order_id = _text(raw, "id", where)
    quantity = raw.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValidationError(
            f"{where}.quantity must be a whole number", field=f"{where}.quantity", rule="type"
        )
    choices = raw.get("options") or {}
    if not isinstance(choices, Mapping):
        raise ValidationError(
            f"{where}.options must be a table", field=f"{where}.options", rule="type"
        )
    if raw.get("product") is not None:
        if raw.get("operations") is not None:
            raise ValidationError(
                f"{where}: give a product or operations, not both",
                field=f"{where}.operations",
                rule="exclusive",
            )
        product_id = str(raw["product"])
        if product_id not in products:
            raise ValidationError(
                f"{where}: unknown product {product_id!r} (products: "
                f"{', '.join(products) or 'none'})",
                field=f"{where}.product",
                rule="unknown-product",
            )
        operations = products[product_id].configure(choices, quantity, where=where)
    else:
        product_id = ""
        operations = tuple(
            _operation(op, f"{where}.operations[{k}]", k)
            for k, op in enumerate(_list(raw.get("operations"), f"{where}.operations"))
        )
    weight = raw.get("priority", raw.get("weight", 1))
    return Order(
        id=order_id,
        operations=operations,
        release=clock.at(raw.get("release", 0), f"{where}.release"),
        due=None if raw.get("due") is None else clock.at(raw["due"], f"{where}.due"),
        weight=int(_number(weight, f"{where}.priority")),
        product=product_id,
        options={str(k): str(v) for k, v in choices.items()},
        quantity=quantity,
    )


def _operation(raw: Any, where: str, k: int) -> Operation:
    if not isinstance(raw, Mapping):
        raise ValidationError(f"{where} must be a table", field=where, rule="type")
    _only(raw, {"id", "machines", "family"}, where)
    machines = raw.get("machines")
    if machines is None:
        machines = {}
    if not isinstance(machines, Mapping):
        raise ValidationError(
            f"{where}.machines must be a table of machine -> duration",
            field=f"{where}.machines",
            rule="type",
        )
    options = tuple(
        Option(str(m), _duration(d, f"{where}.machines.{m}")) for m, d in machines.items()
    )
    return Operation(str(raw.get("id", k + 1)), options, str(raw.get("family", "")))


def _duration(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{where} must be a number, not {value!r}", field=where, rule="type")
    return int(value)


def _setups(raw: Any, families: set[str]) -> dict[tuple[str, str], int]:
    """``{default = 10, "red->blue" = 15}`` or a list of ``{from, to, time}`` -> a pair table."""
    if raw is None:
        return {}
    table: dict[tuple[str, str], int] = {}
    default = 0
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            if key == "default":
                default = int(_number(value, "setups.default"))
                continue
            before, arrow, after = str(key).partition("->")
            if not arrow:
                raise ValidationError(
                    f"setups: {key!r} must be 'from->to' or default",
                    field=f"setups.{key}",
                    rule="setup",
                )
            table[(before.strip(), after.strip())] = int(_number(value, f"setups.{key}"))
    else:
        for i, row in enumerate(_list(raw, "setups")):
            if not isinstance(row, Mapping) or not {"from", "to", "time"} <= set(row):
                raise ValidationError(
                    f"setups[{i}] needs from, to and time", field=f"setups[{i}]", rule="setup"
                )
            table[(str(row["from"]), str(row["to"]))] = int(_number(row["time"], f"setups[{i}]"))
    if default:
        for a in families:
            for b in families:
                if a != b:
                    table.setdefault((a, b), default)
    return table


def read_orders_csv(text: str, clock: _Clock, products: Mapping[str, Product]) -> list[Order]:
    """Configured orders, a row each: ``order,product,quantity,release,due,priority,<option>...``"""
    reader = csv.DictReader(io.StringIO(text))
    fixed = {"order", "product", "quantity", "release", "due", "priority"}
    if reader.fieldnames is None or not {"order", "product"} <= set(reader.fieldnames):
        raise ValidationError(
            "orders CSV needs the columns order and product", field="orders_csv", rule="columns"
        )
    orders = []
    for n, row in enumerate(reader, start=2):
        where = f"orders_csv line {n}"
        raw: dict[str, Any] = {"id": row["order"], "product": row["product"]}
        for key in ("release", "due"):
            if row.get(key):
                raw[key] = _csv_value(row[key])
        for key in ("quantity", "priority"):
            if row.get(key):
                raw[key] = _csv_int(row[key], f"{where}.{key}")
        raw["options"] = {k: v for k, v in row.items() if k not in fixed and v not in (None, "")}
        orders.append(_order(raw, where, clock, products))
    return orders


def read_csv_routing(text: str, name: str) -> Problem:
    """Explicit routings: a row per order, step and eligible machine (steps in file order)."""
    reader = csv.DictReader(io.StringIO(text))
    need = {"order", "operation", "machine", "duration"}
    if reader.fieldnames is None or not need <= set(reader.fieldnames):
        raise ValidationError(
            f"{name}: routing CSV needs the columns {', '.join(sorted(need))} "
            "(optional: family, release, due, priority)",
            field="file",
            rule="columns",
        )
    orders: dict[str, dict[str, Any]] = {}
    machines: dict[str, None] = {}
    for n, row in enumerate(reader, start=2):
        where = f"line {n}"
        order = orders.setdefault(row["order"], {"id": row["order"], "steps": {}})
        step = order["steps"].setdefault(row["operation"], {"options": [], "family": ""})
        step["options"].append(
            Option(row["machine"], _csv_int(row["duration"], f"{where}.duration"))
        )
        step["family"] = row.get("family") or step["family"]
        machines[row["machine"]] = None
        for key in ("release", "due"):
            if row.get(key):
                order[key] = _csv_int(row[key], f"{where}.{key}")
        if row.get("priority"):
            order["priority"] = _csv_int(row["priority"], f"{where}.priority")
    return Problem(
        name,
        tuple(Machine(m) for m in machines),
        tuple(
            Order(
                o["id"],
                tuple(
                    Operation(k, tuple(s["options"]), s["family"]) for k, s in o["steps"].items()
                ),
                release=o.get("release", 0),
                due=o.get("due"),
                weight=o.get("priority", 1),
            )
            for o in orders.values()
        ),
    )


def _csv_int(value: str, where: str) -> int:
    try:
        return int(float(value))
    except ValueError:
        raise ValidationError(
            f"{where}: {value!r} is not a number", field=where, rule="type"
        ) from None


def _csv_value(value: str) -> Any:
    try:
        return int(float(value))
    except ValueError:
        return value
