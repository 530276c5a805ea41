"""The loose UCUM check accepts real codes and suggests the right one for common mistakes."""

import pytest

from werk.twin.units import ucum_problem


@pytest.mark.parametrize(
    "code",
    [
        "Cel",
        "bar",
        "mm/s",
        "m/s2",
        "kg/(m.s)",
        "1",
        "{parts}",
        "/min",
        "[psi]",
        "kW.h",
        "10*3/h",
        "%",
        "L/min",
        "mA",
        "kN.m",
    ],
)
def test_valid_codes(code: str) -> None:
    assert ucum_problem(code) is None


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("degC", "Cel"),
        ("rpm", "/min"),
        ("Nm", "N.m"),
        ("psi", "[psi]"),
        ("m/s^2", "m/s2"),
        ("deg C", "Cel"),
    ],
)
def test_mistakes_get_a_suggestion(code: str, hint: str) -> None:
    problem = ucum_problem(code)
    assert problem is not None and f"did you mean {hint!r}" in problem


def test_unknown_atom() -> None:
    assert "unknown unit 'furlong'" in (ucum_problem("furlong/s") or "")
