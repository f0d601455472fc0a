#!/usr/bin/env bash
# Install what the dashboard needs (first run only) and start it.
# With no Outreach credentials set it starts the bundled sandbox and shows demo data.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh
ensure_venv requirements.txt
exec .venv/bin/streamlit run app.py "$@"
