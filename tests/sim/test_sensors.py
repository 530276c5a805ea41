"""The sensor models: wear shows in the signals, faults change the signature, values plausible."""

import itertools

import numpy as np
import pytest

from werk.sim.sensors import MachineState, SensorBank, SimError

RANGES = {"temperature": (-20, 150), "vibration": (0, 50), "current": (0, 200),
          "pressure": (0, 400)}  # fmt: skip  # the demo plant's ranges


def always_running(bank: SensorBank) -> None:
    bank.state_left_s[:] = np.inf
    bank.state[:] = MachineState.RUNNING


def test_degradation_rises_toward_failure_and_repair_resets() -> None:
    bank = SensorBank(["m"], initial_wear=[0.0], seed=1)
    always_running(bank)
    vib, temp, rul = [], [], []
    while bank.failures[0] == 0:
        block = bank.block(600, 10.0)  # 100 simulated minutes per block
        vib.append(block["vibration"].mean())
        temp.append(block["temperature"].mean())
        rul.append(bank.rul_s()[0])
        assert len(vib) < 100, "no failure within ~4 mean lifetimes"
    for series in (vib, temp):  # block means rise (noise aside) over the life
        quarters = [float(np.mean(q)) for q in np.array_split(np.array(series[:-1]), 4)]
        assert quarters == sorted(quarters)
    assert vib[-2] > 2 * vib[0]
    assert all(a >= b for a, b in itertools.pairwise(rul))
    assert bank.state[0] == MachineState.DOWN
    bank.block(1, bank.profiles[0].repair_s + 1)  # repaired: as new
    assert bank.state[0] == MachineState.RUNNING and bank.wear[0] < 0.05


@pytest.mark.parametrize(
    ("fault", "quantity"), [("bearing-wear", "vibration"), ("overheating", "temperature")]
)
def test_injection_changes_the_signature(fault: str, quantity: str) -> None:
    bank = SensorBank(["a", "b"], initial_wear=[0.3, 0.3], seed=2)
    always_running(bank)
    bank.inject("a", fault)
    block = {}
    for _ in range(10):
        block = bank.block(60, 2.0)  # 20 simulated minutes
    assert block[quantity][0].mean() > 1.3 * block[quantity][1].mean()
    assert bank.rul_s()[0] < bank.rul_s()[1]
    with pytest.raises(SimError):
        bank.inject("a", "meteor")
    with pytest.raises(SimError):
        bank.inject("c", "overheating")


def test_values_are_plausible_and_parts_count_up() -> None:
    bank = SensorBank(["press1", "press2", "oven1"], seed=3)
    blocks = [bank.block(50, 2.0) for _ in range(200)]
    for quantity, (low, high) in RANGES.items():
        values = np.concatenate([b[quantity] for b in blocks], axis=1)
        assert low <= values.min() and values.max() <= high, quantity
    parts = np.concatenate([b["parts"] for b in blocks], axis=1)
    assert (np.diff(parts, axis=1) >= 0).all() and parts[:, -1].min() > 0
    states = np.concatenate([b["state"] for b in blocks], axis=1)
    assert set(np.unique(states)) <= {int(s) for s in MachineState}
    assert MachineState.RUNNING in set(np.unique(states))
