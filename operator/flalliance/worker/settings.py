"""Worker configuration from flags and FLALLIANCE_* environment variables (the Job sets the latter)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Behaviour = Literal[
    "honest", "label_flip", "gaussian", "scaled", "sign_flip", "free_rider", "random", "alie", "ipm"
]


class WorkerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rpc_url: str = Field(min_length=1)
    chain_id: int | None = None
    # As the FLTask's spec.chain sets them: blocks on top of a receipt, and the wait for one.
    confirmations: int = Field(default=0, ge=0)
    receipt_timeout: float = Field(default=120.0, gt=0)
    task: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    key_file: Path
    data_dir: Path | None = None
    store_url: str | None = None
    # How long one run rides out an unreachable store (retrying with back-off) before it fails and
    # leaves the rest to the Job's retries: long enough for a store restart, short of a phase.
    store_retry_seconds: float = Field(default=180.0, ge=0)
    # The task's training logic as published by the operator (a mounted ConfigMap), for when the store
    # does not hold it yet; verified against the on-chain hash before use.
    training_logic_file: Path | None = None
    result_file: Path | None = None
    # The image this pod runs, as the operator rendered it into the pod spec (a pinned training logic
    # names the image by digest; the operator renders exactly that reference, so the runtime pulls and
    # verifies that digest, and the worker refuses when the two differ).
    worker_image: str | None = None
    # Where a plugin may materialise what it fetches (a base model from the store): the pod's emptyDir.
    work_dir: Path = Path("/tmp/flalliance")  # noqa: S108 - a private emptyDir in the pod
    behaviour: Behaviour = "honest"


_ENV = {
    "rpc_url": "FLALLIANCE_RPC_URL",
    "chain_id": "FLALLIANCE_CHAIN_ID",
    "confirmations": "FLALLIANCE_CONFIRMATIONS",
    "receipt_timeout": "FLALLIANCE_RECEIPT_TIMEOUT",
    "task": "FLALLIANCE_TASK",
    "key_file": "FLALLIANCE_KEY_FILE",
    "data_dir": "FLALLIANCE_DATA_DIR",
    "store_url": "FLALLIANCE_STORE_URL",
    "store_retry_seconds": "FLALLIANCE_STORE_RETRY_SECONDS",
    "training_logic_file": "FLALLIANCE_TRAINING_LOGIC_FILE",
    "result_file": "FLALLIANCE_RESULT_FILE",
    "worker_image": "FLALLIANCE_WORKER_IMAGE",
    "work_dir": "FLALLIANCE_WORK_DIR",
    "behaviour": "FLALLIANCE_BEHAVIOUR",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name, env in _ENV.items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, help=f"(env {env})")


def from_args(args: argparse.Namespace) -> WorkerSettings:
    """Flags win over environment variables; a missing required setting names both spellings."""
    values: dict[str, object] = {}
    for name, env in _ENV.items():
        value = getattr(args, name, None) or os.environ.get(env)
        if value not in (None, ""):
            values[name] = value
    missing = [
        f"--{n.replace('_', '-')} / {_ENV[n]}" for n in ("rpc_url", "task", "key_file") if n not in values
    ]
    if missing:
        raise ValueError(f"missing worker settings: {', '.join(missing)}")
    if "chain_id" in values:
        values["chain_id"] = int(str(values["chain_id"]))
    return WorkerSettings.model_validate(values)
