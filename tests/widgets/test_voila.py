"""The Dashboard in a real front end: Voilà runs a notebook whose kernel talks to a real
runner; chromium clicks a failed run's square (Python navigates to its DAG), asks for a
restart, confirms in the widget, and sees the new run the kernel opened — text only the
Python side can produce."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from _shots import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

NOTEBOOK = [
    "import flowwidgets.widgets as fww\nfrom flowwidgets.sources import connect\n"
    "dash = fww.Dashboard(connect())\ndash",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"voila exited with {proc.returncode}"
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"voila did not listen on {port}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def test_dashboard_round_trip_in_voila(served, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap.sh --browser")
    served.fail()
    failed = served.src.run_now("orders")
    served.finished(failed)
    served.fail(False)

    nb_path = tmp_path / "dash.ipynb"
    nbformat.write(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK]), nb_path)
    port = _free_port()
    env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1", "RUNNER_STATUS_URL": served.url}
    voila = shutil.which("voila", path=str(Path(sys.executable).parent)) or "voila"
    log = open(tmp_path / "voila.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [voila, str(nb_path), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
         "--show_tracebacks=True", "--Voila.port_retries=0"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    from playwright.sync_api import sync_playwright

    try:
        _wait_port(port, proc)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
                ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")) else r.abort())
            try:
                page.goto(f"http://127.0.0.1:{port}/", timeout=90_000)
                square = page.locator(f'.fw-cards button[data-run-id="{failed}"]')
                square.wait_for(timeout=90_000)
                assert not errors, errors
                square.click()  # → Python: select → Dashboard.show_run → RunView loads it
                page.locator(".fw-run g.fw-node--failed").wait_for(timeout=20_000)
                assert "dedupe" in page.locator(".fw-run .fw-dag").text_content()
                page.locator('.fw-run .fw-actions button[data-action="restart"]').click()
                page.locator(".fw-run [role=alertdialog] .fw-btn--primary").click()
                # the kernel POSTed the restart, replied, and opened the new run
                line = page.locator(".fw-run .fw-last-action")
                line.filter(has_text="new run").wait_for(timeout=20_000)
                text = line.text_content()
                assert 'restart from "dedupe" of run' in text
                new = text.rsplit("new run ", 1)[1].split(":", 1)[0].strip()
                assert served.src.run(new).parent_run_id == failed
                page.locator(".fw-navbar .fw-crumb[aria-current=page]").filter(
                    has_text=new).wait_for(timeout=10_000)
                stderr = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
                assert stderr.count() == 0 or "Traceback" not in stderr.all_text_contents()
                assert not errors, errors
            finally:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "voila-dashboard.png"), full_page=True)
                context.close()
                browser.close()
    finally:
        _stop(proc)
        log.close()
