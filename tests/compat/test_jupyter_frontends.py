"""The Dashboard in Jupyter Notebook 7 and JupyterLab 4, in chromium: a notebook whose
kernel talks to a real demo runner is opened, run-all is executed through the app's
command registry, the cards render with the runner's pipelines, and a click on the failed
run's square reaches the kernel, which opens that run's DAG (text only Python can put
there: the run view loads the run from the runner)."""

from __future__ import annotations

import json

import nbformat
import pytest
from _compat_servers import isolated_env, start_server

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

TOKEN = "compat-token"
NOTEBOOK = "compat.ipynb"
CELL = ("import os\nimport flowwidgets as fw\n\n"
        "src = fw.connect(os.environ['RUNNER_STATUS_URL'])\nfw.Dashboard(src)")

FRONT_ENDS = {
    # Notebook 7 is built on JupyterLab: the app is on window.jupyterapp only with this flag.
    "notebook7": (["notebook", "--expose-app-in-browser"], f"/notebooks/{NOTEBOOK}"),
    "jupyterlab4": (["jupyterlab", "--LabApp.expose_app_in_browser=True",
                     "--LabApp.news_url=None"], f"/lab/tree/{NOTEBOOK}"),
}
NO_NEWS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}
"""JupyterLab's news toast would cover the page (and ask to reach the web)."""

RUN_ALL = """async () => {
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    await panel.context.ready;
    await panel.sessionContext.ready;
    await app.commands.execute('notebook:run-all-cells');
}"""


@pytest.mark.parametrize("front_end", list(FRONT_ENDS))
def test_dashboard_renders_and_navigates(front_end, page, demo_runner, tmp_path, cleanup):
    args, path = FRONT_ENDS[front_end]
    root = tmp_path / "notebooks"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, root / NOTEBOOK)
    settings = tmp_path / "app-settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(json.dumps(NO_NEWS), encoding="utf-8")
    extra = [f"--LabApp.app_settings_dir={settings}"] if front_end == "jupyterlab4" else []
    port = start_server(
        [*args, *extra, "--no-browser", "--allow-root", "--ip=127.0.0.1", "--port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={root}"],
        cwd=root, env=isolated_env(tmp_path / "env", RUNNER_STATUS_URL=demo_runner.url),
        log=tmp_path / f"{front_end}.log", cleanup=cleanup)

    page.goto(f"http://127.0.0.1:{port}{path}?token={TOKEN}", timeout=90_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext",
                           timeout=90_000)
    page.evaluate(RUN_ALL)
    cards = page.locator('.fw-root.fw-cards[data-ready="1"] article.fw-card')
    cards.first.wait_for(timeout=90_000)

    expected = [p.name for p in demo_runner.source.pipelines()]
    assert cards.evaluate_all("els => els.map(e => e.dataset.pipeline)") == expected
    square = page.locator(f'.fw-card[data-pipeline="warehouse_etl"] '
                          f'button.fw-sq[data-run-id="{demo_runner.failed_run}"]')
    assert "fw-sq--failed" in square.get_attribute("class")
    assert page.locator(".fw-navbar").count() == 1  # the live dashboard, not a fallback
    assert page.locator(".fw-static").count() == 0

    square.click()  # → kernel: select → Dashboard.show_run → RunView reads the run
    failed = page.locator('.fw-run g.fw-node--failed[data-step="merge_payments"]')
    failed.wait_for(timeout=30_000)
    crumb = page.locator(".fw-navbar .fw-crumb[aria-current=page]")
    assert demo_runner.failed_run in crumb.inner_text()
    stderr = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    assert not [t for t in stderr.all_inner_texts() if "Traceback" in t or "Error" in t]


def test_quickstart_runs_in_jupyterlab(page, demo_runner, tmp_path, cleanup):
    """notebooks/quickstart.ipynb as a user opens it: run all, and every view renders live."""
    import shutil
    from pathlib import Path

    args, _ = FRONT_ENDS["jupyterlab4"]
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy(Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb", root)
    settings = tmp_path / "app-settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(json.dumps(NO_NEWS), encoding="utf-8")
    port = start_server(
        [*args, f"--LabApp.app_settings_dir={settings}", "--no-browser", "--allow-root",
         "--ip=127.0.0.1", "--port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}"],
        cwd=root, env=isolated_env(tmp_path / "env", RUNNER_STATUS_URL=demo_runner.url),
        log=tmp_path / "lab-quickstart.log", cleanup=cleanup)

    page.goto(f"http://127.0.0.1:{port}/lab/tree/quickstart.ipynb?token={TOKEN}",
              timeout=90_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext",
                           timeout=90_000)
    page.evaluate(RUN_ALL)
    for root_class in ("fw-cards", "fw-jobs", "fw-run", "fw-navbar"):
        page.locator(f'.fw-root.{root_class}[data-ready="1"]').first.wait_for(timeout=120_000)
    page.locator(".fw-jobs tbody tr").first.wait_for(timeout=60_000)
    page.locator(".fw-run svg g.fw-node").first.wait_for(timeout=60_000)
    assert page.locator(".jp-OutputArea-output[data-mime-type*='stderr']").count() == 0
