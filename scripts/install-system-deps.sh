#!/usr/bin/env bash
# Debian packages the project needs, installed only when missing.
#   install-system-deps.sh demo   what the demo needs (xmlsec1)
#   install-system-deps.sh test   what the tests need too (slapd, docker-compose, chromium, npm,
#                                 haproxy, postgresql-client)
#   install-system-deps.sh bench  what the demo needs, plus the benchmark's peer (SimpleSAMLphp
#                                 under nginx + php-fpm with memcached) and HAProxy
set -euo pipefail
profile=${1:-test}
packages=(xmlsec1)
if [ "$profile" = bench ]; then
  # Scenario (s) of bench/: SimpleSAMLphp 1.19 (bookworm) as the peer IdP, served by nginx and
  # php-fpm with its sessions in memcached (php-memcache: SimpleSAMLphp's memcache store). The
  # bench runs its own nginx, php-fpm and memcached on loopback ports with its own config files;
  # the packaged daemons are stopped below. haproxy: scenario (o).
  packages+=(simplesamlphp php-fpm php8.2-xml php8.2-mbstring php-memcache memcached nginx haproxy)
fi
if [ "$profile" = test ]; then
  # chromium + chromium-driver: the browser tests (tests/browser_e2e/) drive Debian's Chromium
  # with Playwright; Playwright's own browser download is not used.
  packages+=(slapd ldap-utils docker-compose chromium chromium-driver)
  # scripts/ensure-services.sh asks Redis with redis-cli, and starts redis-server if it does not
  # answer (PostgreSQL's client tools come with the server the machine runs).
  packages+=(redis-server redis-tools)
  # The Sentinel failover test (tests/integration/test_redis_sentinel.py) starts redis-sentinel.
  packages+=(redis-sentinel)
  # haproxy: the reverse proxy of config/haproxy/haproxy.cfg, checked (haproxy -c) and started in
  # front of live services by the tests; postgresql-client: pg_dump/pg_restore of « db backup »
  # and « db restore », tested against the machine's PostgreSQL.
  packages+=(haproxy postgresql-client)
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
# Another apt or dpkg may hold the lock (a parallel install): wait for it instead of failing.
apt_get() {
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 "$@" && return 0
    echo "apt-get $1 : nouvel essai ($attempt)" >&2
    sleep 10
  done
  return 1
}
apt_get update -qq
# slapd asks debconf questions: the tests configure their own slapd, so none are needed.
apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packaged slapd daemon is not used (tests start their own on a loopback port).
if [[ " ${missing[*]} " == *" slapd "* ]]; then
  $SUDO service slapd stop >/dev/null 2>&1 || true
fi
# Nor the packaged sentinel (the test starts its own three).
if [[ " ${missing[*]} " == *" redis-sentinel "* ]]; then
  $SUDO service redis-sentinel stop >/dev/null 2>&1 || true
fi
# Nor the packaged nginx, php-fpm and memcached (the bench starts its own, on loopback ports).
for pair in nginx:nginx php-fpm:php8.2-fpm memcached:memcached; do
  if [[ " ${missing[*]} " == *" ${pair%%:*} "* ]]; then
    $SUDO service "${pair#*:}" stop >/dev/null 2>&1 || true
  fi
done
