"""What a simulation runs: the dataset and model preset, the federation, the task parameters, who cheats.

Plain pydantic, no torch or web3: the command line builds a :class:`SimConfig`, the runner executes it and
the report records it verbatim, so every figure can be reproduced from the report alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flalliance.fl.spec import (
    DatasetSpec,
    FedAvgSpec,
    McMahan2NNSpec,
    MLPSpec,
    OptimizerSpec,
    SeedsSpec,
    TrainingLogicSpec,
    TrainingSpec,
)
from flalliance.protocol import roles

Preset = Literal["digits-mlp", "fmnist-2nn", "llm-lora"]
Behaviour = Literal[
    "honest", "label_flip", "gaussian", "scaled", "sign_flip", "free_rider", "random", "alie", "ipm", "absent"
]
PolicyName = Literal["per_proposal", "collective"]
ATTACK_BEHAVIOURS: tuple[Behaviour, ...] = (
    "label_flip",
    "gaussian",
    "scaled",
    "sign_flip",
    "free_rider",
    "random",
    "alie",
    "ipm",
    "absent",
)


MAX_SIMULATED_PARTICIPANTS = 64


class SimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: Preset = "digits-mlp"
    # the in-process emulator (bench/sim) plays up to 10,000; `flalliance simulate` (a process and a chain
    # account each) at most MAX_SIMULATED_PARTICIPANTS
    participants: int = Field(default=10, ge=2, le=10_000)
    rounds: int = Field(default=10, ge=1, le=1000)
    alpha: float = Field(default=0.5, gt=0, description="Dirichlet label-skew concentration")
    partition_seed: int = Field(default=0, ge=0)
    holdout: float = Field(default=0.2, gt=0, lt=1, description="held-out global test fraction (digits)")
    subsample: int | None = Field(
        default=None, ge=100, description="use this many training samples (stratified), e.g. Fashion-MNIST"
    )
    test_subsample: int | None = Field(default=None, ge=100, description="held-out samples evaluated")
    # Behaviour per roster index (join order = index); unlisted participants are honest.
    behaviours: dict[int, Behaviour] = Field(default_factory=dict)
    policy: PolicyName = "per_proposal"
    proposer_fraction_bps: int = Field(default=3_000, ge=1, le=9_999)
    max_proposers: int = Field(
        default=roles.MAX_PROPOSERS, ge=1, le=roles.MAX_PROPOSERS, description="committee cap"
    )
    max_voters: int = Field(default=roles.MAX_VOTERS, ge=1, le=roles.MAX_VOTERS, description="committee cap")
    slash_bps: int = Field(default=1_000, ge=0, le=10_000)
    stake_tokens: int = Field(default=100, ge=1, description="stake per participant, whole tokens")
    reward_tokens: int = Field(default=1_000, ge=1, description="task reward pool, whole tokens")
    epochs: int | None = Field(default=None, ge=1, le=100, description="override the preset's local epochs")
    learning_rate: float | None = Field(default=None, gt=0, le=10)
    loss: Literal["cross_entropy", "balanced_cross_entropy"] | None = Field(
        default=None, description="override the preset's training loss"
    )
    aggregation: Literal["fedavg", "median", "trimmed_mean", "multi_krum"] = "fedavg"
    # "accepted": each voter aggregates only the proposals it accepts (docs/results.md: measured better)
    include: Literal["screened", "accepted", "all"] = "accepted"
    init_seed: int = Field(default=0, ge=0)
    train_seed: int = Field(default=0, ge=0)
    phase_seconds: int = Field(
        default=3_600,
        ge=10,
        description="chain-time length of each phase (on geth it passes by the wall clock: keep it short)",
    )
    # "anvil": instant blocks, the coordinator moves the chain clock past a phase once everyone acted;
    # "geth": a real client sealing a block every block_period seconds; deadlines pass in real time.
    chain: Literal["anvil", "geth"] = "anvil"
    block_period: int = Field(default=2, ge=1, le=30, description="geth: seconds between blocks")
    confirmations: int = Field(default=0, ge=0, le=12, description="blocks after a receipt before it counts")
    stall_seconds: float = Field(
        default=300.0, gt=0, description="wall seconds without progress before the clock is moved anyway"
    )
    poll_seconds: float = Field(default=0.25, gt=0)
    # "fork": participants are forked from the simulator (torch already imported, no cold start);
    # "exec": each runs `python -m flalliance.worker.cli participate` from scratch (as on a real machine).
    launch: Literal["fork", "exec"] = "fork"
    # A user's own task (flalliance.sim.inputs): a training-logic file instead of the preset's, and the
    # participants' own directories or one dataset file split here.
    training_logic: Path | None = None
    data_dirs: tuple[Path, ...] = ()
    test_dir: Path | None = None
    dataset_file: Path | None = None
    partition: Literal["iid", "dirichlet"] = "dirichlet"
    text_per_participant: int = Field(default=300, ge=10, description="llm-lora: examples per participant")
    lora_steps: int = Field(default=20, ge=1, le=100_000, description="llm-lora: optimizer steps per round")

    @model_validator(mode="after")
    def _check(self) -> SimConfig:
        bad = [i for i in self.behaviours if not 0 <= i < self.participants]
        if bad:
            raise ValueError(f"behaviours: indices {bad} are outside 0..{self.participants - 1}")
        if self.data_dirs and len(self.data_dirs) != self.participants:
            raise ValueError(
                f"data_dirs: {len(self.data_dirs)} directories for {self.participants} participants"
            )
        if self.data_dirs and self.dataset_file:
            raise ValueError("data_dirs, dataset_file: give one source of data, not both")
        if self.test_dir and not self.data_dirs:
            raise ValueError("test_dir: only with data_dirs (the other sources hold out their own)")
        return self

    def behaviour(self, index: int) -> Behaviour:
        return self.behaviours.get(index, "honest")

    @property
    def malicious(self) -> list[int]:
        return sorted(i for i, b in self.behaviours.items() if b != "honest")


def build_spec(cfg: SimConfig) -> TrainingLogicSpec:
    """The training logic of the preset (the hash of its canonical JSON goes on chain)."""
    from flalliance.fl.spec import AggregationSpec, MedianSpec, MultiKrumSpec, TrimmedMeanSpec

    include = cfg.include
    aggregation: AggregationSpec
    if cfg.aggregation == "median":
        aggregation = MedianSpec(include=include)
    elif cfg.aggregation == "trimmed_mean":
        aggregation = TrimmedMeanSpec(include=include)
    elif cfg.aggregation == "multi_krum":
        aggregation = MultiKrumSpec(include=include)
    else:
        aggregation = FedAvgSpec(include=include)
    seeds = SeedsSpec(init=cfg.init_seed, train=cfg.train_seed)
    # Both presets train with the balanced cross-entropy: under their Dirichlet label skew an update
    # trained with the plain loss forgets the classes its proposer lacks, so voters holding those classes
    # rejected honest proposals (Fashion-MNIST, clean run: 8.9% with the plain loss and looser limits than
    # the defaults; 1.1% with this loss and the default limits; docs/results.md).
    if cfg.preset == "digits-mlp":
        return TrainingLogicSpec(
            dataset=DatasetSpec(source="participant", feature_shape=(64,), num_classes=10),
            model=MLPSpec(hidden=(64,)),
            training=TrainingSpec(
                epochs=cfg.epochs or 3,
                batch_size=16,
                loss=cfg.loss or "balanced_cross_entropy",
                optimizer=OptimizerSpec(learning_rate=cfg.learning_rate or 0.1),
            ),
            aggregation=aggregation,
            seeds=seeds,
        )
    return TrainingLogicSpec(
        dataset=DatasetSpec(source="participant", feature_shape=(784,), num_classes=10),
        model=McMahan2NNSpec(),
        training=TrainingSpec(
            epochs=cfg.epochs or 1,
            batch_size=32,
            loss=cfg.loss or "balanced_cross_entropy",
            optimizer=OptimizerSpec(learning_rate=cfg.learning_rate or 0.05),
        ),
        aggregation=aggregation,
        seeds=seeds,
    )


def lora_preset_spec(cfg: SimConfig, base_model_sha256: str, base_model_path: Path) -> TrainingLogicSpec:
    """The llm-lora preset: LoRA rank 8 on every projection of the generated base model, ``lora_steps``
    AdamW steps of 16 sequences per round (docs/llm-lora.md has the figures it was measured with)."""
    import json

    from flalliance.fl.spec import parse_spec

    modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    doc = {
        "runtime": {"plugin": "lora_causal_lm"},
        "metric": {"name": "cross_entropy", "direction": "minimize"},
        "aggregation": {"rule": "fedavg", "include": cfg.include},
        # 0.05 nats (about 1% of the loss): one skill-skewed honest adapter often moves a voter's own loss by
        # a few hundredths; below this a vote is 0, not a dissent that slashes an honest voter
        # and a proposal must win back a quarter of what the voter's own update wins (round 0 against the
        # untrained pioneer: a poisoned adapter still beats it; docs/llm-lora.md)
        "validation": {"vote_margin": 0.05, "min_reference_gain": 0.25},
        "seeds": {"init": cfg.init_seed, "train": cfg.train_seed},
        "config": {
            "base_model": {"sha256": base_model_sha256, "path": str(base_model_path)},
            "lora": {"rank": 8, "alpha": 16, "target_modules": modules},
            "sequence_length": 32,
            "training": {
                "steps": cfg.lora_steps,
                "batch_size": 16,
                "optimizer": {"kind": "adamw", "learning_rate": cfg.learning_rate or 0.003},
            },
        },
    }
    return parse_spec(json.dumps(doc))


def dataset_name(cfg: SimConfig) -> Literal["digits", "fashion_mnist"]:
    return "digits" if cfg.preset == "digits-mlp" else "fashion_mnist"


def parse_behaviours(items: list[str], participants: int) -> dict[int, Behaviour]:
    """``INDEX=ATTACK`` items (``3=label_flip``), or ``ATTACK:COUNT`` for the last COUNT participants."""
    out: dict[int, Behaviour] = {}
    allowed = set(ATTACK_BEHAVIOURS) | {"honest"}
    for item in items:
        if "=" in item:
            index, name = item.split("=", 1)
            if not index.strip().isdigit():
                raise ValueError(f"--malicious {item!r}: expected INDEX=ATTACK")
            indices = [int(index)]
        elif ":" in item:
            name, count = item.split(":", 1)
            if not count.strip().isdigit():
                raise ValueError(f"--malicious {item!r}: expected ATTACK:COUNT")
            indices = list(range(participants - int(count), participants))
        else:
            raise ValueError(f"--malicious {item!r}: expected INDEX=ATTACK or ATTACK:COUNT")
        if name not in allowed:
            raise ValueError(f"--malicious {item!r}: unknown behaviour {name!r} (one of {sorted(allowed)})")
        for i in indices:
            if not 0 <= i < participants:
                raise ValueError(f"--malicious {item!r}: index {i} is outside 0..{participants - 1}")
            out[i] = name  # type: ignore[assignment]
    return out
