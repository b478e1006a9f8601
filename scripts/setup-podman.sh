#!/usr/bin/env bash
# Podman for `make test-compose` / `make compose-bench` on machines with no Docker engine (Debian, root):
# podman and runc from Debian, podman-compose pinned from PyPI into .venv, and a containers.conf that
# avoids what fails here (crun on hybrid cgroups, default ulimits): see ../shared/notes/containers-here.md.
# With --images, also builds the local base image (scripts/base-image.sh) and compose.yaml's two images
# (layer cache: seconds when nothing changed). Safe to run again; prints the CONTAINERS_CONF to export (the
# harness sets it itself when unset).
set -euo pipefail
cd "$(dirname "$0")/.."
# podman-compose from PyPI, its wheel's hash checked (not in requirements.lock: only this opt-in path needs it)
PODMAN_COMPOSE="podman-compose==1.6.0 --hash=sha256:98e48af25d44c10ecef948163bfcca002e32aa8bbb7e66593fbd4faff7270c30"
CONF=.venv/containers.conf

need=()
for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup-podman: error: ${need[*]} missing and cannot be installed here (needs root and apt-get);" \
         "install them, or use Docker: docker compose (see README, In containers)" >&2
    exit 2
  fi
  echo "setup-podman: installing ${need[*]} with apt-get (about 15 s)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
fi

[ -x .venv/bin/python ] || { echo "setup-podman: error: no .venv; run 'make setup' first" >&2; exit 2; }
if [ "$(.venv/bin/podman-compose --version 2>/dev/null | sed -n 's/^podman-compose version \([0-9.]*\)$/\1/p')" \
     != 1.6.0 ]; then
  echo "setup-podman: installing ${PODMAN_COMPOSE%% *} into .venv"
  req=$(mktemp)
  trap 'rm -f "$req"' EXIT
  echo "$PODMAN_COMPOSE" > "$req"
  # its dependencies (pyyaml, python-dotenv) with the pins and hashes requirements.lock already has
  for dep in pyyaml python-dotenv; do
    awk -v name="$dep" 'index(tolower($0), name "==") == 1 {p = 1} p {print; if ($0 !~ /\\$/) p = 0}' \
      requirements.lock >> "$req"
  done
  .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r "$req"
fi

cat > "$CONF" <<'CONF'
# written by scripts/setup-podman.sh: runc (crun fails on hybrid cgroups), cgroupfs, no default ulimits
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
CONF
export CONTAINERS_CONF="$PWD/$CONF"
if [ "${1:-}" = --images ]; then
  base=localhost/debian-py:bookworm
  BASE_IMAGE=$base bash scripts/base-image.sh
  # host network for apt and pip during the build; the host's CA bundle as a build secret (a TLS-inspecting
  # proxy's CA reaches pip without landing in any layer)
  build=(podman build -q --network host --build-arg "BASE_IMAGE=$base")
  [ -s /etc/ssl/certs/ca-certificates.crt ] && build+=(--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt)
  echo "setup-podman: building localhost/stackmark and localhost/stackmark-postgres (minutes the first time)"
  "${build[@]}" -t localhost/stackmark:latest . >/dev/null
  "${build[@]}" --target postgres -t localhost/stackmark-postgres:latest . >/dev/null
fi
echo "setup-podman: done ($(podman --version), podman-compose $(.venv/bin/podman-compose --version 2>/dev/null | sed -n 's/^podman-compose version //p'));" \
     "CONTAINERS_CONF=$PWD/$CONF"
