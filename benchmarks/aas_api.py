"""AAS API reads: werk against basyx-python-sdk 1.2.1's reference server, on the same data.

    .venv/bin/python benchmarks/aas_api.py --reference-python /tmp/basyx121/bin/python

The reference server needs a virtual environment of its own (basyx 1.2.1 and werk's basyx 2.x
cannot share one; the 2.x wheels no longer ship the HTTP adapter)::

    python -m venv /tmp/basyx121
    /tmp/basyx121/bin/pip install basyx-python-sdk==1.2.1 werkzeug

What runs:

- werk runs as ``python -m werk serve`` with the plant file (``--plant``, default
  ``examples/plant.toml``): one process, DuckDB store, its twin built from the plant; its own
  export (``GET /api/v3.0/serialization``) is the JSON file the reference (``WSGIApp`` on
  werkzeug, one process, ``benchmarks/basyx_reference_server.py``) serves; both on loopback;
- while the readers run, values change: every ``1/--update-hz`` s the benchmark POSTs one sample
  per plant signal to werk's ``/api/v1/samples`` (the live values its reads show), and PUTs the
  read submodel's Properties with new values to the reference (which has no live values);
- the same client (``wrk``, else a Python client) reads, ``--connections`` connections, for
  ``--duration`` s per run, alternating werk and the reference ``--rounds`` times; medians.

Reads measured:

- *value read*: werk ``GET .../submodel-elements/{p}/$value`` of a live Property; the reference
  answers 501 to ``$value``, so its value read is ``GET .../submodel-elements/{p}`` (the whole
  Property);
- *submodel GET*: ``GET /submodels/{id}`` of the Operational Data submodel (live values) and of the
  Nameplate (static).

The werk server's per-client rate limit (``api.rate_limit_per_minute``) is lifted for the run; it
would otherwise cap one client at 100 requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "/api/v3.0"


# -- the benchmark ---------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    werk: str
    reference: str


@dataclass
class Run:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def b64(text: str) -> str:
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early ({process.returncode}): {url}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"no answer from {url}")


def start_werk(plant: Path, directory: Path, port: int) -> subprocess.Popen[bytes]:
    """``python -m werk serve`` over ``plant``, files in ``directory``, the rate limit lifted."""
    env = {
        **os.environ,
        "WERK_PLANT": str(plant.resolve()),
        "WERK_API__PORT": str(port),
        "WERK_API__RATE_LIMIT_PER_MINUTE": "1000000000",
        "WERK_API__TOKENS_FILE": str(directory / "tokens.json"),
        "WERK_TWIN__DIRECTORY": str(directory / "twin"),
        "WERK_STORE__URL": f"duckdb:///{directory / 'werk.duckdb'}",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "werk", "serve"], cwd=directory, env=env, stdout=subprocess.DEVNULL
    )


def export(werk: str, directory: Path) -> tuple[Path, dict[str, Any]]:
    """werk's own export of its twin (``GET /serialization``), as the file both servers read."""
    response = httpx.get(f"{werk}{PREFIX}/serialization", timeout=30)
    response.raise_for_status()
    path = directory / "plant.json"
    path.write_bytes(response.content)
    return path, response.json()


def choose_targets(environment: dict[str, Any]) -> tuple[list[Target], dict[str, Any]]:
    """The Operational Data submodel with the most live Properties, and a Nameplate."""
    submodels = environment["submodels"]
    operational = max(
        (s for s in submodels if s.get("idShort") == "OperationalData"),
        key=lambda s: len(s.get("submodelElements", [])),
    )
    nameplate = next(s for s in submodels if s.get("idShort") == "Nameplate")
    prop = operational["submodelElements"][0]["idShort"]
    op_url = f"{PREFIX}/submodels/{b64(operational['id'])}"
    nameplate_url = f"{PREFIX}/submodels/{b64(nameplate['id'])}"
    targets = [
        Target(
            f"value read ({operational['id'].rsplit(':', 2)[-2]}.{prop})",
            f"{op_url}/submodel-elements/{prop}/$value",
            f"{op_url}/submodel-elements/{prop}",
        ),
        Target("submodel GET (OperationalData, live)", op_url, op_url),
        Target("submodel GET (Nameplate, static)", nameplate_url, nameplate_url),
    ]
    return targets, operational


class Updater(threading.Thread):
    """Changes the values the readers read, ``hz`` times a second, on both servers."""

    def __init__(
        self,
        werk: str,
        token: str,
        signals: list[Any],
        reference: str | None,
        operational: dict[str, Any],
        hz: float,
    ) -> None:
        super().__init__(daemon=True)
        self.werk, self.token, self.signals = werk, token, signals
        self.reference, self.operational, self.hz = reference, operational, hz
        self.stop = threading.Event()
        self.batches = 0
        self.failures = 0

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                started = time.monotonic()
                now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
                samples = [
                    {"signal": s.id, "timestamp": now, "value": _value_for(s)} for s in self.signals
                ]
                response = client.post(
                    f"{self.werk}/api/v1/samples",
                    json={"samples": samples},
                    headers={"Authorization": f"Bearer {self.token}"},
                )
                self.failures += response.status_code != 200
                if self.reference is not None:
                    for element in self.operational["submodelElements"]:
                        updated = {**element, "value": _lexical(element["valueType"])}
                        path = f"{PREFIX}/submodels/{b64(self.operational['id'])}"
                        response = client.put(
                            f"{self.reference}{path}/submodel-elements/{element['idShort']}",
                            json=updated,
                        )
                        self.failures += response.status_code >= 300
                self.batches += 1
                self.stop.wait(max(0.0, 1 / self.hz - (time.monotonic() - started)))


def _value_for(plant_signal: Any) -> float:
    signal = plant_signal.signal
    if plant_signal.data_type == "boolean":
        return float(random.random() < 0.5)
    low = signal.minimum if signal.minimum > -1e300 else 0.0
    high = signal.maximum if signal.maximum < 1e300 else low + 100.0
    value = random.uniform(low, high)
    return float(round(value)) if plant_signal.data_type in ("int", "long", "short") else value


def _lexical(value_type: str) -> str:
    if value_type == "xs:boolean":
        return random.choice(["true", "false"])
    if value_type in ("xs:int", "xs:long", "xs:short"):
        return str(random.randint(0, 1000))
    return repr(random.uniform(0, 100))


def measure(url: str, seconds: float, connections: int, client: str) -> Run:
    if client == "wrk":
        return _wrk(url, seconds, connections)
    return asyncio.run(_python_client(url, seconds, connections))


def _wrk(url: str, seconds: float, connections: int) -> Run:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Run(rate, _wrk_ms(out, "50%"), _wrk_ms(out, "99%"), errors)


def _wrk_ms(out: str, percentile: str) -> float:
    match = re.search(rf"{re.escape(percentile)}\s+([\d.]+)(us|ms|s)", out)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


async def _python_client(url: str, seconds: float, connections: int) -> Run:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - started)
                errors += response.status_code >= 300

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.monotonic() - started
    latencies.sort()
    return Run(
        len(latencies) / elapsed,
        latencies[len(latencies) // 2] * 1000,
        latencies[int(len(latencies) * 0.99)] * 1000,
        errors,
    )


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def versions() -> str:
    from importlib.metadata import version

    names = ("fastapi", "starlette", "uvicorn", "basyx-python-sdk")
    return ", ".join(f"{n} {version(n)}" for n in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", help="python of a venv with basyx-python-sdk 1.2.1")
    parser.add_argument("--plant", type=Path, default=ROOT / "examples" / "plant.toml")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--update-hz", type=float, default=10.0, help="value updates per second")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    args = parser.parse_args()

    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    command = "python benchmarks/aas_api.py " + shlex.join(sys.argv[1:])
    print(f"# {command}\n# machine: {machine()}\n# {versions()}; client: {client}")

    from werk.api.tokens import Role, TokenStore
    from werk.twin.plant import load_plant

    signals = list(load_plant(args.plant).signals())
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="werk-aas-bench-") as tmp:
        directory = Path(tmp)
        _, token = TokenStore(directory / "tokens.json").create(Role.operator, "benchmark")
        werk_port = free_port()
        werk = f"http://127.0.0.1:{werk_port}"
        processes.append(start_werk(args.plant, directory, werk_port))
        reference = None
        try:
            wait_for(f"{werk}/api/v1/health", processes[0])
            env_path, environment = export(werk, directory)
            targets, operational = choose_targets(environment)
            if args.reference_python:
                reference_port = free_port()
                reference = f"http://127.0.0.1:{reference_port}"
                script = ROOT / "benchmarks" / "basyx_reference_server.py"
                run_reference = [args.reference_python, str(script), str(env_path)]
                run_reference += ["--port", str(reference_port)]
                processes.append(subprocess.Popen(run_reference, stdout=subprocess.DEVNULL))
                wait_for(f"{reference}{PREFIX}/shells", processes[1])
            _check(werk, reference, targets)
            results = _run(args, client, werk, reference, targets, token, signals, operational)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(10)
    _report(results, reference is not None, args)


def _check(werk: str, reference: str | None, targets: list[Target]) -> None:
    for target in targets:
        assert httpx.get(werk + target.werk).status_code == 200, target.werk
        if reference is not None:
            assert httpx.get(reference + target.reference).status_code == 200, target.reference
    if reference is not None:
        value_only = httpx.get(reference + targets[0].werk).status_code
        print(f"# the reference answers {value_only} to $value; its value read is the element GET")


def _run(
    args: argparse.Namespace,
    client: str,
    werk: str,
    reference: str | None,
    targets: list[Target],
    token: str,
    signals: list[Any],
    operational: dict[str, Any],
) -> dict[tuple[str, str], list[Run]]:
    updater = Updater(werk, token, signals, reference, operational, args.update_hz)
    updater.start()
    before = httpx.get(werk + targets[0].werk).json()
    results: dict[tuple[str, str], list[Run]] = {}
    try:
        for round_ in range(args.rounds):
            for target in targets:
                servers = [("werk", werk + target.werk)]
                if reference is not None:
                    servers.append(("basyx 1.2.1", reference + target.reference))
                if round_ % 2:
                    servers.reverse()
                for server, url in servers:
                    run = measure(url, args.duration, args.connections, client)
                    results.setdefault((target.name, server), []).append(run)
                    print(
                        f"# round {round_ + 1} {target.name} {server}: "
                        f"{run.requests_per_s:,.0f}/s p50 {run.p50_ms:.2f} ms "
                        f"p99 {run.p99_ms:.2f} ms errors {run.errors}",
                        flush=True,
                    )
    finally:
        updater.stop.set()
        updater.join(10)
    after = httpx.get(werk + targets[0].werk).json()
    print(
        f"# updates: {updater.batches} batches of {len(signals)} samples "
        f"({updater.failures} failed); live value before {before}, after {after}"
    )
    if before == after:
        print("# WARNING: the live value did not change during the run")
    return results


def _report(
    results: dict[tuple[str, str], list[Run]], compared: bool, args: argparse.Namespace
) -> None:
    names = list(dict.fromkeys(name for name, _ in results))
    print()
    header = "| read | werk req/s | werk p50 / p99 ms |"
    if compared:
        header += " basyx 1.2.1 req/s | basyx p50 / p99 ms | werk / basyx |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name in names:
        werk = results[(name, "werk")]
        row = f"| {name} | {_median(werk, 'requests_per_s'):,.0f} | {_latency(werk)} |"
        if compared:
            ref = results[(name, "basyx 1.2.1")]
            ratio = _median(werk, "requests_per_s") / _median(ref, "requests_per_s")
            row += f" {_median(ref, 'requests_per_s'):,.0f} | {_latency(ref)} | **{ratio:.1f}×** |"
        print(row)
    errors = sum(r.errors for runs in results.values() for r in runs)
    print(
        f"\nmedians of {args.rounds} runs of {args.duration:g} s, {args.connections} connections, "
        f"values updated {args.update_hz:g}×/s; errors: {errors}"
    )


def _median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(r, field) for r in runs)


def _latency(runs: list[Run]) -> str:
    return f"{_median(runs, 'p50_ms'):.2f} / {_median(runs, 'p99_ms'):.2f}"


if __name__ == "__main__":
    main()
