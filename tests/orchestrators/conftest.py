"""Fixtures for the orchestrator tests: real Airflow 3 and Prefect 3 servers.

The ``airflow_live`` / ``prefect_live`` session fixtures live in
``tests/fwtest/orchestrators.py`` and are imported once, in ``tests/conftest.py``, so every
folder shares one server of each.
"""
