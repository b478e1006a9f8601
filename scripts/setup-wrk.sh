#!/usr/bin/env bash
# wrk (a C load tool from Debian) for the harness's own benchmark: Locust's ceiling vs wrk's.
set -euo pipefail
command -v wrk >/dev/null && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "setup: installing wrk with apt-get"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
else
  echo "setup: warning: wrk is not installed and cannot be installed here; the Locust/wrk ratio is skipped" >&2
fi
