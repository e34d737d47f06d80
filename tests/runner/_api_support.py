"""Moved to tests/fwtest/api.py: import ``fwtest.api``. This alias stays for branches in
flight during the move; delete it once nothing imports it."""

from fwtest.api import *  # noqa: F403
