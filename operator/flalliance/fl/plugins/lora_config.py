"""The LoRA plugin's settings (``config`` of a spec whose ``runtime.plugin`` is ``lora_causal_lm``).

Plain pydantic, no torch or transformers: the operator validates a task's settings with it (clear errors
naming the field at apply time) without the worker's libraries.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

LORA_PLUGIN = "lora_causal_lm"
HEX64 = r"^[0-9a-f]{64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class BaseModelRef(_Strict):
    """The frozen base model: a Hugging Face model directory (config.json, model.safetensors, tokenizer.json)
    pinned by ``sha256``, the hash of its file manifest (``flalliance llm base-model`` prints it). The worker
    reads it from ``path`` when that directory exists (absolute, or relative to the participant's dataset
    directory: a PVC), otherwise from the artifact store by that hash; either way it checks every file."""

    sha256: str = Field(pattern=HEX64)
    path: str | None = Field(default=None, min_length=1, max_length=1024)
    max_bytes: int = Field(default=2 * 1024**3, ge=1024, le=64 * 1024**3)


class LoraSettings(_Strict):
    rank: int = Field(default=8, ge=1, le=1024)
    alpha: int = Field(default=16, ge=1, le=4096)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    target_modules: tuple[str, ...] = Field(default=("q_proj", "v_proj"), min_length=1, max_length=64)


class TextLayout(_Strict):
    """Each participant's ``*.jsonl`` files: one JSON object per line, either a prompt and a response
    (the loss is taken on the response's tokens only) or a plain text (the loss on every token)."""

    format: Literal["jsonl"] = "jsonl"
    prompt_field: str = "prompt"
    response_field: str = "response"
    text_field: str = "text"
    max_line_bytes: int = Field(default=1024 * 1024, ge=64)


class LoraOptimizer(_Strict):
    kind: Literal["adamw", "adam", "sgd"] = "adamw"
    learning_rate: float = Field(default=1e-3, gt=0, le=10)
    weight_decay: float = Field(default=0.0, ge=0)


class LoraTraining(_Strict):
    """Local training per round: ``steps`` optimizer steps, or ``epochs`` passes over the train split."""

    steps: int | None = Field(default=None, ge=1, le=1_000_000)
    epochs: int | None = Field(default=None, ge=1, le=1000)
    batch_size: int = Field(default=8, ge=1, le=65_536)
    optimizer: LoraOptimizer = LoraOptimizer()
    max_grad_norm: float | None = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _one_budget(self) -> LoraTraining:
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("set exactly one of steps and epochs")
        return self


class LoraTaskConfig(_Strict):
    base_model: BaseModelRef
    lora: LoraSettings = LoraSettings()
    data: TextLayout = TextLayout()
    sequence_length: int = Field(default=128, ge=8, le=32_768)
    training: LoraTraining
    # "auto": CUDA when the pod has a device, else CPU. Training need not be bit-identical across devices;
    # aggregation and hashing (numpy on the CPU, in the protocol's code) are.
    device: Literal["auto", "cpu", "cuda"] = "auto"


def parse_settings(config: Any, metric_name: str) -> LoraTaskConfig:
    """The task's ``config`` as LoRA settings, and its metric checked; ``ValueError`` naming the fields
    (``config.lora.rank: ...``). The spec calls it at parse time (in the operator too), the plugin again."""
    try:
        settings = LoraTaskConfig.model_validate_json(json.dumps(config, sort_keys=True))
    except ValidationError as exc:
        problems = "; ".join(f"config.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ValueError(problems) from None
    if metric_name != "cross_entropy":
        raise ValueError(f"metric.name: the {LORA_PLUGIN} plugin scores by evaluation loss (cross_entropy)")
    return settings
