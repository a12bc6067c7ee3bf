"""The protocol in one process, for benchmarks: the real FL engine and the contract's rules, no chain.

Each round draws roles with the contract's permutation (`flalliance.protocol.roles`), proposers train (or
attack) with `flalliance.fl`, every voter runs `validate_round` on its private split exactly as the worker
does, and the round is decided, paid and settled by `flalliance.protocol.ledger.TaskLedger` — the pure
reference model that the property test checks against the contract call for call. `flalliance simulate`
runs the same on anvil with one process per participant; this emulator exists because the benchmark grid
(attacks x datasets x rules x seeds) would take hours that way on two cores. The cost benchmark measures
the real thing.

Systems compared:
- ``protocol``: our task (per-proposal verdicts, PerProposal payouts, aggregation per the spec);
- ``collective``: FLock's rule as published (voters average *all* proposals with the plain mean and vote
  the sign of the change, no margin; Collective payouts);
- ``fedavg``: plain FedAvg over the same proposers each round, no voting (the undefended baseline).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from flalliance.fl.aggregation import Proposal, aggregate
from flalliance.fl.attacks import malicious_proposal
from flalliance.fl.dataset import Dataset
from flalliance.fl.datasets import load_builtin
from flalliance.fl.partition import dirichlet, holdout
from flalliance.fl.pioneer import initial_tensors
from flalliance.fl.private_split import private_split
from flalliance.fl.spec import FedAvgSpec, TrainingLogicSpec
from flalliance.fl.training import evaluate, train
from flalliance.fl.validation import ProposalFile, index_verdicts, on_probation, validate_round
from flalliance.fl.weights import Tensors, content_hash, encode
from flalliance.protocol import roles
from flalliance.protocol.decision import Policy
from flalliance.protocol.ledger import TaskLedger
from flalliance.sim.config import SimConfig, build_spec, dataset_name

logging.getLogger("flalliance.fl.validation").setLevel(logging.ERROR)  # refused files are counted, not logged
System = Literal["protocol", "collective", "fedavg"]
TOKEN = 10**18
WEIGHT_UNIT = 10**12


@dataclass
class Federation:
    """The data of one simulated federation: per-participant private splits and the held-out set."""

    train: list[Dataset]
    test: list[Dataset]
    held_out: Dataset
    sizes: list[int]
    pooled: Dataset


def federation(cfg: SimConfig) -> Federation:
    """The same data preparation as `flalliance simulate` (flalliance.sim.runner.prepare_data), in memory."""
    data = load_builtin(dataset_name(cfg))
    pool = data.train
    if cfg.subsample is not None and cfg.subsample < len(pool):
        _, keep = holdout(pool.y, cfg.subsample / len(pool), cfg.partition_seed)
        pool = pool.subset(keep)
    if data.test is not None:
        test = data.test
    else:
        rest, held = holdout(pool.y, cfg.holdout, cfg.partition_seed)
        pool, test = pool.subset(rest), pool.subset(held)
    if cfg.test_subsample is not None and cfg.test_subsample < len(test):
        _, keep = holdout(test.y, cfg.test_subsample / len(test), cfg.partition_seed)
        test = test.subset(keep)
    parts, _ = dirichlet(pool.y, cfg.participants, cfg.alpha, cfg.partition_seed)
    splits = [
        private_split(
            pool.subset(p),
            secret=f"participant-secret-{i:04d}".encode(),
            task=f"bench-{cfg.partition_seed}".encode(),
            test_fraction=0.2,
        )
        for i, p in enumerate(parts)
    ]
    return Federation(
        train=[s[0] for s in splits],
        test=[s[1] for s in splits],
        held_out=test,
        sizes=[len(p) for p in parts],
        pooled=pool,
    )


@dataclass
class RunResult:
    system: str
    accuracy: list[float]
    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    net_tokens: dict[int, float] = field(default_factory=dict)
    rounds_accepted: int = 0

    def summary(self, malicious: set[int]) -> dict[str, Any]:
        c = self.counts
        honest_net = [v for i, v in self.net_tokens.items() if i not in malicious]
        return {
            "final_accuracy": self.accuracy[-1],
            "best_accuracy": max(self.accuracy),
            "malicious_proposals": c["malicious_proposals"],
            "malicious_rejected": c["malicious_rejected"] / c["malicious_proposals"]
            if c["malicious_proposals"]
            else None,
            "honest_proposals": c["honest_proposals"],
            "honest_rejected": c["honest_rejected"] / c["honest_proposals"]
            if c["honest_proposals"]
            else None,
            "rounds_accepted": self.rounds_accepted,
            "honest_all_net_gain": bool(honest_net) and all(v > 0 for v in honest_net),
            "honest_min_net_tokens": min(honest_net) if honest_net else None,
            "malicious_max_net_tokens": max(
                (v for i, v in self.net_tokens.items() if i in malicious), default=None
            ),
            "reasons": dict(self.reasons),
        }


def first_built(spec: TrainingLogicSpec) -> TrainingLogicSpec:
    """The validation rule as first built (commit d01491b): no regression check, proposals judged on the
    test split only, loss-outlier floor 0.1, any voter may vote -1, the screened proposals aggregated."""
    validation = spec.validation.model_copy(
        update={
            "regression_floor": None,
            "judge_on_train": False,
            "loss_outlier_floor": 0.1,
            "dissent_needs_evidence": False,
            "reference_update": False,
        }
    )
    aggregation = spec.aggregation.model_copy(update={"include": "screened"})
    return spec.model_copy(update={"validation": validation, "aggregation": aggregation})


def collective_spec(spec: TrainingLogicSpec) -> TrainingLogicSpec:
    """FLock's voter: unweighted mean of all well-formed proposals, vote = sign of the change (no margin)."""
    return spec.model_copy(
        update={
            "aggregation": FedAvgSpec(weighted=False, include="all"),
            "validation": spec.validation.model_copy(update={"vote_margin": 0.0, "margin_z": 0.0}),
        }
    )


def run(
    cfg: SimConfig,
    fed: Federation,
    system: System,
    *,
    spec: TrainingLogicSpec | None = None,
    role_seed: int = 0,
    colluding_voters: bool = False,
) -> RunResult:
    """Play ``cfg.rounds`` rounds of ``system``; the held-out accuracy of the global model per round.

    ``colluding_voters``: the attackers vote as a bloc as well as attacking as proposers: as voters they
    accept every attacker's proposal and reject every honest one (a proposal's verdict bits cost a voter
    nothing), and send the round score an honest voter would (the score is what voters are paid for).
    Without it, malicious participants vote honestly and attack only with their proposals."""
    torch.set_num_threads(1)
    spec = spec or build_spec(cfg)
    if system == "collective":
        spec = collective_spec(spec)
    n = cfg.participants
    policy = Policy.COLLECTIVE if system == "collective" else Policy.PER_PROPOSAL
    ledger = TaskLedger(
        total_reward=cfg.reward_tokens * TOKEN,
        total_rounds=cfg.rounds,
        slash_bps=cfg.slash_bps,
        policy=policy,
        weight_unit=WEIGHT_UNIT,
        proposer_fraction_bps=cfg.proposer_fraction_bps,
        max_proposers=cfg.max_proposers,
        max_voters=cfg.max_voters,
    )
    names = [f"p{i:02d}" for i in range(n)]
    for name in names:
        ledger.join(name, cfg.stake_tokens * TOKEN)
    rng = np.random.default_rng(role_seed + 7919 * cfg.partition_seed)
    result = RunResult(system, [])
    g: Tensors = initial_tensors(spec, seed=cfg.init_seed)
    ledger.has_model = True  # the pioneer (an honest, deterministic initialisation) is not under test here
    slashed = {name: 0 for name in names}
    for r in range(cfg.rounds):
        ledger.start_round(int(rng.integers(2**63)))
        proposers = [i for i in range(n) if ledger.is_proposer(r, names[i])]
        voters = [i for i in range(n) if ledger.is_voter(r, names[i])]
        files: list[ProposalFile] = []
        owners: list[tuple[bytes, int]] = []  # (model hash, participant) in proposal index order
        props: list[Proposal] = []
        honest_models: list[Tensors] = []
        # honest proposers first: an adaptive attacker proposing late reads their published models
        for i in sorted(proposers, key=lambda i: cfg.behaviour(i) != "honest"):
            behaviour = cfg.behaviour(i)
            if behaviour == "absent":
                continue
            seed = cfg.train_seed + 1000 * r + i
            if behaviour == "honest":
                t = train(spec, g, fed.train[i], seed=seed).tensors
                honest_models.append(t)
            else:
                t = malicious_proposal(behaviour, spec, g, fed.train[i], seed=seed, peers=honest_models)
            blob = encode(t)
            h = content_hash(blob)
            owners.append((h, i))
            files.append(ProposalFile(h, blob, len(fed.train[i])))
            props.append(Proposal(h, t, len(fed.train[i])))
            ledger.propose(names[i])
        owner = {h: i for h, i in owners}
        if system == "fedavg":
            if props:
                g = aggregate(FedAvgSpec(), props)
            ledger.finalize("coordinator")
            for _, i in owners:
                kind = "malicious" if cfg.behaviour(i) != "honest" else "honest"
                result.counts[f"{kind}_proposals"] += 1
            result.rounds_accepted += 1
            result.accuracy.append(evaluate(spec, g, fed.held_out))
            continue
        aggregates: dict[bytes, Tensors] = {}
        for v in voters:
            if cfg.behaviour(v) == "absent" or not files:
                continue
            # the proposers' public records, as a voter reads them from the chain (settled when they proposed)
            probation = {h for h, i in owners if on_probation(*ledger.proposal_counts(names[i]))}
            rv = validate_round(
                spec,
                g,
                files,
                fed.test[v],
                train=fed.train[v],
                probation=probation,
                reference_seed=cfg.train_seed + 1000 * r + v,
            )
            bits = 0
            for k, ok in enumerate(index_verdicts(rv.verdicts, [h for h, _ in owners])):
                bits |= int(ok) << k
            colluding = colluding_voters and cfg.behaviour(v) != "honest"
            if colluding:
                bits = sum(1 << k for k, (_, i) in enumerate(owners) if cfg.behaviour(i) != "honest")
            for verdict in [] if colluding else rv.verdicts:  # the reasons of the voters' own judgements
                if not verdict.accepted:
                    kind = "malicious" if cfg.behaviour(owner[verdict.hash]) != "honest" else "honest"
                    result.reasons[f"{kind}:{verdict.reason}"] += 1
            if rv.aggregate is not None and rv.aggregate_hash is not None:
                aggregates[rv.aggregate_hash] = rv.aggregate
                agg_hash = rv.aggregate_hash
            else:
                agg_hash = b"\x00" * 31 + b"\x01"
            ledger.reveal(names[v], agg_hash, rv.vote.score, bits)
        rec = ledger.finalize("coordinator")

        for k, (_, i) in enumerate(owners):
            kind = "malicious" if cfg.behaviour(i) != "honest" else "honest"
            result.counts[f"{kind}_proposals"] += 1
            # FLock judges no proposal on its own: a proposal is rejected exactly when its round is.
            rejected = not rec.accepted if system == "collective" else not rec.verdicts >> k & 1
            result.counts[f"proposals:{i}"] += 1
            if rejected and rec.reveal_count:
                result.counts[f"{kind}_rejected"] += 1
                result.counts[f"rejected:{i}"] += 1
        if rec.accepted:
            result.rounds_accepted += 1
            leader = _leader(ledger, aggregates)
            if leader is not None:
                g = leader
        for name in names:
            _, lost = ledger.settle(name)
            slashed[name] += lost
        result.accuracy.append(evaluate(spec, g, fed.held_out))
    if system != "fedavg":
        # what each participant takes home: its vested rewards (PerProposal: by contribution; Collective:
        # every settled reward) minus its slashes
        vested = {name: ledger.vest(name)[0] for name in names}
        result.net_tokens = {i: (vested[names[i]] - slashed[names[i]]) / TOKEN for i in range(n)}
    return result


def _leader(ledger: TaskLedger, aggregates: dict[bytes, Tensors]) -> Tensors | None:
    """The aggregate with the most accepting weight (the contract's plurality, reveal order on ties)."""
    from flalliance.protocol.decision import leading_aggregate

    leader, _ = leading_aggregate(ledger._votes)
    return aggregates.get(leader) if leader is not None else None


def centralized(cfg: SimConfig, fed: Federation, *, epochs: int) -> float:
    """Upper bound: the same model and training code on all the participants' data pooled."""
    torch.set_num_threads(1)
    spec = build_spec(cfg)
    spec = spec.model_copy(update={"training": spec.training.model_copy(update={"epochs": epochs})})
    pooled = Dataset(
        np.concatenate([d.x for d in fed.train + fed.test]),
        np.concatenate([d.y for d in fed.train + fed.test]),
    )
    tensors = train(spec, initial_tensors(spec, seed=cfg.init_seed), pooled, seed=cfg.train_seed).tensors
    return evaluate(spec, tensors, fed.held_out)


def run_flower(cfg: SimConfig, fed: Federation, strategy_name: str, *, role_seed: int = 0) -> RunResult:
    """Flower's own strategy (FedAvg, FedMedian, FedTrimmedAvg, Krum, MultiKrum, Bulyan) aggregating the
    same clients' updates.

    The clients of each round are the proposers our protocol would draw (same role permutation and seed),
    trained with the same code; Flower's ``aggregate_fit`` computes the new global model. Runs in one
    process with no Ray: only the strategies are Flower's, which is what is being compared. Needs ``flwr``
    (bench venv, see docs/results.md)."""
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.strategy import Bulyan, FedAvg, FedMedian, FedTrimmedAvg, Krum

    torch.set_num_threads(1)
    spec = build_spec(cfg)
    n = cfg.participants
    names = [f"p{i:02d}" for i in range(n)]
    ledger = TaskLedger(
        total_reward=cfg.reward_tokens * TOKEN,
        total_rounds=cfg.rounds,
        slash_bps=cfg.slash_bps,
        policy=Policy.PER_PROPOSAL,
        weight_unit=WEIGHT_UNIT,
        proposer_fraction_bps=cfg.proposer_fraction_bps,
        max_proposers=cfg.max_proposers,
        max_voters=cfg.max_voters,
    )
    for name in names:
        ledger.join(name, cfg.stake_tokens * TOKEN)
    rng = np.random.default_rng(role_seed + 7919 * cfg.partition_seed)
    per_round = roles.num_proposers(n, cfg.proposer_fraction_bps, cfg.max_proposers)
    bad = max(1, round(per_round * len(cfg.malicious) / n))
    strategies = {
        "fedavg": lambda: FedAvg(),
        "fedmedian": lambda: FedMedian(),
        "krum": lambda: Krum(num_malicious_clients=bad),
        "multikrum": lambda: Krum(num_malicious_clients=bad, num_clients_to_keep=max(1, per_round - bad)),
        "fedtrimmedavg": lambda: FedTrimmedAvg(beta=0.2),
        # Bulyan's precondition is n >= 4f + 3 clients; the largest f it admits for this round size
        "bulyan": lambda: Bulyan(num_malicious_clients=max(0, (per_round - 3) // 4), to_keep=0),
    }
    strategy = strategies[strategy_name]()
    g: Tensors = initial_tensors(spec, seed=cfg.init_seed)
    keys = list(g)
    result = RunResult(f"flower-{strategy_name}", [])
    for r in range(cfg.rounds):
        ledger.start_round(int(rng.integers(2**63)))
        clients = [i for i in range(n) if ledger.is_proposer(r, names[i])]
        results = []
        honest: list[Tensors] = []
        for i in sorted(clients, key=lambda i: cfg.behaviour(i) != "honest"):
            behaviour = cfg.behaviour(i)
            if behaviour == "absent":
                continue
            seed = cfg.train_seed + 1000 * r + i
            if behaviour == "honest":
                t = train(spec, g, fed.train[i], seed=seed).tensors
                honest.append(t)
            else:
                t = malicious_proposal(behaviour, spec, g, fed.train[i], seed=seed, peers=honest)
            fit = FitRes(
                Status(Code.OK, ""), ndarrays_to_parameters([t[k] for k in keys]), len(fed.train[i]), {}
            )
            results.append((None, fit))
        ledger.finalize("coordinator")
        if results:
            try:
                params, _ = strategy.aggregate_fit(r + 1, results, [])  # type: ignore[arg-type]
            except ValueError as exc:  # e.g. Bulyan's Krum pick on a diverged (non-finite) model
                result.reasons[f"aggregation_failed: {exc}"] += 1
                params = None
            if params is not None:
                arrays = parameters_to_ndarrays(params)
                g = {k: np.asarray(a, dtype=np.float32) for k, a in zip(keys, arrays, strict=True)}
        result.accuracy.append(evaluate(spec, g, fed.held_out))
    return result
