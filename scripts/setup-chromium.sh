#!/usr/bin/env bash
# Install Debian's Chromium and its ChromeDriver for tests/test_report_browser.py,
# which opens the HTML report in headless Chromium as a person would see it.
# Only Debian's packages: a test tool's download of its own browser does not work
# on a closed network. Quiet and safe to run again (a no-op once both are there);
# where it cannot install (not root, no apt-get) it warns once and exits 0, so the
# browser test skips with that reason instead of failing.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

have_both() { [ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ]; }

have_both && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "setup-chromium: warning: $CHROMIUM or $CHROMEDRIVER is missing and cannot be installed here" \
       "(needs root and apt-get; or install Debian's chromium and chromium-driver yourself);" \
       "the browser test of the report will be skipped" >&2
  exit 0
fi

echo "setup-chromium: installing chromium and chromium-driver with apt-get (30-120 s)"
# shellcheck source=scripts/apt-install.sh
. "$(dirname "$0")/apt-install.sh"
apt_install setup-chromium chromium chromium-driver

if ! have_both; then
  echo "setup-chromium: error: apt-get installed chromium and chromium-driver but $CHROMIUM or" \
       "$CHROMEDRIVER is not there" >&2
  exit 1
fi
echo "setup-chromium: done ($("$CHROMIUM" --version 2>/dev/null | head -1))"
