"""Fixtures for the orchestrator tests: real Airflow 3 and Prefect 3 servers (see _live.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The airflow_live / prefect_live session fixtures are defined once, in tests/conftest.py,
# so every folder shares one server of each.
