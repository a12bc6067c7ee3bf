"""EventReader against anvil: resumes from checkpoints across restarts and batch boundaries, exactly once."""

from __future__ import annotations

from typing import Any

import pytest
from web3.contract import Contract

from flalliance.chain.client import ChainClient
from flalliance.chain.errors import ChainError, ContractRevert
from flalliance.chain.events import Checkpoint, DecodedEvent, EventReader
from flalliance.chain.keys import dev_account

pytestmark = pytest.mark.integration


@pytest.fixture
def counter(chain: ChainClient) -> Contract:
    return chain.contract(chain.deploy("Counter", 1_000), "Counter")


def _values(events: list[DecodedEvent]) -> list[int]:
    return [e.args["newValue"] for e in events if e.name == "Incremented"]


def _emit(chain: ChainClient, counter: Contract) -> None:
    """30 events over 15 blocks, some blocks with several events, and empty blocks in between."""
    for round_ in range(5):
        chain.transact(counter.functions.increment(1))
        chain.transact(counter.functions.incrementMany(3))  # 3 events, one block
        chain.mine(2)  # blocks without events
        chain.transact(counter.functions.increment(2 + round_))


def test_reads_all_events_decoded_and_in_order(chain: ChainClient, counter: Contract) -> None:
    _emit(chain, counter)
    reader = EventReader(chain, counter)
    events = reader.poll()
    assert [e.name for e in events] == ["OwnershipTransferred"] + ["Incremented"] * 25  # from the deploy on
    assert events[0].args == {"previousOwner": "0x" + "00" * 20, "newOwner": dev_account(0).address}
    events = events[1:]
    assert all(e.args["by"] == dev_account(0).address for e in events)
    assert _values(events) == sorted(_values(events))
    assert [e.position for e in events] == sorted(e.position for e in events)
    assert events[-1].args["newValue"] == chain.call(counter.functions.value())
    assert reader.poll() == []  # nothing new
    assert reader.checkpoint == Checkpoint(block=chain.block_number() + 1)


@pytest.mark.parametrize("batch", [1, 2, 3, 7, 2000])
def test_restarts_at_every_point_deliver_exactly_once(
    chain: ChainClient, counter: Contract, batch: int
) -> None:
    start = chain.block_number()
    _emit(chain, counter)
    expected = EventReader(chain, counter, start_block=start).poll()
    head = chain.block_number()

    # Poll up to every block in turn, restarting the reader from the saved checkpoint each time.
    delivered: list[DecodedEvent] = []
    checkpoint = Checkpoint(block=start)
    for to_block in range(start, head + 1):
        reader = EventReader(chain, counter, batch=batch, checkpoint=checkpoint)
        delivered += reader.poll(to_block=to_block)
        checkpoint = Checkpoint.model_validate_json(reader.checkpoint.model_dump_json())
    assert delivered == expected


def test_resume_in_the_middle_of_a_block(chain: ChainClient, counter: Contract) -> None:
    chain.transact(counter.functions.incrementMany(5))  # 5 events in one block
    everything = EventReader(chain, counter, start_block=chain.block_number()).poll()
    assert len({e.block_number for e in everything}) == 1 and len(everything) == 5
    # a consumer that handled two events and checkpointed after each
    resumed = EventReader(chain, counter, checkpoint=Checkpoint.after(everything[1])).poll()
    assert resumed == everything[2:]


def test_new_events_after_a_poll_and_other_contracts_ignored(chain: ChainClient, counter: Contract) -> None:
    other = chain.contract(chain.deploy("Counter", 1_000), "Counter")
    reader = EventReader(chain, counter)
    chain.transact(counter.functions.increment(1))
    chain.transact(other.functions.increment(5))
    assert _values(reader.poll()) == [1]
    chain.transact(other.functions.increment(5))
    chain.transact(counter.functions.increment(2))
    second = reader.poll()
    assert _values(second) == [3]
    assert second[0].address == counter.address


def test_confirmations_hold_back_recent_blocks(chain: ChainClient, counter: Contract) -> None:
    reader = EventReader(chain, counter, confirmations=2)
    chain.transact(counter.functions.increment(1))
    assert reader.poll() == []
    chain.mine(2)
    assert _values(reader.poll()) == [1]


def test_reverted_transactions_emit_nothing(chain: ChainClient, counter: Contract) -> None:
    reader = EventReader(chain, counter)
    with pytest.raises(ContractRevert, match="TooLarge"):
        chain.transact(counter.functions.incrementMany(2_000), gas=5_000_000)  # events then revert
    chain.transact(counter.functions.increment(1))
    assert _values(reader.poll()) == [1]


def test_a_chain_reset_behind_the_checkpoint_voids_what_was_read(
    chain: ChainClient, counter: Contract
) -> None:
    """A reset that replaces every block the reader saw is a reorg from its start: the events are void."""
    start = chain.block_number() + 1
    snapshot = chain.snapshot()
    chain.transact(counter.functions.increment(1))
    chain.mine(3)
    reader = EventReader(chain, counter, start_block=start)
    assert _values(reader.poll()) == [1]
    chain.revert(snapshot)  # the chain forgets those blocks; new ones will reuse their numbers
    chain.transact(counter.functions.increment(5))
    assert _values(reader.poll()) == [5]
    assert reader.reorged_from == start


def test_a_checkpoint_past_the_head_with_nothing_read_is_an_error(
    chain: ChainClient, counter: Contract
) -> None:
    """A restored checkpoint beyond the head (the chain was reset under it) cannot be checked: refuse."""
    reader = EventReader(chain, counter, checkpoint=Checkpoint(block=chain.block_number() + 10))
    with pytest.raises(ChainError, match="behind the event checkpoint"):
        reader.poll()


class _FailingOnce(ChainClient):
    """Reads logs through anvil, but the ``fail_at``-th read fails as if the node went away."""

    fail_at = 2
    calls = 0

    def get_logs(self, address: str, from_block: int, to_block: int) -> Any:
        self.calls += 1
        if self.calls == self.fail_at:
            raise ChainError("reading logs: RPC failed after 5 attempts: connection refused")
        return super().get_logs(address, from_block, to_block)


def test_a_poll_that_fails_midway_loses_nothing(chain: ChainClient, counter: Contract) -> None:
    """Before: the ranges read before the failure moved the checkpoint, and their events were dropped."""
    start = chain.block_number()
    _emit(chain, counter)
    flaky = _FailingOnce(chain.rpc_url, chain.account, chain_id=chain.chain_id)
    reader = EventReader(flaky, counter, start_block=start, batch=3)
    with pytest.raises(ChainError):
        reader.poll()
    assert len(_values(reader.poll())) == 25  # every event of _emit, once
