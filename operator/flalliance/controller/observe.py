"""Observe: what one reconcile pass reads besides the chain view — keys, clients, Participants, logic.

Secrets, PVCs and the training-logic ConfigMap change rarely, so they are cached (re-reading them every
pass would cost two requests per participant): what was missing or invalid for `cache_seconds`, so that a
Secret or claim created late is picked up soon; what was found for `hit_seconds`; and what a joined
participant uses (its wallet, bound to its on-chain seat, and its claim) until a Job of the task fails or
the participant's spec changes. A cache that expires by the clock costs requests in proportion to a round's
length, not its work: with 100 tasks on one operator, rounds that last four minutes re-read every wallet
and claim about once a round (bench/operator/many.py).
Chain clients are kept per (RPC, chain id, account), so each account keeps one nonce tracker. Nothing here
decides: problems are collected for the status, and `plan` decides.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, get_args

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import ValidationError

from flalliance.api.base import field_errors, fml_to_wei
from flalliance.api.fltask import FLTaskSpec
from flalliance.api.participant import ParticipantPhase, ParticipantSpec, ParticipantStatus
from flalliance.chain.client import ChainClient
from flalliance.chain.errors import ChainError
from flalliance.controller.kube import Kube, KubeProblem
from flalliance.controller.labels import ANNOTATION_BEHAVIOUR
from flalliance.controller.status import Problem
from flalliance.controller.training_logic import (
    MAX_TRAINING_LOGIC_BYTES,
    digest_inline,
    is_ours,
    render_config_map,
    replacement,
    up_to_date,
)
from flalliance.controller.views import ParticipantView
from flalliance.worker.settings import Behaviour

log = logging.getLogger(__name__)


@dataclass
class LocalParticipant:
    """A Participant of this namespace as one pass sees it: its parsed spec, its account, its plan view."""

    name: str
    spec: ParticipantSpec | None
    status: ParticipantStatus
    generation: int
    account: LocalAccount | None
    view: ParticipantView
    obj: dict[str, Any]
    behaviour: str = "honest"


@dataclass
class Inputs:
    """The cached readers of one task's inputs (one per TaskReconciler)."""

    kube: Kube
    namespace: str
    name: str
    test_mode: bool = False
    cache_seconds: float = 30.0
    # A found Secret, claim or ConfigMap not pinned by a joined participant is re-read this often: at 30 s,
    # re-reading them was 400 requests every 30 s at 200 participants (four times a round's own).
    hit_seconds: float = 300.0
    _cache: dict[tuple[str, ...], tuple[float, Any]] = field(default_factory=dict)
    _failed_jobs: set[str] = field(default_factory=set)  # failed Jobs already answered by `recheck_after`
    _clients: dict[tuple[str, int, str], ChainClient] = field(default_factory=dict)
    _ignored: set[tuple[str, str]] = field(default_factory=set)  # test annotations already reported
    # (uid, resourceVersion) -> the Participant's parsed spec (or why it is invalid) and status
    _parsed: dict[tuple[str, str], tuple[ParticipantSpec | str, ParticipantStatus]] = field(
        default_factory=dict
    )

    def cached(self, key: tuple[str, ...], load: Any, keep: Callable[[Any], bool] | None = None) -> Any:
        """The cached value of `key`, loaded again once expired; a found value that `keep` accepts does not
        expire (it is dropped by `recheck_after` instead)."""
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and (hit[0] > now or (keep is not None and _found(hit[1]) and keep(hit[1]))):
            return hit[1]
        value = load()
        self._cache[key] = (now + (self.hit_seconds if _found(value) else self.cache_seconds), value)
        return value

    def recheck_after(self, failed_jobs: Iterable[str]) -> None:
        """Read every Secret, claim and ConfigMap again in the next pass once a Job of the task has failed:
        a deleted claim or ConfigMap, or an edited Secret, shows up as a failing worker first."""
        fresh = set(failed_jobs) - self._failed_jobs
        if fresh:
            self._failed_jobs |= fresh
            self._cache.clear()

    def account(self, ref: Any, what: str, bound_to: str | None = None) -> LocalAccount:
        """The account of a key Secret (cached); raises KubeProblem/ValueError like the read itself.
        `bound_to`: the address of the participant's joined seat, if any: its account is kept while it
        holds that address (a key edited after joining could not sign for the seat anyway)."""

        def load() -> Any:
            try:
                return Account.from_key(self.kube.read_secret_key(self.namespace, ref, what=what))
            except (KubeProblem, ValueError) as exc:
                return exc

        def bound(value: Any) -> bool:
            return bound_to is not None and value.address.lower() == bound_to.lower()

        value = self.cached(("secret", ref.name, ref.key), load, bound)
        if isinstance(value, Exception):
            raise value
        account: LocalAccount = value
        return account

    def client(
        self, spec: FLTaskSpec, account: LocalAccount | None, *, participant: bool = False
    ) -> ChainClient:
        """The process's one client of (RPC, chain id, account): every task that signs with a key shares
        its nonce tracker, so two FLTasks on one operator key never race for the same nonce. A
        `participant`'s wallet also signs in its worker pods, so its client reads the nonce from the chain
        before each transaction instead."""
        who = account.address if account is not None else ""
        key = (spec.chain.rpc_url, spec.chain.chain_id, who)
        client = self._clients.get(key)
        if client is None:
            client = shared_client(spec.chain.rpc_url, spec.chain.chain_id, account)
            self._clients[key] = client
        client.nonce_from_chain = client.nonce_from_chain or participant
        # One client per key, whichever task asks: it waits as the most careful of them asks it to.
        client.confirmations = max(client.confirmations, spec.chain.confirmations)
        if spec.chain.receipt_timeout_seconds > client.timeout:
            client.timeout = float(spec.chain.receipt_timeout_seconds)
            client.replace_after = client.timeout / 4
        return client

    def operator_account(self, spec: FLTaskSpec, problems: list[Problem]) -> LocalAccount | None:
        try:
            return self.account(spec.chain.operator_key_secret, "spec.chain.operatorKeySecret")
        except KubeProblem as exc:
            problems.append(Problem("Ready", exc.reason, exc.message))
        except ValueError:
            problems.append(Problem("Ready", "InvalidKey", "spec.chain.operatorKeySecret holds no valid key"))
        return None

    def training_logic_hash(
        self, spec: FLTaskSpec, obj: dict[str, Any], problems: list[Problem]
    ) -> str | None:
        """The training-logic hash; for inline logic, also make sure its ConfigMap is published.

        The operator never opens the artifact store (a `file://` store may be a PVC only the task's pods
        can mount): it writes the canonical JSON into `<task>-training-logic`, owned by the FLTask, and the
        workers mount it and put it into the store themselves (see `training_logic`). The ConfigMap is
        checked at most every `hit_seconds` (`cache_seconds` after a failed attempt) and in the pass after
        a Job of the task fails, so a deleted or edited one is restored:

        - missing: created;
        - made by the operator for a task of this name (its labels) but with other content or another
          owner (edited by hand, or left over from a deleted FLTask of the same name that the garbage
          collector has not removed yet): replaced with the spec's content and this FLTask as owner, since
          `trainingLogic` is immutable and the spec is the truth (workers check the hash either way);
        - not made by the operator: left alone, and the task waits with the Ready condition
          `TrainingLogicConfigMapConflict` naming it, rather than overwrite someone else's data.
        """
        logic = spec.training_logic
        if logic.hash is not None:
            return logic.hash
        from flalliance.fl.spec import SpecError

        assert logic.inline is not None
        try:
            published = digest_inline(logic.inline)
        except SpecError as exc:
            problems.append(Problem("Ready", "InvalidTrainingLogic", f"spec.trainingLogic.inline: {exc}"))
            return None
        if len(published.data) > MAX_TRAINING_LOGIC_BYTES:
            problems.append(
                Problem(
                    "Ready",
                    "InvalidTrainingLogic",
                    f"spec.trainingLogic.inline: {len(published.data)} bytes as canonical JSON, more than "
                    f"the {MAX_TRAINING_LOGIC_BYTES} a worker reads",
                )
            )
            return None
        desired = render_config_map(
            task_name=self.name, namespace=self.namespace, task_uid=obj["metadata"]["uid"], logic=published
        )
        key = ("configmap", obj["metadata"]["uid"], published.digest)
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return published.digest
        try:
            problem = self._publish(obj, desired, published.digest)
        except KubeProblem as exc:
            problem = Problem("Ready", exc.reason, f"spec.trainingLogic.inline: {exc.message}")
        if problem is not None:
            problems.append(problem)
            return None
        self._cache[key] = (time.monotonic() + self.hit_seconds, True)
        return published.digest

    def _publish(self, obj: dict[str, Any], desired: dict[str, Any], digest: str) -> Problem | None:
        """Make the training-logic ConfigMap match `desired` (see `_training_logic_hash`)."""
        name = desired["metadata"]["name"]
        for _attempt in range(3):  # a create or replace can race another writer: read again
            existing = self.kube.read_config_map(self.namespace, name)
            if existing is None:
                if self.kube.create_config_map(desired):
                    self.kube.event(
                        obj,
                        "Normal",
                        "TrainingLogicPublished",
                        f"training logic {digest} in ConfigMap {name}",
                    )
                    return None
                continue
            if up_to_date(existing, desired):
                return None
            if not is_ours(existing, self.name):
                return Problem(
                    "Ready",
                    "TrainingLogicConfigMapConflict",
                    f"ConfigMap {self.namespace}/{name} exists but was not made by the operator for FLTask "
                    f"{self.name}; delete or rename it so the training logic can be published there",
                )
            if self.kube.replace_config_map(replacement(existing, desired)):
                log.info("replaced stale training-logic ConfigMap %s/%s", self.namespace, name)
                return None
        return Problem(
            "Ready",
            "ConfigMapUnavailable",
            f"ConfigMap {self.namespace}/{name} kept changing while the operator wrote it; retrying",
        )

    def _parse(self, obj: dict[str, Any]) -> tuple[ParticipantSpec | str, ParticipantStatus]:
        """A Participant's spec (or why it is invalid) and status, parsed once per resourceVersion: most
        Participants are unchanged from one pass to the next, and validating 200 of them (each status
        holding up to 50 role records) took ~75 ms of every pass (bench/operator/run.py). The models are
        never mutated (`participant_status` copies), so one parse serves every pass until the object
        changes."""
        key = _version(obj)
        hit = self._parsed.get(key)
        if hit is not None and key[1]:
            return hit
        try:
            status = ParticipantStatus.model_validate(obj.get("status") or {})
        except ValidationError:
            status = ParticipantStatus()
        pspec: ParticipantSpec | str
        try:
            pspec = ParticipantSpec.model_validate(obj["spec"])
        except ValidationError as exc:
            pspec = f"invalid spec: {field_errors(exc)}"[:500]
        self._parsed[key] = (pspec, status)
        return pspec, status

    def participants(self, spec: FLTaskSpec) -> list[LocalParticipant]:
        out = []
        objs = self.kube.list_participants(self.namespace, self.name)
        seen = {_version(o) for o in objs}
        for obj in objs:
            name = obj["metadata"]["name"]
            generation = int(obj["metadata"].get("generation", 0))
            pspec, status = self._parse(obj)
            deleting = bool(obj["metadata"].get("deletionTimestamp"))
            if isinstance(pspec, str):
                view = ParticipantView(name=name, stake=0, usable=False, problem=pspec)
                out.append(LocalParticipant(name, None, status, generation, None, view, obj))
                continue
            stake = fml_to_wei(pspec.stake)
            account, problem = None, None
            # Joined (the chain has a seat at the address this status records): its wallet and claim are
            # in use, and kept until a Job fails (`recheck_after`) or the spec changes (a new cache key).
            joined = status.phase in (ParticipantPhase.JOINED, ParticipantPhase.WITHDRAWN) and bool(
                status.address
            )
            try:
                account = self.account(
                    pspec.wallet_secret, "spec.walletSecret", status.address if joined else None
                )
            except KubeProblem as exc:
                problem = exc.message
            except ValueError:
                problem = f"spec.walletSecret: Secret {pspec.wallet_secret.name} holds no valid private key"
            claim = pspec.dataset.persistent_volume_claim
            exists = (
                self.cached(
                    ("pvc", claim),
                    lambda c=claim: self.kube.pvc_exists(self.namespace, c),
                    (lambda _: True) if joined else None,
                )
                if claim
                else True
            )
            if problem is None and not exists:
                problem = f"spec.dataset.persistentVolumeClaim: PVC {self.namespace}/{claim} not found"
            if problem is None and stake < fml_to_wei(spec.min_stake):
                problem = f"spec.stake {pspec.stake} is below the task's minimum stake {spec.min_stake}"
            view = ParticipantView(
                name=name,
                address=account.address if account else None,
                stake=stake,
                usable=problem is None,
                problem=problem,
                deleting=deleting,
            )
            behaviour = self._behaviour(obj)
            out.append(LocalParticipant(name, pspec, status, generation, account, view, obj, behaviour))
        for key in set(self._parsed) - seen:  # only the objects as they are now are kept
            del self._parsed[key]
        return out

    def _behaviour(self, obj: dict[str, Any]) -> str:
        """The attack of a Participant's test annotation: honoured in test mode only, else reported."""
        value = ((obj.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_BEHAVIOUR)
        if value is None or value == "honest":
            return "honest"
        name = obj["metadata"]["name"]
        if not self.test_mode:
            if (name, value) not in self._ignored:
                self._ignored.add((name, value))
                self.kube.event(
                    obj,
                    "Warning",
                    "TestAnnotationIgnored",
                    f"{ANNOTATION_BEHAVIOUR}={value} is honoured only by an operator in test mode; "
                    "this participant runs the honest worker",
                )
            return "honest"
        if value not in get_args(Behaviour):
            known = ", ".join(get_args(Behaviour))
            log.warning("%s: %s=%s is not one of %s; honest", name, ANNOTATION_BEHAVIOUR, value, known)
            return "honest"
        return str(value)


_SHARED: dict[tuple[str, int, str], ChainClient] = {}
_SHARED_LOCK = threading.Lock()


def _version(obj: dict[str, Any]) -> tuple[str, str]:
    """(uid, resourceVersion): one version of one object (the uid tells a re-created namesake apart)."""
    meta = obj["metadata"]
    return str(meta.get("uid", meta["name"])), str(meta.get("resourceVersion", ""))


def _found(value: Any) -> bool:
    return not (value is False or value is None or isinstance(value, Exception))


def shared_client(rpc_url: str, chain_id: int, account: LocalAccount | None) -> ChainClient:
    """One ChainClient per (RPC, chain id, account) in this process (it is thread-safe for sending)."""
    key = (rpc_url, chain_id, account.address if account is not None else "")
    with _SHARED_LOCK:
        client = _SHARED.get(key)
    if client is None:  # connect outside the lock: a slow RPC must not hold up other tasks' chains
        fresh = ChainClient(rpc_url, account, chain_id=chain_id)
        with _SHARED_LOCK:
            client = _SHARED.setdefault(key, fresh)
    return client


def forget_shared_clients() -> None:
    """Drop every shared client (tests: after reverting the chain, the local nonces are ahead of it)."""
    with _SHARED_LOCK:
        _SHARED.clear()


def chain_reason(exc: ChainError) -> str:
    """The condition reason for a chain failure: the RPC, the chain id, or the chain itself."""
    text = str(exc).lower()
    if "chain id" in text:
        return "WrongChainId"
    if "connect" in text or "refused" in text or "timed out" in text or "timeout" in text:
        return "RpcUnreachable"
    return "ChainError"
