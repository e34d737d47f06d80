"""Plans and flavours: the I/O-free half of a source.

A *plan* is a generator that yields :class:`~flowwidgets.sources._http.Request` objects
and receives :class:`~flowwidgets.sources._http.Reply` objects (or has the call's
exception thrown into it), and returns a model. A :class:`Flavour` (one runner API
dialect) returns a plan from each method; :class:`_Driver` steps a plan for the sync and
async twins of :mod:`flowwidgets.sources._base`, which only send its requests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from flowwidgets import errors
from flowwidgets.models import Pipeline, RunDetail, RunPage, Status
from flowwidgets.sources._http import Reply, Request

if TYPE_CHECKING:
    from flowwidgets.sources._run_columns import ColumnsPage

__all__ = ["ACTIONS", "FALLBACK_HISTORY", "Flavour", "Plan", "Snapshot", "new_key"]

T = TypeVar("T")
Plan = Generator[Request, Reply, T]

FALLBACK_HISTORY = 20
"""Most run details :meth:`Flavour.step_history` reads on runners without a history
endpoint (one request each)."""

ACTIONS = ("restart", "rerun", "resume", "run_now", "cancel")
"""Every action a source may offer; ``capabilities`` is the subset a runner has."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the poller compares between two polls: comparable values keyed by name / id."""

    pipelines: dict[str, Any]
    runs: dict[str, Any]


class Flavour:
    """One runner API dialect: each method returns a plan. Subclasses override them."""

    name = "unknown"
    capabilities: frozenset[str] = frozenset()
    idempotency = False
    """True when the runner deduplicates POSTs by ``Idempotency-Key``."""
    stub_mode = False
    push_path: str | None = None
    """The path of the runner's push channel (server-sent events, resumed with
    ``Last-Event-ID``) the poller listens to, or None when it has none."""
    step_logs = True
    """True when the runner keeps step logs; False when :meth:`step_log` is None because
    there are none at all (not because one attempt wrote nothing)."""

    def pipelines(self) -> Plan[tuple[Pipeline, ...]]:
        """Every pipeline with its recent runs."""
        raise NotImplementedError

    def runs(self, pipeline: str | None, status: Status | None, limit: int, offset: int,
             cache: bool) -> Plan[RunPage]:
        """A page of runs, newest first."""
        raise NotImplementedError

    def runs_columns(self, pipeline: str | None, status: Status | None, limit: int,
                     offset: int, cursor: str | None = None) -> Plan[ColumnsPage]:
        """A page of runs as columns, read afresh (the path of
        :func:`flowwidgets.runs_frame`). Here: the parsed page's columns."""
        from flowwidgets.sources._run_columns import ColumnsPage, RunColumns

        if cursor is None:
            page = yield from self.runs(pipeline, status, limit, offset, False)
        else:  # only flavours that hand out cursors take them back
            page = yield from self.runs(pipeline, status, limit, offset, False,
                                        cursor=cursor)  # type: ignore[call-arg]
        return ColumnsPage.ready(RunColumns.from_page(page))

    def run(self, run_id: str) -> Plan[RunDetail]:
        """One run with its steps, attempts and actions."""
        raise NotImplementedError

    def step_log(self, run_id: str, step: str, attempt: int | None) -> Plan[str | None]:
        """The log tail of a step's attempt (latest by default), None when there is none
        (always, where ``step_logs`` is False)."""
        raise NotImplementedError

    def step_history(self, pipeline: str, status: Status | None,
                     limit: int) -> Plan[tuple[RunDetail, ...]]:
        """A pipeline's recent runs with their steps, newest first. This fallback lists
        the runs and reads each one's detail: one request plus at most
        :data:`FALLBACK_HISTORY` details (runs gone meanwhile are left out)."""
        n = min(limit, FALLBACK_HISTORY)
        page = yield from self.runs(pipeline, status, n, 0, False)
        out: list[RunDetail] = []
        for r in page.runs[:n]:
            try:
                out.append((yield from self.run(r.run_id)))
            except errors.NotFound:
                continue
        return tuple(out)

    def restart(self, run_id: str, from_step: str | None, key: str | None) -> Plan[str]:
        """Restart from a step; returns the new run id."""
        return _unsupported("restart", self._why_not("restart"))

    def rerun(self, run_id: str, key: str | None) -> Plan[str]:
        """Rerun from the beginning; returns the new run id."""
        return _unsupported("rerun", self._why_not("rerun"))

    def resume(self, run_id: str, key: str | None) -> Plan[str]:
        """Resume a streaming run from its watermark; returns the new run id."""
        return _unsupported("resume", self._why_not("resume"))

    def run_now(self, pipeline: str, key: str | None) -> Plan[str]:
        """Start a pipeline now; returns the new run id."""
        return _unsupported("run_now", self._why_not("run_now"))

    def cancel(self, run_id: str, key: str | None) -> Plan[str]:
        """Cancel a requested or running run; returns the run's status word right after
        the request (``"cancelled"``, or the runner's word while it is still stopping)."""
        return _unsupported("cancel", self._why_not("cancel"))

    def health(self) -> Plan[bool]:
        """True when the runner answers its health check."""
        raise NotImplementedError

    def snapshot(self) -> Plan[Snapshot]:
        """The state the poller diffs: pipelines, the first page of runs and the details
        of its active runs (steps move while a run's summary stays ``running``)."""
        pipes = yield from self.pipelines()
        page = yield from self.runs(None, None, 50, 0, True)
        runs: dict[str, Any] = {r.run_id: r for r in page.runs}
        for r in [r for r in page.runs if r.status.is_active][:10]:
            try:
                runs[r.run_id] = yield from self.run(r.run_id)
            except errors.NotFound:
                runs.pop(r.run_id, None)
        return Snapshot({p.name: p for p in pipes}, runs)

    def _why_not(self, action: str) -> str:
        return f"the {self.name} runner has no {action} action"


def _unsupported(action: str, reason: str) -> Plan[Any]:
    raise errors.ActionNotSupported(action, reason)
    yield  # pragma: no cover - makes this a generator


def new_key(flavour: Flavour, given: str | None) -> str | None:
    """The idempotency key for one logical call: the caller's, else a fresh uuid4 when the
    runner deduplicates by it, else None (not sent)."""
    if given is not None:
        return given
    return uuid.uuid4().hex if flavour.idempotency else None


class _Driver(Generic[T]):
    """Steps a plan through its requests; the twins only send them (sync or async).

    ``request`` is the next request to send, None once the plan has returned
    ``result``; an exception the plan raises propagates from :meth:`feed` / :meth:`fail`.
    """

    def __init__(self, plan: Plan[T]):
        self._plan = plan
        self.request: Request | None = None
        self.result: T
        self._step(lambda: next(plan))

    def feed(self, reply: Reply) -> None:
        """Hand the plan the reply to its request."""
        self._step(lambda: self._plan.send(reply))

    def fail(self, exc: errors.SourceError) -> None:
        """Throw the request's failure into the plan (it may catch it and go on)."""
        self._step(lambda: self._plan.throw(exc))

    def _step(self, advance: Callable[[], Request]) -> None:
        try:
            self.request = advance()
        except StopIteration as stop:
            self.request, self.result = None, stop.value

    def __enter__(self) -> _Driver[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self._plan.close()
