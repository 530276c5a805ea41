"""A loose check of UCUM unit codes, with suggestions for the usual mistakes.

UCUM (https://ucum.org) is the unit language of werk. This is no full UCUM parser: it splits a
code into atoms (``mm``, ``s-1``, ``[psi]``, ``{parts}``) joined by ``.`` and ``/`` and checks each
atom against the common units with their metric prefixes. That catches what plant engineers
really type (``degC``, ``rpm``, ``Nm``, ``m/s^2``, spaces) without refusing rarer valid codes
written in brackets.
"""

from __future__ import annotations

import difflib
import re

# Units that take metric prefixes (k, M, m, u, ...).
_METRIC = frozenset(
    [
        "m",
        "g",
        "s",
        "A",
        "K",
        "mol",
        "cd",
        "rad",
        "sr",
        "Hz",
        "N",
        "Pa",
        "J",
        "W",
        "C",
        "V",
        "F",
        "Ohm",
        "S",
        "Wb",
        "T",
        "H",
        "lm",
        "lx",
        "Bq",
        "Gy",
        "Sv",
        "L",
        "l",
        "bar",
        "eV",
        "t",
        "B",
        "By",
        "bit",
        "Bd",
        "VA",
        "var",
        "Cel",
    ]
)
# Units that take no prefix.
_PLAIN = frozenset({"min", "h", "d", "wk", "mo", "a", "deg", "gon", "%", "1", "u", "ar"})
# "da" first: the only two-letter metric prefix, tried before "d".
_PREFIXES = (
    "da",
    *[
        "Y",
        "Z",
        "E",
        "P",
        "T",
        "G",
        "M",
        "k",
        "h",
        "d",
        "c",
        "m",
        "u",
        "n",
        "p",
        "f",
        "a",
        "z",
        "y",
    ],
    "Ki",
    "Mi",
    "Gi",
    "Ti",
)

# What people write, and the UCUM code they mean.
COMMON_MISTAKES: dict[str, str] = {
    "degC": "Cel",
    "°C": "Cel",
    "C°": "Cel",
    "celsius": "Cel",
    "Celsius": "Cel",
    "degree_Celsius": "Cel",
    "degF": "[degF]",
    "°F": "[degF]",
    "fahrenheit": "[degF]",
    "rpm": "/min",
    "RPM": "/min",
    "1/min": "/min",
    "psi": "[psi]",
    "PSI": "[psi]",
    "Nm": "N.m",
    "kNm": "kN.m",
    "kWh": "kW.h",
    "Wh": "W.h",
    "MWh": "MW.h",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "mins": "min",
    "minute": "min",
    "minutes": "min",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "pct": "%",
    "percent": "%",
    "ppm": "[ppm]",
    "ppb": "[ppb]",
    "in": "[in_i]",
    "inch": "[in_i]",
    "ft": "[ft_i]",
    "lb": "[lb_av]",
    "lbs": "[lb_av]",
    "gal": "[gal_us]",
    "ohm": "Ohm",
    "Ω": "Ohm",
    "kohm": "kOhm",
    "µm": "um",
    "μm": "um",
    "µs": "us",
    "m/s^2": "m/s2",
    "m/s²": "m/s2",
    "m²": "m2",
    "m³": "m3",
    "m3/hr": "m3/h",
    "l/m": "L/min",
    "lpm": "L/min",
    "pieces": "{pieces}",
    "pcs": "{pieces}",
    "parts": "{parts}",
    "count": "1",
    "none": "1",
    "": "1",
    "-": "1",
}

_TOKEN = re.compile(
    r"""
    (?P<annotation>\{[^{}]*\})
  | (?P<bracket>\[[A-Za-z0-9_.%'-]+\])(?P<bexp>[+-]?\d+)?
  | (?P<ten>10[*^][+-]?\d+)
  | (?P<number>\d+)
  | (?P<atom>[A-Za-z%']+)(?P<exp>[+-]?\d+)?
  | (?P<op>[./()])
    """,
    re.VERBOSE,
)


def _known_atom(atom: str) -> bool:
    if atom in _METRIC or atom in _PLAIN:
        return True
    return any(atom.startswith(p) and atom[len(p) :] in _METRIC for p in _PREFIXES)


def ucum_problem(code: str) -> str | None:
    """None when ``code`` looks like a UCUM code; otherwise what is wrong with it, with a hint."""
    if code in COMMON_MISTAKES and code != "1":
        return f"{code!r} is not a UCUM code; did you mean {COMMON_MISTAKES[code]!r}?"
    if any(c.isspace() for c in code):
        compact = code.replace(" ", "")
        suggestion = _suggest(compact)
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        return f"{code!r}: a UCUM code has no spaces{hint}"

    position = 0
    depth = 0
    previous = "op"
    while position < len(code):
        match = _TOKEN.match(code, position)
        if match is None:
            return f"{code!r}: character {code[position]!r} has no place in a UCUM code"
        kind = next(
            k for k in ("annotation", "bracket", "ten", "number", "atom", "op") if match.group(k)
        )
        text = match.group(0)
        if kind == "op":
            if text == "(":
                depth += 1
            elif text == ")":
                depth -= 1
                if depth < 0:
                    return f"{code!r}: ')' without '('"
            elif previous == "op" and position > 0 and code[position - 1] in "./":
                return f"{code!r}: two operators in a row"
        elif kind == "atom":
            atom = match.group("atom")
            if not _known_atom(atom):
                guess = _suggest(code)
                tail = (
                    f"; did you mean {guess!r}?" if guess else " (write rarer units in [brackets])"
                )
                return f"{code!r}: unknown unit {atom!r}{tail}"
        previous = "op" if kind == "op" else "unit"
        position = match.end()
    if depth:
        return f"{code!r}: '(' without ')'"
    if code.endswith((".", "/")):
        return f"{code!r}: ends with an operator"
    return None


def _suggest(code: str) -> str | None:
    if code in COMMON_MISTAKES:
        return COMMON_MISTAKES[code]
    lowered = {k.lower(): v for k, v in COMMON_MISTAKES.items() if k}
    if code.lower() in lowered:
        return lowered[code.lower()]
    if ucum_problem_free(code):
        return code
    close = difflib.get_close_matches(code, [k for k in COMMON_MISTAKES if k], n=1, cutoff=0.8)
    return COMMON_MISTAKES[close[0]] if close else None


def ucum_problem_free(code: str) -> bool:
    """True for codes that pass the check (without computing a hint)."""
    return bool(code) and not any(c.isspace() for c in code) and _syntax_ok(code)


def _syntax_ok(code: str) -> bool:
    position = 0
    while position < len(code):
        match = _TOKEN.match(code, position)
        if match is None:
            return False
        atom = match.group("atom")
        if atom is not None and not _known_atom(atom):
            return False
        position = match.end()
    return code.count("(") == code.count(")")
