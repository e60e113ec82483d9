#!/usr/bin/env bash
# Installs Debian's Ceph daemons for the S3 of the tests, only when they are missing: the test setup
# (test/helpers/rgw.ts) starts a throwaway cluster of them (a monitor, one in-memory OSD, the RADOS Gateway)
# in a temporary directory on free ports, once per test run, and kills it after. ~60 packages, about a minute.
set -euo pipefail

if command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null && command -v radosgw >/dev/null && command -v radosgw-admin >/dev/null; then
  exit 0
fi

echo "== installing ceph-mon ceph-osd radosgw ceph-common (Debian packages)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q ceph-mon ceph-osd radosgw ceph-common
