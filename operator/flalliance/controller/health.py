"""`/healthz` for every replica, leader or standby, served from the moment the process starts.

kopf serves its own liveness endpoint only once it runs, and it runs only in the replica holding the Lease:
a standby used to answer "connection refused" and was killed by its liveness probe about every 70 s. This
server answers for the process: a standby that is waiting for the Lease is healthy; the leader is healthy
while kopf's own endpoint (on 127.0.0.1, not exposed) says so.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)


class Health:
    """What the probe sees: `standby` until `leading(kopf_url)` is called, then kopf's own verdict."""

    def __init__(self) -> None:
        self._kopf_url: str | None = None
        self._lock = threading.Lock()

    def leading(self, kopf_url: str) -> None:
        with self._lock:
            self._kopf_url = kopf_url

    def check(self, timeout: float = 5.0) -> tuple[int, str]:
        with self._lock:
            url = self._kopf_url
        if url is None:
            return 200, "standby: waiting for the Lease\n"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 - our own 127.0.0.1 URL
                return 200, "leader: " + reply.read(2000).decode("utf-8", "replace") + "\n"
        except urllib.error.HTTPError as exc:
            return 503, f"leader: kopf reports {exc.code}\n"
        except OSError as exc:
            return 503, f"leader: kopf's liveness endpoint does not answer ({exc})\n"


def serve(health: Health, port: int, addr: str = "0.0.0.0") -> ThreadingHTTPServer:  # noqa: S104 - probed by the kubelet
    """Serve `/healthz` on `port` in a daemon thread; returns the server (for `shutdown()` in tests)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/healthz":
                self.send_error(404)
                return
            code, text = health.check()
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # a line per probe otherwise
            return

    server = ThreadingHTTPServer((addr, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="healthz", daemon=True).start()
    return server
