"""Render a widget's built ESM bundle in Debian's chromium with a fake anywidget model that
holds the widget's REAL synced state (``widget.get_state()``), and screenshot it.

The page is served by playwright's router at http://127.0.0.1:9/ (nothing listens there;
every other request is aborted), the bundle is imported from a blob URL exactly as
anywidget does, and a JS error fails at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "widgets"
ORIGIN = "http://127.0.0.1:9"

# A few of JupyterLab's light-theme variables, as Lab sets them on :root.
LIGHT_VARS = """:root{--jp-layout-color0:#ffffff;--jp-layout-color1:#ffffff;
--jp-layout-color2:#eeeeee;--jp-ui-font-color0:rgba(0,0,0,1);--jp-ui-font-color2:rgba(0,0,0,.54);
--jp-border-color2:#e0e0e0;--jp-code-font-family:'DejaVu Sans Mono',monospace}"""

HARNESS = """<!doctype html><html><head><meta charset="utf-8"><title>flowwidgets</title>
<style>%(vars)s body{margin:0;padding:16px;background:%(bg)s}</style></head>
<body %(attrs)s><div id="root" style="width:%(width)dpx"></div>
<script type="application/json" id="state">%(state)s</script>
<script type="module">
const state = JSON.parse(document.getElementById("state").textContent);
const style = document.createElement("style");
style.textContent = state._css;
document.head.appendChild(style);
const url = URL.createObjectURL(new Blob([state._esm], {type: "text/javascript"}));
const mod = await import(url);
const handlers = new Map();
window.__sent = [];
const model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; for (const f of handlers.get("change:" + k) || []) f(); },
  on: (e, f) => { if (!handlers.has(e)) handlers.set(e, []); handlers.get(e).push(f); },
  off: (e, f) => {
    const l = handlers.get(e) || [];
    if (l.indexOf(f) >= 0) l.splice(l.indexOf(f), 1);
  },
  save_changes: () => {},
  send: (m) => window.__sent.push(m),
};
window.__model = model;
window.__reply = (msg) => { for (const f of handlers.get("msg:custom") || []) f(msg, []); };
const t0 = performance.now();
window.__cleanup = await mod.default.render({model, el: document.getElementById("root"),
                                             signal: new AbortController().signal});
window.__renderMs = performance.now() - t0;
window.__rendered = true;
</script></body></html>"""


def harness(state: dict[str, Any], theme: str, width: int) -> str:
    """The page for one widget state in the ``"dark"`` or ``"light"`` JupyterLab theme, or
    (``"os-light"`` / ``"os-dark"``) outside JupyterLab: no Lab variables or body attribute,
    the system's colour scheme set by :func:`open_page`."""
    payload = json.dumps(state).replace("</", "<\\/")
    light = theme == "light"
    outside = theme.startswith("os-")
    return HARNESS % {
        "vars": LIGHT_VARS if light else "",
        "bg": "#ffffff" if light else "#111111",
        "attrs": "" if outside else (
            'data-jp-theme-light="true"' if light else 'data-jp-theme-light="false"'),
        "width": width,
        "state": payload,
    }


def open_page(browser: Any, state: dict[str, Any], theme: str, width: int = 1100) -> Any:
    """A page showing the widget; ``page.js_errors`` collects page errors."""
    scheme = "light" if theme == "os-light" else "dark" if theme == "os-dark" else "no-preference"
    context = browser.new_context(viewport={"width": width + 40, "height": 900},
                                  color_scheme=scheme)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    html = harness(state, theme, width)

    def route(r: Any) -> None:
        if r.request.url.rstrip("/") == ORIGIN:
            r.fulfill(status=200, content_type="text/html", body=html)
        elif r.request.url.startswith(("blob:", "data:")):
            r.continue_()
        else:
            r.abort()

    context.route("**/*", route)
    page.goto(ORIGIN + "/")
    page.wait_for_function("window.__rendered === true || false", timeout=10_000)
    assert not errors, f"JavaScript errors: {errors}"
    page.js_errors = errors
    return page


def shoot(page: Any, name: str) -> Path:
    """Screenshot the widget root to test-artifacts/widgets/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.locator("#root").screenshot(path=str(path))
    assert not page.js_errors, f"JavaScript errors: {page.js_errors}"
    return path


def widget_state(widget: Any) -> dict[str, Any]:
    """The synced state of a widget, as the front end receives it."""
    state = widget.get_state()
    return json.loads(json.dumps(state, default=str))
