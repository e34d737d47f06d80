"""Rewrite one marked section of bench/RESULTS.md (the others are kept as they are)."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def record(key: str, title: str, intro: str, lines: list[str]) -> None:
    """Replace the ``<!-- key:start -->`` … ``<!-- key:end -->`` section (appended when
    missing) with ``title``, ``intro`` and ``lines`` in a code block."""
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    body = "\n".join([start, f"## {title}", "", intro, "", "```", *lines, "```", end])
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if start in text and end in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: body, text,
                      flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    RESULTS.write_text(text)
    print(f"recorded in {RESULTS.name} ({key})")


def replace_heading(heading: str, body: str) -> None:
    """Replace the section that starts at the line ``heading`` (up to the next ``## ``)
    with ``body`` (which starts with the heading), or append it when missing."""
    old = RESULTS.read_text()
    if heading in old:
        start = old.index(heading)
        nxt = old.find("\n## ", start + len(heading))
        new = old[:start] + body + ("" if nxt < 0 else old[nxt:])
    else:
        new = old.rstrip("\n") + "\n\n" + body
    RESULTS.write_text(new)
