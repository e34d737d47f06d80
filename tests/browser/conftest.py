"""Real widgets in a real browser: Debian's chromium driven by playwright, Voilà serving.

Hermetic: every request that is not to 127.0.0.1 (or data:/blob:) is aborted. A JS error
on the page fails the test at once. Every test saves a screenshot under
test-artifacts/browser/ — look at them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("FLOWWIDGETS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until something accepts on 127.0.0.1:port (a TCP connect, not an HTTP GET)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def stop_process(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it after a grace period."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@pytest.fixture(scope="session")
def browser():
    """One chromium for the session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap.sh --browser "
                    "(it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    """A fresh hermetic page; fails on JS errors; screenshots itself at the end."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))

    def _route(route):
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            return route.continue_()
        return route.abort()

    context.route("**/*", _route)
    pg.js_errors = errors  # type: ignore[attr-defined]
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    try:
        pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _voila_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env.update(extra)
    return env


@pytest.fixture
def voila(tmp_path) -> Iterator:
    """Start Voilà on a notebook: ``url = voila(notebook_path, env={...})``."""
    procs: list[subprocess.Popen] = []
    voila_bin = shutil.which("voila", path=str(Path(sys.executable).parent)) or "voila"

    def start(notebook: Path, env: dict[str, str] | None = None, timeout: float = 90) -> str:
        port = free_port()
        log = open(tmp_path / f"voila-{port}.log", "w")  # noqa: SIM115 (closed below)
        proc = subprocess.Popen(
            [voila_bin, str(notebook), "--no-browser", f"--port={port}",
             "--Voila.ip=127.0.0.1", "--show_tracebacks=True", "--Voila.port_retries=0"],
            cwd=notebook.parent, env=_voila_env(env or {}), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc._log = log  # type: ignore[attr-defined]
        procs.append(proc)
        wait_for_port(port, timeout, proc)
        return f"http://127.0.0.1:{port}/"

    yield start
    for proc in procs:
        stop_process(proc)
        proc._log.close()  # type: ignore[attr-defined]


def assert_no_tracebacks(page) -> None:
    """A raising cell still renders with HTTP 200: fail on any stderr Traceback output."""
    outs = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    texts = [outs.nth(i).inner_text() for i in range(outs.count())]
    bad = [t for t in texts if "Traceback" in t or "Error" in t]
    assert not bad, f"errors in the notebook output: {bad}"
