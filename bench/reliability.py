"""Probe the local runner the way production treats it; write bench/RELIABILITY.md.

    python bench/reliability.py                  # 20 kills, 40 runs on two runners
    python bench/reliability.py --kills 80 --runs 200
    python bench/reliability.py --out /tmp/R.md  # elsewhere than bench/RELIABILITY.md

1. **kill -9 mid-run**: a runner process executes a 4-step shell chain; it is killed with
   SIGKILL at a random moment, a new runner starts on the same SQLite file, recovers the
   run and restarts it from the interrupted step; repeated ``--kills`` times, then a last
   runner finishes. Counted: kills survived (the next runner started and the file passed
   ``PRAGMA integrity_check``), step processes still alive 1 s after their runner's kill,
   runs lost (not finished at the end), steps completed more than once per chain.
2. **two runners, one run log**: ``--runs`` runs of a 3-step chain requested while two
   runner processes share the file; every step execution is logged by the step itself.
   Counted: executions per (run, step): exactly once is the goal.
3. **bad inputs**: hostile command lines, pipelines files and HTTP requests; each answer's
   exit code or status, its length, and the time it took.

Everything is real: subprocesses, a SQLite file, the HTTP API on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowwidgets.runner._supervise import proc_state  # noqa: E402

STEP = ('echo "$FLOWWIDGETS_RUN_ID $FLOWWIDGETS_STEP start $$" >> "$FLOWWIDGETS_DATA_DIR/exec.log";'
        ' sleep {nap}; echo "$FLOWWIDGETS_RUN_ID $FLOWWIDGETS_STEP end $$"'
        ' >> "$FLOWWIDGETS_DATA_DIR/exec.log"')


def _chain(name: str, n: int, nap: float) -> str:
    lines = [f"  - name: {name}", "    steps:"]
    for i in range(n):
        lines.append(f"      - name: s{i}")
        if i:
            lines.append(f"        depends_on: [s{i - 1}]")
        lines.append(f"        run: '{STEP.format(nap=nap)}'")
    return "\n".join(lines)


PIPELINES = "pipelines:\n" + _chain("chain", 4, 0.4) + "\n" + _chain("pair", 3, 0.05) + "\n"


# ---- child processes ----------------------------------------------------------------


def child(mode: str, data: Path) -> None:
    """A runner process: ``kill`` requests (or restarts) a chain run; ``work`` only works."""
    from flowwidgets.models import Status
    from flowwidgets.runner._local import LocalRunner
    from flowwidgets.runner.spec import load_pipelines

    runner = LocalRunner(load_pipelines(data / "p.yaml"), db=data / "runs.sqlite",
                         data_dir=data, tick_s=0.2, max_workers=2)
    runner.start()
    if mode == "kill":
        runs, _ = runner.store.list_runs(pipeline="chain", limit=1)
        last = runs[0] if runs else None
        if last is not None and last.status is Status.FAILED and last.failed_step:
            runner.restart(last.run_id)
        elif last is not None and last.status is Status.FAILED:  # killed before a step
            runner.rerun(last.run_id)
        elif last is None or last.status.is_terminal:
            runner.run_now("chain")
    print("ready", flush=True)
    while True:
        time.sleep(1)


def _spawn(mode: str, data: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, __file__, "--child", mode, str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _log(data: Path) -> list[list[str]]:
    path = data / "exec.log"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


# ---- 1. kill -9 -----------------------------------------------------------------------


def probe_kills(kills: int, tmp: Path) -> dict[str, object]:
    """Kill a runner mid-run ``kills`` times; see the module docstring."""
    from flowwidgets.runner.sqlite import SqliteRunLog

    data = tmp / "kills"
    data.mkdir()
    (data / "p.yaml").write_text(PIPELINES)
    survived = orphans = 0
    rng = random.Random(11)
    for _ in range(kills):
        proc = _spawn("kill", data)
        time.sleep(rng.uniform(0.3, 1.6))
        started = {int(r[3]) for r in _log(data) if r[2] == "start"}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(1.0)
        orphans += sum(1 for pid in started if proc_state(pid) not in (None, b"Z", b"X"))
        with contextlib.closing(sqlite3.connect(data / "runs.sqlite")) as conn:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        survived += ok
    final = _spawn("kill", data)  # recovers the last kill, restarts, finishes
    with SqliteRunLog(data / "runs.sqlite") as store:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs, total = store.list_runs(limit=10_000)
            if all(r.status.is_terminal for r in runs):
                break
            time.sleep(0.2)
        final.send_signal(signal.SIGTERM)
        final.kill()
        final.wait()
        runs, total = store.list_runs(limit=10_000)
        lost = sum(1 for r in runs if not r.status.is_terminal)
        parent = {r.run_id: r.parent_run_id for r in runs}
        succeeded = sum(1 for r in runs if r.status.value == "succeeded")
        interrupted = sum(1 for r in runs if r.error == "runner interrupted")

    def root(run_id: str) -> str:
        while parent.get(run_id):
            run_id = parent[run_id]  # type: ignore[assignment]
        return run_id

    ends = Counter((root(r[0]), r[1]) for r in _log(data) if r[2] == "end")
    chains = {root(r.run_id) for r in runs}
    return {"kills": kills, "survived": survived, "orphans": orphans, "runs": total,
            "lost": lost, "interrupted": interrupted, "succeeded": succeeded,
            "chains": len(chains), "twice": sum(1 for n in ends.values() if n > 1),
            "completed": sum(ends.values())}


# ---- 2. two runners ---------------------------------------------------------------------


def probe_two_runners(count: int, tmp: Path) -> dict[str, object]:
    """``count`` runs on two runner processes sharing one file; executions per step."""
    from flowwidgets.runner.sqlite import SqliteRunLog

    data = tmp / "two"
    data.mkdir()
    (data / "p.yaml").write_text(PIPELINES)
    procs = [_spawn("work", data), _spawn("work", data)]
    try:
        with SqliteRunLog(data / "runs.sqlite") as store:
            steps = [("s0", ()), ("s1", ("s0",)), ("s2", ("s1",))]
            ids = [store.create_run(pipeline="pair", kind="batch", steps=steps,
                                    trigger="manual")[0] for _ in range(count)]
            started = time.monotonic()
            while not all(store.get_run(i).status.is_terminal for i in ids):  # type: ignore[union-attr]
                assert time.monotonic() - started < 600, "runs did not finish"
                time.sleep(0.2)
            took = time.monotonic() - started
            workers = Counter(store.get_run(i).worker for i in ids)  # type: ignore[union-attr]
            ok = sum(1 for i in ids if store.get_run(i).status.value == "succeeded")  # type: ignore[union-attr]
    finally:
        for p in procs:
            p.kill()
            p.wait()
    runs_started = Counter((r[0], r[1]) for r in _log(data) if r[2] == "start")
    expected = {(i, f"s{k}") for i in ids for k in range(3)}
    once = sum(1 for key in expected if runs_started.get(key) == 1)
    return {"runs": count, "succeeded": ok, "executions": len(expected), "once": once,
            "twice": sum(1 for key in expected if runs_started.get(key, 0) > 1),
            "never": sum(1 for key in expected if key not in runs_started),
            "split": sorted(workers.values()), "seconds": took}


# ---- 3. bad inputs ----------------------------------------------------------------------


def _cli(args: list[str]) -> tuple[int, str, float]:
    from flowwidgets.cli import main

    err = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(args)
    return code, err.getvalue().strip(), time.perf_counter() - started


def probe_bad_inputs(tmp: Path) -> list[tuple[str, str, str, float]]:
    """(what, answer, how long the answer is, seconds) for each hostile input."""
    import httpx

    from flowwidgets.runner._local import LocalRunner
    from flowwidgets.runner.serve import serve_in_thread
    from flowwidgets.runner.spec import load_pipelines

    data = tmp / "bad"
    data.mkdir()
    good = data / "p.yaml"
    good.write_text(PIPELINES)
    rows: list[tuple[str, str, str, float]] = []

    def cli(what: str, args: list[str]) -> None:
        code, err, secs = _cli(args)
        lines = len(err.splitlines())
        rows.append((what, f"exit {code}", f"{lines} line{'s' * (lines != 1)}, "
                     f"{'no traceback' if 'Traceback' not in err else 'TRACEBACK'}", secs))

    (data / "garbage.db").write_bytes(b"not a database " * 200)
    with contextlib.closing(sqlite3.connect(data / "other.sqlite")) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT)")
    (data / "latin1.yaml").write_bytes(b"pipelines:\n  - name: caf\xe9\n")
    (data / "binary.yaml").write_bytes(b"\x7fELF\x02\x01\x01\x00" * 64)
    (data / "adir.yaml").mkdir()
    bomb = ['x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        bomb.append(f"x-{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    (data / "bomb.yaml").write_text("\n".join(bomb) + "\npipelines:\n  - name: *i\n"
                                    "    steps:\n      - name: s\n        run: 'true'\n")
    for what, args in [
        ("serve --db garbage.db", ["serve", str(good), "--db", str(data / "garbage.db")]),
        ("serve --db <another program's SQLite>", ["serve", str(good), "--db",
                                                  str(data / "other.sqlite")]),
        ("serve --port 70000", ["serve", str(good), "--port", "70000"]),
        ("serve --tick 0", ["serve", str(good), "--tick", "0"]),
        ("serve missing.yaml", ["serve", str(data / "missing.yaml")]),
        ("serve <a directory>", ["serve", str(data / "adir.yaml")]),
        ("serve <Latin-1 file>", ["serve", str(data / "latin1.yaml")]),
        ("serve <binary file>", ["serve", str(data / "binary.yaml")]),
        (f"serve <{(data / 'bomb.yaml').stat().st_size}-byte alias bomb, 9^9 values>",
         ["serve", str(data / "bomb.yaml")]),
    ]:
        cli(what, args)

    runner = LocalRunner(load_pipelines(good), db=data / "runs.sqlite", data_dir=data)
    failed_id = runner.store.create_run(pipeline="pair", kind="batch", trigger="manual",
                                        steps=[("s0", ()), ("s1", ("s0",)), ("s2", ("s1",))])[0]
    runner.store.claim_requested("probe")
    runner.store.finish_run(failed_id, status=__import__("flowwidgets").models.Status.FAILED,
                            failed_step="s1", error="boom")
    with serve_in_thread(runner, port=0, start_runner=False) as server, \
            httpx.Client(base_url=server.url, timeout=60) as http:
        def api(what: str, method: str, path: str, **kw: object) -> None:
            started = time.perf_counter()
            r = http.request(method, path, **kw)  # type: ignore[arg-type]
            rows.append((what, f"HTTP {r.status_code}", f"{len(r.content):,} bytes",
                         time.perf_counter() - started))

        restart = f"/api/runs/{failed_id}/restart"
        big = b'{"from_step": "' + b"x" * (200 * 1024 * 1024) + b'"}'
        api("restart with a 200 MB from_step", "POST", restart, content=big,
            headers={"Content-Type": "application/json"})
        del big
        wrong = '{"from_step": [' + ", ".join(['"abcdefghij"'] * 4000) + "]}"
        api("restart with a 56 KB from_step of the wrong type", "POST", restart,
            content=wrong, headers={"Content-Type": "application/json"})
        api("restart with malformed JSON", "POST", restart, content=b'{"from_step": ',
            headers={"Content-Type": "application/json"})
        api("restart from a step the run lacks", "POST", restart, json={"from_step": "nope"})
        api("Idempotency-Key first use", "POST", f"/api/runs/{failed_id}/rerun",
            headers={"Idempotency-Key": "k1"})
        api("same key, another request", "POST", restart, json={"from_step": "s1"},
            headers={"Idempotency-Key": "k1"})
        api("unknown run", "GET", "/api/runs/%3Cimg%20src%3Dx%3E")
        api("limit=abc", "GET", "/api/runs?limit=abc")
    runner.stop()
    return rows


# ---- report -------------------------------------------------------------------------------


def report(kills: dict[str, object], two: dict[str, object],
           bad: list[tuple[str, str, str, float]]) -> str:
    """The Markdown of bench/RELIABILITY.md."""
    load = os.getloadavg()[0]
    head = (f"# Reliability probes\n\nProduced by `python bench/reliability.py` on "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.system()} "
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, load average {load:.1f} at the end.\n")
    k = kills
    part1 = (f"\n## kill -9 mid-run\n\nA runner executing a 4-step shell chain killed with "
             f"SIGKILL at a random moment, {k['kills']} times; each time a new runner "
             "recovered the run and restarted it from the interrupted step.\n\n"
             "| figure | value |\n|---|---|\n"
             f"| kills survived (next runner started, `integrity_check` ok) | "
             f"{k['survived']} / {k['kills']} |\n"
             f"| step processes alive 1 s after their runner's kill | {k['orphans']} |\n"
             f"| runs (chains) | {k['runs']} ({k['chains']}) |\n"
             f"| runs recovered as \"runner interrupted\" | {k['interrupted']} |\n"
             f"| runs lost (not finished at the end) | {k['lost']} |\n"
             f"| chains that succeeded in the end | {k['succeeded']} / {k['chains']} |\n"
             f"| steps completed twice in one chain | {k['twice']} of {k['completed']} "
             "completions |\n\n"
             "A step is completed twice when its command had finished but its success was "
             "not yet recorded when the runner died: the restart runs it again (at least "
             "once for that instant; steps should be idempotent). "
             + ("No second copy ever ran beside a first one: every step process was gone "
                "within 1 s of its runner's kill.\n" if not k["orphans"] else
                f"{k['orphans']} step processes outlived their runner.\n")
             + "\nHow: each runner process has one guard process "
             "(`flowwidgets/runner/_supervise.py`, started with the first shell step) that "
             "knows every step's session and kills it (TERM, KILL 1 s later) when the "
             "runner's pipe reaches end of file, i.e. at once after `kill -9`, or when the "
             "runner has been stopped for more than `stale_after_s / 2`. A step's shell "
             "waits until the guard has been told, so a runner killed in between leaves "
             "nothing running. Cost per shell step: see `bench_shell` in "
             "[RESULTS.md](RESULTS.md) (one `sh` start more, no Python start: `run_shell"
             "('true')` about 6-8 ms against 55-67 ms with the former supervisor per step, "
             "measured in the same sitting).\n")
    t = two
    part2 = (f"\n## Two runners, one run log\n\n{t['runs']} runs of a 3-step chain requested "
             "while two runner processes shared the SQLite file; each step logs its own "
             "execution.\n\n| figure | value |\n|---|---|\n"
             f"| runs succeeded | {t['succeeded']} / {t['runs']} |\n"
             f"| step executions exactly once | {t['once']} / {t['executions']} |\n"
             f"| executed twice / never | {t['twice']} / {t['never']} |\n"
             f"| runs per runner | {t['split']} |\n"
             f"| wall time | {t['seconds']:.1f} s |\n")
    rows = "\n".join(f"| {w} | {a} | {n} | {s * 1000:,.0f} ms |" for w, a, n, s in bad)
    part3 = (f"\n## Bad inputs ({len(bad)} tried)\n\n| input | answer | size | time |\n"
             f"|---|---|---|---|\n{rows}\n\nThe 200 MB body is refused from its "
             "Content-Length before a byte is read; its time is the client's upload of the "
             "body it insists on sending.\n")
    return head + part1 + part2 + part3 + LIMITS


LIMITS = """
## Limits (not probed: what nothing here prevents)

- **A runner cut off from its run log (now handled).** A runner whose heartbeat writes
  *fail* (directory gone or file replaced, I/O error, the file locked by another program
  all along) for `cut_off_after_s` (default `stale_after_s / 2`)
  kills its shell steps' sessions and abandons its call steps before a peer may declare it
  dead (`tests/runner/test_cut_off.py`: a `sleep 30` step is gone about 3 s after the lock
  is taken, with `stale_after_s` 6 s; with the defaults, 2.52–2.58 s after its last
  heartbeat written, 12/12, `bench/bench_cut_off.py`). When the log is back, a run a
  peer recovered gets no write (fenced); the others are recorded failed, restartable.
- **What still overlaps.** A runner that fails no write but is late past `stale_after_s`
  (a whole host frozen, e.g. a paused VM, where the guard is frozen too; extreme load; a
  write that hangs instead of failing, as on a hard-mounted network disk) can be declared
  dead while its step runs; the step is killed at its runner's next tick after it
  resumes (one tick plus the 1 s kill grace). Clock skew between hosts eats into the
  `stale_after_s / 2` margin. Call steps are abandoned, not killed (a thread cannot be
  killed): their side effects go on until they check `ctx.should_stop()`. SQLite's WAL
  mode needs every runner of a file on one host; across hosts (a `RunLog` of your own),
  make steps idempotent or let one runner own a run log.
- **At least once at the edge.** A step whose command finished but whose success was not
  yet recorded when its runner died runs again on restart (counted above as "completed
  twice").
- **Steps that escape their session.** The guard kills the step's session; a command
  that starts a daemon in a new session (`setsid`, a double fork plus `setsid`) leaves
  it running, as any process supervisor without cgroups would.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--out", default=str(ROOT / "bench" / "RELIABILITY.md"))
    parser.add_argument("--child", nargs=2, metavar=("MODE", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    with tempfile.TemporaryDirectory(prefix="fw-reliability-") as tmp:
        kills = probe_kills(args.kills, Path(tmp))
        print("kills:", kills, flush=True)
        two = probe_two_runners(args.runs, Path(tmp))
        print("two runners:", two, flush=True)
        bad = probe_bad_inputs(Path(tmp))
    text = report(kills, two, bad)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
