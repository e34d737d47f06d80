"""Fixtures for the orchestrator tests: real Airflow 3 and Prefect 3 servers (see _live.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _live import LiveServer, airflow_live, prefect_live  # noqa: E402

__all__ = ["LiveServer", "airflow_live", "prefect_live"]
