"""Moved to tests/fwtest/browser.py: import ``fwtest.browser``. This alias stays for branches in
flight during the move; delete it once nothing imports it."""

from fwtest.browser import *  # noqa: F403
