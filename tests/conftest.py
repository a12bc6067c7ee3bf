"""Shared pytest configuration: every test carries exactly one of the markers unit/integration/e2e."""

from __future__ import annotations

import pytest

_LAYERS = {"unit", "integration", "e2e"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        layers = {m.name for m in item.iter_markers()} & _LAYERS
        if len(layers) != 1:
            raise pytest.UsageError(f"{item.nodeid}: needs exactly one of the markers {sorted(_LAYERS)}")
