#!/usr/bin/env bash
# Brings up a whole dflow on this machine: installs what is missing, builds,
# starts a controller and two agents (local-1, local-2) on 127.0.0.1 with the
# embedded LocalRuntime, waits until both are healthy, deploys examples/hello
# with one instance on each server and prints their URLs and what to try next.
#
#   deploy/quickstart.sh        start (running it again is harmless)
#   deploy/quickstart.sh stop   stop exactly what it started (PID files)
#
# Environment: DFLOW_HOME (default ~/.dflow), DFLOW_CONTROLLER_PORT (7443),
# DFLOW_AGENT_PORT_BASE (7500: local-1 gets 7501, local-2 7502),
# DFLOW_ROUTER_PORT_BASE (8080: local-1's router listens on 8081, local-2's on 8082),
# DFLOW_ROUTER_TLS_PORT_BASE (8442: HTTPS on 8443 and 8444, for `dflow certs add`).
# The app is then reached at http://hello.localhost:8081 (or :8082).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export DFLOW_HOME=${DFLOW_HOME:-$HOME/.dflow}
CONTROLLER_PORT=${DFLOW_CONTROLLER_PORT:-7443}
HTTP_PORT=${DFLOW_HTTP_PORT:-7480}
AGENT_PORT_BASE=${DFLOW_AGENT_PORT_BASE:-7500}
ROUTER_PORT_BASE=${DFLOW_ROUTER_PORT_BASE:-8080}
ROUTER_TLS_PORT_BASE=${DFLOW_ROUTER_TLS_PORT_BASE:-8442}
AGENTS=(local-1 local-2)
RUN_DIR=$DFLOW_HOME/run
LOG_DIR=$DFLOW_HOME/logs
BUILD_DIR=$ROOT/build-release
BIN=$DFLOW_HOME/bin

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_one() {
  local pidfile=$1 name=$2
  if alive "$pidfile"; then
    local pid
    pid=$(cat "$pidfile")
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
}

# App instances run in their own sessions and outlive their agent by design;
# `stop` ends the ones these agents started, found by their pidfiles (a pid is
# trusted only when its /proc start time matches, so a recycled pid is spared).
# The next start re-launches them: they are still wanted.
stop_instances() {  # stop_instances AGENT_DATA_DIR
  python3 - "$1" <<'PY'
import glob, json, os, signal, sys
for path in sorted(glob.glob(os.path.join(sys.argv[1], "instances", "*.json"))):
    try:
        record = json.load(open(path))
        pid, pgid = record.get("pid", 0), record.get("pgid", 0)
        if pid <= 0 or pgid <= 0:
            continue
        stat = open("/proc/%d/stat" % pid).read()
        start_ticks = int(stat[stat.rindex(")") + 2:].split()[19])  # field 22
        if start_ticks != record.get("start_ticks"):
            continue
        os.killpg(pgid, signal.SIGTERM)
        print("stopped instance %s (pid %d)" % (os.path.basename(path)[:-5], pid))
    except (OSError, ValueError, IndexError):
        continue
PY
}

if [ "${1:-}" = "stop" ]; then
  for a in "${AGENTS[@]}"; do
    stop_one "$RUN_DIR/agent-$a.pid" "agent $a"
    stop_instances "$DFLOW_HOME/agents/$a"
  done
  stop_one "$RUN_DIR/controller.pid" "controller"
  exit 0
fi
if [ -n "${1:-}" ]; then
  echo "usage: deploy/quickstart.sh [stop]" >&2
  exit 2
fi

"$ROOT/deploy/deps.sh"

echo "==> building (Release) in $BUILD_DIR"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" --target dflow-controller dflow-agent dflow
mkdir -p "$BIN" "$RUN_DIR" "$LOG_DIR"
for b in controller/dflow-controller agent/dflow-agent cli/dflow; do
  ln -sf "$BUILD_DIR/$b" "$BIN/$(basename "$b")"
done
export PATH=$BIN:$PATH

CDIR=$DFLOW_HOME/controller
if [ ! -f "$CDIR/ca.key" ]; then
  dflow-controller init --data-dir "$CDIR"
fi

start() {  # start PIDFILE LOG ARGV…
  local pidfile=$1 log=$2
  shift 2
  setsid "$@" >>"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# Pid files of processes gone since an earlier run (a reboot, a kill).
for pidfile in "$RUN_DIR"/*.pid; do
  if [ -f "$pidfile" ] && ! alive "$pidfile"; then rm -f "$pidfile"; fi
done

if alive "$RUN_DIR/controller.pid"; then
  echo "==> controller already running (pid $(cat "$RUN_DIR/controller.pid"))"
else
  echo "==> starting controller on 127.0.0.1:$CONTROLLER_PORT"
  start "$RUN_DIR/controller.pid" "$LOG_DIR/controller.log" \
    dflow-controller run --data-dir "$CDIR" --listen "127.0.0.1:$CONTROLLER_PORT" \
    --http-listen "127.0.0.1:$HTTP_PORT"
fi
export DFLOW_CONTROLLER=$CDIR/controller.sock

# A process this script started that is gone (run/NAME.pid): say so with the
# end of its log (logs/NAME.log), rather than waiting out a deadline.
exited() {
  local pidfile name
  for pidfile in "$RUN_DIR"/*.pid; do
    [ -f "$pidfile" ] || continue
    alive "$pidfile" && continue
    name=$(basename "$pidfile" .pid)
    echo "quickstart: $name exited; the end of $LOG_DIR/$name.log:" >&2
    tail -n 15 "$LOG_DIR/$name.log" >&2 || true
    return 0
  done
  return 1
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND…
  local secs=$1 what=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if exited; then exit 1; fi
    if [ $SECONDS -ge $deadline ]; then
      echo "quickstart: timed out after ${secs}s waiting for $what; see $LOG_DIR" >&2
      exit 1
    fi
    sleep 0.2
  done
}
wait_for 30 "the controller to answer" dflow status

# A port nothing listens on (bound and released at once, on 127.0.0.1). With
# SO_REUSEADDR, as nginx binds: connections in TIME-WAIT do not make it taken.
port_free() {  # port_free PORT
  python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

i=0
for a in "${AGENTS[@]}"; do
  i=$((i + 1))
  adir=$DFLOW_HOME/agents/$a
  if [ ! -f "$adir/agent.json" ]; then
    echo "==> joining $a"
    dflow-agent join --token "$(dflow servers join-token --ttl 5m)" --name "$a" \
      --listen "127.0.0.1:$((AGENT_PORT_BASE + i))" --data-dir "$adir" --label "slot=$i" >/dev/null
  fi
  if alive "$RUN_DIR/agent-$a.pid"; then
    echo "==> agent $a already running (pid $(cat "$RUN_DIR/agent-$a.pid"))"
  else
    # A router stopped just before may still be closing its listeners: up to 5 s.
    for port in $((ROUTER_PORT_BASE + i)) $((ROUTER_TLS_PORT_BASE + i)); do
      deadline=$((SECONDS + 5))
      until port_free "$port"; do
        if [ $SECONDS -ge $deadline ]; then
          echo "quickstart: port $port on 127.0.0.1 is in use (needed by $a's router); free it" \
            "or set DFLOW_ROUTER_PORT_BASE / DFLOW_ROUTER_TLS_PORT_BASE" >&2
          exit 1
        fi
        sleep 0.2
      done
    done
    echo "==> starting agent $a"
    start "$RUN_DIR/agent-$a.pid" "$LOG_DIR/agent-$a.log" dflow-agent run --data-dir "$adir" \
      --router-listen "127.0.0.1:$((ROUTER_PORT_BASE + i))" \
      --router-tls-listen "127.0.0.1:$((ROUTER_TLS_PORT_BASE + i))"
  fi
done

healthy() {
  local n
  n=$(dflow servers ls --json | grep -c '"status": "healthy"' || true)
  [ "$n" -ge "${#AGENTS[@]}" ]
}
wait_for 60 "both agents to be healthy" healthy
dflow servers ls

APP=hello
if ! dflow apps show "$APP" >/dev/null 2>&1; then
  echo "==> creating app $APP"
  dflow apps create "$APP" --health-path /health
fi
if [ "$(dflow releases "$APP" --json | grep -c '"status": "current"' || true)" -eq 0 ]; then
  echo "==> deploying examples/hello to $APP"
  dflow deploy "$APP" --path "$ROOT/examples/hello"
  echo "==> scaling $APP to 2 web instances (one per server)"
  dflow scale "$APP" web=2
fi
# Instances the agents re-launch after a stop need a moment to pass their checks.
settled() { [ "$(dflow ps "$APP" --json | grep -c '"state": "running"' || true)" -ge 1 ] && \
  [ "$(dflow ps "$APP" --json | grep -c '"state": "running"')" -eq "$(dflow ps "$APP" --json | grep -c '"id"')" ]; }
wait_for 60 "the instances of $APP to run" settled
dflow ps "$APP"
APP_URL=http://$APP.localhost:$((ROUTER_PORT_BASE + 1))
wait_for 30 "$APP_URL to answer" curl -fsS -m 2 "$APP_URL/"
URLS=$(dflow ps "$APP" --json | python3 -c '
import json, sys
for i in json.load(sys.stdin):
    if i.get("state") == "running":
        print("  http://127.0.0.1:%d/   (%s on %s, release v%d)" % (i["port"], i["id"], i["server"], i["release"]))
')

cat <<MSG

dflow is up: a controller and two agents on this machine, and the app "$APP"
running on both. It answers at

  $APP_URL/   (through local-1's router; local-2's: port $((ROUTER_PORT_BASE + 2)))

and each router balances over the instances on both servers:
$URLS

HTTPS: the routers also listen on 127.0.0.1:$((ROUTER_TLS_PORT_BASE + 1)) and :$((ROUTER_TLS_PORT_BASE + 2)); serve $APP there with
  dflow certs add $APP --cert CERT.pem --key KEY.pem   # a certificate for $APP.localhost

Logs: $LOG_DIR   Data: $DFLOW_HOME

Next, in this shell:
  export PATH=$BIN:\$PATH DFLOW_CONTROLLER=$DFLOW_CONTROLLER
  curl $APP_URL/        # the app, through a router
  dflow ps $APP                             # where each instance runs
  dflow scale $APP web=4                    # two per server
  dflow config set $APP GREETING=bonjour    # a new release, rolled out
  dflow releases $APP                       # v1, v2, …
  dflow rollback $APP                       # back to the release before
  dflow logs $APP -n 20                     # merged across servers
  dflow ops ls --app $APP                   # durable operations and their steps
  dflow status                              # controller health and recent events
  dflow servers ls                          # the fleet
  deploy/quickstart.sh stop                 # stop everything this script started
MSG
