"""kopf's session: bounded connections, the same server, TLS settings and credentials as kopf's own."""

from __future__ import annotations

import asyncio

import kopf
import pytest

from flalliance.controller.kopf_session import (
    KOPF_REQUESTS,
    SPARE_STREAMS,
    WATCHED_KINDS,
    bounded_session,
    connection_limit,
)

pytestmark = pytest.mark.unit


def test_limit_leaves_room_for_every_watch_stream() -> None:
    assert connection_limit(0) == KOPF_REQUESTS + WATCHED_KINDS + SPARE_STREAMS  # cluster-wide
    assert connection_limit(1) == connection_limit(0)
    assert connection_limit(10) - connection_limit(1) == 9 * WATCHED_KINDS
    with pytest.raises(ValueError, match="namespaces"):
        connection_limit(-1)


def test_session_keeps_server_credentials_and_limit() -> None:
    info = kopf.ConnectionInfo(server="https://127.0.0.1:6443", token="secret-token", insecure=True)

    async def build() -> tuple[kopf.AiohttpSession, int, str | None]:
        ctx = await bounded_session(info, 40)
        session = ctx.aiohttp_session
        try:
            assert session.connector is not None
            return ctx, session.connector.limit, session.headers.get("Authorization")
        finally:
            await session.close()

    ctx, limit, auth = asyncio.run(build())
    assert ctx.server == "https://127.0.0.1:6443"
    assert limit == 40
    assert auth == "Bearer secret-token"
