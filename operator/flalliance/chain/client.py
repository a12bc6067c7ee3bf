"""A typed, synchronous chain client: locally signed transactions with explicit nonce, gas and fees.

Why not ``fn.transact()``: web3 would look up nonce, gas, fees and chain id on every call (twice as slow
on anvil), and leaves revert data as hex. Here every transaction is signed locally with the account's key,
sent with an explicitly tracked nonce, waited for, its receipt checked, and any revert — at gas
estimation or at mining — raised as a :class:`~flalliance.chain.errors.ContractRevert` naming the custom
error and its arguments.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NoReturn, Protocol, TypeVar, cast

import requests
import requests.adapters
import requests.utils
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import (
    BlockNotFound,
    ContractLogicError,
    ProviderConnectionError,
    RequestTimedOut,
    TooManyRequests,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import (
    BlockIdentifier,
    FilterParams,
    LogReceipt,
    Nonce,
    RPCEndpoint,
    TxParams,
    TxReceipt,
    Wei,
)

from flalliance.chain.artifacts import load_artifact
from flalliance.chain.errors import ChainError, ContractRevert, TransactionFailed, decode_revert
from flalliance.chain.nonce import NonceTracker

log = logging.getLogger(__name__)

T = TypeVar("T")

# Errors after which repeating the same request can succeed: the connection, not the request, failed.
# (requests' ConnectionError/Timeout derive from OSError; importing requests would need its stubs.)
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ProviderConnectionError,
    RequestTimedOut,
    TooManyRequests,
)
GAS_MARGIN_NUM, GAS_MARGIN_DEN = 6, 5  # gas limit = estimate * 1.2
FEE_CACHE_SECONDS = 2.0
MAX_SEND_ATTEMPTS = 4
# A replacement must raise both fee fields by at least 10% (geth's txpool.pricebump); 12.5% clears it.
BUMP_NUM, BUMP_DEN = 9, 8
MAX_REPLACEMENTS = 5
# HTTP connections kept open to each RPC: the operator's parallel calls of two tasks (act.PARALLELISM each).
RPC_CONNECTIONS = 64


# One Web3 per (RPC URL, timeout) in the process, shared by every ChainClient on it, and one Contract per
# (that Web3, address, artifact): a web3 Contract object parses its ABI into ~235 KiB of function and
# event classes, and the operator holds a client per local account — 100 tasks of 10 accounts each
# built 1,000 copies of the same contract (measured: resident memory 256 MiB at 20 tasks). Sharing is
# safe across threads: web3's HTTP sessions are cached per thread and a JSON-RPC batch is a context
# variable; signing and nonces stay per ChainClient (the fee market is per RPC: `_FEES`).
_WEB3S: dict[tuple[str, float], Web3] = {}
# The fee market per RPC: every account on a node pays the same base fee and tip, so one read serves them
# all for FEE_CACHE_SECONDS (per client, the operator's 200 participant accounts each read it again —
# two requests — before nearly every reveal, each used once a round or less).
_FEES: dict[str, tuple[float, dict[str, int]]] = {}
_CONTRACTS: OrderedDict[tuple[int, str, str], Contract] = OrderedDict()
CONTRACT_CACHE_SIZE = 512
_SHARE_LOCK = threading.Lock()


def _shared_web3(rpc_url: str, timeout: float) -> Web3:
    key = (rpc_url, timeout)
    with _SHARE_LOCK:
        w3 = _WEB3S.get(key)
        if w3 is None:
            w3 = Web3(
                HTTPProvider(
                    rpc_url,
                    request_kwargs={"timeout": timeout},
                    exception_retry_configuration=None,
                    session=_session(rpc_url),
                )
            )
            # Only what the project uses: the other default middlewares walk every request's parameters
            # (ENS names, which the project never passes) or ask the node for its chain id on every call
            # and estimate ("validation"; a client checks the chain id once, when it connects, and signs
            # every transaction with it), a large share of the operator's CPU at hundreds of calls a pass.
            for unused in ("ens_name_to_address", "validation", "gas_price_strategy", "gas_estimate"):
                w3.middleware_onion.remove(unused)
            _WEB3S[key] = w3
        return w3


def _session(rpc_url: str) -> requests.Session:
    """One HTTP session per RPC for every thread. Without it web3 keeps a session per thread, and the
    operator's passes run their calls on short-lived threads (a pool per parallel step): each new thread
    opened new connections to the node, up to a session cache of 100 whose evictions close them. The pool
    holds the connections of a pass's parallel calls (urllib3's pool is thread-safe).

    The environment's settings for the RPC's URL (proxies and NO_PROXY, a CA bundle, ~/.netrc credentials)
    are read once, here, instead of on every request: requests otherwise looks up ~/.netrc and walks the
    proxy variables per call, ~6% of the operator's CPU at 200 participants (py-spy). The session is made
    for this one URL, so the result is the same; only a change to the environment after start-up is not
    seen (the process environment of a pod does not change)."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(rpc_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and rpc_url.lower().startswith("https:"):  # a path makes requests stat it on every call
        session.verify = bundle
    credentials = requests.utils.get_netrc_auth(rpc_url)
    if credentials:
        session.auth = credentials
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=RPC_CONNECTIONS)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _shared_contract(w3: Web3, address: ChecksumAddress, artifact_name: str) -> Contract:
    key = (id(w3), str(address), artifact_name)
    with _SHARE_LOCK:
        contract = _CONTRACTS.get(key)
        if contract is not None:
            _CONTRACTS.move_to_end(key)
            return contract
    contract = w3.eth.contract(address=address, abi=load_artifact(artifact_name).abi)  # outside the lock
    with _SHARE_LOCK:
        contract = _CONTRACTS.setdefault(key, contract)
        _CONTRACTS.move_to_end(key)
        while len(_CONTRACTS) > CONTRACT_CACHE_SIZE:
            _CONTRACTS.popitem(last=False)
    return contract


class Transactable(Protocol):
    """What a transaction is built from: a bound contract function or a contract constructor."""

    def estimate_gas(self, transaction: TxParams | None = None) -> int: ...

    def build_transaction(self, transaction: TxParams | None = None) -> TxParams: ...


def _rpc_message(exc: Web3RPCError) -> str:
    response = exc.rpc_response or {}
    error = response.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return str(exc.message)


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


class ChainClient:
    """One connection to a JSON-RPC node, optionally with one signing account.

    Thread-safe for transactions from several threads: nonce reservation, signing and sending happen
    under a lock; waiting for receipts does not. Only this client should send transactions for its
    account (another sender is tolerated: "nonce too low" triggers a resync).

    On a chain with real blocks: ``confirmations`` blocks must follow a receipt's block (still canonical)
    before the receipt is returned; a transaction still unmined after ``replace_after`` seconds is
    replaced (same nonce, fees raised 12.5%), up to MAX_REPLACEMENTS times, and one that a reorg dropped
    from the node is broadcast again; ``timeout`` bounds the whole wait (mined and confirmed).
    """

    def __init__(
        self,
        rpc_url: str,
        account: LocalAccount | None = None,
        *,
        chain_id: int | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.1,
        confirmations: int = 0,
        replace_after: float | None = None,
    ) -> None:
        if confirmations < 0:
            raise ValueError(f"confirmations must be >= 0, got {confirmations}")
        self.rpc_url = rpc_url
        self.timeout = timeout
        self.confirmations = confirmations
        self.replace_after = replace_after if replace_after is not None else timeout / 4
        self.replacements = 0  # transactions re-sent with raised fees (metrics, tests)
        self._retries = retries
        self._backoff = backoff
        self.w3 = _shared_web3(rpc_url, timeout)
        self.account = account
        self.address: ChecksumAddress | None = account.address if account is not None else None
        actual = self._with_retries("read the chain id", lambda: self.w3.eth.chain_id)
        if chain_id is not None and actual != chain_id:
            raise ChainError(f"{rpc_url} serves chain id {actual}, but chain id {chain_id} was expected")
        self.chain_id: int = actual
        self._lock = threading.Lock()
        self._nonces = NonceTracker(self._fetch_nonce)
        # Set when another process also signs with this account (a participant's wallet: its worker pods
        # propose and commit): the nonce is read from the chain before each transaction. A remembered one
        # is then nearly always stale, and each send costs "nonce too low", a lookup, a resync and a resend.
        self.nonce_from_chain = False

    def __repr__(self) -> str:  # never the key
        return f"ChainClient({self.rpc_url!r}, address={self.address}, chain_id={self.chain_id})"

    # ----------------------------------------------------------------------------------------------------
    # Contracts
    def contract(self, address: str, artifact_name: str) -> Contract:
        """A web3 contract object at ``address`` with the ABI of the packaged artifact ``artifact_name``.

        Shared by every client on the same RPC (see ``_CONTRACTS``): it holds no account; whoever
        transacts through it signs with their own key.
        """
        return _shared_contract(self.w3, to_checksum_address(address), artifact_name)

    def deploy(self, artifact_name: str, *args: Any, gas: int | None = None) -> ChecksumAddress:
        """Deploy the packaged contract ``artifact_name`` with constructor ``args``; its address."""
        address, _ = self.deploy_with_receipt(artifact_name, *args, gas=gas)
        return address

    def deploy_with_receipt(
        self, artifact_name: str, *args: Any, gas: int | None = None
    ) -> tuple[ChecksumAddress, TxReceipt]:
        """Like :meth:`deploy`, also returning the receipt (gas measurements)."""
        artifact = load_artifact(artifact_name)
        if not artifact.deployable:
            raise ChainError(f"{artifact_name} has no bytecode (an interface or abstract contract)")
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = self._execute(factory.constructor(*args), gas=gas, value=0, label=f"deploy {artifact_name}")
        address = receipt.get("contractAddress")
        if address is None:
            raise TransactionFailed(
                f"deploying {artifact_name}: receipt has no contract address",
                tx_hash=_hex(receipt["transactionHash"]),
            )
        return to_checksum_address(address), receipt

    # ----------------------------------------------------------------------------------------------------
    # Transactions and calls
    def transact(
        self, fn: Transactable, *, gas: int | None = None, value: int = 0, headroom: int = 0
    ) -> TxReceipt:
        """Sign, send and wait for ``fn``; the receipt (status 1, with gasUsed) or a raised error.

        Gas is the node's estimate * 1.2 (+ ``headroom``, for calls whose cost depends on what other
        transactions land first) unless ``gas`` is given. A revert at estimation raises
        :class:`ContractRevert` (``tx_hash`` None); a transaction mined with status 0 is replayed with
        eth_call at its block to recover the revert data and raises :class:`ContractRevert` with its
        ``tx_hash``, or :class:`TransactionFailed` when nothing is decodable (e.g. out of gas).
        """
        return self._execute(fn, gas=gas, value=value, label=_label(fn), headroom=headroom)

    def call(self, fn: Any, *, block: BlockIdentifier = "latest") -> Any:
        """eth_call ``fn`` from this client's address (if any) at ``block``; reverts decoded."""
        params: TxParams = {"from": self.address} if self.address is not None else {}
        try:
            return self._with_retries(f"call {_label(fn)}", lambda: fn.call(params, block_identifier=block))
        except ContractLogicError as exc:
            raise _revert_error(exc, what=f"call {_label(fn)}") from None

    def block_timestamp(self, block: BlockIdentifier = "latest") -> int:
        """Timestamp (seconds) of ``block``: the chain's clock, which deadlines are measured against."""
        return int(self._with_retries("read a block", lambda: self.w3.eth.get_block(block))["timestamp"])

    def get_logs(self, address: str, from_block: int, to_block: int) -> list[LogReceipt]:
        """All logs of contract ``address`` in blocks ``from_block..to_block`` (inclusive), node order."""
        params: FilterParams = {
            "address": to_checksum_address(address),
            "fromBlock": from_block,
            "toBlock": to_block,
        }
        try:
            return list(self._with_retries("read logs", lambda: self.w3.eth.get_logs(params)))
        except Web3RPCError as exc:
            raise ChainError(
                f"reading logs of {address} in blocks {from_block}..{to_block}: {_rpc_message(exc)}"
            ) from None

    def block_number(self) -> int:
        return int(self._with_retries("read the block number", lambda: self.w3.eth.block_number))

    def block_hash(self, number: int) -> str | None:
        """The hash of the canonical block ``number``, or None when the chain has no such block (yet)."""
        try:
            block = self._with_retries("read a block", lambda: self.w3.eth.get_block(number))
        except (BlockNotFound, Web3RPCError):
            return None
        return _hex(bytes(block["hash"]))

    def has_code(self, address: str) -> bool:
        """Is there a contract at ``address`` (as of the latest block)?"""
        code = self._with_retries("read code", lambda: self.w3.eth.get_code(to_checksum_address(address)))
        return len(code) > 0

    def resync_nonce(self) -> None:
        """Forget the local nonce; the next transaction reads it from the chain (after a chain revert)."""
        with self._lock:
            self._nonces.invalidate()

    def _execute(
        self, fn: Transactable, *, gas: int | None, value: int, label: str, headroom: int = 0
    ) -> TxReceipt:
        account = self._require_account()
        params: TxParams = {"from": account.address, "value": Wei(value)}
        if gas is None:
            try:
                estimate = self._with_retries(f"estimate gas for {label}", lambda: fn.estimate_gas(params))
            except ContractLogicError as exc:
                raise _revert_error(exc, what=label) from None
            gas = estimate * GAS_MARGIN_NUM // GAS_MARGIN_DEN + headroom
        tx_hash, tx = self._sign_and_send(account, fn, params, gas, label)
        receipt = self._wait_for_receipt(tx_hash, tx, account=account, label=label)
        if receipt["status"] != 1:
            self._raise_failed(tx_hash, tx, receipt, label)
        log.debug(
            "%s mined: tx %s, block %s, gas used %s",
            label,
            tx_hash,
            receipt["blockNumber"],
            receipt["gasUsed"],
        )
        return receipt

    def _sign_and_send(
        self, account: LocalAccount, fn: Transactable, params: TxParams, gas: int, label: str
    ) -> tuple[str, TxParams]:
        last_problem = ""
        for _attempt in range(MAX_SEND_ATTEMPTS):
            fees = self._fee_params()
            with self._lock:
                fresh_nonce = self.nonce_from_chain and _attempt == 0
                nonce = self._nonces.resync() if fresh_nonce else self._nonces.reserve()
                fields: TxParams = {
                    **params,
                    "gas": gas,
                    "nonce": Nonce(nonce),
                    "chainId": self.chain_id,
                    "maxFeePerGas": Wei(fees["maxFeePerGas"]),
                    "maxPriorityFeePerGas": Wei(fees["maxPriorityFeePerGas"]),
                }
                tx = fn.build_transaction(fields)
                raw = bytes(account.sign_transaction(cast(dict[str, Any], tx)).raw_transaction)
                tx_hash = _hex(keccak(raw))
                try:
                    self._send_raw(raw, label)
                except Web3RPCError as exc:
                    message = _rpc_message(exc)
                    lowered = message.lower()
                    if ("nonce too low" in lowered or "already known" in lowered) and self._is_known(tx_hash):
                        self._nonces.sent(nonce)  # an earlier attempt of this very transaction got through
                        return tx_hash, tx
                    if "nonce too low" in lowered:
                        fresh = self._nonces.resync()
                        log.info("%s: nonce %d too low, resynced to %d", label, nonce, fresh)
                        last_problem = message
                        continue
                    if "base fee" in lowered or "underpriced" in lowered or "fee cap" in lowered:
                        self.set_fees(None)
                        last_problem = message
                        continue
                    raise ChainError(f"{label}: the node rejected the transaction: {message}") from None
                self._nonces.sent(nonce)
                return tx_hash, tx
        raise ChainError(f"{label}: not accepted after {MAX_SEND_ATTEMPTS} attempts: {last_problem}")

    def _wait_for_receipt(
        self, tx_hash: str, tx: TxParams, *, account: LocalAccount | None = None, label: str = "transaction"
    ) -> TxReceipt:
        """The receipt of ``tx`` or of a replacement of it, once mined and ``confirmations`` deep.

        Every version sent (the original and each fee-bumped replacement, one nonce) is watched: whichever
        the chain includes is the transaction. A version mined and then reorganised away is waited for
        again (and re-broadcast if the node forgot it); none is ever sent with another nonce, so the
        call it carries lands at most once.
        """
        start = time.monotonic()
        deadline = start + self.timeout
        replace_at = start + self.replace_after
        versions: list[tuple[str, TxParams]] = [(tx_hash, tx)]
        delay = 0.002
        while True:
            mined = False
            for version_hash, _version in reversed(versions):
                receipt = self._receipt(version_hash)
                if receipt is None:
                    continue
                mined = True
                if self._confirmed(receipt):
                    if version_hash != tx_hash:
                        log.info("%s: replacement %s of %s was mined", label, version_hash, tx_hash)
                    return receipt
            now = time.monotonic()
            if now >= deadline:
                self._raise_not_mined(versions[-1][0], versions[-1][1])
            if not mined and account is not None:
                if now >= replace_at and len(versions) <= MAX_REPLACEMENTS:
                    replaced = self._replace(account, versions[-1][1], label)
                    if replaced is not None:
                        versions.append(replaced)
                    replace_at = now + self.replace_after
                    delay = 0.002
                elif self.confirmations and not self._is_known(versions[-1][0]):
                    self._rebroadcast(account, versions[-1][1], label)  # dropped by a reorg
            time.sleep(delay)
            delay = min(delay * 2, 0.25 if not self.confirmations else 1.0)

    def _receipt(self, tx_hash: str) -> TxReceipt | None:
        try:
            receipt: TxReceipt = self._with_retries(
                "read a receipt",
                lambda: self.w3.eth.get_transaction_receipt(tx_hash),  # type: ignore[arg-type]
            )
        except TransactionNotFound:
            return None
        except Web3RPCError as exc:
            if "indexing is in progress" in _rpc_message(exc):
                return None  # geth, just (re)started, is still indexing: not known yet, ask again
            raise
        return receipt

    def _confirmed(self, receipt: TxReceipt) -> bool:
        """``confirmations`` blocks on top of the receipt's block, which is still the canonical one."""
        if self.confirmations == 0:
            return True
        number = int(receipt["blockNumber"])
        if self.block_number() - number < self.confirmations:
            return False
        canonical = self.block_hash(number)
        return canonical is not None and canonical == _hex(bytes(receipt["blockHash"]))

    def _replace(self, account: LocalAccount, tx: TxParams, label: str) -> tuple[str, TxParams] | None:
        """Re-sign ``tx`` with the same nonce and fees raised by 12.5% (at least the current market)."""
        self.set_fees(None)
        market = self._fee_params()
        tip = max(int(tx["maxPriorityFeePerGas"]) * BUMP_NUM // BUMP_DEN + 1, market["maxPriorityFeePerGas"])
        cap = max(int(tx["maxFeePerGas"]) * BUMP_NUM // BUMP_DEN + 1, market["maxFeePerGas"], tip)
        bumped: TxParams = {**tx, "maxFeePerGas": Wei(cap), "maxPriorityFeePerGas": Wei(tip)}
        raw = bytes(account.sign_transaction(cast(dict[str, Any], bumped)).raw_transaction)
        new_hash = _hex(keccak(raw))
        try:
            self._send_raw(raw, label)
        except Web3RPCError as exc:
            message = _rpc_message(exc).lower()
            if "nonce too low" in message or "already known" in message:
                return None  # an earlier version was just mined (or this one is already pending)
            log.warning("%s: replacement refused (%s); waiting on", label, _rpc_message(exc))
            return None
        self.replacements += 1
        log.warning(
            "%s: nonce %s not mined after %.0f s; replaced with fees raised to %d/%d wei (tx %s)",
            label,
            tx.get("nonce"),
            self.replace_after,
            cap,
            tip,
            new_hash,
        )
        return new_hash, bumped

    def _rebroadcast(self, account: LocalAccount, tx: TxParams, label: str) -> None:
        raw = bytes(account.sign_transaction(cast(dict[str, Any], tx)).raw_transaction)
        try:
            self._send_raw(raw, label)
            log.warning("%s: nonce %s was dropped by the node (a reorg); sent again", label, tx.get("nonce"))
        except Web3RPCError as exc:
            log.debug("%s: rebroadcast refused: %s", label, _rpc_message(exc))

    def _raise_not_mined(self, tx_hash: str, tx: TxParams) -> NoReturn:
        nonce = int(tx.get("nonce", -1))
        sender = str(tx.get("from", ""))
        mined = self._with_retries(
            "read the nonce",
            lambda: self.w3.eth.get_transaction_count(to_checksum_address(sender), "latest"),
        )
        with self._lock:
            self._nonces.invalidate()
        hint = (
            f"the chain's next nonce for {sender} is {mined} but this transaction has nonce {nonce}: "
            "an earlier transaction was dropped or the chain was reverted"
            if mined < nonce
            else "the node is not mining (or the fee is too low)"
        )
        raise TransactionFailed(
            f"transaction {tx_hash} not mined within {self.timeout:g} s; {hint}", tx_hash=tx_hash
        )

    def _raise_failed(self, tx_hash: str, tx: TxParams, receipt: TxReceipt, label: str) -> NoReturn:
        """A transaction mined with status 0: recover the revert data by replaying it at its block."""
        block = receipt["blockNumber"]
        replay: TxParams = {
            "from": tx["from"],
            "data": tx["data"],
            "value": tx.get("value", Wei(0)),
            "gas": tx["gas"],
        }
        if tx.get("to"):
            replay["to"] = tx["to"]
        try:
            self._with_retries("replay a failed transaction", lambda: self.w3.eth.call(replay, block))
        except ContractLogicError as exc:
            revert = _decode_logic_error(exc)
            if revert is not None:
                raise revert.with_tx_hash(tx_hash) from None
        except Web3RPCError as exc:
            log.debug("replaying %s gave an RPC error: %s", tx_hash, _rpc_message(exc))
        used, limit = receipt["gasUsed"], int(tx["gas"])
        why = (
            f"it ran out of gas (used {used} of {limit})"
            if used >= limit
            else "no revert reason is decodable"
        )
        raise TransactionFailed(
            f"{label}: transaction {tx_hash} failed in block {block}; {why}", tx_hash=tx_hash
        )

    # ----------------------------------------------------------------------------------------------------
    # Dev-chain helpers (anvil only)
    def increase_time(self, seconds: int) -> None:
        """Move the chain clock forward; takes effect in the next mined block."""
        self._rpc("evm_increaseTime", [int(seconds)])

    def set_next_block_timestamp(self, timestamp: int) -> None:
        self._rpc("evm_setNextBlockTimestamp", [int(timestamp)])

    def mine(self, blocks: int = 1) -> None:
        self._rpc("anvil_mine", [hex(blocks)])

    def set_balance(self, address: str, wei: int) -> None:
        self._rpc("anvil_setBalance", [to_checksum_address(address), hex(wei)])

    def snapshot(self) -> str:
        """Snapshot the chain state; the id for :meth:`revert`."""
        return str(self._rpc("evm_snapshot", []))

    def revert(self, snapshot_id: str) -> None:
        """Return the chain to ``snapshot_id`` (consumed by this call); this client's nonce is resynced."""
        if self._rpc("evm_revert", [snapshot_id]) is not True:
            raise ChainError(f"evm_revert to snapshot {snapshot_id} failed (unknown or already used)")
        with self._lock:
            self._nonces.invalidate()
            self.set_fees(None)

    # ----------------------------------------------------------------------------------------------------
    # Plumbing
    def _rpc(self, method: str, params: list[Any]) -> Any:
        try:
            return self._with_retries(
                method, lambda: self.w3.manager.request_blocking(RPCEndpoint(method), params)
            )
        except Web3RPCError as exc:
            raise ChainError(f"{method} failed: {_rpc_message(exc)}") from None

    def _require_account(self) -> LocalAccount:
        if self.account is None:
            raise ChainError("this client has no account: it can read but not send transactions")
        return self.account

    def _fetch_nonce(self) -> int:
        address = self._require_account().address
        return int(
            self._with_retries(
                "read the nonce", lambda: self.w3.eth.get_transaction_count(address, "pending")
            )
        )

    def _fee_params(self) -> dict[str, int]:
        """EIP-1559 fees: tip = the node's suggestion, max fee = 2 * base fee + tip; cached briefly, for
        every client of the same RPC (see `_FEES`)."""
        now = time.monotonic()
        with _SHARE_LOCK:
            hit = _FEES.get(self.rpc_url)
        if hit is not None and now - hit[0] <= FEE_CACHE_SECONDS:
            return hit[1]
        # the pending block carries the base fee the next block will charge
        block = self._with_retries("read the base fee", lambda: self.w3.eth.get_block("pending"))
        base = int(block.get("baseFeePerGas", 0))
        tip = int(self._with_retries("read the priority fee", lambda: self.w3.eth.max_priority_fee))
        fees = {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}
        with _SHARE_LOCK:
            _FEES[self.rpc_url] = (now, fees)
        return fees

    def set_fees(self, fees: dict[str, int] | None, *, hold_seconds: float = 0.0) -> None:
        """Forget the cached fee market of this client's RPC (None: read it again before the next send),
        or set it, for `hold_seconds` past the usual FEE_CACHE_SECONDS (tests price a transaction out)."""
        with _SHARE_LOCK:
            if fees is None:
                _FEES.pop(self.rpc_url, None)
            else:
                _FEES[self.rpc_url] = (time.monotonic() + hold_seconds, dict(fees))

    def _send_raw(self, raw: bytes, label: str) -> None:
        self._with_retries(f"send {label}", lambda: self.w3.eth.send_raw_transaction(raw))

    def _is_known(self, tx_hash: str) -> bool:
        try:
            self._with_retries("look up a transaction", lambda: self.w3.eth.get_transaction(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        return True

    def retrying(self, what: str, op: Callable[[], T]) -> T:
        """Run ``op`` (requests on this client's ``w3``, e.g. a JSON-RPC batch) with the client's retries;
        a connection that stays down is a :class:`ChainError` naming ``what``."""
        return self._with_retries(what, op)

    def _with_retries(self, what: str, op: Callable[[], T]) -> T:
        """Run ``op``, repeating it with exponential backoff while the connection (not the request) fails."""
        delay = self._backoff
        attempt = 1
        while True:
            try:
                return op()
            except TRANSIENT_ERRORS as exc:
                if attempt > self._retries:
                    raise ChainError(
                        f"{what}: RPC to {self.rpc_url} failed after {attempt} attempts: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                log.warning("%s: RPC error (attempt %d), retrying in %.2f s: %s", what, attempt, delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                attempt += 1


def _label(fn: Any) -> str:
    name = getattr(fn, "fn_name", None) or getattr(fn, "abi_element_identifier", None)
    return str(name) if name else type(fn).__name__


def _decode_logic_error(exc: ContractLogicError) -> ContractRevert | None:
    data = exc.data
    if isinstance(data, dict):  # some nodes nest it: {"data": "0x..."}
        data = data.get("data")
    return decode_revert(data) if isinstance(data, str) else None


def _revert_error(exc: ContractLogicError, *, what: str) -> ChainError:
    revert = _decode_logic_error(exc)
    if revert is not None:
        return revert
    data = exc.data if isinstance(exc.data, str) else ""
    detail = f" (revert data {data})" if data and data != "0x" else ""
    return TransactionFailed(f"{what} reverted without a decodable reason{detail}: {exc.message}")
