"""Reading a contract's events by block range, resumable from a checkpoint without gaps or repeats.

The operator cannot rely on filters or subscriptions (nodes forget them, the operator restarts), so it
scans ``eth_getLogs`` over block ranges and remembers where it stopped. A :class:`Checkpoint` is the
position of the *next* event to deliver, ``(block, log_index)``: events are totally ordered by that pair,
so resuming from a saved checkpoint — even one taken in the middle of a block — delivers every later event
exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

from eth_typing import ABIEvent
from eth_utils.abi import event_abi_to_log_topic
from pydantic import BaseModel, ConfigDict, Field
from web3._utils.events import get_event_data
from web3.contract import Contract
from web3.exceptions import LogTopicError, MismatchedABI
from web3.types import EventData, LogReceipt

from flalliance.chain.client import ChainClient
from flalliance.chain.errors import ChainError

log = logging.getLogger(__name__)


class Checkpoint(BaseModel):
    """Position of the next event to deliver: the first log at or after ``(block, log_index)``."""

    model_config = ConfigDict(frozen=True)

    block: int = Field(ge=0)
    log_index: int = Field(default=0, ge=0)

    def precedes_or_is(self, block: int, log_index: int) -> bool:
        """Whether the log at ``(block, log_index)`` is still to be delivered."""
        return (block, log_index) >= (self.block, self.log_index)

    @classmethod
    def after(cls, event: DecodedEvent) -> Checkpoint:
        """The checkpoint just past ``event``: save it after handling the event to resume one by one."""
        return cls(block=event.block_number, log_index=event.log_index + 1)

    def save(self, path: str | Path) -> None:
        """Write atomically (temp file + rename), so a crash never leaves a torn checkpoint."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(self.model_dump_json())
        tmp.replace(target)

    @classmethod
    def load(cls, path: str | Path) -> Checkpoint:
        return cls.model_validate_json(Path(path).read_text())


class DecodedEvent(BaseModel):
    """One event log, decoded with the contract's ABI."""

    model_config = ConfigDict(frozen=True)

    name: str
    args: dict[str, Any]
    block_number: int
    log_index: int
    transaction_hash: str
    block_hash: str
    address: str

    @property
    def position(self) -> tuple[int, int]:
        return (self.block_number, self.log_index)


def block_ranges(start: int, head: int, batch: int) -> list[tuple[int, int]]:
    """Inclusive ``(from, to)`` ranges covering ``start..head`` in steps of at most ``batch`` blocks."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    return [(lo, min(lo + batch - 1, head)) for lo in range(start, head + 1, batch)]


def first_block_at_or_after(timestamp: int, head: int, timestamp_of: Callable[[int], int]) -> int:
    """The first block (``<= head``) whose timestamp is at least ``timestamp``, by binary search.

    A contract's events start no earlier than the block it was created in, whose timestamp is the
    contract's recorded creation time: scanning from here instead of block 0 saves thousands of
    ``eth_getLogs`` ranges on a long chain for about log2(head) block reads. Block timestamps never
    decrease, so the search is exact; ``head + 1`` when no block is that late yet.
    """
    lo, hi = 0, head + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if timestamp_of(mid) >= timestamp:
            hi = mid
        else:
            lo = mid + 1
    return lo


def new_in_order(logs: Iterable[LogReceipt], checkpoint: Checkpoint) -> list[LogReceipt]:
    """The logs at or after ``checkpoint``, sorted by (block, log index), duplicates dropped."""
    seen: set[tuple[int, int]] = set()
    fresh: list[LogReceipt] = []
    for entry in sorted(logs, key=lambda e: (int(e["blockNumber"]), int(e["logIndex"]))):
        position = (int(entry["blockNumber"]), int(entry["logIndex"]))
        if position in seen or not checkpoint.precedes_or_is(*position):
            continue
        seen.add(position)
        fresh.append(entry)
    return fresh


class EventReader:
    """Reads the logs of one contract, range by range, from a checkpoint.

    ``poll()`` returns the events between the checkpoint and the chain head (minus ``confirmations``
    blocks, for chains that reorganise) in order, and advances :attr:`checkpoint` past them. Persist the
    checkpoint only after handling the returned events; on restart pass it back as ``checkpoint=``.
    Ranges the node refuses as too large are split in halves.

    Reorg-safe: the reader remembers the hash of the block where each poll stopped (and of each block it
    delivered events from). Each poll first checks the newest of them; when the chain has replaced it,
    the reader walks back to the newest block still canonical, rewinds there, and sets
    :attr:`reorged_from` to the first block whose events are void: the caller drops the events it holds
    from that block on, and the same poll delivers the canonical chain's events again.
    """

    TRACKED_BLOCKS = 128  # block hashes kept for finding the fork point (a deeper reorg rescans all)

    def __init__(
        self,
        client: ChainClient,
        contract: Contract,
        *,
        start_block: int = 0,
        batch: int = 2000,
        checkpoint: Checkpoint | None = None,
        confirmations: int = 0,
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.client = client
        self.contract = contract
        self.batch = batch
        self.confirmations = confirmations
        self.checkpoint = checkpoint if checkpoint is not None else Checkpoint(block=start_block)
        self._start = self.checkpoint
        self._hashes: dict[int, str] = {}  # block number -> hash when read
        self.reorged_from: int | None = None
        self._events_by_topic: dict[bytes, list[ABIEvent]] = {}
        for abi in contract.abi:
            if abi.get("type") == "event" and not abi.get("anonymous", False):
                event_abi = cast(ABIEvent, abi)
                self._events_by_topic.setdefault(event_abi_to_log_topic(event_abi), []).append(event_abi)

    def poll(self, *, to_block: int | None = None) -> list[DecodedEvent]:
        """Events from the checkpoint up to ``to_block`` (default: the head minus confirmations)."""
        self.reorged_from = self._find_reorg()
        if self.reorged_from is not None:
            log.warning(
                "the chain reorganised blocks from %d on (events of %s read there are void); re-reading",
                self.reorged_from,
                self.contract.address,
            )
        latest = self.client.block_number()
        if self.checkpoint.block > latest + 1:
            # Scanning on would silently skip the blocks the chain re-mines below the checkpoint.
            raise ChainError(
                f"the chain's head (block {latest}) is behind the event checkpoint (block "
                f"{self.checkpoint.block}): the chain was reset or reorganised; rescan from an earlier block"
            )
        head = latest - self.confirmations
        if to_block is not None:
            head = min(head, to_block)
        events: list[DecodedEvent] = []
        before = self.checkpoint
        try:
            for start, end in block_ranges(self.checkpoint.block, head, self.batch):
                for entry in new_in_order(self._get_logs(start, end), self.checkpoint):
                    event = self._decode(entry)
                    if event is not None:
                        events.append(event)
                        self._hashes[event.block_number] = event.block_hash
                # the whole range is read: continue after it (keeps scans short even without events)
                self.checkpoint = Checkpoint(block=end + 1)
            last = self.checkpoint.block - 1
            if self.checkpoint != before and last not in self._hashes:  # where this poll stopped
                end_hash = self.client.block_hash(last)
                if end_hash is not None:
                    self._hashes[last] = end_hash
        except ChainError:
            self.checkpoint = before  # nothing of this poll was delivered: the next one reads it again
            raise
        for old in sorted(self._hashes)[: max(0, len(self._hashes) - self.TRACKED_BLOCKS)]:
            del self._hashes[old]
        return events

    def _find_reorg(self) -> int | None:
        """The first block whose read events the chain has replaced (and rewind there), or None."""
        if not self._hashes:
            return None
        tracked = sorted(self._hashes, reverse=True)
        if self.client.block_hash(tracked[0]) == self._hashes[tracked[0]]:
            return None
        fork = self._start.block
        for number in tracked[1:]:
            if self.client.block_hash(number) == self._hashes[number]:
                fork = number + 1
                break
        self._hashes = {n: h for n, h in self._hashes.items() if n < fork}
        self.checkpoint = Checkpoint(block=fork) if fork > self._start.block else self._start
        return fork

    def _get_logs(self, start: int, end: int) -> list[LogReceipt]:
        try:
            return self.client.get_logs(self.contract.address, start, end)
        except ChainError as exc:
            if end > start and _range_too_large(exc):
                middle = (start + end) // 2
                log.info("logs %d..%d refused as too large; splitting", start, end)
                return self._get_logs(start, middle) + self._get_logs(middle + 1, end)
            raise

    def _decode(self, entry: LogReceipt) -> DecodedEvent | None:
        topics = entry.get("topics") or []
        candidates = self._events_by_topic.get(bytes(topics[0])) if topics else None
        for abi in candidates or []:
            try:
                data: EventData = get_event_data(self.client.w3.codec, abi, entry)
            except (MismatchedABI, LogTopicError, ValueError):
                continue
            return DecodedEvent(
                name=data["event"],
                args=dict(data["args"]),
                block_number=int(data["blockNumber"]),
                log_index=int(data["logIndex"]),
                transaction_hash="0x" + bytes(data["transactionHash"]).hex(),
                block_hash="0x" + bytes(data["blockHash"]).hex(),
                address=str(data["address"]),
            )
        log.warning(
            "log %s/%s of %s matches no event in its ABI; skipped",
            entry.get("blockNumber"),
            entry.get("logIndex"),
            self.contract.address,
        )
        return None


def _range_too_large(exc: ChainError) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("too many", "limit", "range", "too large", "exceed"))
