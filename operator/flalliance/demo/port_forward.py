"""`kubectl port-forward` to a Service, as a context manager: how the host reaches an in-cluster chain.

Works the same on the local cluster and on kind; binds 127.0.0.1 only, on a port the kernel picks, and
the process is stopped when the block ends.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+)")


@contextmanager
def port_forward(
    namespace: str,
    service: str,
    port: int,
    kubectl: str = "kubectl",
    kubeconfig: str | None = None,
    timeout: float = 30.0,
) -> Iterator[int]:
    """Yields the local port forwarded to ``service:port`` in ``namespace`` (``pod/<name>`` for a pod)."""
    config = ["--kubeconfig", kubeconfig] if kubeconfig else []
    proc = subprocess.Popen(
        [
            kubectl,
            *config,
            "-n",
            namespace,
            "port-forward",
            "--address",
            "127.0.0.1",
            service if "/" in service else f"svc/{service}",  # a Service, or e.g. pod/<name>
            f":{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    found: list[int] = []
    seen: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line.rstrip())
            m = _FORWARDING.search(line)
            if m and not found:
                found.append(int(m.group(1)))
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not ready.wait(timeout) or not found:
            raise RuntimeError(
                f"kubectl port-forward to svc/{service}:{port} in {namespace} did not start: "
                + " / ".join(seen[-5:])
            )
        yield found[0]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
