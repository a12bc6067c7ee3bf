"""Smoke-test program run in pods by tests/e2e (stdlib only).

smoke.py hello                  print a greeting and the Python version, exit 0
smoke.py serve PORT             serve GET / -> "smoke-ok <hostname>" on PORT until killed
smoke.py fetch URL [TIMEOUT]    GET URL (resolving the host through cluster DNS), print the body
smoke.py write PATH TEXT        write TEXT to PATH, read it back, print it
"""

from __future__ import annotations

import http.server
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request


def serve(port: int) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"smoke-ok {socket.gethostname()}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    # Inside a pod: the pod IP is the only non-loopback address, and the Service must reach it.
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)  # noqa: S104
    server.serve_forever()


def fetch(url: str, timeout: float) -> None:
    if not url.startswith("http://"):
        sys.exit(f"fetch: only http:// URLs, got {url!r}")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (http:// checked above)
                print(resp.read().decode().strip(), flush=True)
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                print(f"fetch {url} failed: {exc}", file=sys.stderr, flush=True)
                sys.exit(1)
            time.sleep(1)


SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def kube_get(paths: list[str]) -> None:
    """Call the API server as the pod's ServiceAccount (as an in-cluster operator does), via its DNS name."""
    with open(f"{SA_DIR}/token") as fh:
        token = fh.read().strip()
    ctx = ssl.create_default_context(cafile=f"{SA_DIR}/ca.crt")
    for path in paths:
        req = urllib.request.Request(
            f"https://kubernetes.default.svc{path}", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:  # noqa: S310 (fixed https URL)
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        print(f"GET {path} -> {status}", flush=True)


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit(__doc__)
    cmd = argv[0]
    if cmd == "hello":
        print(f"hello from flalliance smoke, python {sys.version.split()[0]}", flush=True)
    elif cmd == "serve":
        serve(int(argv[1]))
    elif cmd == "fetch":
        fetch(argv[1], float(argv[2]) if len(argv) > 2 else 60.0)
    elif cmd == "write":
        with open(argv[1], "w") as fh:
            fh.write(argv[2])
        with open(argv[1]) as fh:
            print(f"wrote {fh.read()}", flush=True)
    elif cmd == "kube-get":
        kube_get(argv[1:])
    else:
        sys.exit(f"unknown command {cmd!r}\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv[1:])
