"""Sensor models of the virtual plant: what a machine's signals look like, block by block.

Every machine has six signals, generated with numpy for a whole block of samples at once:

========== ======== ==================================================================
quantity   unit     model
========== ======== ==================================================================
temperature Cel     first-order lag toward a target (ambient when stopped, working
                    temperature when running) that rises with wear; noise
vibration  mm/s     RMS velocity: a base level while running, rising exponentially
                    with wear (and faster with a worn bearing); noise
current    A        spindle current: load plus friction that grows with wear
pressure   bar      hydraulic pressure: working pressure while running, holding
                    pressure otherwise; slow drift and noise
parts      {parts}  cycle counter: one count per finished cycle while running
state      code     the machine state, a small integer (:class:`MachineState`)
========== ======== ==================================================================

The hidden **health** of a machine is its wear ``w``: 0 new, 1 failed. Wear grows only while the
machine runs, by a gamma process (monotone, random increments) whose mean rate gives a mean
operating time to failure of ``mttf_h`` hours. Temperature, vibration and current follow
``g(w) = (exp(k·w) − 1) / (exp(k) − 1)``: flat for most of a machine's life, steep near the end —
the shape anomaly detection and remaining-useful-life models learn. When ``w`` crosses 1 the
machine fails (state ``DOWN``) for a repair time; the repair resets wear to 0 and clears injected
faults. :meth:`SensorBank.rul_s` is the true remaining useful life (expected operating seconds).

Faults (:meth:`SensorBank.inject`): ``bearing-wear`` multiplies the wear rate by 8 and doubles
the vibration's wear term; ``overheating`` (a failed cooler) raises the working temperature by
25 °C and the wear rate by 2. Both last until the next repair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from werk.core import ConfigError
from werk.core.machine import MachineState

Array = npt.NDArray[np.float64]


QUANTITIES = ("temperature", "vibration", "current", "pressure", "parts", "state")
FAULTS = ("bearing-wear", "overheating")
AMBIENT_C = 25.0
_K = 3.0  # steepness of the wear signature
_G_NORM = float(np.expm1(_K))


@dataclass(frozen=True, slots=True)
class Profile:
    """A machine's nominal values (the demo plant's presses and oven share one by default)."""

    temperature: float = 45.0  # working temperature at wear 0
    temperature_rise: float = 15.0  # more at wear 1
    time_constant_s: float = 300.0  # thermal lag
    vibration: float = 2.5
    vibration_gain: float = 4.0  # vibration at wear 1 is vibration * (1 + gain)
    current: float = 32.0
    current_rise: float = 12.0
    pressure: float = 180.0
    holding_pressure: float = 60.0
    cycle_s: float = 2.0  # one part per cycle while running
    mttf_h: float = 8.0  # mean operating hours from new to failure
    repair_s: float = 600.0
    # mean dwell (s) in a stop before running again, and the share of each kind of stop
    stop_every_s: float = 900.0
    stop_s: float = 60.0


_STOPS = (MachineState.IDLE, MachineState.BLOCKED, MachineState.STARVED, MachineState.SETUP)
_STOP_P = (0.3, 0.25, 0.25, 0.2)


class SimError(ConfigError):
    """An unknown machine or fault."""


def wear_signature(wear: Array | float) -> Array:
    """``g(w)``: 0 at wear 0, 1 at wear 1, exponential in between."""
    return np.expm1(_K * np.clip(wear, 0.0, 1.5)) / _G_NORM


class SensorBank:
    """The sensor models of ``machines``; :meth:`block` advances them all by a block of samples.

    ``initial_wear`` (default: random in [0, 0.5)) lets machines start at different ages.
    """

    def __init__(
        self,
        machines: Sequence[str],
        *,
        profiles: Mapping[str, Profile] | None = None,
        seed: int = 7,
        initial_wear: Sequence[float] | None = None,
    ) -> None:
        if not machines:
            raise SimError("a sensor bank needs at least one machine")
        self.machines = tuple(machines)
        self._index = {m: i for i, m in enumerate(self.machines)}
        n = len(self.machines)
        profiles = profiles or {}
        p = [profiles.get(m, Profile()) for m in self.machines]
        self.profiles = tuple(p)

        def col(name: str) -> Array:
            return np.array([getattr(x, name) for x in p], dtype=np.float64)

        self._temp, self._temp_rise, self._tau = (
            col("temperature"),
            col("temperature_rise"),
            col("time_constant_s"),
        )
        self._vib, self._vib_gain = col("vibration"), col("vibration_gain")
        self._cur, self._cur_rise = col("current"), col("current_rise")
        self._press, self._hold = col("pressure"), col("holding_pressure")
        self._cycle_s, self._repair_s = col("cycle_s"), col("repair_s")
        self._stop_every_s, self._stop_s = col("stop_every_s"), col("stop_s")
        self._rate = 1.0 / (col("mttf_h") * 3600.0)  # mean wear per running second
        self.random = np.random.default_rng(seed)
        self.wear = (
            np.array(initial_wear, dtype=np.float64)
            if initial_wear is not None
            else self.random.uniform(0.0, 0.5, n)
        )
        self.state = np.full(n, int(MachineState.RUNNING), dtype=np.int64)
        self.state_left_s = self.random.exponential(self._stop_every_s)
        self.temperature = self._temp + self._temp_rise * wear_signature(self.wear)
        self.drift = np.zeros(n)
        self.parts = np.zeros(n)
        self._cycle_phase = self.random.uniform(0.0, 1.0, n)
        self.wear_factor = np.ones(n)
        self.vibration_factor = np.ones(n)
        self.heat = np.zeros(n)
        self.faults: list[set[str]] = [set() for _ in range(n)]
        self.failures = np.zeros(n, dtype=np.int64)

    # -- faults ----------------------------------------------------------------------------------

    def inject(self, machine: str, fault: str) -> None:
        """Start ``fault`` on ``machine`` (it lasts until the next repair)."""
        i = self._machine(machine)
        if fault not in FAULTS:
            raise SimError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        self.faults[i].add(fault)
        self._apply_faults(i)

    def clear(self, machine: str) -> None:
        i = self._machine(machine)
        self.faults[i].clear()
        self._apply_faults(i)

    def _apply_faults(self, i: int) -> None:
        faults = self.faults[i]
        self.wear_factor[i] = (8.0 if "bearing-wear" in faults else 1.0) * (
            2.0 if "overheating" in faults else 1.0
        )
        self.vibration_factor[i] = 2.0 if "bearing-wear" in faults else 1.0
        self.heat[i] = 25.0 if "overheating" in faults else 0.0

    def _machine(self, machine: str) -> int:
        try:
            return self._index[machine]
        except KeyError:
            raise SimError(
                f"unknown machine {machine!r}; known: {', '.join(self.machines)}"
            ) from None

    # -- health ----------------------------------------------------------------------------------

    def rul_s(self) -> Array:
        """Expected operating seconds until each machine fails (its true remaining useful life)."""
        return np.maximum(1.0 - self.wear, 0.0) / (self._rate * self.wear_factor)

    def health(self) -> Array:
        """1 new, 0 failed."""
        return np.clip(1.0 - self.wear, 0.0, 1.0)

    # -- the block -------------------------------------------------------------------------------

    def block(self, samples: int, dt_s: float) -> dict[str, Array]:
        """The next ``samples`` samples ``dt_s`` (simulated) seconds apart: ``{quantity: (machines,
        samples)}``. The machine state is decided once per block (keep blocks short against the
        state dwell times: a block of a few simulated seconds to a minute)."""
        n = len(self.machines)
        if samples <= 0:
            return {q: np.zeros((n, 0)) for q in QUANTITIES}
        span = samples * dt_s
        self._advance_state(span)
        running = self.state == MachineState.RUNNING
        t = np.arange(1, samples + 1, dtype=np.float64) * dt_s  # (samples,)

        # wear: monotone gamma increments while running
        mean_step = self._rate * self.wear_factor * dt_s * running  # (n,)
        scale = 1e-4
        shape = np.maximum(mean_step / scale, 1e-12)
        steps = self.random.gamma(shape[:, None], scale, (n, samples)) * running[:, None]
        wear = self.wear[:, None] + np.cumsum(steps, axis=1)  # (n, samples)
        g = wear_signature(wear)

        # temperature: lag toward the target
        target = np.where(
            running[:, None],
            self._temp[:, None] + self._temp_rise[:, None] * g + self.heat[:, None],
            AMBIENT_C + 0.3 * (self._temp[:, None] - AMBIENT_C),
        )
        decay = np.exp(-t[None, :] / self._tau[:, None])
        temperature = target + (self.temperature[:, None] - target) * decay
        self.temperature = temperature[:, -1].copy()
        noise = self.random.normal(0.0, 1.0, (4, n, samples))
        temperature = temperature + 0.3 * noise[0]

        vib_run = self._vib[:, None] * (
            1.0 + self._vib_gain[:, None] * self.vibration_factor[:, None] * g
        )
        vibration = np.where(running[:, None], vib_run, 0.08 * self._vib[:, None])
        vibration = np.abs(vibration * (1.0 + 0.06 * noise[1]))

        current = np.where(
            running[:, None],
            self._cur[:, None] + self._cur_rise[:, None] * g,
            np.where(self.state[:, None] == MachineState.DOWN, 0.0, 3.0),
        )
        current = np.maximum(current + 1.0 * noise[2] * running[:, None], 0.0)

        self.drift += self.random.normal(0.0, 0.05, n) * np.sqrt(span)
        self.drift *= 0.999
        pressure = np.where(running[:, None], self._press[:, None], self._hold[:, None])
        pressure = np.maximum(pressure + self.drift[:, None] + 2.0 * noise[3], 0.0)

        cycles = (
            self._cycle_phase[:, None]
            + np.where(running[:, None], t[None, :], 0.0) / (self._cycle_s[:, None])
        )
        parts = self.parts[:, None] + np.floor(cycles)
        self.parts = parts[:, -1].copy()
        self._cycle_phase = cycles[:, -1] - np.floor(cycles[:, -1])

        state = np.repeat(self.state[:, None].astype(np.float64), samples, axis=1)
        self.wear = wear[:, -1].copy()
        failed = self.wear >= 1.0
        if failed.any():
            self._fail(failed)
        return {
            "temperature": temperature,
            "vibration": vibration,
            "current": current,
            "pressure": pressure,
            "parts": parts,
            "state": state,
        }

    def _advance_state(self, span_s: float) -> None:
        self.state_left_s -= span_s
        due = np.flatnonzero(self.state_left_s <= 0)
        for i in due:
            if self.state[i] == MachineState.DOWN:  # repaired: as new, faults gone
                self.wear[i] = 0.0
                self.faults[i].clear()
                self._apply_faults(int(i))
            if self.state[i] == MachineState.RUNNING:
                stop = self.random.choice(len(_STOPS), p=_STOP_P)
                self.state[i] = int(_STOPS[stop])
                self.state_left_s[i] = self.random.exponential(self._stop_s[i])
            else:
                self.state[i] = int(MachineState.RUNNING)
                self.state_left_s[i] = self.random.exponential(self._stop_every_s[i])

    def _fail(self, failed: npt.NDArray[np.bool_]) -> None:
        for i in np.flatnonzero(failed):
            self.state[i] = int(MachineState.DOWN)
            self.state_left_s[i] = self._repair_s[i]
            self.failures[i] += 1
            self.wear[i] = 1.0
