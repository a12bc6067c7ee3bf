"""Leader election on a coordination.k8s.io Lease, so several operator replicas are safe.

Only the holder of the Lease reconciles; the others wait. The holder renews every `renew_seconds`; if it
cannot renew before the lease expires it stops itself (the pod restarts as a standby), so two replicas
never act at once for longer than one lease period — and even then every action is idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class LeaderElector:
    def __init__(
        self,
        api: client.ApiClient,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_seconds: int = 15,
        renew_seconds: float = 5.0,
    ) -> None:
        self.coord = client.CoordinationV1Api(api)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_seconds, self.renew_seconds = lease_seconds, renew_seconds
        self._stop = threading.Event()

    def try_acquire(self) -> bool:
        """One attempt: take the Lease if it is free, expired or already ours."""
        now = _now()
        try:
            lease = self.coord.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            body = client.V1Lease(
                metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
                spec=self._spec(now, transitions=0, acquired=now),
            )
            try:
                self.coord.create_namespaced_lease(self.namespace, body)
            except ApiException as create_exc:
                if create_exc.status == 409:
                    return False
                if create_exc.status == 403:  # the chart creates the Lease; this replica may only update it
                    log.warning(
                        "lease %s/%s does not exist yet and creating it is not allowed: waiting",
                        self.namespace,
                        self.name,
                    )
                    return False
                raise
            return True
        spec = lease.spec
        holder = spec.holder_identity
        renewed = spec.renew_time or spec.acquire_time
        expired = renewed is None or renewed + timedelta(seconds=spec.lease_duration_seconds or 0) < now
        if holder not in (None, "", self.identity) and not expired:
            return False
        transitions = (spec.lease_transitions or 0) + (0 if holder == self.identity else 1)
        acquired = spec.acquire_time if holder == self.identity else now
        lease.spec = self._spec(now, transitions=transitions, acquired=acquired)
        try:  # resourceVersion in `lease` makes this a compare-and-swap
            self.coord.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def _spec(self, now: datetime, *, transitions: int, acquired: Any) -> client.V1LeaseSpec:
        return client.V1LeaseSpec(
            holder_identity=self.identity,
            lease_duration_seconds=self.lease_seconds,
            acquire_time=acquired,
            renew_time=now,
            lease_transitions=transitions,
        )

    def wait_until_leader(self, poll: float = 2.0) -> None:
        while not self._stop.is_set():
            if self.try_acquire():
                log.info("acquired lease %s/%s as %s", self.namespace, self.name, self.identity)
                return
            self._stop.wait(poll)

    def keep_renewing(self, on_lost: Callable[[], None]) -> threading.Thread:
        """Renew in a background thread; call `on_lost` when the Lease cannot be kept."""

        def loop() -> None:
            last_ok = time.monotonic()
            while not self._stop.wait(self.renew_seconds):
                try:
                    if self.try_acquire():
                        last_ok = time.monotonic()
                        continue
                    log.error("lease %s taken by another replica", self.name)
                except Exception as exc:  # any failure to renew counts the same
                    log.warning("lease renewal failed: %s", exc)
                    if time.monotonic() - last_ok < self.lease_seconds:
                        continue
                on_lost()
                return

        thread = threading.Thread(target=loop, name="lease-renewer", daemon=True)
        thread.start()
        return thread

    def release(self) -> None:
        """Give the Lease up on a clean shutdown so a standby takes over at once."""
        self._stop.set()
        try:
            lease = self.coord.read_namespaced_lease(self.name, self.namespace)
            if lease.spec.holder_identity == self.identity:
                lease.spec.holder_identity = ""
                lease.spec.renew_time = None
                self.coord.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as exc:  # pragma: no cover - best effort on shutdown
            log.warning("could not release lease: %s", exc.reason)
