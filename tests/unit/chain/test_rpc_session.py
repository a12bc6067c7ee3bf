"""The RPC session reads the environment's proxy, CA and netrc settings once, for its one URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from flalliance.chain.client import _session

pytestmark = pytest.mark.unit


def test_proxy_and_no_proxy_are_resolved_for_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "node.internal")
    proxied = _session("https://rpc.example:8545")
    assert proxied.proxies.get("https") == "http://proxy.example:3128"
    assert not proxied.trust_env  # nothing is looked up again per request
    bypassed = _session("https://node.internal:8545")
    assert "https" not in bypassed.proxies


def test_ca_bundle_only_for_https(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert _session("https://rpc.example").verify == str(bundle)
    # plain HTTP verifies nothing; a path would only make requests stat it on every call
    assert _session("http://127.0.0.1:8545").verify is True


def test_netrc_credentials_are_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine rpc.example login alice password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert _session("https://rpc.example/v1").auth == ("alice", "s3cret")
    assert _session("https://other.example").auth is None
