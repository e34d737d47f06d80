"""Shared source logic: flavours write plans, thin sync and async twins run them.

A *plan* is a generator that yields :class:`~flowwidgets.sources._http.Request` objects
and receives :class:`~flowwidgets.sources._http.Reply` objects (or has the call's
exception thrown into it), and returns a model. Flavours hold all the parsing and
decision logic as plans; :class:`Source` drives them with blocking I/O and
:class:`AsyncSource` with ``await``, so both behave identically.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from flowwidgets import errors
from flowwidgets.models import Pipeline, Run, RunDetail, RunPage, Status
from flowwidgets.sources._http import AsyncHttp, Stats, SyncHttp
from flowwidgets.sources._plan import FALLBACK_HISTORY, Flavour, Plan, Snapshot, _Driver, new_key

if TYPE_CHECKING:
    from flowwidgets.eta import Eta
    from flowwidgets.live import Poller
    from flowwidgets.sources._run_columns import ColumnsPage

# Flavour, Plan, Snapshot and FALLBACK_HISTORY live in _plan and are re-exported here
__all__ = ["FALLBACK_HISTORY", "AsyncSource", "Flavour", "Plan", "Snapshot", "Source",
           "StubModeWarning"]

T = TypeVar("T")


class StubModeWarning(UserWarning):
    """The runner serves placeholder data (ematix-flow ``flow web`` without a run log)."""


class _SourceBase:
    """State both twins share: where the runner is and what it can do."""

    def __init__(self, url: str, flavour: Flavour):
        self.url = url
        self._flavour = flavour

    @property
    def flavour(self) -> str:
        """``"flowwidgets"``, ``"ematix"`` or ``"flowtoy"``."""
        return self._flavour.name

    @property
    def capabilities(self) -> frozenset[str]:
        """The actions this runner has at all (``restart``, ``rerun``, ``resume``,
        ``run_now``, ``cancel``); a run's own :class:`~flowwidgets.models.Actions` say
        which apply."""
        return self._flavour.capabilities

    @property
    def step_logs(self) -> bool:
        """True when the runner keeps step logs. When False, :meth:`step_log` is always
        None: the runner has none to give (ematix-flow, flowtoy)."""
        return self._flavour.step_logs

    @property
    def stub_mode(self) -> bool:
        """True when the runner serves placeholder data (never shown as real)."""
        return self._flavour.stub_mode

    def __repr__(self) -> str:
        stub = ", stub mode" if self.stub_mode else ""
        return f"<{type(self).__name__} {self.flavour} at {self.url}{stub}>"

    def _check_runs_args(self, status: Any, limit: int, offset: int) -> Status | None:
        if limit < 1 or offset < 0:
            raise ValueError(f"limit must be >= 1 and offset >= 0, got {limit}, {offset}")
        if status is None or status == "":
            return None
        st = Status.parse(status)
        if st is Status.UNKNOWN:
            valid = ", ".join(sorted(s.value for s in Status if s is not Status.UNKNOWN))
            raise ValueError(f"unknown status {status!r}; use one of: {valid}")
        return st

    def _check_history_args(self, pipeline: Any, status: Any, limit: int) -> Status | None:
        if not isinstance(pipeline, str) or not pipeline:
            raise ValueError(f"pipeline must be a pipeline name, got {pipeline!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be an integer >= 1, got {limit!r}")
        return self._check_runs_args(status, limit, 0)

    def _warn_stub(self) -> None:
        if self.stub_mode:
            warnings.warn(
                f"the ematix-flow server at {self.url} runs in stub mode (started without "
                "--run-log-url): its pipelines and runs are placeholder data, not real "
                "history, and it refuses every action", StubModeWarning, stacklevel=3)


class Source(_SourceBase):
    """A connection to one runner, from the kernel: every call returns models.

    Make one with :func:`flowwidgets.connect`. Thread-safe: the poller's thread and the
    notebook share it.
    """

    def __init__(self, url: str, flavour: Flavour, http: SyncHttp):
        super().__init__(url, flavour)
        self._http = http
        self._poller: Poller | None = None
        self._poller_lock = threading.Lock()
        self._closed = False

    def _drive(self, plan: Plan[T]) -> T:
        with _Driver(plan) as driver:
            while driver.request is not None:
                try:
                    reply = self._http.send(driver.request)
                except errors.SourceError as exc:
                    driver.fail(exc)
                else:
                    driver.feed(reply)
            return driver.result

    # ---- reading -----------------------------------------------------------------------

    def pipelines(self) -> list[Pipeline]:
        """Every pipeline with its latest runs and statistics."""
        return list(self._drive(self._flavour.pipelines()))

    def runs(self, pipeline: str | None = None, status: Status | str | None = None,
             limit: int = 50, offset: int = 0) -> RunPage:
        """A page of runs, newest first (``limit`` up to 500 per request)."""
        st = self._check_runs_args(status, limit, offset)
        return self._drive(self._flavour.runs(pipeline, st, limit, offset, offset == 0))


    def run(self, run_id: str) -> RunDetail:
        """One run: its steps (the DAG), attempt history and the actions it allows."""
        return self._drive(self._flavour.run(run_id))

    def step_log(self, run_id: str, step: str, attempt: int | None = None) -> str | None:
        """The log tail of one attempt of a step (latest by default); None when there is
        none: the attempt wrote nothing or never ran, or the runner keeps no logs at all
        (then :attr:`step_logs` is False)."""
        return self._drive(self._flavour.step_log(run_id, step, attempt))

    def step_history(self, pipeline: str, limit: int = 20,
                     status: Status | str | None = None) -> list[RunDetail]:
        """The recent runs of ``pipeline`` (newest first, of ``status`` if given) with
        their steps: start, end, status and attempts of each. One request on our runner
        (up to 200 runs); elsewhere a runs page plus one detail per run, at most 20."""
        st = self._check_history_args(pipeline, status, limit)
        return list(self._drive(self._flavour.step_history(pipeline, st, limit)))

    def eta(self, run_id: str, *, history: int = 20) -> Eta:
        """When run ``run_id`` will end: its remaining DAG walked with each step's median
        and p90 over the last ``history`` successful runs (see :mod:`flowwidgets.eta`)."""
        from flowwidgets.eta import eta_plan

        return self._drive(eta_plan(self._flavour, run_id, history))

    def health(self) -> bool:
        """True when the runner answers; False when it does not (never raises)."""
        try:
            return self._drive(self._flavour.health())
        except errors.SourceError:
            return False

    # ---- for the poller and frames (package-internal: flowwidgets.live, .frames) --------

    def snapshot(self) -> Snapshot:
        """What the poller compares between two polls (pipelines and runs, comparable)."""
        return self._drive(self._flavour.snapshot())

    def runs_page(self, pipeline: str | None, status: Status | str | None, limit: int,
                  offset: int, cursor: str | None = None) -> RunPage:
        """Like :meth:`runs` but always read afresh (no conditional-request cache): the
        pages of a bulk read such as :func:`flowwidgets.runs_frame`. ``cursor``: a
        previous page's ``next_cursor`` (only runners that gave one take it back)."""
        st = self._check_runs_args(status, limit, offset)
        if cursor is not None:
            return self._drive(self._flavour.runs(pipeline, st, limit, offset, False,
                                                  cursor=cursor))  # type: ignore[call-arg]
        return self._drive(self._flavour.runs(pipeline, st, limit, offset, False))

    def runs_columns_page(self, pipeline: str | None, status: Status | str | None,
                          limit: int, offset: int, cursor: str | None = None
                          ) -> ColumnsPage:
        """:meth:`runs_page` as columns, without a :class:`~flowwidgets.models.Run` per
        row where the flavour can read them straight (the pages of
        :func:`flowwidgets.runs_frame`). The paging fields are read; the rows are
        parsed by ``.columns()``, so the caller may ask for the next page first."""
        st = self._check_runs_args(status, limit, offset)
        return self._drive(self._flavour.runs_columns(pipeline, st, limit, offset, cursor))

    def push_channel(self, *, any_transport: bool = False) -> str | None:
        """The path of the runner's push channel when this Source can listen to it: the
        runner has one and the HTTP client streams over the network (``any_transport``:
        whatever the client), else None."""
        path = self._flavour.push_path
        return path if path is not None and (any_transport or self._http.streams) else None

    @contextmanager
    def open_push(self, last_event_id: str | None, read_timeout: float
                  ) -> Iterator[httpx.Response | None]:
        """Open the push channel: the streaming 200 response, or None when the runner
        answers that it has no usable one (a 4xx other than 401/403: poll instead). Other
        errors raise the mapped :class:`~flowwidgets.errors.SourceError`."""
        path = self._flavour.push_path
        if path is None:
            yield None
            return
        with self._http.stream_events(path, last_event_id, read_timeout) as resp:
            yield resp

    @property
    def stats(self) -> Stats:
        """Requests made, 304s and unchanged bodies, bytes received (live counters)."""
        return self._http.stats

    @property
    def timeout(self) -> float:
        """Seconds allowed per request."""
        return self._http.timeout

    # ---- actions -----------------------------------------------------------------------

    def restart(self, run_id: str, from_step: str | None = None, *,
                idempotency_key: str | None = None) -> str:
        """Restart a run from ``from_step`` (default: its failed step); upstream outputs are
        reused. Returns the new run id."""
        key = new_key(self._flavour, idempotency_key)
        return self._drive(self._flavour.restart(run_id, from_step, key))

    def rerun(self, run_id: str, *, idempotency_key: str | None = None) -> str:
        """Run the whole pipeline of ``run_id`` again from the beginning; the new run id."""
        return self._drive(self._flavour.rerun(run_id, new_key(self._flavour, idempotency_key)))

    def resume(self, run_id: str, *, idempotency_key: str | None = None) -> str:
        """Resume a failed streaming run from its last watermark; the new run id."""
        return self._drive(self._flavour.resume(run_id, new_key(self._flavour, idempotency_key)))

    def run_now(self, pipeline: str, *, idempotency_key: str | None = None) -> str:
        """Start ``pipeline`` now; the new run id."""
        key = new_key(self._flavour, idempotency_key)
        return self._drive(self._flavour.run_now(pipeline, key))

    def cancel(self, run_id: str, *, idempotency_key: str | None = None) -> str:
        """Cancel a requested or running run: the runner stops its steps and records it
        ``cancelled``. Returns the run's status word right after the request (a
        :class:`~flowwidgets.models.Status` value; runners that stop runs asynchronously
        may still say ``running``: follow it with :meth:`run`). Raises
        ``ActionNotSupported`` where the runner cannot cancel, ``NotFound`` for an unknown
        run and ``Conflict`` (409) for a run that already finished."""
        key = new_key(self._flavour, idempotency_key)
        return self._drive(self._flavour.cancel(run_id, key))

    # ---- live and lifetime -------------------------------------------------------------

    def poller(self, interval: float = 2.0) -> Poller:
        """The one shared :class:`~flowwidgets.live.Poller` of this source (the same object
        on every call; ``interval`` applies when it is first made)."""
        from flowwidgets.live import Poller

        with self._poller_lock:
            if self._closed:
                raise errors.SourceError(f"{self!r} is closed")
            if self._poller is None:
                self._poller = Poller(self, interval=interval)
            return self._poller

    def close(self) -> None:
        """Stop the poller and close the HTTP client (if the source made it)."""
        with self._poller_lock:
            self._closed = True
            poller = self._poller
        if poller is not None:
            poller.stop()
        self._http.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSource(_SourceBase):
    """The async twin of :class:`Source`: the same methods, as coroutines."""

    def __init__(self, url: str, flavour: Flavour, http: AsyncHttp):
        super().__init__(url, flavour)
        self._http = http

    async def _drive(self, plan: Plan[T]) -> T:
        with _Driver(plan) as driver:
            while driver.request is not None:
                try:
                    reply = await self._http.send(driver.request)
                except errors.SourceError as exc:
                    driver.fail(exc)
                else:
                    driver.feed(reply)
            return driver.result

    async def pipelines(self) -> list[Pipeline]:
        """Every pipeline with its latest runs and statistics."""
        return list(await self._drive(self._flavour.pipelines()))

    async def runs(self, pipeline: str | None = None, status: Status | str | None = None,
                   limit: int = 50, offset: int = 0) -> RunPage:
        """A page of runs, newest first."""
        st = self._check_runs_args(status, limit, offset)
        return await self._drive(self._flavour.runs(pipeline, st, limit, offset, offset == 0))

    async def run(self, run_id: str) -> RunDetail:
        """One run with its steps, attempts and actions."""
        return await self._drive(self._flavour.run(run_id))

    async def step_log(self, run_id: str, step: str, attempt: int | None = None) -> str | None:
        """The log tail of one attempt of a step, or None."""
        return await self._drive(self._flavour.step_log(run_id, step, attempt))

    async def step_history(self, pipeline: str, limit: int = 20,
                           status: Status | str | None = None) -> list[RunDetail]:
        """The recent runs of ``pipeline`` with their steps, newest first."""
        st = self._check_history_args(pipeline, status, limit)
        return list(await self._drive(self._flavour.step_history(pipeline, st, limit)))

    async def eta(self, run_id: str, *, history: int = 20) -> Eta:
        """When run ``run_id`` will end (see :meth:`Source.eta`)."""
        from flowwidgets.eta import eta_plan

        return await self._drive(eta_plan(self._flavour, run_id, history))

    async def health(self) -> bool:
        """True when the runner answers (never raises)."""
        try:
            return await self._drive(self._flavour.health())
        except errors.SourceError:
            return False

    async def restart(self, run_id: str, from_step: str | None = None, *,
                      idempotency_key: str | None = None) -> str:
        """Restart from a step; the new run id."""
        key = new_key(self._flavour, idempotency_key)
        return await self._drive(self._flavour.restart(run_id, from_step, key))

    async def rerun(self, run_id: str, *, idempotency_key: str | None = None) -> str:
        """Rerun from the beginning; the new run id."""
        key = new_key(self._flavour, idempotency_key)
        return await self._drive(self._flavour.rerun(run_id, key))

    async def resume(self, run_id: str, *, idempotency_key: str | None = None) -> str:
        """Resume a streaming run from its watermark; the new run id."""
        key = new_key(self._flavour, idempotency_key)
        return await self._drive(self._flavour.resume(run_id, key))

    async def run_now(self, pipeline: str, *, idempotency_key: str | None = None) -> str:
        """Start a pipeline now; the new run id."""
        key = new_key(self._flavour, idempotency_key)
        return await self._drive(self._flavour.run_now(pipeline, key))

    async def cancel(self, run_id: str, *, idempotency_key: str | None = None) -> str:
        """Cancel a requested or running run; the run's status word after the request."""
        key = new_key(self._flavour, idempotency_key)
        return await self._drive(self._flavour.cancel(run_id, key))

    @property
    def stats(self) -> Stats:
        """Requests made, 304s and unchanged bodies, bytes received."""
        return self._http.stats

    async def close(self) -> None:
        """Close the HTTP client (if the source made it)."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def run_of(value: Run | RunDetail) -> Run:
    """The summary of a run or run detail."""
    return value.run if isinstance(value, RunDetail) else value
