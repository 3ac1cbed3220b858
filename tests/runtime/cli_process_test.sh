#!/bin/sh
# `veil runtime` end to end with the process driver: run an HTTP server on a port, check it
# with a real request, ps (table and json), logs, stop, rm. Needs busybox-static.
set -eu
VEIL="${VEIL_BINARY_DIR:?}/bin/veil"
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || { echo "SKIP: busybox-static missing"; exit 77; }
T=$(mktemp -d /tmp/veil-rt-cli.XXXXXX)
ID=""
cleanup() {
  [ -n "$ID" ] && "$VEIL" runtime --driver process --state-dir "$T/state" rm -f "$ID" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/www"
echo "hello from veil cli" > "$T/www/index.html"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
R="$VEIL runtime --driver process --state-dir $T/state"

$R info | grep -q '^process'
ID=$($R run --image "$BUSYBOX" --name cli-web --memory 64M --cpu 0.5 --port "$PORT:80" -l veil.job=cli \
      -- sh -c "exec busybox httpd -f -v -p 127.0.0.1:\$VEIL_PORT_80 -h $T/www")
[ -n "$ID" ] || { echo "run printed no id"; exit 1; }
for i in $(seq 1 50); do
  BODY=$(python3 -c "import urllib.request,sys; print(urllib.request.urlopen('http://127.0.0.1:$PORT/index.html',timeout=1).read().decode(),end='')" 2>/dev/null) && break
  sleep 0.1
done
[ "$BODY" = "hello from veil cli" ] || { echo "unexpected body: $BODY"; exit 1; }
$R ps | grep -q cli-web
$R ps -o json | python3 -c "
import json,sys
rows=json.load(sys.stdin)
assert len(rows)==1, rows
r=rows[0]
assert r['name']=='cli-web' and r['state']=='running' and r['labels']['veil.job']=='cli', r
assert r['ports'][0]['host_port']==$PORT and r['ports'][0]['container_port']==80, r
"
$R logs "$ID" 2>&1 | grep -q 'response:200'
$R stop -t 2 "$ID" >/dev/null
$R ps -a -o json | python3 -c "import json,sys; r=json.load(sys.stdin); assert r[0]['state']=='exited', r"
[ "$($R ps -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ]
$R rm "$ID" >/dev/null
if $R logs "$ID" >/dev/null 2>&1; then echo "logs of a removed container succeeded"; exit 1; fi
# Usage errors exit 2, failures 1.
set +e
$R run --image "$BUSYBOX" --memory 12Q -- true >/dev/null 2>&1; [ $? -eq 2 ] || { echo "bad --memory not a usage error"; exit 1; }
$R stop no-such-container >/dev/null 2>&1; [ $? -eq 1 ] || { echo "stop of unknown id did not fail with 1"; exit 1; }
ID=""
echo "ok"
