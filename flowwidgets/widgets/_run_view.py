"""RunView: one run's DAG, failure, attempt history, a step's log tail, and its actions.

The DAG geometry comes from :func:`flowwidgets.layout.layout` and is sent (``_layout``)
only when the graph's shape changes; a status poll sends the new ``run`` and the view
restyles its nodes. Restart / rerun / resume are messages: the kernel POSTs through the
Source, replies with the new run id (or the runner's refusal), mirrors the outcome in
``last_action`` and opens the new run.

Twin of ``js/src/widgets/run-view.ts``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import traitlets

from flowwidgets.errors import RunnerUnavailable
from flowwidgets.layout import Layout, layout
from flowwidgets.models import Attempt, RunDetail, Status
from flowwidgets.widgets._base import FlowWidget, describe_error
from flowwidgets.widgets._fallback_run import run_html, run_text
from flowwidgets.widgets._run_timing import HistoryCache, run_eta, timing_payload
from flowwidgets.widgets._shapes import (
    RUN_LINK,
    RUN_VIEW_ACTIONS,
    RUN_VIEW_ATTEMPT,
    RUN_VIEW_RUN,
    RUN_VIEW_STEP,
)

if TYPE_CHECKING:
    from flowwidgets.live import LiveEvent
    from flowwidgets.sources import Source

__all__ = ["RunView"]

OpenCallback = Callable[[str], Any]
_NOT_RUN = (Status.PENDING, Status.REQUESTED, Status.SKIPPED, Status.CANCELLED)


def run_payload(detail: RunDetail) -> dict[str, Any]:
    """What the view shows of a run (the JSON of the ``run`` trait)."""
    d = detail.to_dict()
    # the copied fields are declared once in _shapes.py (the TS types are generated from it)
    return {
        "run": RUN_VIEW_RUN.pick(d["run"]),
        "steps": [
            {**RUN_VIEW_STEP.pick(sd),
             "attempts": len(s.attempts) if s.attempts else s.extra.get("attempts")}
            for s, sd in zip(detail.steps, d["steps"], strict=True)
        ],
        "attempts": [RUN_VIEW_ATTEMPT.pick(a) for a in d["attempts"]],
        "actions": RUN_VIEW_ACTIONS.pick(d["actions"]),
        "error": detail.error,
        "failed_watermark": detail.failed_watermark,
        "parent_run_id": detail.parent_run_id,
        "lineage": {
            "from_step": detail.extra.get("from_step"),
            "children": [{**RUN_LINK.pick(c), "from_step": c["extra"].get("from_step")}
                         for c in d["children"]],
        },
    }


def stream_payload(detail: RunDetail, stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """The live figures of a streaming run from its pipeline's ``streaming_stats`` (as the
    card shows them): rows/s over the last minute, rows so far, the last watermark and when
    it was committed. None for a batch run, or when the pipeline's newest commit belongs to
    another run (an older run of a stream must not show today's figures)."""
    if detail.run.kind != "streaming" or not stats:
        return None
    owner = stats.get("run_id")
    if owner is not None and owner != detail.run_id:
        return None
    if owner is None and not detail.status.is_active:
        return None  # a runner that does not say whose commit it is: only the live run's
    one_min = stats.get("stats_1m") or {}
    return {"rows_per_sec": one_min.get("rows_consumed_per_sec"),
            "rows_total": stats.get("rows_consumed_total"),
            "watermark": None if stats.get("watermark") is None else str(stats["watermark"]),
            "committed_at": stats.get("snapshot_at")}


def latest_attempt(detail: RunDetail, step: str) -> Attempt | None:
    """The newest attempt of ``step``: its own history, else the run's attempts that name
    it (ematix-flow's per-run attempts name only the step that failed)."""
    own = next((s.attempts for s in detail.steps if s.name == step), ())
    tries = own or [a for a in detail.attempts
                    if a.step == step or (a.step is None and a.extra.get("failed_step") == step)]
    return max(tries, key=lambda a: a.number) if tries else None


def _step_status(detail: RunDetail | None, step: str) -> Status | None:
    """The status of ``step`` in ``detail`` (None: no detail, or no such step)."""
    try:
        return detail.step(step).status if detail is not None else None
    except KeyError:
        return None


def step_error(detail: RunDetail, step: str, latest: Attempt | None) -> str | None:
    """What ``step`` failed with: its newest attempt's error (a traceback where the runner
    keeps one), else the step's own error, else the run's if this is its failed step."""
    if latest is not None and latest.error:
        return latest.error
    if latest is not None and (latest.status is Status.SUCCEEDED or latest.status.is_active):
        return None  # the newest try did not fail: older errors are in the attempt table
    own = next((s.error for s in detail.steps if s.name == step), None)
    if own:
        return own
    return detail.error if detail.run.failed_step == step else None


def no_log_note(detail: RunDetail | None, step: str) -> str:
    """Why a runner that keeps logs has none for ``step``: it did not run here, or it ran
    and wrote nothing."""
    found = next((s for s in detail.steps if s.name == step), None) if detail else None
    if found is not None and found.reused_from:
        return f"reused from run {found.reused_from}: it did not run in this run"
    if found is not None and not found.attempts and found.status in _NOT_RUN:
        return "this step has not run"
    return "no output was captured"


class RunView(FlowWidget):
    """A run's DAG (longest-path rank), legend, failed step and error, attempt history, a
    step's log tail on click, and the actions the run allows (Restart from step "X", Rerun
    from beginning, Resume from watermark, Cancel run), each confirmed in the view.

    ``RunView(src, run_id=None, *, live=True, on_open=None, theme="auto")``
    """

    _bundle = "run-view"
    _extra_kwargs = ("on_open",)

    # -- the run -----------------------------------------------------------------------
    run_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """The run shown; set it to show another run (None: none)."""
    run = traitlets.Dict().tag(sync=True)
    """The run's detail as the view shows it (read-only; empty until loaded)."""
    _layout = traitlets.Dict().tag(sync=True)
    view = traitlets.Unicode("dag").tag(sync=True)
    """Which drawing of the run shows: ``"dag"`` (the task graph) or ``"timeline"``."""
    _timing = traitlets.Dict().tag(sync=True)

    # -- step log ----------------------------------------------------------------------
    selected_step = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """The step whose log tail is shown (a click on a node sets it; None: none)."""
    _step_log = traitlets.Dict().tag(sync=True)

    _compare = traitlets.Dict().tag(sync=True)
    """The last "Compare with…" (:func:`flowwidgets.compare.compare_runs`, B = this run)."""

    # -- actions -----------------------------------------------------------------------
    last_action = traitlets.Dict().tag(sync=True)
    """The outcome of the last restart / rerun / resume / cancel: kind, run_id, from_step,
    new_run_id and new_status (the new run's status, followed to its end; a cancel:
    status) or error (the runner's detail), at. The view shows it only on the run it
    concerns (``run_id`` or ``new_run_id``)."""

    def __init__(self, source: Source, run_id: str | None = None, *, live: bool = True,
                 on_open: OpenCallback | None = None, **kwargs: Any) -> None:
        self._detail: RunDetail | None = None
        self._shape: tuple[Any, ...] | None = None
        self._lay: Layout | None = None
        self._open_callbacks: list[OpenCallback] = []
        self._history = HistoryCache(
            lambda p: self.source.step_history(p, limit=21, status="succeeded"))
        super().__init__(source, live=live, run_id=run_id, **kwargs)
        if on_open is not None:
            self.on_open(on_open)
        self.observe(self._on_run_id, names=["run_id"])
        self.observe(self._on_selected_step, names=["selected_step"])
        self._start()

    def on_open(self, callback: OpenCallback) -> None:
        """Call ``callback(run_id)`` whenever the view switches to another run (after an
        action started one, or the parent-run link was clicked)."""
        self._open_callbacks.append(callback)

    @property
    def detail(self) -> RunDetail | None:
        """The last :class:`~flowwidgets.models.RunDetail` read (None before any)."""
        return self._detail

    @traitlets.validate("view")
    def _check_view(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"]
        if value not in ("dag", "timeline"):
            raise traitlets.TraitError(f"view must be 'dag' or 'timeline', got {value!r}")
        return str(value)

    @property
    def graph(self) -> Layout | None:
        """The DAG layout of the run shown (None before any)."""
        return self._lay

    # -- actions (also callable from Python) ---------------------------------------------

    def restart(self, from_step: str | None = None) -> str:
        """Restart this run from ``from_step`` (default: its failed step); opens and
        returns the new run id."""
        rid = self._require_run()
        reply = self._action("restart", lambda: self.source.restart(rid, from_step=from_step),
                             run_id=rid, from_step=from_step)
        return self._open(reply["new_run_id"])

    def rerun(self) -> str:
        """Rerun this run's pipeline from the beginning; opens and returns the new run id."""
        rid = self._require_run()
        reply = self._action("rerun", lambda: self.source.rerun(rid), run_id=rid)
        return self._open(reply["new_run_id"])

    def resume(self) -> str:
        """Resume this (streaming) run from its last watermark; opens and returns the new
        run id."""
        rid = self._require_run()
        reply = self._action("resume", lambda: self.source.resume(rid), run_id=rid)
        return self._open(reply["new_run_id"])

    def cancel(self) -> str:
        """Cancel this (requested or running) run; returns its status word afterwards
        (``cancelled``; Airflow says ``failed``, Prefect ``running`` while it stops)."""
        rid = self._require_run()
        reply = self._action("cancel", lambda: self.source.cancel(rid), key="status",
                             run_id=rid)
        self._guarded(self._reload, f"reloading run {rid}")
        return reply["status"]

    def _require_run(self) -> str:
        if not self.run_id:
            raise ValueError("no run is shown: set run_id first")
        return self.run_id

    def _open(self, run_id: str) -> str:
        self.run_id = run_id  # the observer loads it
        self._call_user(self._open_callbacks, run_id)
        return run_id

    # -- FlowWidget ----------------------------------------------------------------------

    def _reload(self) -> None:
        if not self.run_id:
            self._detail = None
            with self.hold_sync():
                self._set(run={}, _layout={}, _step_log={}, selected_step=None, _timing={})
            return
        detail = self.source.run(self.run_id)
        try:
            eta = run_eta(detail, self._history)
        except Exception:  # no history readable: the timeline still draws, without ETA
            eta = None
        self._show(detail, eta)
        if self.selected_step and self._step_active(self.selected_step):
            self._load_log(self.selected_step)

    def _show(self, detail: RunDetail, eta: Any = None) -> None:
        self._detail = detail
        shape = tuple((s.name, tuple(s.depends_on)) for s in detail.steps)
        with self.hold_sync():
            if shape != self._shape:
                self._lay = layout(shape)
                self._shape = shape
                self._set(_layout=self._lay.to_dict())
            tl = timing_payload(detail, eta)
            payload = run_payload(detail)
            payload["critical_path"] = tl["critical_path"]
            payload["eta_text"] = tl["eta_text"]
            payload["stream"] = self._stream(detail)
            self._set(_timing=tl, run=payload)
            self._follow_outcome(detail)

    def _stream(self, detail: RunDetail) -> dict[str, Any] | None:
        """:func:`stream_payload` of ``detail`` (reads the pipelines for a streaming run)."""
        if detail.run.kind != "streaming":
            return None
        try:
            pipes = self.source.pipelines()
        except RunnerUnavailable:
            raise
        except Exception:  # no stats readable: the run still shows, without its stream line
            return None
        found = next((p for p in pipes if p.name == detail.run.pipeline), None)
        return stream_payload(detail, found.streaming_stats if found else None)

    def _follow_outcome(self, detail: RunDetail) -> None:
        """Keep ``last_action`` saying how the run it concerns is doing, to its end: the
        new run of a restart / rerun / resume, the run of a cancel."""
        a = self.last_action
        if not a or a.get("error"):
            return
        if a.get("kind") == "cancel" and a.get("run_id") == detail.run_id:
            key = "status"
        elif a.get("new_run_id") == detail.run_id:
            key = "new_status"
        else:
            return
        if a.get(key) != detail.status.value:
            self._set(last_action={**a, key: detail.status.value})

    def _step_active(self, step: str) -> bool:
        if self._detail is None:
            return False
        try:
            return self._detail.step(step).status.is_active
        except KeyError:
            return False

    def _on_changed(self, event: LiveEvent) -> None:
        loaded = self._detail is not None and self._detail.run_id == self.run_id
        streaming = loaded and self._detail is not None and self._detail.run.kind == "streaming"
        if loaded and event.runs and self.run_id not in event.runs and not streaming:
            return
        self._reload()

    def _on_run_id(self, change: dict[str, Any]) -> None:
        with self._lock, self.hold_sync():
            self._set(selected_step=None, _step_log={}, run={}, _timing={})
        self._guarded(self._reload, f"loading run {change['new']}")

    def _on_selected_step(self, change: dict[str, Any]) -> None:
        step = change["new"]
        if not step:
            self._set(_step_log={})
            return
        self._guarded(self._load_log, f"reading the log of {step}", step)

    def _load_log(self, step: str) -> None:
        if not self.run_id:
            return
        latest = latest_attempt(self._detail, step) if self._detail is not None else None
        text: str | None = None
        if not self.source.step_logs:
            note: str | None = f"the {self.source.flavour} runner keeps no step logs"
        else:
            try:
                text = self.source.step_log(self.run_id, step) or None
            except RunnerUnavailable:
                raise
            except Exception as exc:  # an unreadable log is said in the panel, not as an error
                note = f"the log could not be read: {describe_error(exc)}"
            else:
                note = None if text else no_log_note(self._detail, step)
        error = step_error(self._detail, step, latest) if self._detail is not None else None
        status = latest.status if latest is not None else _step_status(self._detail, step)
        self._set(_step_log={"step": step, "attempt": latest.number if latest else None,
                             "text": text, "error": error, "note": note,
                             "status": status.value if status is not None else None})

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {"restart": self._msg_restart, "rerun": self._msg_rerun,
                "resume": self._msg_resume, "cancel": self._msg_cancel,
                "open_run": self._msg_open, "compare": self._msg_compare}

    def compare_with(self, run_a: str | None = None) -> dict[str, Any]:
        """Compare this run (B) with ``run_a`` (default: the previous successful run of its
        pipeline); the view shows the comparison, which is also returned."""
        from flowwidgets.compare import compare_runs, previous_success

        if not self.run_id:
            raise ValueError("no run is shown: nothing to compare")
        b = self.source.run(self.run_id)
        a_id = run_a or previous_success(self.source, b)
        if a_id is None:
            raise ValueError(f"run {self.run_id} has no earlier succeeded run of "
                             f"{b.run.pipeline!r}; name a run to compare with")
        payload = compare_runs(self.source.run(a_id), b)
        self._set(_compare=payload)
        return payload

    def _msg_compare(self, msg: dict[str, Any]) -> dict[str, Any]:
        self._check_target(msg)
        payload = self.compare_with(str(msg.get("with") or "") or None)
        return {"a": payload["a"]["run_id"]}

    def _check_target(self, msg: dict[str, Any]) -> None:
        wanted = msg.get("run_id")
        if wanted and wanted != self.run_id:
            raise ValueError(f"the view now shows run {self.run_id}, not {wanted}; "
                             "look again before acting")

    def _msg_restart(self, msg: dict[str, Any]) -> dict[str, Any]:
        self._check_target(msg)
        from_step = msg.get("from_step") or None
        return {"new_run_id": self.restart(from_step=from_step)}

    def _msg_rerun(self, msg: dict[str, Any]) -> dict[str, Any]:
        self._check_target(msg)
        return {"new_run_id": self.rerun()}

    def _msg_resume(self, msg: dict[str, Any]) -> dict[str, Any]:
        self._check_target(msg)
        return {"new_run_id": self.resume()}

    def _msg_cancel(self, msg: dict[str, Any]) -> dict[str, Any]:
        self._check_target(msg)
        return {"status": self.cancel()}

    def _msg_open(self, msg: dict[str, Any]) -> None:
        run_id = str(msg.get("run_id") or "")
        if not run_id:
            raise ValueError("open_run needs a run_id")
        self._open(run_id)

    def _static_html(self) -> str:
        return run_html(self.run, self._lay, error=self.error, timing=self._timing,
                        zone=self.time_zone)

    def _static_text(self) -> str:
        return run_text(self.run)
