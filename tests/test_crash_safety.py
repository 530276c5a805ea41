"""An acknowledged sample survives SIGKILL: the HTTP 2xx means committed, not merely received."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np

from tests.servers import free_port, werk_process
from werk.api.tokens import Role, TokenStore
from werk.store.duckdb import DuckDBStore


def test_sigkill_after_acknowledgement_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "werk.duckdb"
    tokens_file = tmp_path / "tokens.json"
    (tmp_path / "werk.toml").write_text(
        f'[store]\nurl = "duckdb:///{database}"\n'
        f'[api]\nport = {port}\ntokens_file = "{tokens_file}"\n'
        '[[signals]]\nid = "line.speed"\nunit = "m/min"\n'
    )
    _, token = TokenStore(tokens_file).create(Role.operator, "test")
    acknowledged = 0
    config = str(tmp_path / "werk.toml")
    # werk_process ends with SIGKILL: no shutdown hook runs, no flush, no close.
    with (
        werk_process(["serve", "--config", config], tmp_path, port) as url,
        httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=10) as client,
    ):
        for round_ in range(20):
            start = 1_700_000_000_000_000_000 + round_ * 1_000_000_000
            timestamps = (start + np.arange(500) * 1_000_000).tolist()
            response = client.post(
                f"{url}/api/v1/samples",
                json={"signal": "line.speed", "timestamps": timestamps, "values": [1.5] * 500},
            )
            assert response.status_code == 200, response.text
            acknowledged += 500
    store = DuckDBStore.from_url(f"duckdb:///{database}")
    try:
        assert store.count("line.speed") == acknowledged == 10_000
    finally:
        store.close()
