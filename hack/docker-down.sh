#!/usr/bin/env bash
# Stop dockerd only if hack/docker-up.sh in this checkout started it (PID recorded in .state/docker).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
f="$REPO_ROOT/.state/docker/started-by-us"
[[ -f "$f" ]] || exit 0
pid="$(cat "$f")"
if kill -0 "$pid" 2>/dev/null; then
  log "stopping dockerd (pid $pid, started by this checkout)"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && { log "dockerd ignored SIGTERM for 30 s; SIGKILL"; kill -KILL "$pid"; }
  # dockerd's own containerd exits with it; wait for that too (bounded).
  for _ in $(seq 1 20); do pgrep -P "$pid" >/dev/null 2>&1 || break; sleep 0.5; done
fi
rm -f "$f"
