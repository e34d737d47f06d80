"""``python -m flowwidgets.tui [URL]``: the same as ``flowwidgets tui``."""

from __future__ import annotations

import sys

from flowwidgets.tui import main

if __name__ == "__main__":
    sys.exit(main())
