"""Registration of every runner API flowwidgets ships, in one place.

Importing :mod:`flowwidgets.sources` imports this module once; each flavour module only
defines its probe (``PROBE``) and registers nothing itself.
"""

from __future__ import annotations

from flowwidgets.sources import airflow, api, dagster, flowtoy, prefect
from flowwidgets.sources._registry import FlavourProbe, register_flavour

BUILTIN: tuple[FlavourProbe, ...] = (
    api.OURS_PROBE,  # order 0: our runner's /api/health names it
    api.EMATIX_PROBE,  # 10: another /api/health that answers JSON
    airflow.PROBE,  # 50: GET /api/v2/version
    prefect.PROBE,  # 50: /api/health answers true
    dagster.PROBE,  # 50: GET /server_info answers its version
    flowtoy.PROBE,  # 100: GET /status, the last resort
)
"""The six flavours, in the order ``connect`` tries them."""

for _probe in BUILTIN:
    register_flavour(_probe)
