"""The demo runner for the browser tests: the packaged demo pipelines on a fresh data
folder, served over HTTP on 127.0.0.1, with real history made the way ``flowwidgets demo``
makes it (two weeks of imported history unless ``imported=False``, streams started, three
rounds of every batch pipeline, the warehouse's last run failing at merge_payments)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fwtest.clock import no_cron_fires

from flowwidgets import demo
from flowwidgets.demo._launch import create_history, start_streams
from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner.serve import ServerHandle, serve_in_thread
from flowwidgets.runner.spec import load_pipelines
from flowwidgets.runner.sqlite import SqliteRunLog

PACE = "0.2"
"""$FLOWWIDGETS_DEMO_PACE for the tests: steps take a fifth of the demo's time."""


class DemoRunner:
    """A served demo runner; :meth:`stop_server` / :meth:`start_server` take it away and
    bring it back on the same port with the same SQLite file (a new process would see
    nothing else)."""

    def __init__(self, root: Path, *, imported: bool = True) -> None:
        self.data = demo.prepare(root / "data")
        self.db = self.data / "runs.sqlite"
        self.port = 0
        self.server: ServerHandle | None = None
        self.imported = 0
        if imported:  # as `flowwidgets demo` does, before the runner serves
            log = SqliteRunLog(self.db)
            try:
                self.imported = demo.import_history(log, load_pipelines(demo.pipelines_path()))
            finally:
                log.close()
        self.start_server()
        start_streams(self.runner)
        self.history = create_history(self.runner, self.data, report=lambda _: None)

    @property
    def runner(self) -> LocalRunner:
        assert self.server is not None, "the runner is stopped"
        return self.server.runner

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_server(self) -> None:
        runner = LocalRunner(load_pipelines(demo.pipelines_path()), db=self.db,
                             data_dir=self.data, tick_s=0.2)
        # the tests count a card's squares: a cron fire landing during one (customers_sync
        # every 15 min, warehouse_etl hourly) would add a run; the cards still show the
        # next fires, only no run is created for them
        no_cron_fires(runner)
        self.server = serve_in_thread(runner, port=self.port)
        self.port = self.server.port

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def api(self, path: str) -> Any:
        """GET ``/api/<path>`` of the runner, as JSON."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            reply = client.get(f"/api/{path}")
            reply.raise_for_status()
            return reply.json()

    def failed_warehouse_run(self) -> str:
        (run,) = [r for r in self.history if r.pipeline == "warehouse_etl"
                  and str(r.status) == "failed"]
        return run.run_id
