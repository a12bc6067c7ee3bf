"""kopf's HTTP session to the API server, with a bounded number of connections.

kopf's own session has no connection limit. When the operator starts beside many existing objects, kopf
adds its finalizer to every FLTask and Participant at once (a PATCH each, all in flight together), and
each TLS connection holds asyncio's 256 KiB read buffer: measured with 100 FLTasks of 10 Participants,
about 2,200 connections open at start-up, 276 MiB of buffers (tracemalloc), and a resident size that did
not come back down after they closed (freed heap that the allocator keeps). With at most
``connection_limit`` connections, the same requests queue for a connection instead (docs/scale.md).

kopf's watch streams each hold a connection for as long as they run, so the limit counts them on top of
the requests in flight: a limit below the number of streams would leave requests waiting forever.
"""

from __future__ import annotations

import aiohttp
import kopf

# Requests kopf may have in flight at once (finalizer and annotation patches, Events), beyond its watches.
KOPF_REQUESTS = 32
# Watch streams per watched namespace: FLTasks, Participants and Jobs (see handlers.py).
WATCHED_KINDS = 3
# Cluster-wide streams kopf may open beside them (its CRD and namespace observers).
SPARE_STREAMS = 4


def connection_limit(namespaces: int) -> int:
    """Connections for ``namespaces`` watched namespaces (0 = cluster-wide, one stream per kind)."""
    if namespaces < 0:
        raise ValueError(f"namespaces must be >= 0, got {namespaces}")
    return KOPF_REQUESTS + WATCHED_KINDS * max(1, namespaces) + SPARE_STREAMS


async def bounded_session(info: kopf.ConnectionInfo, limit: int) -> kopf.AiohttpSession:
    """``info``'s server, TLS settings and credentials in a session of at most ``limit`` connections.

    Async because an aiohttp session belongs to the running event loop; kopf closes it when it logs in
    again (a rejected token) or stops."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, ssl=info.as_ssl_context()),
        headers=info.as_http_headers(),
    )
    return kopf.AiohttpSession(
        server=info.server,
        default_namespace=info.default_namespace,
        expiration=info.expiration,
        aiohttp_session=session,
    )
