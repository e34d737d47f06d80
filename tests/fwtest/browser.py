"""Helpers of the browser tests that test modules import (``from fwtest.browser import ...``).

They live here, not in conftest.py: several test folders have a conftest, and
``from conftest import`` picks whichever was imported last.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from fwtest.procs import until

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
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")
CONSOLE_NOISE: list[tuple[str, re.Pattern[str]]] = [
    # A request our hermetic routing aborted (JupyterLab/Voilà reach for a CDN or the
    # web); chromium logs it as a console error with the remote URL as its location.
    ("aborted non-local request", re.compile(r"^Failed to load resource: net::ERR_FAILED$")),
]
"""Console errors that are not ours: (why, pattern of the message). Anything else fails."""


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


def is_noise(text: str, location: str) -> bool:
    """True for a console error listed in ``CONSOLE_NOISE`` (an aborted request counts
    only when it was not to 127.0.0.1)."""
    for _why, pattern in CONSOLE_NOISE:
        if pattern.search(text):
            return not location.startswith(LOCAL)
    return False


def assert_no_tracebacks(page) -> None:
    """A raising cell still renders with HTTP 200: fail on any stderr Traceback output."""
    outs = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    texts = [outs.nth(i).inner_text() for i in range(outs.count())]
    bad = [t for t in texts if "Traceback" in t or "Error" in t]
    assert not bad, f"errors in the notebook output: {bad}"


def wait_until(check: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``check`` every 0.1 s until it returns something true; fail naming ``what``."""
    return until(check, timeout, what, every=0.1)


# The WCAG contrast of an element's text on the first opaque background behind it,
# from computed styles (rgb()/rgba(); a translucent colour is blended on that background).
_CONTRAST_JS = """e => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  let bg = null;
  for (let n = e; n && !bg; n = n.parentElement) {
    const c = parse(getComputedStyle(n).backgroundColor);
    if (c.length >= 3 && (c.length === 3 || c[3] > 0.99)) bg = c.slice(0, 3);
  }
  bg = bg || [255, 255, 255];
  let fg = parse(getComputedStyle(e).color);
  const a = fg.length > 3 ? fg[3] : 1;
  fg = fg.slice(0, 3).map((v, i) => v * a + bg[i] * (1 - a));
  const lum = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}"""


def contrast(locator) -> float:
    """The contrast ratio of ``locator``'s text on its background (1 to 21)."""
    return float(locator.evaluate(_CONTRAST_JS))
