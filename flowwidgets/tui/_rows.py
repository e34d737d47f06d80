"""Table rows and info lines built from the models (pure; every runner string as literal Text)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from rich.text import Text

from flowwidgets.models import Pipeline, Run, RunDetail, Status, Step
from flowwidgets.tui._format import (
    COLORS,
    clean,
    dag_tree,
    format_at,
    format_duration,
    format_next,
    format_started,
    status_text,
    step_label,
    strip_text,
    zone_name,
)

__all__ = [
    "PIPELINE_COLUMNS",
    "Column",
    "RUN_COLUMNS",
    "STEP_COLUMNS",
    "Row",
    "banner_text",
    "pipeline_rows",
    "run_info",
    "run_rows",
    "step_info",
    "step_key_names",
    "step_rows",
    "unique_keys",
    "zoned_columns",
]

Row = tuple[str, list[Text]]
"""A table row: its key (unique within the table) and its cells."""

Column = tuple[str, str, int]
"""A table column: its key, its header and its width in cells (fixed, so the layout
stays still while data changes; longer cells end with an ellipsis)."""

PIPELINE_COLUMNS: tuple[Column, ...] = (
    ("name", "Pipeline", 22), ("strip", "Last 10", 10), ("latest", "Latest", 13),
    ("next", "Next (UTC)", 16), ("median", "Median", 8), ("total", "Runs", 6),
    ("kind", "Kind", 9))
RUN_COLUMNS: tuple[Column, ...] = (
    ("run", "Run", 44), ("status", "Status", 13), ("trigger", "Trigger", 9),
    ("started", "Started (UTC)", 13), ("duration", "Duration", 9), ("attempts", "Att.", 4),
    ("failed", "Failed step", 24), ("lineage", "Lineage", 56))
STEP_COLUMNS: tuple[Column, ...] = (
    ("step", "Step", 28), ("state", "State", 13), ("started", "Started (UTC)", 13),
    ("duration", "Duration", 9), ("attempts", "Att.", 4), ("error", "Error / note", 50))

_MUTED = COLORS["muted"]


def zoned_columns(columns: Sequence[Column], zone: str) -> tuple[Column, ...]:
    """``columns`` with each "(UTC)" header naming ``zone`` instead ("Started (IST)"), the
    column widened if the header needs it."""
    out = []
    for key, label, width in columns:
        if "(UTC)" in label:
            label = label.replace("(UTC)", f"({zone_name(zone)})")
        out.append((key, label, max(width, len(label))))
    return tuple(out)


def unique_keys(keys: Iterable[str]) -> list[str]:
    """Row keys made unique (a runner may repeat an id): repeats get ``#2``, ``#3``…"""
    seen: dict[str, int] = {}
    out: list[str] = []
    for key in keys:
        n = seen.get(key, 0) + 1
        seen[key] = n
        out.append(key if n == 1 else f"{key}#{n}")
    return out


def _plain(value: object, limit: int | None = None, style: str = "") -> Text:
    text = clean(value, limit)
    return Text(text or "—", style=style if text else _MUTED)


def _run_duration(run: Run, now: datetime) -> str:
    if run.duration_ms is not None:
        return format_duration(run.duration_ms)
    if run.status.is_active and run.started_at is not None:
        return format_duration((now - run.started_at).total_seconds() * 1000) + "…"
    return "—"


def pipeline_rows(pipelines: Sequence[Pipeline], zone: str = "UTC") -> list[Row]:
    """One row per pipeline: name, kind, the last-10 strip, latest status, next fire (in
    ``zone``), median."""
    keys = unique_keys(p.name for p in pipelines)
    rows: list[Row] = []
    for key, p in zip(keys, pipelines, strict=True):
        latest = status_text(p.latest_run.status) if p.latest_run else Text("· no run", _MUTED)
        rows.append((key, [
            Text(clean(p.name, 128)),
            strip_text(p.recent_runs),
            latest,
            format_next(p, zone),
            Text(format_duration(p.median_duration_ms)),
            Text("—" if p.total_runs is None else str(p.total_runs), style=_MUTED),
            Text(clean(p.kind, 20), style=_MUTED),
        ]))
    return rows


def _lineage(run: Run, child: Run | None) -> Text:
    """Where a run came from and the newest run started from it (in that run's colour)."""
    text = Text()
    parent = run.extra.get("parent_run_id")
    if parent:
        text.append(f"↰ {clean(run.trigger or 'from', 8)} of {clean(parent, 40)}", style=_MUTED)
    if child is not None:
        if parent:
            text.append(" · ", style=_MUTED)
        text.append(f"→ {clean(child.run_id, 40)} ")
        text.append_text(status_text(child.status))
    return text


def run_rows(runs: Sequence[Run], now: datetime, zone: str = "UTC") -> list[Row]:
    """One row per run (newest first, as given): id, status, trigger, started, duration,
    attempts, failed step and lineage (the run it came from; the newest run started from
    it among those given). Times in ``zone``."""
    keys = unique_keys(r.run_id for r in runs)
    newest: dict[str, Run] = {}
    for r in reversed(runs):  # oldest first: a newer child replaces an older one
        parent = r.extra.get("parent_run_id")
        if parent:
            newest[parent] = r
    return [
        (key, [
            Text(clean(r.run_id, 128)),
            status_text(r.status),
            _plain(r.trigger, 12, _MUTED),
            Text(format_started(r.started_at, now, zone)),
            Text(_run_duration(r, now)),
            Text("—" if r.attempts is None else str(r.attempts)),
            _plain(r.failed_step, 128, COLORS["red"]),
            _lineage(r, newest.get(r.run_id)),
        ])
        for key, r in zip(keys, runs, strict=True)
    ]


def _step_duration(step: Step, now: datetime) -> str:
    if step.duration_ms is not None:
        return format_duration(step.duration_ms)
    if step.status is Status.RUNNING and step.started_at is not None:
        return format_duration((now - step.started_at).total_seconds() * 1000) + "…"
    return "—"


def _step_note(step: Step) -> Text:
    if step.error:
        last = step.error.strip().splitlines()[-1] if step.error.strip() else ""
        return Text(clean(last, 300), style=COLORS["red"])
    if step.reused_from:
        return Text(f"reused from {clean(step.reused_from, 128)}", style=_MUTED)
    return Text("")


def _tree_keys(tree: list[tuple[Step, int, bool]]) -> list[str]:
    return unique_keys(f"{s.name}#also" if ref else s.name for s, _, ref in tree)


def step_key_names(steps: Iterable[Step]) -> dict[str, str]:
    """Row key → step name for the rows :func:`step_rows` builds from the same steps."""
    tree = dag_tree(steps)
    return dict(zip(_tree_keys(tree), [s.name for s, _, _ in tree], strict=True))


def _parents(step: Step, names: set[str]) -> str:
    return " + ".join(clean(d, 60) for d in dict.fromkeys(step.depends_on) if d in names)


def step_rows(steps: Iterable[Step], now: datetime, zone: str = "UTC") -> list[Row]:
    """The run's steps as a tree from the roots (:func:`dag_tree`): state icon and word,
    times (in ``zone``), error. A step with several parents is drawn under the last of
    them and, as a muted reference row naming all of them, under each other one."""
    tree = dag_tree(steps)
    names = {s.name for s, _, _ in tree}
    rows: list[Row] = []
    for key, (step, depth, ref) in zip(_tree_keys(tree), tree, strict=True):
        if ref:
            label = step_label(step.name, depth, limit=128)
            label.stylize(_MUTED)
            label.append(" ↓", style=_MUTED)
            rows.append((key, [label, status_text(step.status), Text(""),
                               Text(""), Text(""),
                               Text(f"also after {_parents(step, names)}; drawn below",
                                    style=_MUTED)]))
            continue
        attempts = len(step.attempts) if step.attempts else step.extra.get("attempt_count")
        note = _step_note(step)
        fan_in = _parents(step, names) if len(set(step.depends_on) & names) > 1 else ""
        if fan_in and not note.plain:
            note = Text(f"after {fan_in}", style=_MUTED)
        rows.append((key, [
            step_label(step.name, depth, limit=128),
            status_text(step.status),
            Text(format_started(step.started_at, now, zone)),
            Text(_step_duration(step, now)),
            Text("—" if not attempts else str(attempts)),
            note,
        ]))
    return rows


def step_info(step: Step) -> Text:
    """What Enter on a step shows above the table: its state, attempts, lineage, error."""
    text = Text()
    text.append("STEP ", style=f"bold {_MUTED}")
    text.append(clean(step.name, 60), style="bold")
    text.append("  ")
    text.append_text(status_text(step.status))
    count = len(step.attempts) or step.extra.get("attempt_count")
    if count:
        text.append(f"  {count} attempt{'s' if count != 1 else ''}", style=_MUTED)
    if step.duration_ms is not None:
        text.append(f"  {format_duration(step.duration_ms)}", style=_MUTED)
    if step.reused_from:
        text.append(f"  output reused from {clean(step.reused_from, 60)}", style=_MUTED)
    if step.depends_on:
        text.append(f"  after {clean(', '.join(step.depends_on), 80)}", style=_MUTED)
    error = (step.error or "").strip()
    if error:
        text.append("\n")
        text.append(clean(error.splitlines()[-1], 300), style=COLORS["red"])
    return text


def run_info(detail: RunDetail | None, now: datetime, eta: str = "",
             zone: str = "UTC") -> Text:
    """Two lines above the steps table: which run, its state and lineage, its ETA while
    it runs, its error."""
    if detail is None:
        return Text("No run selected", style=_MUTED)
    run = detail.run
    text = Text()
    text.append("RUN ", style=f"bold {_MUTED}")
    text.append(clean(run.run_id, 60), style="bold")
    text.append(f"  {clean(run.pipeline, 40)}  ")
    text.append_text(status_text(run.status))
    lineage = detail.parent_run_id and run.trigger in ("restart", "rerun", "resume")
    if run.trigger and not lineage:
        text.append(f"  trigger {clean(run.trigger, 20)}", style=_MUTED)
    if detail.parent_run_id:
        what = run.trigger if run.trigger in ("restart", "rerun", "resume") else "from"
        text.append(f"  {what} of run {clean(detail.parent_run_id, 60)}", style=_MUTED)
        from_step = detail.extra.get("from_step")
        if from_step:
            text.append(f" from step {clean(from_step, 40)!r}", style=_MUTED)
    for child in detail.children[-2:]:
        verb = {"restart": "restarted", "rerun": "rerun", "resume": "resumed"}.get(
            child.trigger or "", "continued")
        text.append(f"  {verb} → run {clean(child.run_id, 60)} ", style=_MUTED)
        text.append_text(status_text(child.status))
    zone_note = f" {zone_name(zone, run.started_at)}" if run.started_at else ""
    text.append(f"  started {format_started(run.started_at, now, zone)}{zone_note}",
                style=_MUTED)
    text.append(f"  {_run_duration(run, now)}", style=_MUTED)
    if eta:
        text.append(f"  {clean(eta, 80)}", style=COLORS["amber"])
    error = detail.error or ""
    if run.failed_step or error.strip():
        text.append("\n")
        if run.failed_step:
            text.append(f"failed at {clean(run.failed_step, 40)}: ", style=COLORS["red"])
        last = error.strip().splitlines()[-1] if error.strip() else ""
        text.append(clean(last, 160))
    return text


def banner_text(state: str, url: str, *, note: str = "", flavour: str | None = None,
                updated: datetime | None = None, stub_mode: bool = False,
                interval: float = 2.0, zone: str = "UTC") -> Text:
    """The connection line: connected / connecting / "No runner attached" / runner error."""
    if state == "connected":
        text = Text()
        text.append("● ", style=COLORS["teal"])
        text.append(clean(url, 80))
        if flavour:
            text.append(f" · {clean(flavour, 20)}", style=_MUTED)
        if updated is not None:
            text.append(f" · updated {format_at(updated, zone, '%H:%M:%S', with_zone=True)}",
                        style=_MUTED)
        if stub_mode:
            text.append("  STUB MODE: this server has no run log; its runs are not real",
                        style=f"bold {COLORS['amber']}")
        return text
    if state == "connecting":
        return Text(f"Connecting to {clean(url, 80)}…", style=COLORS["amber"])
    if state == "away":
        text = Text()
        text.append("✕ No runner attached", style=f"bold {COLORS['red']}")
        text.append(f" at {clean(url, 80)} · Waiting for runner… "
                    f"(retrying every {interval:g} s)", style=COLORS["amber"])
        if note:
            text.append(f" · {clean(note, 120)}", style=_MUTED)
        return text
    text = Text()
    text.append("✕ Runner error: ", style=f"bold {COLORS['red']}")
    text.append(clean(note, 200))
    return text
