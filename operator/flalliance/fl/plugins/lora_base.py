"""Base-model directories for the LoRA plugin: pinning them by hash, and writing a small one offline.

A base model is a Hugging Face model directory. It is pinned by the sha256 of its *manifest*: the canonical
JSON list of ``[name, size, sha256]`` of its regular files, sorted by name. The same hash names the
manifest object in the artifact store, and each file is stored under its own sha256, so a worker that has
no copy on a PVC fetches the manifest and then each file, checking every hash and size.

There is no model hub on these machines (nor in an air-gapped cluster): :func:`write_base_model` builds a
small Llama-style causal LM from a config with a fixed seed and a byte-level BPE tokenizer trained on the
project's own generated text, so the whole task is reproducible from the repository alone.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from flalliance.fl.plugin import Fetch, PluginError

MANIFEST_VERSION = 1
# Files a base-model directory may hold: weights as safetensors only (never a pickle), JSON configs.
ALLOWED_SUFFIXES = (".json", ".safetensors", ".txt", ".model")
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest(directory: Path) -> list[list[str | int]]:
    """``[[name, size, sha256], ...]`` of the directory's files, sorted; refuses anything but plain files
    with a safe suffix (no subdirectories, links or pickled weights)."""
    if not directory.is_dir():
        raise PluginError(f"config.base_model.path: {directory} is not a directory")
    entries: list[list[str | int]] = []
    for path in sorted(directory.iterdir()):
        if path.is_symlink() or not path.is_file():
            raise PluginError(
                f"config.base_model: {path} is not a plain file (links and folders are refused)"
            )
        if not path.name.endswith(ALLOWED_SUFFIXES):
            raise PluginError(f"config.base_model: {path.name} is not one of {', '.join(ALLOWED_SUFFIXES)}")
        entries.append([path.name, path.stat().st_size, _sha256_file(path)])
    if not any(e[0] == "config.json" for e in entries):
        raise PluginError(f"config.base_model: {directory} has no config.json")
    return entries


def manifest_bytes(entries: Iterable[list[str | int]]) -> bytes:
    doc = {"version": MANIFEST_VERSION, "files": list(entries)}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def manifest_hash(directory: Path) -> str:
    """The hash that pins a base-model directory (``config.base_model.sha256``)."""
    return hashlib.sha256(manifest_bytes(manifest(directory))).hexdigest()


def verify_directory(directory: Path, expected: str) -> None:
    actual = manifest_hash(directory)
    if actual != expected:
        raise PluginError(
            f"config.base_model.sha256: the training logic pins {expected}, {directory} hashes to {actual}"
        )


def put_directory(directory: Path, put: Callable[[bytes], bytes]) -> str:
    """Store every file and the manifest (content-addressed); returns the manifest hash."""
    entries = manifest(directory)
    for name, _, digest in entries:
        stored = put((directory / str(name)).read_bytes())
        if stored.hex() != digest:
            raise PluginError(f"{directory / str(name)} changed while it was stored")
    return put(manifest_bytes(entries)).hex()


def fetch_directory(expected: str, fetch: Fetch, into: Path, max_bytes: int) -> Path:
    """Materialise the pinned directory under ``into/<hash>`` from the store (once; checked again after)."""
    target = into / expected
    if target.is_dir():
        verify_directory(target, expected)
        return target
    raw = fetch(bytes.fromhex(expected), 1024 * 1024)
    if hashlib.sha256(raw).hexdigest() != expected:
        raise PluginError(
            f"config.base_model.sha256: the store's manifest {expected} does not match its hash"
        )
    try:
        doc = json.loads(raw)
        files = [(str(n), int(s), str(d)) for n, s, d in doc["files"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise PluginError(f"config.base_model: manifest {expected} is malformed: {exc}") from None
    if sum(size for _, size, _ in files) > max_bytes:
        raise PluginError(f"config.base_model.max_bytes: the base model is larger than {max_bytes} bytes")
    partial = into / f".{expected}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name, size, digest in files:
        if "/" in name or name.startswith(".") or not name.endswith(ALLOWED_SUFFIXES):
            raise PluginError(f"config.base_model: manifest {expected} names an unsafe file {name!r}")
        data = fetch(bytes.fromhex(digest), size)
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise PluginError(f"config.base_model: file {name} from the store does not match the manifest")
        (partial / name).write_bytes(data)
    partial.rename(target)
    verify_directory(target, expected)
    return target


def write_base_model(
    out: Path,
    corpus: Iterable[str],
    *,
    seed: int = 0,
    vocab_size: int = 1024,
    hidden_size: int = 192,
    layers: int = 4,
    heads: int = 4,
    intermediate_size: int = 512,
    max_positions: int = 512,
) -> str:
    """Write a Llama-style causal LM initialised from a config with ``seed``, and a byte-level BPE tokenizer
    trained on ``corpus``, into ``out``; returns its manifest hash. Nothing is downloaded."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(corpus), trainer=trainer)
    tokenizer.save(str(out / "tokenizer.json"))
    pad, bos, eos = (tokenizer.token_to_id(t) for t in SPECIAL_TOKENS)
    config = LlamaConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=max_positions,
        pad_token_id=pad,
        bos_token_id=bos,
        eos_token_id=eos,
        tie_word_embeddings=False,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.save_pretrained(out, safe_serialization=True)
    for extra in out.iterdir():  # keep only what the manifest allows (e.g. no generation defaults needed)
        if not extra.name.endswith(ALLOWED_SUFFIXES):
            extra.unlink()
    return manifest_hash(out)
