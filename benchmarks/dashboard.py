"""The dashboard in headless Chromium: plant-view load time with a 1,000-asset plant, and how long a
live value takes from ingestion to the page while werk ingests 10,000 values/s.

    .venv/bin/python benchmarks/dashboard.py --assets 1000 --rate 10000 --marks 20

What runs:

- werk runs as ``python -m werk serve`` over a generated plant (``--assets`` assets: a site, an
  area, lines of 20 machines, each machine with ``--signals-per-machine`` signals), DuckDB store in
  a temporary folder, analytics with their defaults (a detector per signal), on loopback;
- Debian's headless Chromium (``/usr/bin/chromium`` and ``/usr/bin/chromedriver``, or CHROME_BIN
  and CHROMEDRIVER) logs in with a viewer token through the login page;
- **page load**: ``--loads`` full loads of the plant view (``/?load=i#/``; the first with a cold
  cache). A script injected before the page's own records ``performance.now()`` (ms since
  navigation start) in the first animation frame in which the ``--assets``-th row
  ``#plant-tree [data-asset]`` exists: the tree is rendered. Median of the warm loads, and the
  cold one;
- **live latency**: a producer thread POSTs Arrow batches to ``/api/v1/samples`` every 100 ms:
  ``--rate``/10 values over the first ``--load-signals`` signals (100 signals at 100 Hz for 10k
  values/s). The page shows machine ``m0``, whose signals are among them, plus ``m0.mark``. Every
  ``--mark-every`` s one batch also carries a marked value of ``m0.mark``; the wall-clock instant
  just before that batch is sent is its ingestion time. A MutationObserver in the page records
  ``Date.now()`` when the ``m0.mark`` tile first shows the mark (same machine, same clock). Median
  and p95 over ``--marks`` marks.

Targets (issue 8): page load < 1 s, live < 1 s.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

from werk.api.encode import ARROW
from werk.api.tokens import Role, TokenStore

BATCH_S = 0.1  # the producer posts one batch per 100 ms

RENDERED = """
window.__rendered = null;
const wanted = %d;
function check() {
  const tree = document.getElementById('plant-tree');
  if (tree && tree.querySelectorAll('[data-asset]').length >= wanted) {
    window.__rendered = performance.now();
  } else {
    requestAnimationFrame(check);
  }
}
requestAnimationFrame(check);
"""

MARKS = """
window.__marks = {};
new MutationObserver(() => {
  const tile = document.querySelector('[data-signal="m0.mark"] .tile-value');
  if (!tile) return;
  const value = parseFloat(tile.textContent.replace(/,/g, ''));  // 1,000
  if (value >= 1000 && !(value in window.__marks)) window.__marks[value] = Date.now();
}).observe(document.body, {subtree: true, childList: true, characterData: true});
"""


def plant_text(assets: int, signals_per_machine: int) -> str:
    """A site, an area, lines of 20 machines; ``assets`` in all; m0 also has a ``mark`` signal."""
    lines = ['[plant]\nid = "bench"\nname = "Dashboard benchmark plant"\n']
    lines.append('[assets.site]\nlevel = "site"\nname = "Site"\n')
    lines.append('[assets.area]\nlevel = "area"\nparent = "site"\nname = "Area"\n')
    machines = assets - 2 - (assets - 2 + 20) // 21  # the rest are lines of up to 20 machines
    for line in range((machines + 19) // 20):
        lines.append(
            f'[assets.line{line}]\nlevel = "line"\nparent = "area"\nname = "Line {line}"\n'
        )
    for machine in range(machines):
        lines.append(
            f'[assets.m{machine}]\nlevel = "machine"\nparent = "line{machine // 20}"\n'
            f'name = "Machine {machine}"\n'
        )
        for signal in range(signals_per_machine):
            lines.append(f'[assets.m{machine}.signals.s{signal}]\nunit = "Cel"\n')
    lines.append('[assets.m0.signals.mark]\nunit = "1"\n')
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_werk(directory: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "WERK_PLANT": str(directory / "plant.toml"),
        "WERK_API__PORT": str(port),
        "WERK_API__RATE_LIMIT_PER_MINUTE": "1000000000",
        "WERK_API__TOKENS_FILE": str(directory / "tokens.json"),
        "WERK_TWIN__DIRECTORY": str(directory / "twin"),
        "WERK_STORE__URL": f"duckdb:///{directory / 'werk.duckdb'}",
    }
    log = open(directory / "werk.log", "wb")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [sys.executable, "-m", "werk", "serve"], cwd=directory, env=env, stdout=log, stderr=log
    )


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"werk exited early: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"werk did not come up: {log.read_text()[-3000:]}")


def start_browser(width: int, height: int) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chrome = os.environ.get("CHROME_BIN", "/usr/bin/chromium")
    driver = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
    for path in (chrome, driver):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"{path} missing: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def wait(condition: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = condition()
        except Exception:  # a page mid-render
            result = None
        if result:
            return result
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {what}")


def login(driver: Any, url: str, token: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{url}/#/login")
    field = wait(lambda: driver.find_element(By.ID, "login-token"), "#login-token")
    field.send_keys(token)
    driver.find_element(By.ID, "login-submit").click()
    wait(lambda: "viewer" in driver.find_element(By.ID, "whoami").text, "#whoami: viewer")


def page_loads(driver: Any, url: str, assets: int, loads: int) -> list[float]:
    """Seconds from navigation start to the frame with the last row, per full page load."""
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RENDERED % assets})
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})  # the first load is a cold one
    seconds = []
    for load in range(loads):
        driver.get(f"{url}/?load={load}#/")
        ms = wait(lambda: driver.execute_script("return window.__rendered"), f"{assets} rows")
        seconds.append(ms / 1000)
    return seconds


class Producer(threading.Thread):
    """POSTs an Arrow batch every 100 ms: ``rate``/10 values over ``signals``; marks on request."""

    def __init__(self, url: str, token: str, signals: list[str], rate: int) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.signals = url, token, signals
        self.per_signal = max(1, round(rate * BATCH_S / len(signals)))
        self.stop = threading.Event()
        self.mark_value: float | None = None  # set by the main thread: goes into the next batch
        self.marks: dict[float, float] = {}  # mark value -> wall-clock instant it was sent
        self.sent = 0
        self.failed = 0
        self.behind = 0  # batches sent late because the one before took longer than 100 ms
        self.started = time.time()
        self.finished = time.time()

    def body(self, now_ns: int, mark: float | None) -> bytes:
        n, step = self.per_signal, int(BATCH_S * 1e9) // self.per_signal
        signals = [s for s in self.signals for _ in range(n)]
        stamps = [now_ns - (n - 1 - i) * step for _ in self.signals for i in range(n)]
        values = [20.0 + (i % 7) * 0.1 for i in range(len(signals))]
        if mark is not None:
            signals.append("m0.mark")
            stamps.append(now_ns)
            values.append(mark)
        table = pa.table(
            {
                "signal": pa.array(signals, pa.string()),
                "timestamp": pa.array(stamps, pa.int64()),
                "value": pa.array(values, pa.float64()),
            }
        )
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": ARROW}
        with httpx.Client(headers=headers, timeout=30) as client:
            self.started = time.time()
            due = time.monotonic()
            while not self.stop.is_set():
                mark, self.mark_value = self.mark_value, None
                body = self.body(time.time_ns(), mark)
                if mark is not None:
                    self.marks[mark] = time.time()
                answer = client.post(f"{self.url}/api/v1/samples", content=body)
                if answer.status_code == 200:
                    self.sent += int(answer.json()["accepted"]) - (mark is not None)
                else:
                    self.failed += 1
                due += BATCH_S
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                else:
                    self.behind += 1
                    due = time.monotonic()  # catch up no further: keep the rate, not a burst
            self.finished = time.time()


def live_latency(
    driver: Any, url: str, producer: Producer, marks: int, mark_every: float
) -> list[float]:
    from selenium.webdriver.common.by import By

    driver.get(f"{url}/?live=1#/asset/m0")
    wait(lambda: driver.find_element(By.CSS_SELECTOR, '[data-signal="m0.mark"]'), "m0.mark tile")
    driver.execute_script(MARKS)
    time.sleep(2.0)  # the live feed subscribed, the load flowing
    delays = []
    for k in range(marks):
        value = float(1000 + k)
        producer.mark_value = value
        shown_ms = wait(
            lambda v=value: driver.execute_script(f"return window.__marks[{v}]"), f"mark {value}"
        )
        sent = wait(lambda v=value: producer.marks.get(v), f"mark {value} sent")
        delays.append(shown_ms / 1000 - sent)
        time.sleep(mark_every)
    return delays


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--signals-per-machine", type=int, default=2)
    parser.add_argument("--loads", type=int, default=7, help="page loads (the first is cold)")
    parser.add_argument("--rate", type=int, default=10_000, help="values/s the producer posts")
    parser.add_argument("--load-signals", type=int, default=100)
    parser.add_argument("--marks", type=int, default=20)
    parser.add_argument("--mark-every", type=float, default=0.5, help="s between marks")
    args = parser.parse_args()

    chrome = subprocess.run(
        [os.environ.get("CHROME_BIN", "/usr/bin/chromium"), "--version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores ({cpu_model()}), load average"
        f" {os.getloadavg()[0]:.2f}, Python {platform.python_version()}, {chrome}"
    )
    with tempfile.TemporaryDirectory(prefix="werk-dashboard-") as folder:
        directory = Path(folder)
        (directory / "plant.toml").write_text(plant_text(args.assets, args.signals_per_machine))
        tokens = TokenStore(directory / "tokens.json")
        viewer = tokens.create(Role.viewer, "bench-viewer")[1]
        operator = tokens.create(Role.operator, "bench-producer")[1]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = start_werk(directory, port)
        driver = None
        try:
            wait_for(url, process, directory / "werk.log")
            plant = httpx.get(f"{url}/api/v1/plant", headers={"Authorization": f"Bearer {viewer}"})
            rows = len(plant.json()["assets"])
            assert rows == args.assets, f"the plant has {rows} assets, not {args.assets}"
            print(f"plant: {rows} assets, GET /api/v1/plant {len(plant.content) / 1024:.0f} KiB")

            driver = start_browser(1366, 768)
            login(driver, url, viewer)
            loads = page_loads(driver, url, args.assets, args.loads)
            warm = loads[1:] or loads
            print(
                f"page load, plant view, {args.assets} assets (navigation start -> last row "
                f"rendered): median {statistics.median(warm) * 1000:.0f} ms over {len(warm)} "
                f"warm loads (min {min(warm) * 1000:.0f}, max {max(warm) * 1000:.0f}); "
                f"cold {loads[0] * 1000:.0f} ms"
            )

            load_signals = [
                f"m{m}.s{k}" for m in range(args.assets) for k in range(args.signals_per_machine)
            ][: args.load_signals]  # m0's first: the page shows m0
            producer = Producer(url, operator, load_signals, args.rate)
            producer.start()
            try:
                delays = live_latency(driver, url, producer, args.marks, args.mark_every)
            finally:
                producer.stop.set()
                producer.join(10)
            elapsed = producer.finished - producer.started
            print(
                f"load: {producer.sent / elapsed:,.0f} values/s achieved ({len(load_signals)} "
                f"signals x {producer.per_signal / BATCH_S:.0f} Hz in batches every "
                f"{BATCH_S * 1000:.0f} ms; {producer.failed} failed posts, "
                f"{producer.behind} late batches)"
            )
            print(
                f"live latency at that load (ingestion -> shown in the tile) over {len(delays)} "
                f"marks: median {statistics.median(delays) * 1000:.0f} ms, "
                f"p95 {percentile(delays, 0.95) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms"
            )
            page_ok = statistics.median(warm) < 1.0
            live_ok = percentile(delays, 0.95) < 1.0
            print(
                f"targets: page load < 1 s: {'met' if page_ok else 'MISSED'}; "
                f"live < 1 s (p95): {'met' if live_ok else 'MISSED'}"
            )
        finally:
            if driver is not None:
                driver.quit()
            process.kill()
            process.wait(10)


if __name__ == "__main__":
    main()
