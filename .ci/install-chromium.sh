#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (test/e2e), only when it is missing.
# The tests drive it with playwright-core at /usr/bin/chromium (or $CHROMIUM_PATH).
set -euo pipefail

if [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  exit 0
fi

echo "== installing chromium (Debian package)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q chromium
