"""The plant at a glance: the ISA-95 tree with each asset's state, open alarms and signals.

One answer for the dashboard's plant view: cheap enough for a 1,000-asset plant on every page load
(no store query: the tree comes from the plant file, states from the twin's live state, alarm
counts from the alarm manager's memory). OEE is per asset on request (``/oee``): the answer says
which assets have what it needs (a state signal).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Depends

from werk.api.auth import Principal, read_access
from werk.api.params import get_runtime
from werk.core.machine import MachineState
from werk.runtime import Runtime

router = APIRouter(tags=["twin"])


@router.get("/plant", summary="The asset tree with each asset's state, open alarms and signals")
async def plant(
    runtime: Runtime = Depends(get_runtime), _: Principal = Depends(read_access)
) -> dict[str, Any]:
    described = runtime.plant
    alarms: Counter[str] = Counter()  # alarms needing attention: active or unacknowledged
    worst: dict[str, Any] = {}
    if runtime.alarms is not None:
        for alarm in runtime.alarms.book:
            if alarm.state.value in ("unack", "acked", "rtnunack"):
                asset = alarm.asset or runtime.asset_of.get(alarm.source, alarm.source)
                alarms[asset] += 1
                if asset not in worst or alarm.priority > worst[asset]:
                    worst[asset] = alarm.priority
    if described is None:  # signals from werk.toml only: one flat list of assets
        by_asset: dict[str, list[str]] = {}
        for signal in runtime.catalog.values():
            by_asset.setdefault(signal.asset or "(no asset)", []).append(signal.id)
        assets = [
            {
                "id": asset,
                "name": asset,
                "level": "machine",
                "parent": None,
                "signals": [{"id": s, "name": s, "unit": runtime.catalog[s].unit} for s in ids],
                "state": None,
                "alarms": alarms.get(asset, 0),
                "has_oee": False,
            }
            for asset, ids in sorted(by_asset.items())
        ]
        return {"plant": None, "assets": assets}
    return {
        "plant": {"id": described.id, "name": described.name},
        "assets": _tree(runtime, alarms, worst),
    }


def _tree(runtime: Runtime, alarms: Counter[str], worst: dict[str, Any]) -> list[dict[str, Any]]:
    assert runtime.plant is not None
    latest = runtime.state.get()
    assets = []
    for asset in runtime.plant.assets:
        names = {s.name: s for s in asset.signals}
        state_signal = names.get(asset.analytics.state_signal)
        state = None
        if state_signal is not None and state_signal.id in latest:
            state = MachineState.label_of(latest[state_signal.id][1])
        assets.append(
            {
                "id": asset.id,
                "name": asset.name,
                "level": asset.level,
                "parent": asset.parent,
                "signals": [
                    {"id": s.id, "name": s.name, "unit": s.signal.unit} for s in asset.signals
                ],
                "state": state,
                "alarms": alarms.get(asset.id, 0),
                "worst_priority": worst[asset.id].name if asset.id in worst else None,
                "has_oee": state_signal is not None,
            }
        )
    return assets
