"""Gantt charts of a schedule: a self-contained HTML page (inline SVG, no scripts, no CDN) or a PNG
(matplotlib, part of the ``plan`` extra). One row per machine; one colour per order; changeovers
hatched before an operation; blocked windows (off shift, maintenance, breakdowns) in grey.
"""

from __future__ import annotations

import colorsys
import hashlib
import html
from pathlib import Path
from typing import Any

from werk.core import MissingExtraError, ValidationError, iso
from werk.plan.kpi import kpis
from werk.plan.model import Problem, Schedule

ROW = 28
LEFT = 110
WIDTH = 1100
TOP = 30


def colour(order_id: str) -> str:
    """A stable, readable colour per order."""
    digest = hashlib.sha1(order_id.encode()).digest()
    hue = digest[0] / 255
    red, green, blue = colorsys.hls_to_rgb(hue, 0.62, 0.55)
    return f"#{int(red * 255):02x}{int(green * 255):02x}{int(blue * 255):02x}"


def _label(problem: Problem, units: int) -> str:
    ns = problem.to_ns(units)
    return str(units) if ns is None else iso(ns)[5:16].replace("T", " ")


def svg(problem: Problem, schedule: Schedule) -> str:
    machines = [m.id for m in problem.machines] or sorted({a.machine for a in schedule.assignments})
    end = max((a.end for a in schedule.assignments), default=1) or 1
    scale = WIDTH / end
    height = TOP + ROW * len(machines) + 30
    row_of = {m: i for i, m in enumerate(machines)}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 20}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eee"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="2"/></pattern></defs>',
    ]
    for i in range(11):  # time axis
        t = round(end * i / 10)
        x = LEFT + t * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{height - 26}" stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{TOP - 8}" text-anchor="middle" fill="#555">'
            f"{html.escape(_label(problem, t))}</text>"
        )
    for machine in problem.machines:
        y = TOP + row_of[machine.id] * ROW
        for w in machine.blocked:
            if w.end <= 0 or w.start >= end:
                continue
            x0, x1 = LEFT + max(w.start, 0) * scale, LEFT + min(w.end, end) * scale
            parts.append(
                f'<rect x="{x0:.1f}" y="{y + 2}" width="{max(x1 - x0, 0.5):.1f}" '
                f'height="{ROW - 4}" fill="#d0d0d0"><title>{html.escape(machine.id)}: '
                f"{html.escape(w.reason or 'blocked')} {html.escape(_label(problem, w.start))} - "
                f"{html.escape(_label(problem, w.end))}</title></rect>"
            )
    for machine_id, row in row_of.items():
        y = TOP + row * ROW
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + ROW / 2 + 4}" text-anchor="end">'
            f"{html.escape(machine_id)}</text>"
        )
    for a in schedule.assignments:
        y = TOP + row_of.get(a.machine, 0) * ROW
        x0, x1 = LEFT + a.start * scale, LEFT + a.end * scale
        if a.setup:
            xs = x0 - a.setup * scale
            parts.append(
                f'<rect x="{xs:.1f}" y="{y + 6}" width="{a.setup * scale:.1f}" '
                f'height="{ROW - 12}" fill="url(#hatch)"><title>changeover '
                f"{a.setup} before {html.escape(a.order)}/{html.escape(a.operation)}"
                "</title></rect>"
            )
        title = (
            f"order {a.order}, step {a.operation} on {a.machine}: "
            f"{_label(problem, a.start)} - {_label(problem, a.end)}"
            + (f" (changeover {a.setup})" if a.setup else "")
        )
        parts.append(
            f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 0.8):.1f}" height="{ROW - 6}" '
            f'fill="{colour(a.order)}" stroke="#333" stroke-width="0.4" rx="2">'
            f"<title>{html.escape(title)}</title></rect>"
        )
        if x1 - x0 > 7 * (len(a.order) + 1):
            parts.append(
                f'<text x="{(x0 + x1) / 2:.1f}" y="{y + ROW / 2 + 4}" '
                f'text-anchor="middle" pointer-events="none">{html.escape(a.order)}'
                "</text>"
            )
    parts.append("</svg>")
    return "\n".join(parts)


def html_page(problem: Problem, schedule: Schedule) -> str:
    figures = kpis(problem, schedule)
    gap = "" if schedule.gap is None else f", gap {schedule.gap:.1%}"
    bound = "" if schedule.bound is None else f", bound {schedule.bound:g}"
    rows = "".join(
        f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in figures.items()
        if k != "utilisation"
    )
    use = "".join(
        f"<tr><th>{html.escape(m)}</th><td>{v:.0%}</td></tr>"
        for m, v in figures["utilisation"].items()
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in schedule.notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>werk plan: {html.escape(problem.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-right: 2em; }}
th, td {{ text-align: left; padding: 2px 10px; border-bottom: 1px solid #eee; }}
.tables {{ display: flex; flex-wrap: wrap; }}
</style></head><body>
<h1>{html.escape(problem.name)}</h1>
<p>{html.escape(schedule.objective_name)} {schedule.objective:g} ({html.escape(schedule.status)},
{html.escape(schedule.solver)}{bound}{gap}, {schedule.elapsed_s:.2f} s);
{len(problem.orders)} orders, {len(schedule.assignments)} operations on
{len(problem.machines)} machines.</p>
{svg(problem, schedule)}
<div class="tables"><table>{rows}</table><table><tr><th>machine</th><th>utilisation</th></tr>
{use}</table></div>
<ul>{notes}</ul>
</body></html>
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def png(problem: Problem, schedule: Schedule, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise MissingExtraError("matplotlib", "plan") from error
    machines = [m.id for m in problem.machines]
    row_of = {m: i for i, m in enumerate(machines)}
    figure, axes = plt.subplots(figsize=(14, 1 + 0.45 * len(machines)))
    try:
        for machine in problem.machines:
            bars = [(w.start, w.end - w.start) for w in machine.blocked if w.end > 0]
            if bars:
                axes.broken_barh(bars, (row_of[machine.id] - 0.4, 0.8), facecolors="#d0d0d0")
        for a in schedule.assignments:
            y = row_of[a.machine]
            if a.setup:
                axes.broken_barh(
                    [(a.start - a.setup, a.setup)],
                    (y - 0.25, 0.5),
                    facecolors="#eeeeee",
                    edgecolors="#999999",
                    hatch="//",
                )
            axes.broken_barh(
                [(a.start, a.end - a.start)],
                (y - 0.4, 0.8),
                facecolors=colour(a.order),
                edgecolors="#333333",
                linewidth=0.4,
            )
        axes.set_yticks(range(len(machines)), machines)
        axes.invert_yaxis()
        axes.set_xlim(0, max((a.end for a in schedule.assignments), default=1))
        axes.set_xlabel(
            "time (units)"
            if problem.start_ns is None
            else f"time ({problem.unit_s:g} s units from {iso(problem.start_ns)[:16]}Z)"
        )
        axes.set_title(
            f"{problem.name}: {schedule.objective_name} {schedule.objective:g} ({schedule.status})"
        )
        figure.tight_layout()
        figure.savefig(path, dpi=110)
    finally:
        plt.close(figure)


def write_gantt(path: str | Path, problem: Problem, schedule: Schedule) -> Path:
    """Write ``.html`` (or ``.htm``, ``.svg``) or ``.png``, chosen by the file's extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        path.write_text(html_page(problem, schedule))
    elif suffix == ".svg":
        path.write_text(svg(problem, schedule))
    elif suffix == ".png":
        png(problem, schedule, path)
    else:
        raise ValidationError(
            f"gantt file {path.name}: use .html, .svg or .png", field="gantt", rule="extension"
        )
    return path
