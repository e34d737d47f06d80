"""Moved to tests/fwtest/http.py: import ``fwtest.http``. This alias stays for branches in
flight during the move; delete it once nothing imports it."""

from fwtest.http import *  # noqa: F403
