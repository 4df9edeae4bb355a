#!/usr/bin/env bash
# Debian packages the project needs, installed only when missing.
#   install-system-deps.sh demo   what the demo needs (xmlsec1)
#   install-system-deps.sh test   what the tests need too (slapd, docker-compose, chromium, npm)
set -euo pipefail
profile=${1:-test}
packages=(xmlsec1)
if [ "$profile" = test ]; then
  # chromium + chromium-driver: the browser tests (tests/browser_e2e/) drive Debian's Chromium
  # with Playwright; Playwright's own browser download is not used.
  packages+=(slapd ldap-utils docker-compose chromium chromium-driver)
  # scripts/ensure-services.sh asks Redis with redis-cli, and starts redis-server if it does not
  # answer (PostgreSQL's client tools come with the server the machine runs).
  packages+=(redis-server redis-tools)
  # faketime: tests/browser_e2e/test_dead_ends.py runs ATEN with its clock 10 minutes behind.
  packages+=(faketime)
  # npm ci installs axe-core for them (package-lock.json); Debian's nodejs + npm if none is there.
  command -v npm >/dev/null || packages+=(nodejs npm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
  echo "Paquets Debian manquants : ${missing[*]} (installez-les en root : apt-get install ${missing[*]})" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "Installation des paquets Debian : ${missing[*]}"
$SUDO apt-get update -qq
# slapd asks debconf questions: the tests configure their own slapd, so none are needed.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packaged slapd daemon is not used (tests start their own on a loopback port).
if [[ " ${missing[*]} " == *" slapd "* ]]; then
  $SUDO service slapd stop >/dev/null 2>&1 || true
fi
