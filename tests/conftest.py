"""Shared pytest configuration: every test carries exactly one of the markers unit/integration/e2e."""

from __future__ import annotations

from pathlib import Path

import pytest

from flalliance.chain import artifacts

# Contracts only the tests deploy (contracts/test/**): built outside the package, found from here.
artifacts.add_directory(Path(__file__).parent / "contracts" / "artifacts")

_LAYERS = {"unit", "integration", "e2e"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        layers = {m.name for m in item.iter_markers()} & _LAYERS
        if len(layers) != 1:
            raise pytest.UsageError(f"{item.nodeid}: needs exactly one of the markers {sorted(_LAYERS)}")


def pytest_addoption(parser: pytest.Parser) -> None:
    # e2e options (used by tests/e2e/conftest.py); registered here because pytest reads options only
    # from the top-level conftest when run from the repository root.
    group = parser.getgroup("flalliance e2e")
    group.addoption(
        "--kubeconfig", default=None, help="kubeconfig of the e2e cluster (else $FLALLIANCE_KUBECONFIG)"
    )
    group.addoption(
        "--image-pull-policy",
        default=None,
        help="pull policy for the project's images in e2e pods (default Never: they are loaded, not pulled)",
    )


# Figures the e2e tests measure (round times, takeover after the leader's deletion, ...): printed in a
# section of their own at the end of the run, so that CI's log carries them (pytest -q captures prints).
FIGURES = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def figures(pytestconfig: pytest.Config) -> list[str]:
    return pytestconfig.stash.setdefault(FIGURES, [])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.section("figures measured")
        for line in lines:
            terminalreporter.write_line(line)
