#!/usr/bin/env bash
# Set up a fresh machine for this project, then render the prod stack offline.
#   bash scripts/setup.sh            # set up + render prod into build/prod/
#   bash scripts/setup.sh --no-render
# Creates ./venv with the pinned Python dependencies, and installs the Debian tools the tests
# run for real (promtool, amtool, Alertmanager, PostgreSQL, nftables) when it can (root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(prometheus prometheus-alertmanager prometheus-node-exporter postgresql postgresql-client nftables
  cloud-init netplan.io systemd chrony iproute2 prometheus-postgres-exporter prometheus-blackbox-exporter openssl)

python3 -m venv venv
venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt

missing=()
for tool in promtool amtool prometheus-alertmanager psql nft prometheus-node-exporter prometheus-postgres-exporter \
  prometheus-blackbox-exporter openssl; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -z "$sudo" ] || command -v sudo >/dev/null 2>&1; then
    echo "installing Debian packages for the tests (missing: ${missing[*]})"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${DEBIAN_PACKAGES[@]}" >/dev/null
  else
    echo "warning: cannot install ${DEBIAN_PACKAGES[*]} (no root, no sudo); the tests need them" >&2
  fi
fi

if [ "${1:-}" != "--no-render" ]; then
  venv/bin/python -m offline prod
fi
