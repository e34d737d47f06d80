"""`flowwidgets demo` serves the dashboard notebook shipped in the package: it must stay
the same notebook as notebooks/dashboard.ipynb."""

import json
from pathlib import Path

from flowwidgets.demo import _ui

ROOT = Path(__file__).resolve().parents[2]


def test_packaged_dashboard_is_the_repositorys():
    shipped = json.loads(_ui.dashboard_notebook().read_text())
    repo = json.loads((ROOT / "notebooks" / "dashboard.ipynb").read_text())
    assert shipped["cells"] == repo["cells"]
