"""serve_in_thread: a real uvicorn server on a free port, its life cycle, and the warning
for a non-loopback bind without a token (checked without exposing anything)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import httpx
import pytest
from fwtest.api import make_runner

from flowwidgets.runner import serve as serve_mod
from flowwidgets.runner.serve import InsecureBindWarning, is_loopback, serve_in_thread


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


def test_serves_on_a_real_free_port_and_stops_cleanly(tmp_path: Path) -> None:
    runner = make_runner(tmp_path)
    before = _threads()
    with serve_in_thread(runner, port=0) as server:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
        assert server.running
        r = httpx.get(f"{server.url}/api/health", timeout=5)
        assert r.json()["runner"] == "flowwidgets"
        run_id = httpx.post(f"{server.url}/api/jobs/adhoc/run-now", timeout=5).json()[
            "new_run_id"]
        assert runner.wait(run_id, timeout=20).status == "succeeded"  # the runner was started
    assert not server.running
    assert _threads() <= before | {"MainThread"}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/api/health", timeout=2)
    server.stop()  # idempotent


def test_start_runner_false_leaves_the_runner_to_the_caller(tmp_path: Path) -> None:
    runner = make_runner(tmp_path)
    try:
        with serve_in_thread(runner, start_runner=False) as server:
            run_id = httpx.post(f"{server.url}/api/jobs/adhoc/run-now", timeout=5).json()[
                "new_run_id"]
            assert runner.store.get_run(run_id).status == "requested"  # nobody executes it
        assert runner.store.get_run(run_id) is not None  # the store is still open
    finally:
        runner.stop()


def test_a_busy_port_fails_in_the_caller(tmp_path: Path) -> None:
    runner = make_runner(tmp_path)
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            with pytest.raises(OSError):
                serve_in_thread(runner, port=taken.getsockname()[1], start_runner=False)
    finally:
        runner.stop()


def test_token_is_enforced_by_the_served_app(tmp_path: Path) -> None:
    runner = make_runner(tmp_path)
    with serve_in_thread(runner, token="t0k") as server:
        assert httpx.get(f"{server.url}/api/runs", timeout=5).status_code == 401
        ok = httpx.get(f"{server.url}/api/runs", headers={"Authorization": "Bearer t0k"},
                       timeout=5)
        assert ok.status_code == 200


@pytest.mark.parametrize("host,expected", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("localhost", True), ("::1", True),
    ("[::1]", True), ("0.0.0.0", False), ("::", False), ("192.168.1.10", False),
    ("example.org", False),
])
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_non_loopback_without_token_warns_loudly(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.warns(InsecureBindWarning, match="WITHOUT a token"):
        assert serve_mod.warn_if_exposed("0.0.0.0", None) is True
    assert "WARNING" in capsys.readouterr().err
    assert serve_mod.warn_if_exposed("0.0.0.0", "secret") is False
    assert serve_mod.warn_if_exposed("127.0.0.1", None) is False
    assert capsys.readouterr().err == ""


def test_serve_in_thread_warns_before_binding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The warning path of serve_in_thread itself, stopped at the bind: nothing listens."""
    def refuse(host: str, port: int) -> socket.socket:
        raise OSError(f"test: not binding {host}")

    monkeypatch.setattr(serve_mod, "_bind", refuse)
    runner = make_runner(tmp_path)
    try:
        with pytest.warns(InsecureBindWarning), pytest.raises(OSError, match="not binding"):
            serve_in_thread(runner, host="0.0.0.0", port=0, start_runner=False)
        assert "binding '0.0.0.0' WITHOUT a token" in capsys.readouterr().err
        monkeypatch.setenv("FLOWWIDGETS_TOKEN", "from-env")
        with pytest.raises(OSError):  # a token from the environment: no warning
            serve_in_thread(runner, host="0.0.0.0", port=0, start_runner=False)
        assert "WARNING" not in capsys.readouterr().err
    finally:
        runner.stop()
