#!/usr/bin/env bash
# This machine's Docker daemon, for `make kfp-image`, `make kfp-local` and their test, where no
# service manager runs it (`systemctl start docker` does the same job where one does).
#
#   bash scripts/dockerd.sh start   # no-op when a daemon already answers
#   bash scripts/dockerd.sh stop    # stops only the daemon this script started (by its PID)
#
# --bridge=none --iptables=false: containers get a loopback interface and nothing else (no
# private-range addresses, no NAT rules on the host). `docker build --network host` still
# reaches the package index the host reaches.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=${DOCKERD_STATE:-build/dockerd}
PIDFILE=$STATE/dockerd.pid

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

case "${1:-}" in
  start)
    if answers; then echo "dockerd: a daemon answers already."; exit 0; fi
    command -v dockerd >/dev/null || {
      echo "dockerd: not installed: apt-get install docker.io (scripts/setup_os.sh installs it)" >&2
      exit 2
    }
    [ "$(id -u)" = "0" ] || { echo "dockerd: starting the daemon needs root" >&2; exit 2; }
    mkdir -p "$STATE"
    dockerd --bridge=none --iptables=false >"$STATE/dockerd.log" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 100); do
      answers && { echo "dockerd: started (PID $(cat "$PIDFILE"), log $STATE/dockerd.log)"; exit 0; }
      kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
      sleep 0.2
    done
    echo "dockerd: did not start; the end of $STATE/dockerd.log:" >&2
    tail -n 5 "$STATE/dockerd.log" >&2
    exit 1
    ;;
  stop)
    [ -f "$PIDFILE" ] || { echo "dockerd: none started by this script."; exit 0; }
    pid=$(cat "$PIDFILE")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      echo "dockerd: stopped (PID $pid)"
    fi
    rm -f "$PIDFILE"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
