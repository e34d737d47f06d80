"""Helpers shared by the test folders (``pythonpath = ["tests"]`` in pyproject.toml).

- :mod:`fwtest.http`: recorded payloads, mock transports, uvicorn servers on 127.0.0.1.
- :mod:`fwtest.api`: the runner-API test pipelines and a LocalRunner on a SQLite file
  (their fixtures are in ``tests/runner/conftest.py``).
- :mod:`fwtest.browser`: Debian's chromium through playwright, ports, processes.
- :mod:`fwtest.procs`: is a process alive, poll until a condition holds.
- :mod:`fwtest.orchestrators`: real Airflow 3 / Prefect 3 servers as session fixtures
  (imported by ``tests/conftest.py``), built by :mod:`fwtest.orch_servers` and
  :mod:`fwtest.orch_procs`.

Helpers used by one folder only stay in that folder (``_widget_support.py`` …).
"""
