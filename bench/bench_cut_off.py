"""How soon a runner cut off from its run log kills its step (defaults: tick 1 s,
``stale_after_s`` 5 s, ``cut_off_after_s`` 2.5 s).

    python bench/bench_cut_off.py [N]

Each round: a runner runs ``exec sleep 30``; another connection takes the SQLite file's
write lock (the runner's heartbeats fail) and holds it until the step's pid is gone.
Prints the time from taking the lock, and from the runner's last heartbeat written, to
the pid gone. A peer could declare the runner dead ``stale_after_s`` after that heartbeat.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from flowwidgets.runner._local import LocalRunner
from flowwidgets.runner._sqlite_pool import dt
from flowwidgets.runner._supervise import proc_state
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec
from flowwidgets.runner.sqlite import SqliteRunLog


def main() -> None:
    logging.disable(logging.CRITICAL)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    step = StepSpec("a", run="echo $$ > sh.pid; exec sleep 30")
    for i in range(rounds):
        d = Path(tempfile.mkdtemp())
        pipelines = Pipelines(pipelines=(PipelineSpec("s", steps=(step,)),), base_dir=d)
        with LocalRunner(pipelines, db=d / "runs.sqlite", data_dir=d) as runner, \
                SqliteRunLog(d / "runs.sqlite") as peer:
            runner.run_now("s")
            pid_file = d / "sh.pid"
            while not (pid_file.exists() and pid_file.read_text().strip()):
                time.sleep(0.01)
            pid = int(pid_file.read_text())
            time.sleep(0.3 + i * 0.17)  # vary the phase against the tick
            with peer._pool.write() as tx:
                locked = time.monotonic()
                (beat,) = tx.one("SELECT heartbeat_at FROM workers WHERE id = ?",
                                 (runner.worker_id,))
                while proc_state(pid) not in (None, b"Z", b"X"):
                    time.sleep(0.005)
                gone = time.monotonic() - locked
                since_beat = (datetime.now(UTC) - dt(beat)).total_seconds()
            print(f"lock -> gone {gone:.2f} s   last heartbeat -> gone {since_beat:.2f} s "
                  f"(stale_after_s {runner.stale_after_s:g}, cut_off_after_s "
                  f"{runner.cut_off_after_s:g})", flush=True)


if __name__ == "__main__":
    main()
