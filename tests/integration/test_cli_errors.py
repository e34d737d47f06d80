"""Bad options and files on the command line: one line naming the option or file, exit 2,
no traceback, nothing started, and a foreign file left unchanged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from flowwidgets.cli import main

OK = "pipelines:\n  - name: p\n    steps:\n      - name: a\n        run: 'true'\n"


@pytest.fixture
def pfile(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(OK)
    return path


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_garbage_db_names_the_file(pfile: Path, tmp_path: Path, capsys) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all" * 100)
    assert main(["serve", str(pfile), "--db", str(garbage), "--port", "0"]) == 2
    line = _one_line(capsys)
    assert "--db" in line and str(garbage) in line and "not a database" in line


def test_an_sqlite_file_of_another_program_is_refused_and_left_unchanged(
        pfile: Path, tmp_path: Path, capsys) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT)")
    before = other.read_bytes()
    assert main(["serve", str(pfile), "--db", str(other), "--port", "0"]) == 2
    line = _one_line(capsys)
    assert str(other) in line and "another program" in line and "contacts" in line
    with sqlite3.connect(other) as conn:
        tables = [n for (n,) in conn.execute("SELECT name FROM sqlite_master")]
    assert tables == ["contacts"] and other.read_bytes()[:100] == before[:100]


def test_db_in_a_missing_folder_it_cannot_create(pfile: Path, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    assert main(["run", str(pfile), "--db", str(blocker / "sub" / "runs.db")]) == 2
    assert "--db" in _one_line(capsys)


@pytest.mark.parametrize(("args", "named"), [
    (["--port", "70000"], "--port 70000"),
    (["--port", "-1"], "--port -1"),
    (["--tick", "0"], "--tick 0"),
    (["--tick", "nan"], "--tick nan"),
    (["--max-output-bytes", "0"], "--max-output-bytes 0"),
])
def test_bad_serve_options_name_the_option(pfile: Path, capsys, args: list[str],
                                           named: str) -> None:
    assert main(["serve", str(pfile), *args]) == 2
    assert named in _one_line(capsys)


def test_run_status_port_out_of_range(pfile: Path, capsys) -> None:
    assert main(["run", str(pfile), "--status-port", "99999"]) == 2
    assert "--status-port 99999" in _one_line(capsys)


@pytest.mark.parametrize(("content", "why"), [
    (None, "no such file"),
    ("dir", "is a directory"),
    (b"pipelines:\n  - name: caf\xe9\n", "not UTF-8"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00binary", "binary"),
])
def test_unreadable_pipelines_files_name_the_file_and_why(tmp_path: Path, capsys,
                                                          content: object, why: str) -> None:
    path = tmp_path / "pipelines.yaml"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    assert main(["serve", str(path), "--port", "0"]) == 2
    line = _one_line(capsys)
    assert line.startswith(str(path)) and why in line, line
