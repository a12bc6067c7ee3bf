"""Every hostile or malformed model file is refused with a typed reason, never loaded, never a crash."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile

import numpy as np
import pytest
import torch

from flalliance.fl.models import architecture
from flalliance.fl.pioneer import initial_tensors
from flalliance.fl.spec import TrainingLogicSpec
from flalliance.fl.weights import MAX_HEADER_BYTES, Reason, WeightsError, content_hash, decode, encode

pytestmark = pytest.mark.unit


@pytest.fixture
def good(digits_spec: TrainingLogicSpec) -> tuple[bytes, TrainingLogicSpec]:
    return encode(initial_tensors(digits_spec)), digits_spec


def _decode(data: bytes, spec: TrainingLogicSpec, **kw: object) -> object:
    return decode(data, architecture(spec), max_bytes=spec.max_model_bytes, **kw)  # type: ignore[arg-type]


def _rewrite_header(data: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    edit(header)
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data[8 + n :]


def _reject(data: bytes, spec: TrainingLogicSpec, reason: Reason, **kw: object) -> None:
    with pytest.raises(WeightsError) as info:
        _decode(data, spec, **kw)
    assert info.value.reason == reason, str(info.value)


def test_roundtrip_and_hash(good: tuple[bytes, TrainingLogicSpec]) -> None:
    data, spec = good
    tensors = _decode(data, spec, expected_hash=content_hash(data))
    assert isinstance(tensors, dict)
    assert set(tensors) == set(architecture(spec))
    assert encode(tensors) == data


def test_encode_is_deterministic_and_order_independent(good: tuple[bytes, TrainingLogicSpec]) -> None:
    data, spec = good
    tensors = initial_tensors(spec)
    assert encode(dict(reversed(list(tensors.items())))) == data
    with pytest.raises(TypeError, match="float32"):
        encode({"w": np.zeros(3, dtype=np.float64)})  # type: ignore[dict-item]


def test_pickle_is_refused(good: tuple[bytes, TrainingLogicSpec]) -> None:
    _, spec = good
    _reject(pickle.dumps(initial_tensors(spec)), spec, Reason.PICKLE)


def test_torch_save_zip_is_refused(good: tuple[bytes, TrainingLogicSpec]) -> None:
    _, spec = good
    buf = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buf)
    assert zipfile.is_zipfile(io.BytesIO(buf.getvalue()))
    _reject(buf.getvalue(), spec, Reason.PICKLE)


def test_other_formats_are_refused(good: tuple[bytes, TrainingLogicSpec]) -> None:
    _, spec = good
    _reject(b"\x93NUMPY" + b"\x00" * 100, spec, Reason.OVERSIZE_HEADER)
    _reject(struct.pack("<Q", 4) + b"abcd", spec, Reason.NOT_SAFETENSORS)
    _reject(struct.pack("<Q", 4) + b"{x:1", spec, Reason.BAD_HEADER)
    _reject(struct.pack("<Q", 2) + b"[]", spec, Reason.NOT_SAFETENSORS)


def test_truncated(good: tuple[bytes, TrainingLogicSpec]) -> None:
    data, spec = good
    _reject(data[:5], spec, Reason.TRUNCATED)
    _reject(data[:40], spec, Reason.TRUNCATED)
    _reject(data[:-4], spec, Reason.BAD_HEADER)  # tensor data shorter than the header says


def test_oversize_header(good: tuple[bytes, TrainingLogicSpec]) -> None:
    _, spec = good
    _reject(struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{}", spec, Reason.OVERSIZE_HEADER)
    _reject(struct.pack("<Q", 2**63) + b"{}", spec, Reason.OVERSIZE_HEADER)


def test_header_lies(good: tuple[bytes, TrainingLogicSpec]) -> None:
    data, spec = good
    name = sorted(architecture(spec))[0]

    def shift(h: dict) -> None:  # type: ignore[type-arg]
        h[name]["data_offsets"] = [h[name]["data_offsets"][0] + 4, h[name]["data_offsets"][1] + 4]

    def overlap(h: dict) -> None:  # type: ignore[type-arg]
        others = [k for k in h if k != name and k != "__metadata__"]
        h[name]["data_offsets"] = h[others[0]]["data_offsets"]
        h[name]["shape"] = h[others[0]]["shape"]

    def beyond(h: dict) -> None:  # type: ignore[type-arg]
        h[name]["data_offsets"] = [0, 10**12]

    def shape_lie(h: dict) -> None:  # type: ignore[type-arg]
        h[name]["shape"] = [s * 2 for s in h[name]["shape"]]

    def extra_key(h: dict) -> None:  # type: ignore[type-arg]
        h[name]["evil"] = 1

    for edit in (shift, overlap, beyond, shape_lie, extra_key):
        _reject(_rewrite_header(data, edit), spec, Reason.BAD_HEADER)


def test_extra_and_missing_tensors(good: tuple[bytes, TrainingLogicSpec]) -> None:
    _, spec = good
    tensors = initial_tensors(spec)
    _reject(encode({**tensors, "backdoor": np.zeros(3, dtype=np.float32)}), spec, Reason.EXTRA_TENSOR)
    missing = dict(tensors)
    missing.pop(sorted(missing)[0])
    _reject(encode(missing), spec, Reason.MISSING_TENSOR)


def test_wrong_shape_and_dtype(good: tuple[bytes, TrainingLogicSpec]) -> None:
    _, spec = good
    from safetensors.numpy import save

    tensors = initial_tensors(spec)
    name = sorted(tensors)[0]
    reshaped = {**tensors, name: np.zeros((*tensors[name].shape, 1), dtype=np.float32)}
    _reject(encode(reshaped), spec, Reason.WRONG_SHAPE)
    as_f64 = {k: v.astype(np.float64) if k == name else v for k, v in tensors.items()}
    _reject(bytes(save(as_f64)), spec, Reason.WRONG_DTYPE)
    as_f16 = {k: v.astype(np.float16) for k, v in tensors.items()}
    _reject(bytes(save(as_f16)), spec, Reason.WRONG_DTYPE)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite(good: tuple[bytes, TrainingLogicSpec], bad: float) -> None:
    _, spec = good
    tensors = initial_tensors(spec)
    name = sorted(tensors)[-1]
    poisoned = tensors[name].copy()
    poisoned.flat[0] = bad
    _reject(encode({**tensors, name: poisoned}), spec, Reason.NON_FINITE)


def test_hash_mismatch(good: tuple[bytes, TrainingLogicSpec]) -> None:
    data, spec = good
    _reject(data, spec, Reason.HASH_MISMATCH, expected_hash=content_hash(data + b"x"))


def test_oversize_file(good: tuple[bytes, TrainingLogicSpec]) -> None:
    data, spec = good
    with pytest.raises(WeightsError) as info:
        decode(data, architecture(spec), max_bytes=len(data) - 1)
    assert info.value.reason == Reason.OVERSIZE_FILE


def test_metadata_is_tolerated_but_ignored(good: tuple[bytes, TrainingLogicSpec]) -> None:
    data, spec = good
    with_meta = _rewrite_header(data, lambda h: h.update(__metadata__={"format": "pt"}))
    assert set(_decode(with_meta, spec)) == set(architecture(spec))  # type: ignore[call-overload]
