"""A local Anvil dev chain as a managed child process (tests, `flalliance chain up`, demos).

The native binary from npm ``@foundry-rs/anvil-linux-amd64`` is used, not the node wrapper, whose PID
does not stop its child promptly. The process is bound to 127.0.0.1 on a free port, waited for until it
answers RPC, and always stopped: on ``__exit__``, at interpreter exit, and (Linux) by the kernel if this
process dies without cleaning up (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from flalliance.chain.errors import ChainError

log = logging.getLogger(__name__)

ANVIL_PACKAGE = Path("node_modules") / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
DEFAULT_CHAIN_ID = 31337
_PR_SET_PDEATHSIG = 1


def _repo_root() -> Path:
    # operator/flalliance/chain/devchain.py -> the repository root holding node_modules/
    return Path(__file__).resolve().parents[3]


def anvil_binary() -> Path:
    """Path of the anvil binary: $FLALLIANCE_ANVIL, else the npm package under the repository root."""
    override = os.environ.get("FLALLIANCE_ANVIL")
    candidates = [Path(override)] if override else [_repo_root() / ANVIL_PACKAGE, Path.cwd() / ANVIL_PACKAGE]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ChainError(
        f"anvil not found at {candidates[0]}: run `make setup` (installs the pinned npm package "
        "@foundry-rs/anvil-linux-amd64), or point FLALLIANCE_ANVIL at an anvil binary"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the caller retries if it is taken before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Ask the kernel to SIGKILL the child when the parent (thread) dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Anvil:
    """An anvil process. Use as a context manager, or call :meth:`start` and :meth:`stop`.

    ``block_time`` None means automine (a block per transaction); ``timestamp`` fixes the genesis time
    (reproducible ``prevrandao``); ``state_path`` loads the state from that file if present and dumps it
    there on a clean stop. ``kill_with_parent`` (when started from the main thread) has the kernel kill
    anvil if this process dies without stopping it.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        block_time: float | None = None,
        timestamp: int | None = None,
        chain_id: int = DEFAULT_CHAIN_ID,
        accounts: int = 10,
        balance_eth: int = 10_000,
        state_path: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        extra_args: list[str] | None = None,
        ready_timeout: float = 15.0,
        kill_with_parent: bool = True,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.block_time = block_time
        self.timestamp = timestamp
        self.chain_id = chain_id
        self.accounts = accounts
        self.balance_eth = balance_eth
        self.state_path = Path(state_path) if state_path is not None else None
        self.log_path = Path(log_path) if log_path is not None else None
        self.extra_args = list(extra_args or [])
        self.ready_timeout = ready_timeout
        self.kill_with_parent = kill_with_parent
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None

    # ----------------------------------------------------------------------------------------------------
    @property
    def process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise ChainError("anvil is not running")
        return self._process

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def rpc_url(self) -> str:
        if self._process is None:
            raise ChainError("anvil is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self, port: int) -> list[str]:
        """The anvil command line for ``port``."""
        cmd = [
            str(anvil_binary()),
            "--host",
            self.host,
            "--port",
            str(port),
            "--chain-id",
            str(self.chain_id),
            "--accounts",
            str(self.accounts),
            "--balance",
            str(self.balance_eth),
        ]
        if self.block_time is not None:
            cmd += ["--block-time", f"{self.block_time:g}"]
        if self.timestamp is not None:
            cmd += ["--timestamp", str(self.timestamp)]
        if self.state_path is not None:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--state", str(self.state_path)]
        return cmd + self.extra_args

    def start(self) -> Anvil:
        """Start anvil and wait until it answers RPC; retries on another free port if the port was taken."""
        if self.running:
            return self
        attempts = 1 if self.requested_port is not None else 3
        last_error: ChainError | None = None
        for _ in range(attempts):
            port = self.requested_port if self.requested_port is not None else free_port(self.host)
            try:
                self._launch(port)
                return self
            except ChainError as exc:
                last_error = exc
                self.stop()
        assert last_error is not None
        raise last_error

    def _launch(self, port: int) -> None:
        # Our own directory for what anvil writes besides the chain: its log (unless log_path) and the
        # historical states it persists to disk (--cache-path; by default under ~/.foundry/anvil/tmp, where
        # anvil leaves them behind after it stops: gigabytes after a long run). Removed in stop().
        self._tempdir = tempfile.TemporaryDirectory(prefix="flalliance-anvil-")
        if self.log_path is None:
            log_path = Path(self._tempdir.name) / "anvil.log"
        else:
            log_path = self.log_path
            log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = log_path.open("wb")
        cmd = [*self.command(port), "--cache-path", str(Path(self._tempdir.name) / "states")]
        self._process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if self._tie_to_parent() else None,
            start_new_session=True,  # a terminal's Ctrl-C reaches us, and we stop anvil cleanly
        )
        self.port = port
        atexit.register(self.stop)
        log.debug("anvil pid %d starting on %s:%d", self._process.pid, self.host, port)
        self._wait_ready(log_path)

    def _tie_to_parent(self) -> bool:
        # PDEATHSIG fires when the creating *thread* ends: only tie anvil to the main thread's lifetime.
        return self.kill_with_parent and threading.current_thread() is threading.main_thread()

    def _wait_ready(self, log_path: Path) -> None:
        """Ready = *our* process logged that it listens, is still alive, and answers eth_chainId.

        Checking RPC alone is not enough: if the port was taken, another node may answer while ours is
        exiting with "Address already in use".
        """
        deadline = time.monotonic() + self.ready_timeout
        listening = f"Listening on {self.host}:{self.port}"
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
        while True:
            if self._process is not None and self._process.poll() is not None:
                code = self._process.returncode
                raise ChainError(f"anvil exited with code {code} on port {self.port}: {_tail(log_path)}")
            if listening in _tail(log_path, lines=200) and self._answers(body):
                return
            if time.monotonic() > deadline:
                raise ChainError(f"anvil did not answer on {self.rpc_url} within {self.ready_timeout:g} s")
            time.sleep(0.02)

    def _answers(self, body: bytes) -> bool:
        request = urllib.request.Request(  # noqa: S310 - http://<host>:<port> built here
            self.rpc_url, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=1.0) as response:  # noqa: S310
                return int(json.loads(response.read())["result"], 16) == self.chain_id
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop anvil: SIGTERM (it dumps ``state_path`` then), SIGKILL after ``timeout``. Idempotent."""
        process, self._process = self._process, None
        if process is not None:
            atexit.unregister(self.stop)
            terminate(process, timeout)
            log.debug("anvil pid %d stopped (exit code %s)", process.pid, process.returncode)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self._process.pid} at {self.rpc_url}" if self._process is not None else "stopped"
        return f"Anvil({state})"


def terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM (a node flushes its state then), SIGKILL after ``timeout``; no-op if it already exited."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
