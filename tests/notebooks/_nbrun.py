"""Execute a notebook of notebooks/ with nbclient in a real kernel of this venv.

The kernel is the ``python3`` kernelspec found under this venv's ``share/jupyter`` (its
``python`` argv is resolved to this interpreter by jupyter_client); a first cell added to
the executed copy records the kernel's interpreter so the tests can check it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "notebooks"
"""Where every executed copy is saved (git-ignored): open them to see what the tests saw."""
KERNEL_PROBE = "import sys\nprint(sys.executable)"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
CELL_TIMEOUT_S = 120


def kernel_env(**extra: str | None) -> dict[str, str]:
    """The test process's environment for the kernel, minus any runner or token settings
    of the machine, plus ``extra`` (None values are left out)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RUNNER_STATUS_URL", "FLOWWIDGETS_TOKEN", "FLOWWIDGETS_DEMO_DATA",
                        "FLOWWIDGETS_DEMO_PACE", "MPLBACKEND")}
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def execute(name: str, env: dict[str, str], label: str) -> nbformat.NotebookNode:
    """Run every cell of ``notebooks/<name>.ipynb`` (cwd: notebooks/) and return the
    executed copy, also saved as ``test-artifacts/notebooks/<name>-<label>.ipynb``;
    nbclient raises ``CellExecutionError`` when a cell raises."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    probe = new_code_cell(KERNEL_PROBE)
    probe.metadata["tags"] = ["test-kernel-probe"]
    nb.cells.insert(0, probe)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}},
                            shutdown_kernel="graceful")
    try:
        client.execute(env=env)
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, ARTIFACTS / f"{name}-{label}.ipynb")
    return nb


def cell(nb: nbformat.NotebookNode, tag: str) -> nbformat.NotebookNode:
    """The one code cell tagged ``tag``."""
    found = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", ())]
    assert len(found) == 1, f"expected one cell tagged {tag!r}, found {len(found)}"
    return found[0]


def text(c: nbformat.NotebookNode) -> str:
    """Everything a cell printed or displayed as text (stdout, text/plain, text/html)."""
    parts: list[str] = []
    for out in c.get("outputs", ()):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            data: dict[str, Any] = out.data
            parts.extend(str(data[m]) for m in ("text/plain", "text/html") if m in data)
    return "\n".join(parts)


def mimes(c: nbformat.NotebookNode) -> set[str]:
    """The MIME types of a cell's rich outputs."""
    return {m for out in c.get("outputs", ()) if out.output_type in
            ("execute_result", "display_data") for m in out.data}


def check_clean(nb: nbformat.NotebookNode) -> None:
    """No error output, nothing on stderr, and the kernel ran this venv's python."""
    probe = cell(nb, "test-kernel-probe")
    assert text(probe).strip() == sys.executable, text(probe)
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        for out in c.outputs:
            assert out.output_type != "error", f"cell {i} raised: {out.get('ename')}"
            if out.output_type == "stream":
                assert out.name == "stdout", f"cell {i} wrote to stderr:\n{out.text}"
        assert c.execution_count is not None, f"cell {i} did not run"
