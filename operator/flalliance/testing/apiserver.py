"""A real etcd + kube-apiserver on 127.0.0.1, without kubelet or controllers (like envtest).

For integration tests and the operator benchmark: the operator talks to a genuine API server (CRD
validation, CEL rules, status subresource, RBAC, watches), while the test plays the kubelet's and Job
controller's part openly. Binaries: `kube-apiserver` built by `hack/build-tools.sh kubernetes`, `etcd` from
Debian's etcd-server. Everything binds to loopback on free ports and is stopped by `stop()`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]


class ApiServerError(RuntimeError):
    """A component did not start; the message names it and the log to read."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the kernel stops the server if the test process dies without cleaning up (SIGKILL, timeout)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_kube_apiserver() -> Path:
    """The cached kube-apiserver (building it through hack/build-tools.sh if needed)."""
    override = os.environ.get("FLALLIANCE_KUBE_APISERVER")
    if override:
        return Path(override)
    script = REPO_ROOT / "hack" / "build-tools.sh"
    out = subprocess.run(
        ["bash", str(script), "--path", "kubernetes"], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise ApiServerError(f"hack/build-tools.sh could not provide kube-apiserver:\n{out.stderr[-2000:]}")
    path = Path(out.stdout.strip().splitlines()[-1]) / "kube-apiserver"
    if not path.exists():
        raise ApiServerError(f"{path} missing after hack/build-tools.sh kubernetes")
    return path


def find_etcd() -> Path:
    found = shutil.which("etcd") or ("/usr/bin/etcd" if Path("/usr/bin/etcd").exists() else None)
    if not found:
        raise ApiServerError("etcd not found: `make setup-envtest` installs Debian's etcd-server")
    return Path(found)


@dataclass
class LocalApiServer:
    workdir: Path
    kube_apiserver: Path = field(default_factory=find_kube_apiserver)
    etcd: Path = field(default_factory=find_etcd)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    port: int = 0
    kubeconfig: Path = field(init=False)
    _procs: list[tuple[str, subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.kubeconfig = self.workdir / "kubeconfig"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _spawn(self, name: str, args: list[str]) -> None:
        logf = self.workdir / f"{name}.log"
        with logf.open("wb") as out:
            proc = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self._procs.append((name, proc, logf))

    def _wait(self, name: str, probe: str, timeout: float, headers: dict[str, str] | None = None) -> None:
        proc, logf = next((p, lf) for n, p, lf in self._procs if n == name)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = logf.read_text(errors="replace")[-3000:]
                raise ApiServerError(f"{name} exited with {proc.returncode}; log {logf}:\n{tail}")
            try:
                req = urllib.request.Request(probe, headers=headers or {})  # noqa: S310 - loopback URL we built
                with urllib.request.urlopen(req, timeout=2, context=ctx) as resp:  # noqa: S310
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise ApiServerError(f"{name} not ready after {timeout:.0f} s; log {logf}")

    def start(self, timeout: float = 90.0) -> LocalApiServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        etcd_port, peer_port = free_port(), free_port()
        self.port = free_port()
        self._spawn(
            "etcd",
            [
                str(self.etcd),
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync",
            ],
        )
        self._wait("etcd", f"http://127.0.0.1:{etcd_port}/health", timeout)
        sa_key = self.workdir / "sa.key"
        subprocess.run(["openssl", "genrsa", "-out", str(sa_key), "2048"], check=True, capture_output=True)
        sa_pub = self.workdir / "sa.pub"
        subprocess.run(
            ["openssl", "rsa", "-in", str(sa_key), "-pubout", "-out", str(sa_pub)],
            check=True,
            capture_output=True,
        )
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f'{self.token},admin,admin,"system:masters"\n')
        self._spawn(
            "kube-apiserver",
            [
                str(self.kube_apiserver),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--cert-dir={self.workdir / 'certs'}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={sa_pub}",
                f"--service-account-signing-key-file={sa_key}",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--disable-admission-plugins=ServiceAccount",
                "--enable-priority-and-fairness=false",
                "--watch-cache=true",
            ],
        )
        self._wait("kube-apiserver", f"{self.url}/readyz", timeout, {"Authorization": f"Bearer {self.token}"})
        self.kubeconfig.write_text(yaml.safe_dump(self._kubeconfig()))
        return self

    @property
    def ca_file(self) -> Path:
        """The serving certificate kube-apiserver generated in its cert dir (the certificate followed by the
        CA that signed it, 127.0.0.1 among its addresses): clients verify TLS against it, as in a cluster,
        instead of skipping verification (and logging an InsecureRequestWarning per request)."""
        return self.workdir / "certs" / "apiserver.crt"

    def _kubeconfig(self) -> dict[str, object]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "local", "cluster": {"server": self.url, "certificate-authority": str(self.ca_file)}}
            ],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
            "current-context": "local",
        }

    def stop(self) -> None:
        for _, proc, _ in reversed(self._procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc, _ in reversed(self._procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self._procs.clear()

    def __enter__(self) -> LocalApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
