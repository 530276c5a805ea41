"""The dashboard in a real browser: Debian's headless Chromium driven by selenium, against a real
werk process with a small plant.

Chromium and chromedriver are found at /usr/bin/chromium and /usr/bin/chromedriver (or where
CHROME_BIN and CHROMEDRIVER say). Without them the tests skip with the command that installs them,
except under ``CI=true``, where that is a failure. Every test leaves a screenshot in
``test-artifacts/ui/<test>.png`` (``WERK_TEST_ARTIFACTS`` moves the folder); a failed one also
leaves the page's HTML and the browser's console log beside it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import in_ci
from tests.servers import free_port, werk_process
from werk.api.tokens import Role, TokenStore

INSTALL_HINT = "apt-get install chromium chromium-driver"
REPOSITORY = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("WERK_TEST_ARTIFACTS", REPOSITORY / "test-artifacts")) / "ui"
WAIT_S = 10.0  # the longest any step waits for the page before the test fails

# A press line small enough to read in a screenshot: a site, an area, a line and three pieces of
# equipment. Detectors are off so that only the limits below raise alarms: press1.temperature
# for the operator's acknowledgement, welder1.current for the viewer who may not. press1.state
# is the state signal (0 running, 1 idle, ...) that gives press1 its state and OEE.
PLANT = """\
[plant]
id = "uitest"
name = "UI test shop"

[assets.shop]
level = "site"
name = "Test site"

[assets.body]
level = "area"
parent = "shop"
name = "Body shop"

[assets.line1]
level = "line"
parent = "body"
name = "Line 1"

[assets.press1]
level = "machine"
parent = "line1"
name = "Press 1"

[assets.press1.nameplate]
manufacturer_name = "Hydraulik Nord GmbH"
product_designation = "HPX 2500 hydraulic press"
uri_of_the_product = "https://hydraulik-nord.example/products/hpx-2500"
year_of_construction = "2019"
product_type = "HPX 2500"
serial_number = "HN-19-0815"

[assets.press1.nameplate.contact]
company = "Hydraulik Nord GmbH"

[assets.press1.signals.temperature]
unit = "Cel"
minimum = -20.0
maximum = 150.0
analytics = { detector = "off", spike_k = false, limits = { high = 80.0, deadband = 2.0 } }

[assets.press1.signals.pressure]
unit = "bar"
minimum = 0.0
maximum = 320.0
analytics = { detector = "off", spike_k = false }

[assets.press1.signals.state]
data_type = "int"
analytics = { detector = "off", spike_k = false }

[assets.welder1]
level = "machine"
parent = "line1"
name = "Welding robot 1"

[assets.welder1.signals.current]
unit = "A"
minimum = 0.0
maximum = 400.0
analytics = { detector = "off", spike_k = false, limits = { high = 300.0, deadband = 5.0 } }

[assets.conveyor1]
level = "conveyor"
parent = "line1"
name = "Outfeed conveyor"

[assets.conveyor1.signals.speed]
unit = "m/s"
minimum = 0.0
maximum = 2.0
analytics = { detector = "off", spike_k = false }
"""

ASSETS = ["shop", "body", "line1", "press1", "welder1", "conveyor1"]


def browser_paths() -> tuple[str, str]:
    """Chromium and chromedriver, or skip (fail under CI) saying how to install them."""
    chrome = os.environ.get("CHROME_BIN") or shutil.which("chromium") or "/usr/bin/chromium"
    driver = (
        os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    )
    missing = [path for path in (chrome, driver) if not os.access(path, os.X_OK)]
    if missing:
        message = f"no headless browser ({', '.join(missing)} missing); install: {INSTALL_HINT}"
        if in_ci():
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    return chrome, driver


def start_browser(width: int = 1366, height: int = 768) -> Any:
    """A headless Chromium that keeps its console log (read with ``get_log("browser")``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chrome, driver = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespaces for the sandbox
        "--disable-dev-shm-usage",  # a container's /dev/shm is often 64 MB
        "--disable-gpu",
        "--disable-extensions",
        "--no-first-run",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


@dataclass(frozen=True)
class Werk:
    """A running werk with an operator's and a viewer's token."""

    url: str
    operator: str
    viewer: str
    project: Path

    def post_samples(self, values: dict[str, float], token: str | None = None) -> httpx.Response:
        """Post one sample per signal, stamped now, with the operator's token unless told."""
        stamp = datetime.now(UTC).isoformat()
        body = {
            "samples": [{"signal": s, "timestamp": stamp, "value": v} for s, v in values.items()]
        }
        return httpx.post(
            f"{self.url}/api/v1/samples",
            json=body,
            headers={"Authorization": f"Bearer {token or self.operator}"},
            timeout=10,
        )

    def get(self, path: str, token: str | None = None) -> Any:
        answer = httpx.get(
            f"{self.url}/api/v1{path}",
            headers={"Authorization": f"Bearer {token or self.operator}"},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()


@pytest.fixture(scope="session")
def werk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Werk]:
    """One werk for all the browser tests: the plant above, memory store, no anonymous reads."""
    browser_paths()  # no browser: skip before paying for a server
    project = tmp_path_factory.mktemp("ui-werk")
    port = free_port()
    (project / "plant.toml").write_text(PLANT)
    (project / "werk.toml").write_text(
        'plant = "plant.toml"\n'
        '[store]\nurl = "memory://"\n'
        f'[api]\nport = {port}\nanonymous_read = false\ntokens_file = "var/tokens.json"\n'
    )
    tokens = TokenStore(project / "var" / "tokens.json")
    operator = tokens.create(Role.operator, "olga")[1]
    viewer = tokens.create(Role.viewer, "victor")[1]
    with werk_process(["serve", "--config", "werk.toml"], project, port) as url:
        server = Werk(url, operator, viewer, project)
        # a first value for every signal, so tiles and states have something to show
        answer = server.post_samples(
            {
                "press1.temperature": 60.0,
                "press1.pressure": 150.0,
                "press1.state": 0,
                "welder1.current": 120.0,
                "conveyor1.speed": 0.5,
            }
        )
        assert answer.status_code == 200, answer.text
        yield server


@pytest.fixture(scope="session")
def _browser_session() -> Iterator[Any]:
    browser_paths()
    driver = start_browser()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test, so the browser fixture knows whether it failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def browser(_browser_session: Any, werk: Werk, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The shared browser, logged out, at 1366×768; a screenshot of the page afterwards."""
    driver = _browser_session
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})  # a test's screen size
    driver.set_window_size(1366, 768)
    driver.get(f"{werk.url}/api/v1/health")  # the dashboard's origin: clear its storage
    driver.execute_script("sessionStorage.clear(); localStorage.clear();")
    driver.get_log("browser")  # drop what earlier tests logged
    yield driver
    with contextlib.suppress(Exception):  # a dialog left open would block the screenshot
        driver.switch_to.alert.dismiss()
    name = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
    screenshot(driver, name)
    call = getattr(request.node, "report_call", None)
    if call is not None and call.failed:
        (ARTIFACTS / f"{name}.html").write_text(driver.page_source)
        log = driver.get_log("browser")
        (ARTIFACTS / f"{name}.console.json").write_text(json.dumps(log, indent=1))


def screenshot(driver: Any, name: str) -> Path:
    """The whole page, not only the window, as ``ARTIFACTS/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    try:
        size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        # the full-height capture has no vertical scrollbar: the page is as wide as the window
        width = max(size["width"], driver.execute_script("return window.innerWidth"))
        clip = {"x": 0, "y": 0, "width": width, "height": min(size["height"], 10_000)}
        shot = driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": {**clip, "scale": 1}},
        )
        path.write_bytes(base64.b64decode(shot["data"]))
    except Exception:  # the DevTools call failed (a dialog open, an old driver): the window
        driver.save_screenshot(str(path))
    return path


def wait_until(
    condition: Callable[[], Any], what: str, timeout: float = WAIT_S, poll: float = 0.02
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail saying ``what`` it waited for."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
        except Exception as error:  # a stale element, a page mid-render
            last_error, result = error, None
        if result:
            return result
        time.sleep(poll)
    why = str(last_error).strip().splitlines()[0] if last_error else "none"  # not the stack
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {why})")


def login(driver: Any, werk: Werk, token: str, role: str) -> None:
    """Log in through the login page and wait until ``#whoami`` names the role."""
    from selenium.webdriver.common.by import By

    driver.get(f"{werk.url}/#/login")
    field = wait_until(lambda: driver.find_element(By.ID, "login-token"), "#login-token")
    field.clear()
    field.send_keys(token)
    driver.find_element(By.ID, "login-submit").click()
    # Signed in means the badge names the role of a token (an anonymous reader's badge also says
    # "viewer") and the page has left #/login: the submit handler's own redirect must not land on
    # top of the caller's next navigation.
    wait_until(
        lambda: (
            driver.find_element(By.ID, "whoami").text.startswith(f"{role} · ")
            and not driver.execute_script("return location.hash").startswith("#/login")
        ),
        f"#whoami to name the role {role!r} and the page to leave #/login",
    )
