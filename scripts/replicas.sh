#!/usr/bin/env bash
# Start a two-replica Callboard stack on this machine for a smoke test: a throwaway PostgreSQL,
# one Outreach sandbox, the sync worker and two Streamlit replicas (ports 8501 and 8502).
# Ctrl-C stops all of it. `--check` starts it, opens the overview on each replica, stops it and
# exits 0 if both showed it. Other options: scripts/replicas.sh --help.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh
ensure_venv requirements.txt

# The same server programs the tests use (Debian's postgresql; no server needs to be running).
ensure_postgres_programs

# The launcher traps Ctrl-C, SIGTERM and SIGHUP and stops every process it started, PostgreSQL
# last; exec, so that the signal reaches it directly.
exec .venv/bin/python scripts/replicas.py "$@"
