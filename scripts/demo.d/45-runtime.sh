# Sourced by scripts/demo.sh: the container runtime with the process driver (docs/runtime.md).
step "Runtime: which driver and why; run an HTTP server with the process driver, ps --output json, logs, stop, rm"
(
  set -euo pipefail
  R="$VEIL runtime --state-dir $WORK/runtime"
  "$VEIL" runtime info || true   # Docker if an engine answers on docker.socket, else why not
  R="$R --driver process"
  mkdir -p "$WORK/www" && echo "hello from veil" > "$WORK/www/index.html"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ID=$($R run --image /bin/busybox --name demo-web --memory 64M --cpu 0.5 --port "$PORT:80" \
        -- sh -c "exec busybox httpd -f -v -p 127.0.0.1:\$VEIL_PORT_80 -h $WORK/www")
  trap '$R rm -f "$ID" >/dev/null 2>&1 || true' EXIT
  for _ in $(seq 50); do python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$PORT/',timeout=1).read().decode(),end='')" 2>/dev/null && break; sleep 0.1; done
  $R ps --output json
  $R logs "$ID"
  $R stop -t 2 "$ID"
  $R rm "$ID"
)
