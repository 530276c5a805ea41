"""The IDTA test engine (aas-test-engines) against a real werk serving its own plant twin.

werk runs as it does for a user: ``python -m werk serve`` with ``examples/plant.toml`` as its
plant, on a free loopback port, the whole API with its middleware. Both read profiles must pass
in full: every operation of the AAS repository profile SSP-002 (25) and of the submodel
repository profile SSP-002 (23). docs/conformance.md has the same check as a command, with the
figures of basyx's reference server beside werk's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port, werk_process

aas_test_engines = pytest.importorskip("aas_test_engines", reason="pip install -e '.[dev]'")

SSP = "https://admin-shell.io/aas/API/3/0/"
SUITES = {
    f"{SSP}AssetAdministrationShellRepositoryServiceSpecification/SSP-002": 25,
    f"{SSP}SubmodelRepositoryServiceSpecification/SSP-002": 23,
}
PLANT = Path(__file__).parents[3] / "examples" / "plant.toml"


@pytest.fixture(scope="module")
def werk_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("werk")
    port = free_port()
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("WERK_PLANT", str(PLANT))
        environment.setenv("WERK_API__PORT", str(port))
        environment.setenv("WERK_STORE__URL", "memory://")
        with werk_process(["serve"], cwd=directory, port=port) as url:
            yield f"{url}/api/v3.0"


def check_server(url: str, suite: str) -> tuple[list[str], dict[str, list[str]]]:
    """Run one suite; return every operation checked and, for those that failed, why."""
    from aas_test_engines import api, config, http

    result, _ = api.execute_tests(http.HttpClient(host=url), config.CheckApiConfig(suite=suite))
    operations: list[str] = []
    failures: dict[str, list[str]] = {}
    for node in result.sub_results:
        if not node.message.startswith("Checking ") or node.message.startswith("Checking compl"):
            continue
        name = node.message.removeprefix("Checking ")
        operations.append(name)
        if not node.ok():
            # The engine marks failed checks red (error) or blue (critical).
            lines = [line for line in node.to_lines() if "\x1b[91m" in line or "\x1b[94m" in line]
            failures[name] = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines][-6:]
    return operations, failures


@pytest.mark.parametrize("suite", list(SUITES), ids=lambda s: s.split("/")[-2])
def test_read_profile_passes_in_full(werk_url: str, suite: str):
    operations, failures = check_server(werk_url, suite)
    assert len(operations) == SUITES[suite]
    assert not failures, "\n".join(f"{op}:\n  " + "\n  ".join(why) for op, why in failures.items())
