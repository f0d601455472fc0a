# Shared by the scripts: make .venv (once) and install the given requirements file; install
# PostgreSQL's server programs when they are missing.
# Installs again only when the requirements file changed, so repeated runs start fast.
set -euo pipefail

PYTHON="${PYTHON:-python3}"

ensure_venv() {
  local requirements="$1"
  if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
      # Debian ships venv separately from python3.
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        rm -rf .venv && "$PYTHON" -m venv .venv
      else
        echo "Python's venv module is missing: run 'sudo apt-get install python3-venv'." >&2
        exit 1
      fi
    fi
  fi
  local stamp=".venv/.installed-$(basename "$requirements")"
  local want
  want="$(cat requirements*.txt | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r "$requirements"
    echo "$want" > "$stamp"
  fi
}

# Debian's PostgreSQL server programs (initdb, pg_ctl) for a throwaway server (tests/postgres.py):
# installed when missing; no server needs to be running.
ensure_postgres_programs() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    else
      echo "PostgreSQL is missing: run 'sudo apt-get install postgresql'." >&2
      exit 1
    fi
  fi
}
