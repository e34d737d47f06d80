"""What the compat tests share with the browser harness (tests/browser/conftest.py):
its chromium fixture, port and process helpers and console-noise rules, loaded from that
file under a private module name (two conftest modules must not shadow each other), plus
the third-party page errors the compat front ends are known to throw."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "compat"
"""Every compat test leaves a screenshot here (git-ignored): look at them."""


def _load_harness() -> ModuleType:
    path = HERE.parent / "browser" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_flowwidgets_browser_harness", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = _load_harness()
browser = harness.browser  # one chromium per test module (a fixture)
free_port = harness.free_port
wait_for_port = harness.wait_for_port
stop_process = harness.stop_process

KNOWN_PAGE_ERRORS: list[tuple[str, re.Pattern[str], re.Pattern[str]]] = [
    # Notebook 7's keyboard-shortcuts plugin reads registry.plugins[id].schema for a
    # plugin that is not loaded yet: a race inside Notebook itself, thrown while the page
    # loads, before any cell runs (seen with notebook 7.6.5; jupyter/notebook#7862).
    ("Notebook 7 shortcut-settings race",
     re.compile(r"^Cannot read properties of undefined \(reading 'schema'\)$"),
     re.compile(r"/static/notebook/notebook_core\.[0-9a-f]+\.js")),
]
"""Uncaught page errors that are not ours: (why, message pattern, stack pattern). Both
patterns must match; anything else fails the test."""


def known_page_error(message: str, stack: str) -> bool:
    """True for an uncaught error listed in ``KNOWN_PAGE_ERRORS``."""
    return any(msg.search(message) and where.search(stack)
               for _why, msg, where in KNOWN_PAGE_ERRORS)


