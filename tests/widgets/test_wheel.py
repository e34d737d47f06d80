"""A wheel built from the tracked sources (no built bundle, no node_modules) runs the build
hook (npm install + esbuild) and ships every widget's JS and CSS."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLES = ("cards", "jobs-table", "run-view", "dashboard", "timeline", "history", "run-compare")

pytestmark = pytest.mark.slow


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [f for f in out.stdout.decode().split("\0") if f]


def test_wheel_ships_the_built_bundles(tmp_path):
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: run scripts/bootstrap.sh (it installs nodejs and npm)")
    src = tmp_path / "src"
    for rel in tracked_files():
        path = ROOT / rel
        if path.is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / rel)
    assert not list((src / "flowwidgets" / "static").glob("*.js")), "start without a bundle"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist")]
    if importlib.util.find_spec("hatch_jupyter_builder") and importlib.util.find_spec("hatchling"):
        cmd.append("--no-build-isolation")  # use the venv's backend: no PyPI round trip
    proc = subprocess.run([*cmd, str(src)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (tmp_path / "dist").glob("flowwidgets-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for b in BUNDLES:
        assert f"flowwidgets/static/{b}.js" in names, sorted(names)
        assert f"flowwidgets/static/{b}.css" in names
    js = zipfile.ZipFile(wheel).read("flowwidgets/static/run-view.js").decode()
    assert "export" in js, "an ES module"
    assert 'from"./' not in js and "import(" not in js, "self-contained: no sibling chunks"
