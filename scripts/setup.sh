#!/usr/bin/env bash
# Set up a fresh machine for stackmark: system headers uWSGI needs, then .venv.
# Called by `make` (bench, test, setup); safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

# uWSGI's own routing (used to send a Date header, as every other server does)
# needs PCRE at build time.
if [ ! -e /usr/include/pcre2.h ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing libpcre2-dev (uWSGI routing) with apt-get"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpcre2-dev >/dev/null
  else
    echo "setup: warning: libpcre2-dev is missing and cannot be installed here; uWSGI will build" \
         "without routing and its stacks will fail verification (no Date header)" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
# Build uWSGI from source without pip's wheel cache, so a wheel built earlier
# without PCRE is never reused.
if ! .venv/bin/python -c "import uwsgidecorators" 2>/dev/null && [ ! -x .venv/bin/uwsgi ]; then
  echo "setup: building uWSGI from source (about 30 s)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-cache-dir "uwsgi>=2.0.22"
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
echo "setup: done ($(.venv/bin/python --version), $(.venv/bin/uwsgi --version 2>/dev/null | head -1 | sed 's/^/uWSGI /'))"
