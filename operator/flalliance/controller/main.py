"""`flalliance operator`: leader election, metrics, health, then kopf."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import threading
from typing import Any

from flalliance.worker.logs import configure as configure_logging

log = logging.getLogger(__name__)

# Kubernetes API connections kept open: two tasks' passes at full parallelism (act.PARALLELISM each).
API_CONNECTIONS = 64


def register(sub: Any) -> None:
    p = sub.add_parser("operator", help="run the operator (kopf) with leader election")
    p.add_argument(
        "--namespace", action="append", default=[], help="namespace to watch (repeat); default all"
    )
    p.add_argument("--kubeconfig", default=None, help="default: in-cluster, then ~/.kube/config")
    p.add_argument("--lease-namespace", default=os.environ.get("POD_NAMESPACE", "default"))
    p.add_argument("--lease-name", default="flalliance-operator")
    p.add_argument("--lease-seconds", type=int, default=15)
    p.add_argument("--no-leader-election", action="store_true")
    p.add_argument("--metrics-port", type=int, default=8080, help="0 disables /metrics")
    p.add_argument(
        "--health-port", type=int, default=8081, help="/healthz for leader and standby; 0 disables it"
    )
    p.add_argument("--log-level", default="INFO")
    p.add_argument(
        "--test-mode",
        action="store_true",
        default=os.environ.get("FLALLIANCE_TEST_MODE", "") == "true",
        help="honour the test.flalliance.io/behaviour annotation (attacks for demos and e2e tests); "
        "never in production (env FLALLIANCE_TEST_MODE=true)",
    )
    p.set_defaults(func=run)


def _api(kubeconfig: str | None) -> Any:
    from kubernetes import client, config

    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig)
    else:
        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
    configuration = client.Configuration.get_default_copy()
    # A pass makes up to PARALLELISM calls at once (Job creations, status writes): with the default pool
    # (5 per CPU) the connections beyond it were dropped after each call and the next wave opened new ones,
    # a TLS handshake each.
    configuration.connection_pool_maxsize = API_CONNECTIONS
    return client.ApiClient(configuration)


def run(args: argparse.Namespace) -> int:
    import kopf
    from kopf._core.engines.peering import Identity  # kopf's NewType for operator identities

    from flalliance.controller import handlers, health, metrics
    from flalliance.controller.leader import LeaderElector
    from flalliance.controller.memory import limit_arenas

    limit_arenas()  # before the client threads start (see controller/memory.py)
    configure_logging(args.log_level)
    api = _api(args.kubeconfig)
    handlers.configure_api(api, test_mode=args.test_mode, namespaces=len(args.namespace))
    if args.test_mode:
        log.warning("test mode: Participants' test.flalliance.io/behaviour annotations are honoured")
    if args.metrics_port:
        metrics.serve(args.metrics_port)
    stop = threading.Event()
    status = health.Health()
    if args.health_port:  # before the Lease: a standby must answer its liveness probe too
        health.serve(status, args.health_port)
    elector = None
    # An explicit identity: kopf's default asks getpass for the user name, which fails for the image's
    # numeric non-root user (no /etc/passwd entry).
    identity = os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    if not args.no_leader_election:
        elector = LeaderElector(
            api,
            namespace=args.lease_namespace,
            name=args.lease_name,
            identity=identity,
            lease_seconds=args.lease_seconds,
        )
        log.info("waiting for lease %s/%s as %s", args.lease_namespace, args.lease_name, identity)
        elector.wait_until_leader()

        def lost() -> None:
            log.error("leadership lost: exiting so a standby can take over")
            os.kill(os.getpid(), signal.SIGTERM)

        elector.keep_renewing(lost)
    liveness = None
    if args.health_port:  # kopf's own endpoint, reached only through ours
        liveness = f"http://127.0.0.1:{args.health_port + 1}/healthz"
        status.leading(liveness)
    try:
        # No kopf.configure(): it adds its own plain-text root handler beside our JSON one (every line twice).
        # kopf's loggers propagate to the JSON handler; asyncio's debug chatter stays out, as with kopf.
        logging.getLogger("asyncio").setLevel(logging.WARNING)
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # a line per liveness probe otherwise
        asyncio.run(
            kopf.operator(
                standalone=True,
                identity=Identity(identity),
                clusterwide=not args.namespace,
                namespaces=list(args.namespace),
                liveness_endpoint=liveness,
                stop_flag=None,
            )
        )
    finally:
        stop.set()
        if elector is not None:
            elector.release()
    return 0
