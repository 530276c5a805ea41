"""A made-to-order bicycle line: the mass-customisation case for tests, examples and benchmarks.

Four options (frame, colour, gears, size) give 90 variants; a variant's routing depends on its
frame (carbon is bonded, not welded) and its durations on the options. Paint changes colour and
welders change frame material with a changeover. Two shifts a day on weekdays, one maintenance
window. ``bicycle_plan(200)`` is the 200-order case of docs/benchmarks.md.
"""

from __future__ import annotations

import random
from typing import Any

from werk.plan.formats import problem_from_dict
from werk.plan.model import Problem

START = "2027-03-01T06:00:00Z"  # a Monday

BICYCLE: dict[str, Any] = {
    "id": "bicycle",
    "options": {
        "frame": ["steel", "alu", "carbon"],
        "color": ["red", "blue", "black", "white", "green"],
        "gears": ["3", "8", "11"],
        "size": ["S", "M"],
    },
    "steps": [
        {"id": "cut", "machines": {"saw1": 3, "saw2": 4}, "batch": 5, "family": "{frame}"},
        {
            "id": "weld",
            "machines": {"weld1": 6, "weld2": 7, "robot": 4},
            "batch": 5,
            "when": {"frame": ["steel", "alu"]},
            "family": "{frame}",
        },
        {"id": "bond", "machines": {"bond": 10}, "batch": 10, "when": {"frame": "carbon"}},
        {
            "id": "paint",
            "machines": {"paint1": 4, "paint2": 5},
            "batch": 5,
            "family": "{color}",
            "factors": {"color=black": 1.25},
        },
        {
            "id": "assemble",
            "machines": {"assembly1": 8, "assembly2": 9},
            "factors": {"gears=11": 1.4, "gears=8": 1.2},
        },
        {"id": "test", "machines": {"test": 2}, "batch": 3},
    ],
}

MACHINES: list[dict[str, Any]] = [
    {"id": m, "shifts": [["06:00", "22:00"]], "days": ["mon", "tue", "wed", "thu", "fri"]}
    for m in (
        "saw1",
        "saw2",
        "weld1",
        "weld2",
        "robot",
        "bond",
        "paint1",
        "paint2",
        "assembly1",
        "assembly2",
        "test",
    )
]
MACHINES[6]["maintenance"] = [
    {"start": "2027-03-02T10:00:00Z", "end": "2027-03-02T14:00:00Z", "reason": "filter change"}
]


def bicycle_orders(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` customer orders over a week: random variants, quantities, dates, priorities."""
    rng = random.Random(seed)
    options = BICYCLE["options"]
    orders = []
    for i in range(count):
        release_h = rng.uniform(0, 48)
        slack_h = rng.choice([8, 16, 24, 48])
        orders.append(
            {
                "id": f"O{i + 1:03d}",
                "product": "bicycle",
                "options": {k: rng.choice(v) for k, v in options.items()},
                "quantity": rng.choice([1, 1, 2, 3, 5]),
                "release": round(release_h * 60),
                "due": round((release_h + slack_h) * 60),
                "priority": rng.choice([1, 1, 1, 2, 5]),
            }
        )
    return orders


def bicycle_plan(count: int = 200, seed: int = 7) -> Problem:
    return problem_from_dict(
        {
            "name": f"bicycles-{count}",
            "start": START,
            "unit": "1min",
            "horizon": "14d",
            "setups": {"default": 10, "black->white": 30, "black->red": 20, "steel->alu": 20},
            "machines": MACHINES,
            "products": [BICYCLE],
            "orders": bicycle_orders(count, seed),
        }
    )
