"""``GET /api/docs``: the API's reference as one self-contained HTML page.

FastAPI's Swagger UI loads its script and stylesheet from a CDN, so on a machine without
internet it was a blank page. This page is rendered in the runner from the same OpenAPI
document (``/api/openapi.json``): every operation with its summary, description,
parameters and answers, no script and no outside request. Text from the schema is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

__all__ = ["router"]

router = APIRouter()

_CSS = """
body{font:14px/1.45 ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;margin:24px;
max-width:1100px;color:#14201c;background:#fff}
@media (prefers-color-scheme: dark){body{color:#cfe8dc;background:#0d1412}
.op{border-color:#24352f}.m{color:#06201c}code{background:#18241f}}
h1{font-size:20px}h2{font-size:15px;margin-top:28px;text-transform:uppercase;letter-spacing:.08em}
.op{border:1px solid #d5dfdb;border-radius:4px;padding:10px 12px;margin:10px 0}
.m{display:inline-block;min-width:56px;font-weight:700;padding:1px 6px;border-radius:3px;
background:#2bb3a3;color:#06201c;margin-right:8px}.m.post{background:#f2a93b}
.desc{white-space:pre-wrap;margin:6px 0}table{border-collapse:collapse;margin:6px 0}
td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
code{background:#eef3f1;padding:0 3px;border-radius:2px}
"""


def _params(op: dict[str, Any]) -> str:
    rows = []
    for p in op.get("parameters") or []:
        kind = (p.get("schema") or {}).get("type") or ""
        rows.append(f"<tr><td><code>{escape(str(p.get('name')))}</code></td>"
                    f"<td>{escape(str(p.get('in')))}</td><td>{escape(str(kind))}</td>"
                    f"<td>{'required' if p.get('required') else ''}</td>"
                    f"<td>{escape(str(p.get('description') or ''))}</td></tr>")
    if not rows:
        return ""
    return "<table><tr><th>parameter</th><th>in</th><th>type</th><th></th><th></th></tr>" \
        + "".join(rows) + "</table>"


def render(schema: dict[str, Any]) -> str:
    """The HTML reference of an OpenAPI document."""
    info = schema.get("info") or {}
    title = escape(str(info.get("title") or "API"))
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
             f"<style>{_CSS}</style></head><body><h1>{title} "
             f"{escape(str(info.get('version') or ''))}</h1>",
             f"<p>{escape(str(info.get('summary') or ''))} · the machine-readable document: "
             "<a href='/api/openapi.json'>/api/openapi.json</a></p>"]
    groups: dict[str, list[str]] = {}
    for path, methods in (schema.get("paths") or {}).items():
        for method, op in methods.items():
            if not isinstance(op, dict):
                continue
            answers = ", ".join(f"{escape(str(code))} {escape(str(r.get('description', '')))}"
                                for code, r in (op.get("responses") or {}).items())
            html = (f"<div class=op id='{escape(method)}-{escape(path)}'>"
                    f"<span class='m {escape(method)}'>{escape(method.upper())}</span>"
                    f"<code>{escape(path)}</code> {escape(str(op.get('summary') or ''))}"
                    f"<div class=desc>{escape(str(op.get('description') or ''))}</div>"
                    f"{_params(op)}<div>answers: {answers}</div></div>")
            tag = (op.get("tags") or ["other"])[0]
            groups.setdefault(str(tag), []).append(html)
    for tag, ops in groups.items():
        parts.append(f"<h2>{escape(tag)}</h2>" + "".join(ops))
    parts.append("</body></html>")
    return "".join(parts)


@router.get("/api/docs", include_in_schema=False, response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    """The API reference, rendered here (works offline: no CDN, no script)."""
    return HTMLResponse(render(request.app.openapi()))
