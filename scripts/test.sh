#!/usr/bin/env bash
# Install everything the test suite needs, then run all of it (lint, unit, daemons, VMs).
#   bash scripts/test.sh [pytest args…]
# As root it installs the Debian packages in scripts/test-packages.txt (apt-get); it
# always builds .venv from Debian's /usr/bin/python3 and installs pxehook with its test
# extras. Packaged daemons are kept from starting during the install (policy-rc.d).
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=$(grep -v '^\s*#' scripts/test-packages.txt | grep -v '^\s*$' | tr '\n' ' ')

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "test.sh: missing Debian packages:$missing (run as root to install them)" >&2
    exit 1
  fi
  echo "test.sh: installing$missing"
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

echo "test.sh: ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

echo "test.sh: pytest"
export PXEHOOK_REQUIRE_ALL=1
exec .venv/bin/python -m pytest "$@"
