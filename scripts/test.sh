#!/usr/bin/env bash
# Install what the tests need (first run only), then lint and run the whole suite,
# browser tests included. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh
# Playwright's Python package never fetches browsers on install; this keeps any tool from trying.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
ensure_venv requirements-dev.txt

# Browser tests drive Debian's Chromium; test tools may not download browsers here.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing: run 'sudo apt-get install chromium'." >&2
    exit 1
  fi
fi

# Store tests run against a throwaway PostgreSQL server that the tests start themselves
# (tests/postgres.py); they need Debian's server programs (initdb, pg_ctl), not a running server.
ensure_postgres_programs

.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
