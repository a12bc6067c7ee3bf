"""Model exchange: safetensors bytes in and out, and the checks a peer's file must pass before use.

A model file is only ever bytes → sha256 (its name everywhere) → a strict parse of the safetensors header →
architecture, size and finiteness checks → numpy arrays. Nothing here can execute code from a file:
pickle, ``torch.save`` zips and anything else that is not safetensors is refused by its first bytes.

Every refusal is a :class:`WeightsError` with a machine-readable ``reason``; a voter turns it into a
negative verdict with that reason and never crashes on a hostile proposal.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

Tensors = dict[str, npt.NDArray[np.float32]]
TensorMap = Mapping[str, npt.NDArray[np.float32]]  # read-only input form of Tensors

# The header is JSON describing tensors; 1 MiB holds tens of thousands of entries. A larger one is hostile.
MAX_HEADER_BYTES = 1024 * 1024
_DTYPE_SIZES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}


class Reason(StrEnum):
    """Why a model file was refused (logged and put in the verdict)."""

    HASH_MISMATCH = "hash_mismatch"
    OVERSIZE_FILE = "oversize_file"
    PICKLE = "pickle_refused"
    NOT_SAFETENSORS = "not_safetensors"
    TRUNCATED = "truncated"
    OVERSIZE_HEADER = "oversize_header"
    BAD_HEADER = "bad_header"
    MISSING_TENSOR = "missing_tensor"
    EXTRA_TENSOR = "extra_tensor"
    WRONG_SHAPE = "wrong_shape"
    WRONG_DTYPE = "wrong_dtype"
    NON_FINITE = "non_finite"


class WeightsError(ValueError):
    """A model file that must not be used; ``reason`` is a :class:`Reason`, the message says the detail."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    dtype: str = "F32"  # safetensors dtype name


Architecture = Mapping[str, TensorSpec]


def content_hash(data: bytes) -> bytes:
    """sha256 of the exact bytes: a model's name in the store, on-chain and in Job labels."""
    return hashlib.sha256(data).digest()


def encode(tensors: Mapping[str, npt.NDArray[np.float32]]) -> bytes:
    """Deterministic safetensors bytes: float32, C-contiguous, little-endian, no metadata.

    safetensors orders tensors by (dtype, name) and writes a fixed header layout, so equal inputs give equal
    bytes — and equal hashes — in every process and on every machine."""
    arrays: dict[str, npt.NDArray[np.float32]] = {}
    for name, array in tensors.items():
        arr = np.asarray(array)
        if arr.dtype != np.float32:
            raise TypeError(f"tensor {name!r}: encode takes float32 arrays, got {arr.dtype}")
        arrays[name] = np.ascontiguousarray(arr.astype("<f4", copy=False))
    return bytes(_st_save(arrays))


def _refuse_foreign_format(data: bytes) -> None:
    if data[:1] == b"\x80" and len(data) > 1 and data[1] <= 5:
        raise WeightsError(Reason.PICKLE, "file starts like a Python pickle; pickles are never loaded")
    if data[:4] == b"PK\x03\x04":
        raise WeightsError(Reason.PICKLE, "file is a zip archive (torch.save format); only safetensors")


def parse_header(data: bytes) -> dict[str, TensorSpec]:
    """Strictly parse and bound-check the safetensors header without touching tensor data."""
    _refuse_foreign_format(data)
    if len(data) < 8:
        raise WeightsError(Reason.TRUNCATED, f"{len(data)} bytes: shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > MAX_HEADER_BYTES:
        raise WeightsError(Reason.OVERSIZE_HEADER, f"header claims {header_len} bytes > {MAX_HEADER_BYTES}")
    if 8 + header_len > len(data):
        raise WeightsError(Reason.TRUNCATED, f"header claims {header_len} bytes, file has {len(data) - 8}")
    raw = data[8 : 8 + header_len]
    if not raw.lstrip().startswith(b"{"):
        raise WeightsError(Reason.NOT_SAFETENSORS, "header is not a JSON object")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(Reason.BAD_HEADER, f"header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise WeightsError(Reason.BAD_HEADER, "header is not a JSON object")
    header.pop("__metadata__", None)
    body = len(data) - 8 - header_len
    specs: dict[str, TensorSpec] = {}
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise WeightsError(
                Reason.BAD_HEADER, f"tensor {name!r}: entry must have dtype, shape, data_offsets"
            )
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in _DTYPE_SIZES:
            raise WeightsError(Reason.WRONG_DTYPE, f"tensor {name!r}: unknown dtype {dtype!r}")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise WeightsError(Reason.BAD_HEADER, f"tensor {name!r}: shape {shape!r} is not a list of sizes")
        if not (
            isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
        ) or not (0 <= offsets[0] <= offsets[1] <= body):
            raise WeightsError(
                Reason.BAD_HEADER, f"tensor {name!r}: data_offsets {offsets!r} outside the data"
            )
        count = 1
        for d in shape:
            count *= d
        if offsets[1] - offsets[0] != count * _DTYPE_SIZES[dtype]:
            raise WeightsError(
                Reason.BAD_HEADER,
                f"tensor {name!r}: {offsets[1] - offsets[0]} bytes do not hold shape {shape} of {dtype}",
            )
        specs[name] = TensorSpec(tuple(shape), dtype)
        spans.append((offsets[0], offsets[1], name))
    position = 0
    for start, end, name in sorted(spans):
        if start != position:
            raise WeightsError(
                Reason.BAD_HEADER, f"tensor {name!r}: data overlaps or leaves a gap at {start}"
            )
        position = end
    if position != body:
        raise WeightsError(Reason.BAD_HEADER, f"{body - position} trailing bytes after the last tensor")
    return specs


def check_architecture(found: Mapping[str, TensorSpec], expected: Architecture) -> None:
    missing = sorted(set(expected) - set(found))
    if missing:
        raise WeightsError(Reason.MISSING_TENSOR, f"missing tensors {missing}")
    extra = sorted(set(found) - set(expected))
    if extra:
        raise WeightsError(Reason.EXTRA_TENSOR, f"unexpected tensors {extra}")
    for name in sorted(expected):
        if found[name].dtype != expected[name].dtype:
            raise WeightsError(
                Reason.WRONG_DTYPE,
                f"tensor {name!r}: dtype {found[name].dtype}, expected {expected[name].dtype}",
            )
        if found[name].shape != expected[name].shape:
            raise WeightsError(
                Reason.WRONG_SHAPE,
                f"tensor {name!r}: shape {list(found[name].shape)}, expected {list(expected[name].shape)}",
            )


def decode(
    data: bytes,
    architecture: Architecture,
    *,
    max_bytes: int,
    expected_hash: bytes | None = None,
) -> Tensors:
    """Bytes from a peer → checked float32 arrays, or :class:`WeightsError` with the reason.

    Order of checks: size (before hashing anything huge), content hash, format, header, architecture,
    finiteness. Only then are tensors materialised."""
    if len(data) > max_bytes:
        raise WeightsError(Reason.OVERSIZE_FILE, f"{len(data)} bytes > limit {max_bytes}")
    if expected_hash is not None:
        actual = content_hash(data)
        if actual != expected_hash:
            raise WeightsError(
                Reason.HASH_MISMATCH, f"content hashes to {actual.hex()}, expected {expected_hash.hex()}"
            )
    found = parse_header(data)
    check_architecture(found, architecture)
    try:
        loaded = _st_load(data)
    except Exception as exc:  # safetensors raises its own error types; any failure here is a bad file
        raise WeightsError(Reason.BAD_HEADER, f"safetensors refused the file: {exc}") from None
    tensors: Tensors = {}
    for name in sorted(architecture):
        array = np.asarray(loaded[name], dtype=np.float32)
        if not np.isfinite(array).all():
            raise WeightsError(Reason.NON_FINITE, f"tensor {name!r} holds NaN or Inf")
        tensors[name] = array
    return tensors
