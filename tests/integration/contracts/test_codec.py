"""The codec reads and sends what web3's contract functions do, on a real task contract (anvil).

Every view the operator reads through `TaskClient` / `read_view` is compared, after a played round, with
web3's own decoding of the same call; a revert through the codec is the same `ContractRevert`.
"""

from __future__ import annotations

import pytest

from flalliance.chain.errors import ContractRevert
from flalliance.chain.harness import DevTask

from .conftest import STAKE
from .test_rounds import MakeTask

pytestmark = pytest.mark.integration


def test_every_view_decodes_as_web3_decodes_it(make_task: MakeTask) -> None:
    dev: DevTask = make_task()
    dev.join_all((m, STAKE) for m in dev.members)
    dev.play_round(finalize=False)  # proposals, votes and roles of round 0 on chain
    task, web3_fns = dev.task, dev.task.contract.functions
    members = list(dev.members)
    calls = [
        ("config", ()),
        ("state", ()),
        ("roundInfo", (0,)),
        ("proposals", (0,)),
        ("participants", ()),
        ("pioneerOf", (0,)),
        *[("participant", (m,)) for m in members],
        *[("roleOf", (0, m)) for m in members],
    ]
    for name, args in calls:
        ours = task.client.call(getattr(task.fn, name)(*args))
        theirs = task.client.call(getattr(web3_fns, name)(*args))
        assert ours == theirs, name
    assert task.proposals(0) and all(p.proposer in members for p in task.proposals(0))


def test_a_revert_through_the_codec_names_the_contracts_error(make_task: MakeTask) -> None:
    dev: DevTask = make_task()
    with pytest.raises(ContractRevert) as ours:
        dev.task.client.transact(dev.task.fn.startRound())
    with pytest.raises(ContractRevert) as theirs:
        dev.task.client.transact(dev.task.contract.functions.startRound())
    assert ours.value.name == theirs.value.name and ours.value.name
