"""The `flowwidgets tui` argument hook: add_parser for cli.py, main() for direct use."""

from __future__ import annotations

import argparse

import pytest

from flowwidgets import tui


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowwidgets")
    tui.add_parser(parser.add_subparsers(dest="command"))
    return parser


def test_add_parser_registers_tui_with_its_options():
    args = _parser().parse_args(["tui", "http://127.0.0.1:8005", "--token", "T",
                                 "--flow", "flow.yaml", "--interval", "0.5"])
    assert (args.command, args.url, args.token, args.flow, args.interval) == (
        "tui", "http://127.0.0.1:8005", "T", "flow.yaml", 0.5)
    assert args.func is tui.run_args
    defaults = _parser().parse_args(["tui"])
    assert (defaults.url, defaults.token, defaults.flow, defaults.interval) == (
        None, None, None, 2.0)
    assert defaults.time_zone == "UTC"
    assert _parser().parse_args(["tui", "--time-zone", "local"]).time_zone == "local"


def test_time_zone_is_utc_or_local(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["tui", "--time-zone", "Asia/Kolkata"])
    assert exit_info.value.code == 2
    assert "--time-zone" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["0", "-1", "soon", "nan"])
def test_interval_must_be_a_positive_number(bad, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["tui", "--interval", bad])
    assert exit_info.value.code == 2
    assert "--interval" in capsys.readouterr().err


def test_without_a_url_it_says_how_to_give_one(monkeypatch, capsys):
    monkeypatch.delenv("RUNNER_STATUS_URL", raising=False)
    assert tui.main([]) == 2
    err = capsys.readouterr().err
    assert "RUNNER_STATUS_URL" in err and "flowwidgets tui http://" in err


def test_flowtui_is_importable_lazily():
    from flowwidgets.tui._app import FlowTui

    assert tui.FlowTui is FlowTui
    with pytest.raises(AttributeError):
        tui.NoSuchThing  # noqa: B018
    with pytest.raises(ValueError, match="interval"):
        FlowTui("http://127.0.0.1:1", interval=0)


def test_runs_in_a_real_terminal_and_quits_on_q():
    """`flowwidgets tui URL` (the console script's main) in a pseudo-terminal: it draws,
    waits for the absent runner, and `q` ends it with exit code 0 and the screen restored."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import sys
    import termios
    import time
    from pathlib import Path

    from tui_helpers import free_port

    root = Path(__file__).resolve().parents[2]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root),
                                                       os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from flowwidgets.cli import main; "
         "sys.exit(main(sys.argv[1:]))", "tui", f"http://127.0.0.1:{free_port()}",
         "--interval", "0.3"], stdin=slave, stdout=slave, stderr=slave, env=env,
        start_new_session=True)
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 20
        while b"Waiting for runner" not in out and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                out += os.read(master, 65536)
        assert b"PIPELINES" in out and b"No runner attached" in out, out[-500:]
        os.write(master, b"q")
        assert proc.wait(10) == 0
        while select.select([master], [], [], 0.1)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other side is closed
                break
            if not chunk:
                break
            out += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert b"Traceback" not in out
    assert b"\x1b[?1049l" in out  # it left the alternate screen
