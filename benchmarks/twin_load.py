"""Twin: a plant of N assets x M signals — load the plant file, build the AAS, AASX round trip.

    .venv/bin/python benchmarks/twin_load.py --assets 1000 --signals 20

Prints seconds per step (median of --repeat runs) and checks the AASX round trip is lossless
(the imported environment serialises to the same AAS JSON as the built one).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from basyx.aas.util.traversal import walk_submodel

from werk.twin.aas import build_environment
from werk.twin.files import canonical_json, export_environment, import_environment
from werk.twin.plant import load_plant


def plant_text(assets: int, signals: int) -> str:
    """A plant file: one site, one area, lines of 20 machines each, every machine with signals."""
    lines = ['[plant]\nid = "bench"\nname = "Benchmark plant"\n']
    lines.append('[assets.site]\nlevel = "site"\n')
    lines.append('[assets.area]\nlevel = "area"\nparent = "site"\n')
    machines = assets - 2 - (assets - 2 + 20) // 21
    line_count = (machines + 19) // 20
    for line in range(line_count):
        lines.append(f'[assets.line{line}]\nlevel = "line"\nparent = "area"\n')
    for machine in range(machines):
        asset = f"m{machine}"
        feeds = (
            f'feeds = ["m{machine + 1}"]\n' if (machine + 1) % 20 and machine + 1 < machines else ""
        )
        lines.append(
            f'[assets.{asset}]\nlevel = "machine"\nparent = "line{machine // 20}"\n{feeds}'
            f'[assets.{asset}.nameplate]\nmanufacturer_name = "ACME"\n'
            f'product_designation = "Machine type {machine % 7}"\n'
            f'uri_of_the_product = "https://acme.example/p/{machine % 7}"\n'
            f'year_of_construction = "2020"\nproduct_type = "T{machine % 7}"\n'
            f'serial_number = "SN-{machine:06d}"\n'
            f'[assets.{asset}.nameplate.contact]\ncompany = "ACME"\n'
            f'[assets.{asset}.technical_data]\npower = {{ value = 15.5, unit = "kW" }}\n'
        )
        for signal in range(signals):
            lines.append(
                f"[assets.{asset}.signals.s{signal}]\n"
                f'unit = "Cel"\nminimum = 0.0\nmaximum = 100.0\n'
                f'source = {{ opcua = "ns=2;s={asset}.s{signal}" }}\n'
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--signals", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    timings: dict[str, list[float]] = {"load": [], "build": [], "export": [], "import": []}
    with tempfile.TemporaryDirectory() as folder:
        plant_file = Path(folder) / "plant.toml"
        plant_file.write_text(plant_text(args.assets, args.signals))
        aasx = Path(folder) / "plant.aasx"
        for _ in range(args.repeat):
            start = time.perf_counter()
            plant = load_plant(plant_file)
            timings["load"].append(time.perf_counter() - start)
            start = time.perf_counter()
            env = build_environment(plant, base_url="http://127.0.0.1:8080")
            timings["build"].append(time.perf_counter() - start)
            start = time.perf_counter()
            export_environment(env, aasx)
            timings["export"].append(time.perf_counter() - start)
            start = time.perf_counter()
            result = import_environment(aasx, strict=True)
            timings["import"].append(time.perf_counter() - start)
        lossless = canonical_json(env) == canonical_json(result.env)
        elements = sum(1 for s in env.submodels() for _ in walk_submodel(s))
        print(
            f"plant: {len(plant.assets)} assets, {sum(1 for _ in plant.signals())} signals, "
            f"{plant_file.stat().st_size / 1e6:.1f} MB TOML; AAS: {len(env.shells())} shells, "
            f"{len(env.submodels())} submodels, {elements} submodel elements; "
            f"AASX {aasx.stat().st_size / 1e6:.1f} MB"
        )
        print(
            f"machine: {platform.processor() or platform.machine()}, "
            f"Python {platform.python_version()}"
        )
        for step, values in timings.items():
            print(f"{step:>8}: {statistics.median(values):6.2f} s (median of {len(values)})")
        total = sum(statistics.median(v) for v in timings.values())
        print(
            f"   total: {total:6.2f} s; load + build: "
            f"{statistics.median(timings['load']) + statistics.median(timings['build']):.2f} s"
        )
        print(f"AASX round trip lossless: {lossless}; import report: {len(result.report)} issues")


if __name__ == "__main__":
    main()
