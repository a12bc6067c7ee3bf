"""The operator (kopf with the project's handlers) in a background thread, for tests and benchmarks.

Start and stop it at will: restart-safety tests stop it mid-round and start a fresh one.
"""

from __future__ import annotations

import asyncio
import threading

from kubernetes import client


class OperatorThread:
    def __init__(self, api: client.ApiClient, namespace: str, *, test_mode: bool = False) -> None:
        self.api, self.namespace, self.test_mode = api, namespace, test_mode
        self.thread: threading.Thread | None = None
        self.stop_flag: threading.Event | None = None

    def start(self, timeout: float = 30.0) -> None:
        import kopf

        from flalliance.controller import handlers

        handlers.configure_api(self.api, test_mode=self.test_mode, namespaces=1)
        self.stop_flag = threading.Event()
        ready = threading.Event()
        flag = self.stop_flag

        def run() -> None:
            asyncio.run(
                kopf.operator(standalone=True, namespaces=[self.namespace], stop_flag=flag, ready_flag=ready)
            )

        self.thread = threading.Thread(target=run, name="operator", daemon=True)
        self.thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the operator did not start")

    def stop(self, timeout: float = 60.0) -> None:
        if self.thread is not None and self.stop_flag is not None:
            self.stop_flag.set()
            self.thread.join(timeout)
            if self.thread.is_alive():
                raise RuntimeError("the operator did not stop")
            self.thread = None

    def __enter__(self) -> OperatorThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
