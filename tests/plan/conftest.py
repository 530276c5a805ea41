from __future__ import annotations

from pathlib import Path

import pytest

from werk.plan import Problem, problem_from_dict

EXAMPLES = Path(__file__).parents[2] / "examples" / "plan"

SMALL = {
    "name": "small",
    "setups": {"red->blue": 3, "blue->red": 5},
    "machines": [
        "saw",
        {"id": "paint", "maintenance": [{"start": 12, "end": 20, "reason": "clean"}]},
        "paint2",
    ],
    "orders": [
        {
            "id": "A",
            "due": 20,
            "priority": 3,
            "operations": [
                {"id": "cut", "machines": {"saw": 4}},
                {"id": "coat", "machines": {"paint": 6, "paint2": 9}, "family": "red"},
            ],
        },
        {
            "id": "B",
            "release": 2,
            "due": 15,
            "operations": [
                {"id": "cut", "machines": {"saw": 3}},
                {"id": "coat", "machines": {"paint": 5}, "family": "blue"},
            ],
        },
        {
            "id": "C",
            "due": 40,
            "operations": [
                {"id": "cut", "machines": {"saw": 6}},
                {"id": "coat", "machines": {"paint": 4, "paint2": 4}, "family": "red"},
            ],
        },
    ],
}


@pytest.fixture
def small() -> Problem:
    return problem_from_dict(SMALL)


@pytest.fixture
def bikes() -> Problem:
    from werk.plan import load_problem

    return load_problem(EXAMPLES / "bikes.toml")
