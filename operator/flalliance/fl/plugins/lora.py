"""The LoRA plugin: federated fine-tuning of a causal language model, exchanging only adapter tensors.

The base model (a Hugging Face directory pinned by its manifest hash, :mod:`lora_base`) stays frozen on
every participant; each round a proposer trains LoRA adapters (``peft``) from the global adapters on its
private train split and publishes them as safetensors, so a proposal weighs kilobytes to megabytes where
the model weighs far more. Voters score adapters by evaluation loss (mean token cross-entropy, on the
response tokens of prompt/response examples and on every token of plain texts) on their private splits;
the protocol's checks, robust rules and votes are the same as for any plugin.

Initial adapters follow peft's own initialisation (``lora_A`` Kaiming-uniform with ``a = √5``, so
``U(±1/√fan_in)``; ``lora_B`` zero), drawn from numpy with the task's seed so the pioneer's bytes are the
same on every machine. Training runs on CUDA when the pod has a device (``config.device: auto``).
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from flalliance.fl.dataset import DataError
from flalliance.fl.plugin import Fetch, PluginError, Samples, Score, TrainResult
from flalliance.fl.plugins.lora_base import SPECIAL_TOKENS, fetch_directory, verify_directory
from flalliance.fl.plugins.lora_config import LORA_PLUGIN, LoraTaskConfig, parse_settings
from flalliance.fl.plugins.lora_text import read_jsonl_dir
from flalliance.fl.weights import TensorSpec

if TYPE_CHECKING:
    from flalliance.fl.spec import TrainingLogicSpec
    from flalliance.fl.weights import Architecture, TensorMap, Tensors

log = logging.getLogger(__name__)
IGNORE = -100  # label of a token that carries no loss (prompt, padding), as in transformers


@dataclass(frozen=True)
class TokenDataset:
    """Tokenised examples padded to the sequence length: ``ids``, ``labels`` (IGNORE where no loss) and
    ``mask`` (1 on real tokens), each ``(n, sequence_length)`` int64."""

    ids: npt.NDArray[np.int64]
    labels: npt.NDArray[np.int64]
    mask: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def subset(self, indices: npt.NDArray[np.int64]) -> TokenDataset:
        return TokenDataset(self.ids[indices], self.labels[indices], self.mask[indices])

    @property
    def tokens(self) -> int:
        """Tokens that carry loss."""
        return int((self.labels != IGNORE).sum())


def _tokens(data: Samples) -> TokenDataset:
    if not isinstance(data, TokenDataset):
        raise PluginError(f"the {LORA_PLUGIN} plugin needs tokenised text, got {type(data).__name__}")
    return data


@lru_cache(maxsize=16)
def _parse(config_json: str, metric_name: str) -> LoraTaskConfig:
    try:
        return parse_settings(json.loads(config_json), metric_name)
    except ValueError as exc:
        raise PluginError(f"invalid {LORA_PLUGIN} settings: {exc}") from None


def task_config(spec: TrainingLogicSpec) -> LoraTaskConfig:
    if spec.config is None:
        raise PluginError(f"config: required by the {LORA_PLUGIN} plugin")
    return _parse(json.dumps(spec.config, sort_keys=True), spec.metric.name)


def choose_device(requested: str, cuda_available: bool) -> str:
    """``cuda:0`` when asked for (or ``auto`` and the pod has a device), else ``cpu``; asking for CUDA
    without a device is an error rather than a silent fall back to a hundred times slower training."""
    if requested == "cuda" and not cuda_available:
        raise PluginError("config.device: 'cuda' requested but this pod has no CUDA device")
    return "cuda:0" if requested == "cuda" or (requested == "auto" and cuda_available) else "cpu"


class _Runtime:
    """The loaded base model wrapped with LoRA adapters, and its tokenizer: built once per process and
    base model, then reused (every use first loads the tensors it is given into the adapters)."""

    def __init__(self, directory: Path, cfg: LoraTaskConfig) -> None:
        import torch
        from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
        from safetensors.torch import load_file
        from tokenizers import Tokenizer
        from transformers import AutoConfig, AutoModelForCausalLM

        # transformers 5.23 warns about its own deprecated alias whenever peft wraps a model
        warnings.filterwarnings(
            "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        config = AutoConfig.from_pretrained(str(directory), local_files_only=True, trust_remote_code=False)
        if getattr(config, "auto_map", None):
            raise PluginError("config.base_model: the model asks for remote code (auto_map); refused")
        with torch.random.fork_rng(devices=[]):
            model = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
        weights = sorted(directory.glob("*.safetensors"))
        if not weights:
            raise PluginError(f"config.base_model: {directory} holds no .safetensors weights")
        state: dict[str, Any] = {}
        for path in weights:
            state.update(load_file(str(path)))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or [m for m in missing if "rotary" not in m]:
            raise PluginError(
                f"config.base_model: weights do not fit the config (missing {missing[:3]}, "
                f"unexpected {unexpected[:3]})"
            )
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        special = [self.tokenizer.token_to_id(t) for t in SPECIAL_TOKENS]
        if any(i is None for i in special):
            raise PluginError(f"config.base_model: tokenizer.json lacks one of {', '.join(SPECIAL_TOKENS)}")
        self.pad, self.bos, self.eos = (int(i) for i in special if i is not None)
        self.vocab = int(config.vocab_size)
        lora = LoraConfig(
            r=cfg.lora.rank,
            lora_alpha=cfg.lora.alpha,
            lora_dropout=cfg.lora.dropout,
            target_modules=list(cfg.lora.target_modules),
            bias="none",
        )
        try:
            with torch.random.fork_rng(devices=[]):
                self.model = get_peft_model(model, lora)
        except ValueError as exc:
            raise PluginError(f"config.lora.target_modules: {exc}") from None
        self.device = choose_device(cfg.device, torch.cuda.is_available())
        self.model.to(self.device)
        self._get = get_peft_model_state_dict
        state = self._get(self.model)
        self.names = sorted(state)
        self.architecture = {n: TensorSpec(tuple(state[n].shape), "F32") for n in self.names}

    def adapters(self) -> Tensors:
        return {n: t.detach().float().cpu().numpy().copy() for n, t in self._get(self.model).items()}

    def load(self, tensors: TensorMap) -> None:
        import torch
        from peft import set_peft_model_state_dict

        state = {n: torch.from_numpy(np.array(tensors[n], copy=True)).to(self.device) for n in self.names}
        result: Any = set_peft_model_state_dict(self.model, state)
        unexpected = list(getattr(result, "unexpected_keys", []) or [])
        if unexpected:
            raise PluginError(f"adapter tensors not in the model: {unexpected[:3]}")


_RUNTIMES: dict[tuple[str, str], _Runtime] = {}
_DIRS: dict[str, Path] = {}


def _resolve(cfg: LoraTaskConfig, data_dir: Path | None) -> Path:
    ref = cfg.base_model
    if ref.sha256 in _DIRS:
        return _DIRS[ref.sha256]
    if ref.path is not None:
        path = Path(ref.path)
        if not path.is_absolute() and data_dir is not None:
            path = data_dir / path
        if path.is_dir():
            verify_directory(path, ref.sha256)
            _DIRS[ref.sha256] = path
            return path
    raise PluginError(
        f"config.base_model: {ref.path or 'no path given'} is not a directory here and the model "
        f"{ref.sha256} has not been fetched from the store"
    )


class LoraPlugin:
    name = LORA_PLUGIN
    version = "1"

    def check(self, spec: TrainingLogicSpec) -> None:
        task_config(spec)  # the settings, and the metric (this plugin reports cross_entropy only)

    def prepare(
        self, spec: TrainingLogicSpec, fetch: Fetch | None, data_dir: Path | None, work_dir: Path
    ) -> None:
        """Find the pinned base model: on the PVC (``base_model.path``) or else from the store."""
        cfg = task_config(spec)
        try:
            _resolve(cfg, data_dir)
        except PluginError:
            if fetch is None:
                raise
            _DIRS[cfg.base_model.sha256] = fetch_directory(
                cfg.base_model.sha256, fetch, work_dir, cfg.base_model.max_bytes
            )

    def _runtime(self, spec: TrainingLogicSpec, data_dir: Path | None = None) -> _Runtime:
        cfg = task_config(spec)
        key = (cfg.base_model.sha256, cfg.lora.model_dump_json() + cfg.device)
        if key not in _RUNTIMES:
            _RUNTIMES[key] = _Runtime(_resolve(cfg, data_dir), cfg)
        return _RUNTIMES[key]

    def architecture(self, spec: TrainingLogicSpec) -> Architecture:
        return self._runtime(spec).architecture

    def initial_tensors(self, spec: TrainingLogicSpec, seed: int) -> Tensors:
        rng = np.random.default_rng(seed)
        out: Tensors = {}
        for name, t in sorted(self.architecture(spec).items()):
            if "lora_B" in name:
                out[name] = np.zeros(t.shape, dtype=np.float32)
            else:  # lora_A: (rank, fan_in)
                bound = 1.0 / math.sqrt(t.shape[-1])
                out[name] = rng.uniform(-bound, bound, size=t.shape).astype(np.float32)
        return out

    def load_data(self, spec: TrainingLogicSpec, directory: Path) -> Samples:
        cfg = task_config(spec)
        rt = self._runtime(spec, directory)
        examples = read_jsonl_dir(directory, cfg.data)
        n, length = len(examples), cfg.sequence_length
        ids = np.full((n, length), rt.pad, dtype=np.int64)
        labels = np.full((n, length), IGNORE, dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.int64)
        for i, ex in enumerate(examples):
            prompt = [rt.bos, *rt.tokenizer.encode(ex.prompt).ids]
            answer = [] if ex.response is None else [*rt.tokenizer.encode(ex.response).ids, rt.eos]
            seq = (prompt + answer)[:length]
            ids[i, : len(seq)] = seq
            mask[i, : len(seq)] = 1
            start = 1 if ex.response is None else len(prompt)  # no loss on the prompt
            labels[i, start : len(seq)] = ids[i, start : len(seq)]
        data = TokenDataset(ids, labels, mask)
        if data.tokens == 0:
            raise DataError(f"{directory}: no response tokens fit in sequence_length {length}")
        return data

    def join(self, parts: Sequence[Samples]) -> Samples:
        sets = [_tokens(p) for p in parts]
        return TokenDataset(
            np.concatenate([s.ids for s in sets]),
            np.concatenate([s.labels for s in sets]),
            np.concatenate([s.mask for s in sets]),
        )

    def _losses(self, rt: _Runtime, data: TokenDataset, batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Per example: summed token cross-entropy and number of loss tokens."""
        import torch

        sums, counts = [], []
        rt.model.eval()
        with torch.no_grad():
            for i in range(0, len(data), batch):
                loss_sum, count = self._batch_loss(rt, data, slice(i, i + batch))
                sums.append(loss_sum.double().cpu().numpy())
                counts.append(count.cpu().numpy())
        return np.concatenate(sums), np.concatenate(counts)

    def _batch_loss(self, rt: _Runtime, data: TokenDataset, rows: slice | Any) -> tuple[Any, Any]:
        import torch
        from torch.nn import functional

        ids = torch.from_numpy(data.ids[rows]).to(rt.device)
        mask = torch.from_numpy(data.mask[rows]).to(rt.device)
        labels = torch.from_numpy(data.labels[rows]).to(rt.device)
        logits = rt.model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        target = labels[:, 1:]
        token = functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=IGNORE, reduction="none"
        ).reshape(target.shape)
        return token.sum(dim=1), (target != IGNORE).sum(dim=1)

    def train(self, spec: TrainingLogicSpec, start: TensorMap, data: Samples, *, seed: int) -> TrainResult:
        import torch

        d = _tokens(data)
        cfg = task_config(spec)
        rt = self._runtime(spec)
        rt.load(start)
        params = [p for p in rt.model.parameters() if p.requires_grad]
        o = cfg.training.optimizer
        optimizer: torch.optim.Optimizer
        if o.kind == "sgd":
            optimizer = torch.optim.SGD(params, lr=o.learning_rate, weight_decay=o.weight_decay)
        elif o.kind == "adam":
            optimizer = torch.optim.Adam(params, lr=o.learning_rate, weight_decay=o.weight_decay)
        else:
            optimizer = torch.optim.AdamW(params, lr=o.learning_rate, weight_decay=o.weight_decay)
        n, batch = len(d), min(cfg.training.batch_size, len(d))
        per_epoch = math.ceil(n / batch)
        steps = cfg.training.steps or per_epoch * (cfg.training.epochs or 1)
        order_rng = np.random.default_rng(seed)
        order = order_rng.permutation(n)
        cuda = [torch.device(rt.device).index or 0] if rt.device.startswith("cuda") else []
        last = float("nan")
        rt.model.train()
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)  # LoRA dropout
            for step in range(steps):
                at = (step % per_epoch) * batch
                if at == 0 and step:
                    order = order_rng.permutation(n)
                rows = np.sort(order[at : at + batch])
                loss_sum, count = self._batch_loss(rt, d, rows)
                loss = loss_sum.sum() / count.sum().clamp(min=1)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.training.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, cfg.training.max_grad_norm)
                optimizer.step()
                last = float(loss.detach())
        rt.model.eval()
        return TrainResult(rt.adapters(), n, last, device=rt.device)

    def loss(self, spec: TrainingLogicSpec, tensors: TensorMap, data: Samples) -> float:
        rt = self._runtime(spec)
        rt.load(tensors)
        sums, counts = self._losses(rt, _tokens(data))
        return float(sums.sum() / max(1, counts.sum()))

    def evaluate(self, spec: TrainingLogicSpec, tensors: TensorMap, data: Samples) -> float:
        return self.loss(spec, tensors, data)  # check() allows only the cross_entropy metric

    def score(self, spec: TrainingLogicSpec, tensors: TensorMap, test: Samples, judge: Samples) -> Score:
        t, j = _tokens(test), _tokens(judge)
        rt = self._runtime(spec)
        rt.load(tensors)
        sums, counts = self._losses(rt, j)
        k = len(t)  # the judge set starts with the test split
        return Score(
            float(sums[:k].sum() / max(1, counts[:k].sum())), float(sums.sum() / max(1, counts.sum()))
        )

    def poison(self, spec: TrainingLogicSpec, data: Samples, seed: int) -> Samples:
        """Every loss-carrying target token replaced through a fixed random permutation of the vocabulary:
        a consistent, learnable corruption (the language-model analogue of label flipping)."""
        d = _tokens(data)
        rt = self._runtime(spec)
        perm = np.random.default_rng(seed).permutation(rt.vocab).astype(np.int64)
        labels = np.where(d.labels == IGNORE, IGNORE, perm[np.clip(d.labels, 0, rt.vocab - 1)])
        ids = d.ids.copy()
        ids[:, 1:] = np.where(labels[:, 1:] == IGNORE, d.ids[:, 1:], labels[:, 1:])  # inputs see the poison
        return TokenDataset(ids, labels.astype(np.int64), d.mask)


PLUGIN = LoraPlugin()
