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
