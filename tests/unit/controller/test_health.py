"""The operator's /healthz: a standby answers before it leads (it used to be killed every ~70 s)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest

from flalliance.controller.health import Health, serve

pytestmark = pytest.mark.unit


def _get(port: int, path: str = "/healthz") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_standby_is_healthy_and_a_leader_follows_kopfs_own_endpoint() -> None:
    health = Health()
    ours = serve(health, 0, addr="127.0.0.1")
    kopf = serve(Health(), 0, addr="127.0.0.1")  # stands in for kopf's endpoint: answers 200
    try:
        port = ours.server_address[1]
        code, text = _get(port)
        assert (code, text.startswith("standby")) == (200, True)
        health.leading(f"http://127.0.0.1:{kopf.server_address[1]}/healthz")
        assert _get(port)[0] == 200
        health.leading(f"http://127.0.0.1:{_free_port()}/healthz")  # kopf not (or no longer) serving
        code, text = _get(port)
        assert code == 503 and "does not answer" in text
        assert _get(port, "/other")[0] == 404
    finally:
        ours.shutdown()
        kopf.shutdown()
