"""Fixtures shared by every test folder.

The real Airflow 3 and Prefect 3 servers are session fixtures defined once here (their
code lives in tests/orchestrators/_live.py), so the orchestrator tests and the browser test
of the Dashboard over Airflow share one server instead of starting two.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "orchestrators"))

from _live import airflow_live, dagster_live, prefect_live  # noqa: E402,F401 - session fixtures
