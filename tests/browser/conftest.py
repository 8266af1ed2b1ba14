"""Fixtures of the browser tests: the example project served on localhost, Chromium
driven by Playwright, and visitors at a phone's and a desktop's width.

* ``site`` (session): a throw-away SQLite database (``EXAMPLE_PROJECT_DB``), migrated and
  seeded with ``seed_demo``, served by ``manage.py runserver --noreload`` on a free port
  of 127.0.0.1 (static files are served by runserver: the example runs with DEBUG on).
* ``chromium`` (session): Debian's Chromium (``/usr/bin/chromium``, or ``CHROMIUM_PATH``)
  launched headless by Playwright. Playwright's own browser builds are never used.
* ``viewport``: every test that uses it runs twice, at 390x844 (``phone``) and
  1280x800 (``desktop``).
* ``browse``: opens visitors (a fresh browser context each, so each has its own cookies
  and session); every page a visitor shows is screenshotted and checked (see
  ``checks.py``).

Only ``tox -e browser`` (or ``RR_BROWSER_TESTS=1``) collects this folder: see
``tests/conftest.py``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .checks import Site, Visitor

ROOT = Path(__file__).resolve().parents[2]
MANAGE = ROOT / "example_project" / "manage.py"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORTS = {
    "phone": {"width": 390, "height": 844},
    "desktop": {"width": 1280, "height": 800},
}
#: How long a Playwright action or wait may take before the test fails (milliseconds).
TIMEOUT_MS = 15_000


def screenshot_root() -> Path:
    return Path(os.environ.get("BROWSER_SCREENSHOTS") or ROOT / ".browser-screenshots")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manage(*args: str, env: dict[str, str]) -> str:
    """Run ``example_project/manage.py`` with this interpreter; its output, or a test
    failure with it."""
    done = subprocess.run(
        [sys.executable, str(MANAGE), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode:
        pytest.fail(
            f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )
    return done.stdout


def wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(
                f"runserver exited ({server.returncode}):\n{log.read_text()[-4000:]}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"runserver did not answer {url} within {seconds:.0f}s", pytrace=False)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The example project, migrated, seeded and served on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("example_project")
    env = {
        **os.environ,
        # The example's settings, never the test suite's (pytest-django sets these).
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "EXAMPLE_PROJECT_DB": str(folder / "db.sqlite3"),
        "PYTHONUNBUFFERED": "1",
    }
    manage("migrate", "--no-input", "-v", "0", env=env)
    seeded = manage("seed_demo", env=env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    shots = screenshot_root()
    shots.mkdir(parents=True, exist_ok=True)
    log = shots / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, str(MANAGE), "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(f"{url}/login/", server, log, seconds=60)
        yield Site(url=url, seed_output=seeded, log=log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright's sync API."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium; "
            "elsewhere set CHROMIUM_PATH). Playwright's own browser downloads are not used.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    """``phone`` or ``desktop``: the test runs at both widths."""
    return str(request.param)


def flow_name(node_name: str) -> str:
    """``test_sign_up[phone]`` -> ``sign_up`` (screenshot file names)."""
    name = re.sub(r"\[.*\]$", "", node_name)
    return re.sub(r"^test_", "", name)


class Browse:
    """Opens visitors (browser contexts) at the test's viewport and closes them after."""

    def __init__(self, browser: Any, site: Site, viewport: str, flow: str) -> None:
        self.browser = browser
        self.site = site
        self.viewport = viewport
        self.folder = screenshot_root() / viewport
        self.folder.mkdir(parents=True, exist_ok=True)
        self.flow = flow
        self.shots = 0
        self.visitors: list[Visitor] = []

    def __call__(self, *, javascript: bool = True) -> Visitor:
        context = self.browser.new_context(
            viewport=VIEWPORTS[self.viewport], java_script_enabled=javascript
        )
        context.set_default_timeout(TIMEOUT_MS)
        visitor = Visitor(context.new_page(), site=self.site, browse=self)
        self.visitors.append(visitor)
        return visitor

    def screenshot_path(self, step: str) -> Path:
        self.shots += 1
        slug = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        return self.folder / f"{self.flow}-{self.shots:02d}-{slug}.png"

    def close(self) -> list[str]:
        """Close every context; what their pages reported after the last check."""
        left = []
        for visitor in self.visitors:
            left += visitor.watch.take()
            visitor.page.context.close()
        return left


@pytest.fixture
def browse(
    chromium: Any, site: Site, viewport: str, request: pytest.FixtureRequest
) -> Iterator[Browse]:
    """``visitor = browse()`` opens a fresh visitor (no cookies) at the test's width;
    ``browse(javascript=False)`` one with JavaScript off."""
    opened = Browse(chromium, site, viewport, flow_name(request.node.name))
    yield opened
    left = opened.close()
    if left:
        pytest.fail("after the last check:\n" + "\n".join(left), pytrace=False)
