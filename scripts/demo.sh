#!/usr/bin/env bash
# The main job: install what is needed, then start the demo runner and dashboard.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/flowwidgets demo "$@"
