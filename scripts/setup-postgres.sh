#!/usr/bin/env bash
# Install PostgreSQL's server binaries for the test suite (tests/pg_server.py
# starts its own throwaway cluster from them). Does not create or start any
# cluster or system service. Quiet and safe to run again; where it cannot
# install (not root, no apt-get) it warns once and exits 0 so the PostgreSQL
# tests skip instead of failing.
set -euo pipefail

have_initdb() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }

have_initdb && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "setup-postgres: warning: PostgreSQL server binaries are missing and cannot be installed here" \
       "(needs root and apt-get); the PostgreSQL tests will be skipped" >&2
  exit 0
fi

echo "setup-postgres: installing PostgreSQL with apt-get (10-60 s)"
# Debian's package would otherwise create the 'main' cluster and, where services
# can start, start it on port 5432: the tests need neither.
mkdir -p /etc/postgresql-common/createcluster.d
printf '# stackmark: tests start their own throwaway clusters\ncreate_main_cluster = false\n' \
  > /etc/postgresql-common/createcluster.d/stackmark.conf
# shellcheck source=scripts/apt-install.sh
. "$(dirname "$0")/apt-install.sh"
apt_install setup-postgres postgresql

if ! have_initdb; then
  echo "setup-postgres: warning: apt-get installed postgresql but no initdb is under" \
       "/usr/lib/postgresql/*/bin; the PostgreSQL tests will be skipped" >&2
fi
