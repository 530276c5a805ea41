"""What-if through the API: the scenarios on offer, and two compared with confidence intervals."""

from __future__ import annotations

from pathlib import Path

from werk.api.tokens import Role
from werk.sim.demo import DEMO_SCENARIOS

from .conftest import ApiFactory


async def test_list_and_compare_scenarios(open_api: ApiFactory, tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    for source in DEMO_SCENARIOS.glob("*.toml"):  # they name ../demo_plant.toml: copy it too
        (folder / source.name).write_text(source.read_text())
    (tmp_path / "demo_plant.toml").write_text(
        (DEMO_SCENARIOS.parent / "demo_plant.toml").read_text()
    )
    (folder / "broken.toml").write_text("[scenario]\nnme = 1\n")
    async with open_api() as api:
        api.runtime.settings.sim.scenarios = str(folder)
        listed = await api.client.get("/api/v1/sim/scenarios", headers=api.auth(Role.viewer))
        assert listed.status_code == 200
        by_name = {s["name"]: s for s in listed.json()["scenarios"]}
        assert by_name["demo-line"]["valid"] and by_name["demo-line-faster-oven"]["valid"]
        assert by_name["broken"]["valid"] is False and "nme" in by_name["broken"]["problem"]

        body = {"a": "demo-line", "b": "demo-line-faster-oven", "replications": 3}
        refused = await api.client.post(
            "/api/v1/sim/compare", json=body, headers=api.auth(Role.operator)
        )
        assert refused.status_code == 403
        answer = await api.client.post(
            "/api/v1/sim/compare", json=body, headers=api.auth(Role.engineer)
        )
        assert answer.status_code == 200, answer.text
        rows = {d["kpi"]: d for d in answer.json()["differences"]}
        lead = rows["lead_time_s"]
        assert lead["low"] <= lead["difference"] <= lead["high"]
        assert lead["difference"] < 0  # the faster oven shortens the lead time
        unknown = await api.client.post(
            "/api/v1/sim/compare", json={**body, "b": "nope"}, headers=api.auth(Role.engineer)
        )
        assert unknown.status_code == 404 and "demo-line" in unknown.json()["detail"]
        too_many = await api.client.post(
            "/api/v1/sim/compare",
            json={**body, "replications": 100_000},
            headers=api.auth(Role.engineer),
        )
        assert too_many.status_code == 422
