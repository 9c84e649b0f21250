#!/usr/bin/env bash
# Run pxehook on its embedded default: SQLite + the sample inventory, serving on loopback.
#   bash scripts/quickstart.sh           set up (.venv, .demo/) and serve on 127.0.0.1:8070
#   bash scripts/quickstart.sh --check   the same, but probe the server once and stop
# Everything lives in the checkout: .venv/ (Python packages) and .demo/ (database,
# inventory copy you can edit while it runs, state). Needs python3-venv (installed if root).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=${PXEHOOK_PORT:-8070}

if ! /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv
  else
    echo "quickstart: python3-venv is missing (apt-get install python3-venv)" >&2; exit 1
  fi
fi
[ -x .venv/bin/python ] || /usr/bin/python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .

# The demo keeps its state between runs (node01's deployment times out like a real one);
# --check always starts from a fresh copy so it proves the same thing every time.
DEMO=.demo
if [ "${1:-}" = "--check" ]; then DEMO=.demo/check; rm -rf "$DEMO"; fi
mkdir -p "$DEMO/state" "$DEMO/spool" "$DEMO/tftp"
[ -f "$DEMO/inventory.yaml" ] || cp templates/samples/inventory.yaml "$DEMO/inventory.yaml"
# The demo's settings, in a file every later command can name with --config (written on
# each run: PXEHOOK_PORT=8081 bash scripts/quickstart.sh moves it to another port).
CONFIG="$DEMO/pxehook.yaml"
cat > "$CONFIG" <<YAML
# Written by scripts/quickstart.sh on each run; pick the port with PXEHOOK_PORT=NNNN.
database: 'sqlite:///$ROOT/$DEMO/pxehook.db'
inventory: '$ROOT/$DEMO/inventory.yaml'
state_dir: '$ROOT/$DEMO/state'
spool_dir: '$ROOT/$DEMO/spool'
tftp_root: '$ROOT/$DEMO/tftp'
bind: 127.0.0.1
port: $PORT
YAML
PXH=(.venv/bin/pxehook --config "$CONFIG")
"${PXH[@]}" db init

cat <<MSG
pxehook is serving the sample inventory on http://127.0.0.1:$PORT/ (Ctrl-C stops it).
In another shell, from $ROOT:
  curl http://127.0.0.1:$PORT/healthz
  curl 'http://127.0.0.1:$PORT/ipxe/52-54-00-12-34-01?buildarch=x86_64&platform=efi'
  .venv/bin/pxehook --config $CONFIG host list
  .venv/bin/pxehook --config $CONFIG explain node01
  .venv/bin/pxehook --config $CONFIG inventory check $DEMO/inventory.yaml
Edit $DEMO/inventory.yaml: the server applies it on save. Another port:
  PXEHOOK_PORT=8081 bash scripts/quickstart.sh
MSG

if [ "${1:-}" = "--check" ]; then
  "${PXH[@]}" serve & pid=$!
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
  deadline=$((SECONDS + ${PXEHOOK_CHECK_WAIT:-90}))  # a loaded machine starts slowly
  while [ "$SECONDS" -lt "$deadline" ]; do
    if .venv/bin/python - "$PORT" <<'PY' 2>/dev/null
import sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
    assert r.status == 200
url = base + "/ipxe/52-54-00-12-34-01?buildarch=x86_64&platform=efi"
with urllib.request.urlopen(url, timeout=5) as r:
    script = r.read().decode()
assert script.startswith("#!ipxe") and "kernel" in script, script
print(script.splitlines()[1])
PY
    then echo "quickstart: server answered on 127.0.0.1:$PORT"; exit 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "quickstart: pxehook serve exited" >&2; exit 1; }
    sleep 0.2
  done
  echo "quickstart: server did not answer on 127.0.0.1:$PORT" >&2; exit 1
fi
exec "${PXH[@]}" serve
