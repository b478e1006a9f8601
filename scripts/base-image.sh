#!/usr/bin/env bash
# A local Debian base image for the Dockerfile where no registry can be reached (python:3.11-slim cannot
# be pulled): debootstrap bookworm with Python, imported into Podman as localhost/debian-py:bookworm.
# Build with: --build-arg BASE_IMAGE=localhost/debian-py:bookworm. Skips if the image exists.
set -euo pipefail
IMAGE=${BASE_IMAGE:-localhost/debian-py:bookworm}
if podman image exists "$IMAGE"; then
  echo "base-image: $IMAGE exists"
  exit 0
fi
# the mirror this host's own apt uses (deb822 sources first, then the one-line format)
mirror=$(sed -n 's/^URIs: *\([^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
mirror=${mirror:-http://deb.debian.org/debian}
root=$(mktemp -d /var/tmp/stackmark-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base-image: debootstrap bookworm from $mirror (about a minute)"
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates bookworm "$root" "$mirror" \
  >"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
echo "base-image: $IMAGE imported"
