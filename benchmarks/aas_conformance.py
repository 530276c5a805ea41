"""IDTA conformance of werk's AAS API, side by side with basyx-python-sdk 1.2.1's reference server.

    .venv/bin/python benchmarks/aas_conformance.py --reference-python /tmp/basyx121/bin/python

Starts ``python -m werk serve`` with the plant file (``--plant``, default ``examples/plant.toml``),
fetches werk's own export of its twin (``GET /api/v3.0/serialization``), serves that file with
the reference (``benchmarks/basyx_reference_server.py`` says how to make its virtual
environment), and runs the IDTA test engine (``aas-test-engines``: the checks of
``aas_test_engines check_server URL SUITE``) with both read profiles against each: every
operation of AssetAdministrationShellRepositoryServiceSpecification/SSP-002 (25) and
SubmodelRepositoryServiceSpecification/SSP-002 (23). Prints passed/checked per suite and server,
and with ``--verbose`` the operations that failed and why.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

from aas_api import PREFIX, ROOT, export, free_port, start_werk, wait_for

SSP = "https://admin-shell.io/aas/API/3/0/"
_ERROR, _CRITICAL = "\x1b[91m", "\x1b[94m"  # how the engine marks failed checks
SUITES = [
    f"{SSP}AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
    f"{SSP}SubmodelRepositoryServiceSpecification/SSP-002",
]


def check(url: str, suite: str) -> tuple[int, list[str]]:
    """Operations checked, and the names of those that failed (with their first error)."""
    from aas_test_engines import api, config, http

    result, _ = api.execute_tests(http.HttpClient(host=url), config.CheckApiConfig(suite=suite))
    checked = 0
    failed = []
    for node in result.sub_results:
        if not node.message.startswith("Checking ") or node.message.startswith("Checking compl"):
            continue
        checked += 1
        if not node.ok():
            errors = [line for line in node.to_lines() if _ERROR in line or _CRITICAL in line]
            why = re.sub(r"\x1b\[[0-9;]*m", "", errors[-1]).strip() if errors else ""
            failed.append(f"{node.message.removeprefix('Checking ')}: {why[:110]}")
    return checked, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", help="python of a venv with basyx-python-sdk 1.2.1")
    parser.add_argument("--plant", type=Path, default=ROOT / "examples" / "plant.toml")
    parser.add_argument("--verbose", action="store_true", help="list every failed operation")
    args = parser.parse_args()

    processes: list[subprocess.Popen[bytes]] = []
    servers: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="werk-aas-conformance-") as tmp:
        directory = Path(tmp)
        try:
            port = free_port()
            processes.append(start_werk(args.plant, directory, port))
            wait_for(f"http://127.0.0.1:{port}/api/v1/health", processes[-1])
            servers.append(("werk", f"http://127.0.0.1:{port}{PREFIX}"))
            env_path, environment = export(f"http://127.0.0.1:{port}", directory)
            counts = {k: len(v) for k, v in environment.items()}
            print(f"# data: werk's export of {args.plant.name}: {counts}")
            if args.reference_python:
                port = free_port()
                reference = str(ROOT / "benchmarks" / "basyx_reference_server.py")
                processes.append(
                    subprocess.Popen(
                        [args.reference_python, reference, str(env_path), "--port", str(port)],
                        stdout=subprocess.DEVNULL,
                    )
                )
                wait_for(f"http://127.0.0.1:{port}{PREFIX}/shells", processes[-1])
                servers.append(("basyx 1.2.1 WSGIApp", f"http://127.0.0.1:{port}{PREFIX}"))
            for name, url in servers:
                total_passed = total = 0
                for suite in SUITES:
                    checked, failed = check(url, suite)
                    passed = checked - len(failed)
                    total_passed, total = total_passed + passed, total + checked
                    print(f"{name}: {suite.removeprefix(SSP)}: {passed}/{checked}")
                    for line in failed if args.verbose else ():
                        print(f"    failed {line}")
                print(f"{name}: both read profiles: {total_passed}/{total}")
        finally:
            for process in processes:
                process.terminate()
                process.wait(10)


if __name__ == "__main__":
    main()
