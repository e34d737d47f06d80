"""Fixtures shared by every test folder.

The real Airflow 3, Prefect 3 and Dagster 1.13 servers are session fixtures defined once
(tests/fwtest/orchestrators.py) and imported here, so the orchestrator tests and the
browser test of the Dashboard over Airflow share one server instead of starting two.
"""

from __future__ import annotations

from fwtest.orchestrators import (  # noqa: F401 - session fixtures
    airflow_live,
    dagster_live,
    prefect_live,
)
