#!/usr/bin/env bash
# Make sure a Docker daemon answers (Debian's docker.io). If none runs, start dockerd detached, with its
# log in $CACHE/logs/dockerd.log, and record in .state/docker/started-by-us that this checkout started it,
# so hack/docker-down.sh stops only a daemon we started. Bounded wait; the failure names the log.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DOCKER="$(command -v /usr/bin/docker || command -v docker || true)"
if [[ -n "$DOCKER" ]] && "$DOCKER" info >/dev/null 2>&1; then exit 0; fi
need_root "starting dockerd"
"$HACK/install-deps.sh"
DOCKER=/usr/bin/docker
mkdir -p "$CACHE/logs" "$REPO_ROOT/.state/docker"
logf="$CACHE/logs/dockerd.log"
# Two callers at once (make images in parallel with another engineer's build): one starts it.
exec 9>/tmp/flalliance-dockerd.lock
flock -w 120 9 || die "dockerd: another start holds /tmp/flalliance-dockerd.lock for over 120 s"
if "$DOCKER" info >/dev/null 2>&1; then exit 0; fi
if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then rm -f /var/run/docker.pid; fi
log "starting dockerd (log: $logf)"
echo "=== $(date -Is) start" >>"$logf"
setsid /usr/sbin/dockerd --host=unix:///var/run/docker.sock --pidfile=/var/run/docker.pid >>"$logf" 2>&1 </dev/null &
echo $! >"$REPO_ROOT/.state/docker/started-by-us"
deadline=$(( $(date +%s) + 60 ))
until "$DOCKER" info >/dev/null 2>&1; do
  kill -0 "$(cat "$REPO_ROOT/.state/docker/started-by-us")" 2>/dev/null || die_component dockerd "$logf" "exited during start"
  (( $(date +%s) < deadline )) || die_component dockerd "$logf" "not answering after 60 s"
  sleep 0.5
done
