#!/usr/bin/env bash
# Install everything flowwidgets needs into ./.venv (idempotent, quick when already done).
#   scripts/bootstrap.sh            runtime + test dependencies, the JS bundle
#   scripts/bootstrap.sh --browser  also Debian's chromium for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

need_apt=()
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [[ "${1:-}" == "--browser" ]] && [[ ! -x /usr/bin/chromium ]]; then need_apt+=(chromium); fi
if ((${#need_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  echo "bootstrap: installing ${need_apt[*]} with apt-get" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
# Re-install when the project's metadata or the JS sources changed since the last install.
stamp=.venv/.flowwidgets-installed
if [[ ! -f $stamp ]] || [[ -n $(find pyproject.toml js/package.json js/package-lock.json js/src js/build.mjs -newer "$stamp" 2>/dev/null | head -1) ]] \
   || ! compgen -G "flowwidgets/static/*.js" >/dev/null; then
  echo "bootstrap: pip install -e .[test] (builds the JS bundle)" >&2
  .venv/bin/python -m pip install -q -e ".[test]"
  touch "$stamp"
fi
# The build hook skips npm when the bundle exists (skip-if-exists): rebuild it here when a
# JS source is newer than the bundle, so a working tree never runs a stale bundle.
if [[ -d js/node_modules ]] && [[ -n $(find js/src -newer flowwidgets/static/cards.js 2>/dev/null | head -1) ]]; then
  echo "bootstrap: rebuilding the JS bundle" >&2
  (cd js && npm run build --silent)
fi
