# Sourced by the scripts/setup-*.sh that install Debian packages for the tests.
# apt_install WHO PACKAGE...: install PACKAGEs quietly; on failure say so with apt's last
# lines, as WHO, and exit 1 (the caller's checks for root and apt-get come before).
apt_install() {
  local who=$1; shift
  local log
  log=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
         apt-get install -y -qq --no-install-recommends "$@"; } >"$log" 2>&1; then
    echo "$who: error: apt-get could not install $*; its last lines:" >&2
    tail -n 15 "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}
