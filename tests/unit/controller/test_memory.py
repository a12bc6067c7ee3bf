"""The operator's malloc arena bound: applied on glibc, and the environment variable wins."""

from __future__ import annotations

import ctypes
import platform

import pytest

from flalliance.controller import memory

pytestmark = pytest.mark.unit


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt(M_ARENA_MAX) is glibc's")
def test_applied_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert memory.limit_arenas() is True


def test_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert memory.limit_arenas() is False


class _NoMallopt:
    """A C library without ``mallopt`` (musl, macOS)."""

    def __init__(self, _name: object) -> None:
        pass


def test_no_mallopt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(ctypes, "CDLL", _NoMallopt)
    assert memory.limit_arenas() is False
