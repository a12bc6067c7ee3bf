"""How long a healthy task goes without a full pass when no event or chain change calls for one."""

from __future__ import annotations

import pytest

from flalliance.controller.reconciler import safety_net_seconds
from flalliance.controller.views import ChainView

pytestmark = pytest.mark.unit


def _chain(now: int, deadline: int) -> ChainView:
    return ChainView.model_construct(now=now, phase_deadline=deadline)


def test_a_quarter_of_the_phase_left_between_the_bounds() -> None:
    assert safety_net_seconds(True, _chain(1_000, 1_600), least=30, most=300) == 150
    assert safety_net_seconds(True, _chain(1_000, 1_080), least=30, most=300) == 30
    assert safety_net_seconds(True, _chain(1_000, 90_000), least=30, most=300) == 300


def test_the_short_net_while_something_no_event_announces_is_wrong() -> None:
    assert safety_net_seconds(False, _chain(1_000, 1_600), least=30, most=300) == 30


def test_the_short_net_without_a_deadline_ahead() -> None:
    assert safety_net_seconds(True, _chain(1_000, 0), least=30, most=300) == 30
    assert safety_net_seconds(True, _chain(1_000, 900), least=30, most=300) == 30
    assert safety_net_seconds(True, None, least=30, most=300) == 30
