"""What a simulation trains on: the training logic and one data directory per participant.

Three sources, so a user can try their own task before deploying it:

- a preset (``digits-mlp``, ``fmnist-2nn``: a built-in dataset partitioned with Dirichlet label skew;
  ``llm-lora``: a generated base model and generated instruction data with Dirichlet skill mixes);
- the user's own participant directories (``--data-dir`` once per participant, as each participant's
  volume would hold them), with an optional ``--test-dir`` for the global figure;
- the user's own dataset file (``--dataset-file``: ``.npz``/``.csv`` for the classifier, ``.jsonl`` for
  the LoRA plugin), split here into participants (IID, or Dirichlet label skew for labelled data).

With ``--training-logic FILE`` (JSON or YAML) the task runs that spec instead of the preset's. Every input
is loaded through the spec's plugin first, so a bad file or field fails here, before any chain is started,
with the error naming it.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flalliance.fl.dataset import DataError, Dataset
from flalliance.fl.plugin import Samples
from flalliance.fl.spec import CsvLayout, NpzLayout, SpecError, TrainingLogicSpec, parse_spec
from flalliance.sim.config import SimConfig, build_spec, lora_preset_spec


@dataclass(frozen=True)
class SimInputs:
    spec: TrainingLogicSpec
    dirs: list[Path]
    test: Samples | None  # the global held-out set, when there is one
    info: dict[str, Any]


def read_training_logic(path: Path) -> TrainingLogicSpec:
    """A spec file: JSON, or YAML (as in an FLTask's ``trainingLogic.inline``)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(f"--training-logic {path}: {exc.strerror or exc}") from None
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            text = json.dumps(yaml.safe_load(text))
        except yaml.YAMLError as exc:
            raise SpecError(f"--training-logic {path}: not YAML: {exc}") from None
    return parse_spec(text)


def _write_dataset(directory: Path, data: Dataset, spec: TrainingLogicSpec) -> None:
    """One participant's files in the layout the spec declares (so the spec's loader reads them back)."""
    directory.mkdir(parents=True, exist_ok=True)
    dataset = spec.classifier()[0]
    layout = dataset.layout
    # the raw values the user's file held: the loader applies feature_scale again on reading
    flat = (data.x.reshape(len(data), -1) / np.float32(dataset.feature_scale)).astype(np.float32)
    if isinstance(layout, NpzLayout):
        with (directory / "data.npz").open("wb") as fh:
            arrays: dict[str, np.ndarray] = {layout.features_key: flat, layout.labels_key: data.y}
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        return
    assert isinstance(layout, CsvLayout)
    with (directory / "data.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, delimiter=layout.delimiter)
        writer.writerow([*(f"f{i}" for i in range(flat.shape[1])), layout.label_column])
        for row, label in zip(flat.tolist(), data.y.tolist(), strict=True):
            writer.writerow([*(repr(v) for v in row), label])


def _split_file(cfg: SimConfig, spec: TrainingLogicSpec, out: Path) -> tuple[list[Path], dict[str, Any]]:
    from flalliance.fl.partition import dirichlet, holdout, iid

    path = cfg.dataset_file
    assert path is not None
    if not path.is_file():
        raise DataError(f"--dataset-file {path}: no such file")
    staging = out / "dataset-file"
    staging.mkdir(parents=True, exist_ok=True)
    (staging / path.name).write_bytes(path.read_bytes())
    data_root = out / "data"
    if spec.runtime.plugin != "classifier":
        from flalliance.fl.plugins.lora_text import read_jsonl_dir, write_jsonl

        if path.suffix != ".jsonl":
            raise DataError(f"--dataset-file {path}: plugin {spec.runtime.plugin} reads .jsonl files")
        examples = read_jsonl_dir(staging, _text_layout(spec))
        order = np.random.default_rng(cfg.partition_seed).permutation(len(examples))
        n_test = max(1, round(cfg.holdout * len(examples)))
        write_jsonl(data_root / "global-test" / "data.jsonl", [examples[i] for i in sorted(order[:n_test])])
        parts = np.array_split(order[n_test:], cfg.participants)
        dirs = []
        for i, part in enumerate(parts):
            write_jsonl(data_root / f"client-{i:03d}" / "data.jsonl", [examples[j] for j in sorted(part)])
            dirs.append(data_root / f"client-{i:03d}")
        return dirs, {"scheme": "iid", "sizes": [len(p) for p in parts], "held_out": n_test}
    from flalliance.fl.data_files import load_directory

    pool = load_directory(staging, spec.classifier()[0])
    rest, held = holdout(pool.y, cfg.holdout, cfg.partition_seed)
    train, test = pool.subset(rest), pool.subset(held)
    if cfg.partition == "iid":
        parts, attempts = iid(train.y, cfg.participants, cfg.partition_seed), 1
    else:
        parts, attempts = dirichlet(train.y, cfg.participants, cfg.alpha, cfg.partition_seed)
    dirs = []
    for i, idx in enumerate(parts):
        dirs.append(data_root / f"client-{i:03d}")
        _write_dataset(dirs[-1], train.subset(idx), spec)
    _write_dataset(data_root / "global-test", test, spec)
    info = {
        "scheme": cfg.partition,
        "alpha": cfg.alpha,
        "sizes": [len(p) for p in parts],
        "attempts": attempts,
    }
    return dirs, {**info, "held_out": len(test)}


def _text_layout(spec: TrainingLogicSpec) -> Any:
    from flalliance.fl.plugins.lora import task_config

    return task_config(spec).data


def _lora_preset(cfg: SimConfig, out: Path) -> tuple[TrainingLogicSpec, list[Path], dict[str, Any]]:
    from flalliance.fl.plugins.lora_base import manifest_hash, write_base_model
    from flalliance.fl.plugins.lora_text import corpus, write_partitions

    base = out / "base-model"
    digest = manifest_hash(base) if (base / "config.json").is_file() else write_base_model(base, corpus())
    mixes = write_partitions(
        out / "data", cfg.participants, cfg.text_per_participant, alpha=cfg.alpha, seed=cfg.partition_seed
    )
    spec = lora_preset_spec(cfg, digest, base.resolve())
    dirs = [out / "data" / f"client-{i}" for i in range(cfg.participants)]
    return spec, dirs, {"dataset": "generated-instructions", "skill_mix": mixes, "base_model": digest}


def prepare_inputs(cfg: SimConfig, out: Path) -> SimInputs:
    """The spec, the participants' directories and the global test set for ``cfg``."""
    from flalliance.fl import training

    info: dict[str, Any]
    test_dir: Path | None = None
    if cfg.preset == "llm-lora" and cfg.training_logic is None and not cfg.data_dirs and not cfg.dataset_file:
        spec, dirs, info = _lora_preset(cfg, out)
        test_dir = out / "data" / "global-test"
    else:
        spec = read_training_logic(cfg.training_logic) if cfg.training_logic else build_spec(cfg)
        if cfg.data_dirs:
            dirs, test_dir = list(cfg.data_dirs), cfg.test_dir
            info = {"scheme": "participant directories", "directories": [str(d) for d in dirs]}
        elif cfg.dataset_file:
            dirs, info = _split_file(cfg, spec, out)
            test_dir = out / "data" / "global-test"
        else:
            from flalliance.sim.runner import prepare_data

            if spec.runtime.plugin != "classifier":
                raise DataError(
                    f"preset {cfg.preset}: its data are images; plugin {spec.runtime.plugin} needs "
                    "--data-dir or --dataset-file"
                )
            dirs, builtin_test, info = prepare_data(cfg, out)
            return SimInputs(spec, dirs, builtin_test, info)
    # load everything once now: a bad file or field fails before the chain starts, naming it
    for d in dirs:
        training.load_data(spec, d)
    test = training.load_data(spec, test_dir) if test_dir is not None else None
    return SimInputs(spec, dirs, test, info)
