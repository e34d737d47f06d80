"""The core alone: ``pip install flowwidgets`` (no extra) into a fresh venv watches a runner.

The venv is made once per pyproject.toml (cached under pytest's cache folder, so later
sessions only reinstall flowwidgets itself from this tree, a normal install with its
dependencies resolved); the runner runs in THIS process (the project venv, with the
runner extra) over real HTTP on 127.0.0.1, and a script in the core venv connects to it,
draws every widget, builds the frames and restarts a failed run. The same venv shows that
``flowwidgets serve`` and ``fw.LocalRunner`` name the missing extra in one line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import textwrap
import venv
from pathlib import Path

import pytest

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import serve_in_thread
from flowwidgets.runner.spec import PipelineSpec, StepSpec

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
RUNNER_ONLY = ("fastapi", "starlette", "pydantic", "uvicorn", "orjson", "croniter", "textual")


@pytest.fixture(scope="session")
def core_python(request: pytest.FixtureRequest) -> Path:
    """A venv with ``pip install <this tree>`` and nothing else; its python."""
    key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    home = Path(request.config.cache.mkdir("core-venv")) / key
    python = home / "bin" / "python"
    if not (home / ".ready").exists():
        shutil.rmtree(home, ignore_errors=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(home)
        _pip(python, "install", "-q", "--upgrade", "pip")
        _pip(python, "install", "-q", str(ROOT))
        (home / ".ready").touch()
    else:  # the dependencies are there: reinstall flowwidgets from this tree
        _pip(python, "install", "-q", str(ROOT))
    return python


def _pip(python: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(python), "-m", "pip", *args], env=env, capture_output=True,
                          text=True, timeout=840)
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def _run(python: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(python), "-c", textwrap.dedent(code), *args], env=env,
                          capture_output=True, text=True, timeout=120, cwd="/")


ORDERS = PipelineSpec("orders", (
    StepSpec("fetch", run="true"),
    StepSpec("load", depends_on=("fetch",), run="test ! -f fail.flag || exit 3"),
))


def test_core_venv_has_no_runner_dependencies(core_python: Path) -> None:
    done = _run(core_python, """
        import importlib.util, json, sys
        print(json.dumps([m for m in sys.argv[1:] if importlib.util.find_spec(m)]))
    """, *RUNNER_ONLY)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_core_alone_watches_a_runner_of_another_venv(core_python: Path, tmp_path: Path) -> None:
    (tmp_path / "fail.flag").write_text("on")
    runner = LocalRunner([ORDERS], db=tmp_path / "runs.sqlite", data_dir=tmp_path, tick_s=0.1)
    handle = serve_in_thread(runner, port=0)
    try:
        failed = runner.wait(runner.run_now("orders"), timeout=30)
        assert str(failed.status) == "failed"
        (tmp_path / "fail.flag").unlink()
        done = _run(core_python, """
            import sys, time
            import flowwidgets as fw

            assert "site-packages" in fw.__file__, fw.__file__
            src = fw.connect(sys.argv[1])
            assert [p.name for p in src.pipelines()] == ["orders"]
            run = src.runs().runs[0]
            assert str(run.status) == "failed", run
            views = [fw.Dashboard(src), fw.PipelineCards(src), fw.JobsTable(src),
                     fw.RunView(src, run.run_id)]
            html = views[3]._repr_mimebundle_()
            html = html[0] if isinstance(html, tuple) else html
            assert "load" in html["text/html"], html.keys()
            assert len(fw.runs_frame(src)) == 1
            assert list(fw.steps_frame(src, run.run_id)["name"]) == ["fetch", "load"]
            new = src.restart(run.run_id, from_step="load")
            deadline = time.monotonic() + 30
            while not src.run(new).status.is_terminal:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            print(src.run(new).status)
            for view in views:
                view.close()
        """, handle.url)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == "succeeded"
    finally:
        handle.stop()
        runner.stop()


def test_runner_commands_name_the_extra(core_python: Path, tmp_path: Path) -> None:
    cli = core_python.parent / "flowwidgets"
    spec = tmp_path / "p.yaml"
    spec.write_text("pipelines: []\n")
    for argv in (["serve", str(spec)], ["run", str(spec)], ["demo", "--no-ui"]):
        done = subprocess.run([str(cli), *argv], capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, (argv, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert "pip install 'flowwidgets[runner]'" in lines[0], lines
    done = _run(core_python, """
        import flowwidgets as fw
        try:
            fw.LocalRunner
        except ImportError as exc:
            print(exc)
    """)
    assert done.returncode == 0, done.stderr
    assert "pip install 'flowwidgets[runner]'" in done.stdout
