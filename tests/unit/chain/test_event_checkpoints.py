from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from flalliance.chain.events import (
    Checkpoint,
    DecodedEvent,
    block_ranges,
    first_block_at_or_after,
    new_in_order,
)

pytestmark = pytest.mark.unit


def _log(block: int, index: int) -> Any:
    return {"blockNumber": block, "logIndex": index}


def _positions(logs: list[Any]) -> list[tuple[int, int]]:
    return [(entry["blockNumber"], entry["logIndex"]) for entry in logs]


def test_block_ranges_cover_exactly_once() -> None:
    assert block_ranges(0, 9, 4) == [(0, 3), (4, 7), (8, 9)]
    assert block_ranges(5, 5, 100) == [(5, 5)]
    assert block_ranges(6, 5, 10) == []  # nothing new
    ranges = block_ranges(17, 1234, 7)
    covered = [b for lo, hi in ranges for b in range(lo, hi + 1)]
    assert covered == list(range(17, 1235))
    with pytest.raises(ValueError, match="batch"):
        block_ranges(0, 1, 0)


def test_new_in_order_drops_delivered_and_sorts() -> None:
    logs = [_log(5, 1), _log(4, 7), _log(5, 0), _log(6, 0), _log(5, 2), _log(5, 1)]
    checkpoint = Checkpoint(block=5, log_index=1)  # (4, 7) and (5, 0) were delivered
    assert _positions(new_in_order(logs, checkpoint)) == [(5, 1), (5, 2), (6, 0)]


def test_checkpoint_after_an_event_resumes_right_behind_it() -> None:
    event = DecodedEvent(
        name="Incremented",
        args={},
        block_number=9,
        log_index=3,
        transaction_hash="0x00",
        block_hash="0x00",
        address="0x00",
    )
    checkpoint = Checkpoint.after(event)
    assert checkpoint == Checkpoint(block=9, log_index=4)
    assert not checkpoint.precedes_or_is(*event.position)
    assert checkpoint.precedes_or_is(9, 4) and checkpoint.precedes_or_is(10, 0)


def test_any_split_of_a_log_stream_into_resumed_polls_is_exact() -> None:
    """Deliver a stream in pieces, checkpointing after each delivered event: the union is the stream."""
    stream = [_log(b, i) for b in range(3, 9) for i in range(b % 3)]
    for cut in range(len(stream) + 1):
        first = new_in_order(stream[:cut], Checkpoint(block=0))
        resume = (
            Checkpoint(block=0)
            if not first
            else Checkpoint(block=first[-1]["blockNumber"], log_index=first[-1]["logIndex"] + 1)
        )
        rest = new_in_order(stream, resume)
        assert _positions(first + rest) == _positions(stream)


def test_checkpoint_round_trips_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / "events.checkpoint"
    Checkpoint(block=123, log_index=4).save(path)
    assert Checkpoint.load(path) == Checkpoint(block=123, log_index=4)
    assert not (tmp_path / "events.checkpoint.tmp").exists()


@pytest.mark.parametrize("fields", [{"block": -1}, {"block": 1, "log_index": -1}, {"block": "x"}])
def test_invalid_checkpoints_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Checkpoint(**fields)


def test_first_block_at_or_after_finds_the_creation_block() -> None:
    # Blocks 0..9 with non-decreasing timestamps (several blocks may share one second).
    stamps = [100, 100, 105, 105, 105, 110, 120, 120, 130, 140]
    reads: list[int] = []

    def timestamp_of(block: int) -> int:
        reads.append(block)
        return stamps[block]

    assert first_block_at_or_after(105, 9, timestamp_of) == 2  # the first of the blocks of that second
    assert len(reads) <= 4  # log2(10) reads, not a scan
    assert first_block_at_or_after(100, 9, timestamp_of) == 0
    assert first_block_at_or_after(121, 9, timestamp_of) == 8  # between blocks: the next one
    assert first_block_at_or_after(141, 9, timestamp_of) == 10  # no block that late yet
