#!/usr/bin/env bash
# The whole test suite: JS unit tests, then every Python test (unit, integration against
# real runners, notebooks, browser). Installs what it needs first, the browser included.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --browser
if [[ -f js/package.json ]]; then
  (cd js && npm test --silent)
fi
# The type check: zero errors (configuration in pyproject.toml, [tool.mypy]): flowwidgets/
# strict, tests/ relaxed (every body checked, annotations optional). ~30 s CPU cold, ~5 s warm.
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest "$@"
