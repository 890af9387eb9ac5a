#!/bin/bash
# Install cryptkeeper into .venv and start it on its embedded defaults
# (SQLite, file coordination, noauth on 127.0.0.1, API and worker in one
# process); then run a census of a demo database through the API with the
# CLI and print the job and the audit log. Ctrl-C stops the service.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
VENV=${CRYPTKEEPER_VENV:-$TOP/.venv}
STATE=${CRYPTKEEPER_STATE_PATH:-$TOP/.quickstart}
PORT=${CRYPTKEEPER_PORT:-9779}
ENDPOINT=http://127.0.0.1:$PORT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing cryptkeeper and its client into $VENV"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -e "$TOP" -e "$TOP/python-cryptkeeperclient"

step "Writing $STATE/cryptkeeper.conf and a demo target database"
mkdir -p "$STATE"
"$VENV/bin/python" "$TOP/tools/demo_target.py" "$STATE/demo-nova.sqlite"
cat > "$STATE/cryptkeeper.conf" <<CONF
[DEFAULT]
state_path = $STATE
targets = demo

[api]
# Local use only: no authentication, so the server listens on 127.0.0.1.
auth_strategy = noauth
port = $PORT
run_worker = true

[worker]
poll_interval = 0.5

[target:demo]
profile = nova
connection = sqlite:///$STATE/demo-nova.sqlite
CONF
"$VENV/bin/cryptkeeper-manage" --config-file "$STATE/cryptkeeper.conf" db sync

step "Starting cryptkeeper-api (with its worker) on $ENDPOINT"
"$VENV/bin/cryptkeeper-api" --config-file "$STATE/cryptkeeper.conf" \
    >"$STATE/api.log" 2>&1 &
API_PID=$!
trap 'kill $API_PID 2>/dev/null; wait $API_PID 2>/dev/null; echo; echo "cryptkeeper stopped."' EXIT
for _ in $(seq 60); do
    if "$VENV/bin/python" -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2)' "$ENDPOINT/" 2>/dev/null; then
        break
    fi
    kill -0 $API_PID 2>/dev/null || { cat "$STATE/api.log"; exit 1; }
    sleep 0.5
done

ck() { "$VENV/bin/cryptkeeper" --os-endpoint "$ENDPOINT" "$@"; }

step "cryptkeeper target list"
ck target list
step "cryptkeeper job create --type census --target demo --wait"
ck job create --type census --target demo --wait
step "cryptkeeper target census demo"
ck target census demo
step "cryptkeeper purge plan demo --older-than 90 --wait   (read-only)"
ck purge plan demo --older-than 90 --wait
step "cryptkeeper purge archive demo --older-than 90 --wait   (into shadow tables)"
ck purge archive demo --older-than 90 --wait
step "cryptkeeper job list"
ck job list
step "cryptkeeper audit list"
ck audit list
step "cryptkeeper audit verify"
ck audit verify

step "cryptkeeper is running on $ENDPOINT (log: $STATE/api.log)"
echo "Try: $VENV/bin/cryptkeeper --os-endpoint $ENDPOINT job list"
echo "Press Ctrl-C to stop."
wait $API_PID
