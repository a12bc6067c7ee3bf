"""Contract calls encoded from the ABI once: the hot paths' cheap alternative to web3's contract functions.

web3's ``contract.functions.f(args)`` looks the function up in the whole ABI on every use (validating the
ABI and hashing every entry's signature, ~0.2 ms), and again for ``estimate_gas`` and
``build_transaction``. At 200 local participants one reconcile pass reads 400 views and sends dozens of
transactions, so that lookup was a large share of the operator's CPU (bench/operator/run.py). Here each
function's selector and argument and result types are derived once per artifact; a call is then
``selector + eth_abi.encode(...)``, and results are decoded as web3 decodes them (addresses
checksummed, structs as tuples), so the models' ``from_abi`` reads either.

`EncodedCall` has what `ChainClient.call` and `ChainClient.transact` use of a contract function
(``call``, ``estimate_gas``, ``build_transaction``, ``fn_name``), so the two are interchangeable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi.abi import decode, encode
from eth_utils.abi import collapse_if_tuple, function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.types import BlockIdentifier, TxParams

from flalliance.chain.artifacts import load_artifact


@dataclass(frozen=True)
class FunctionCodec:
    """One ABI function: its selector and its argument and result types (canonical strings)."""

    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def encode(self, args: Sequence[Any]) -> bytes:
        if len(args) != len(self.inputs):
            raise TypeError(f"{self.name} takes {len(self.inputs)} arguments, got {len(args)}")
        return self.selector + encode(list(self.inputs), list(args))

    def decode(self, data: bytes) -> Any:
        """The result as web3 returns it: the value for one output, else a tuple of them."""
        words = _static_words(self.outputs)
        fast = _decode_static(self.outputs, data) if words is not None and len(data) >= 32 * words else None
        raw = fast if fast is not None else decode(list(self.outputs), data)
        values = tuple(_checksummed(t, v) for t, v in zip(self.outputs, raw, strict=True))
        return values[0] if len(values) == 1 else values


# Static results (uints, bools, addresses, fixed bytes and tuples of them) are one 32-byte word per value:
# read directly, they decode ~10x faster than through eth_abi's decoder objects, which matters at the
# 400 views of a pass at 200 participants. Anything else, and any word eth_abi would refuse (bad padding,
# out of range), goes through eth_abi, which raises its own error.
@cache
def _static_words(types: tuple[str, ...]) -> int | None:
    """How many words the static result `types` take, or None when any of them is not handled here."""
    total = 0
    for t in types:
        if t.startswith("("):
            inner = _static_words(tuple(_tuple_members(t)))
            if inner is None or t.endswith("]"):
                return None
            total += inner
        elif _elementary(t) is None:
            return None
        else:
            total += 1
    return total


@cache
def _elementary(abi_type: str) -> tuple[str, int] | None:
    """(kind, bits or bytes) of a one-word elementary type, or None."""
    for kind in ("uint", "int", "bytes"):
        if abi_type.startswith(kind) and abi_type[len(kind) :].isdigit():
            size = int(abi_type[len(kind) :])
            return (kind, size) if (kind != "bytes" or 1 <= size <= 32) else None
    if abi_type in ("uint", "int"):
        return (abi_type, 256)
    return (abi_type, 0) if abi_type in ("bool", "address") else None


def _decode_static(types: tuple[str, ...], data: bytes) -> tuple[Any, ...] | None:
    """`types` decoded from consecutive words of `data`; None when a word is not a valid encoding."""
    out: list[Any] = []
    offset = 0
    for t in types:
        if t.startswith("("):
            members = tuple(_tuple_members(t))
            value = _decode_static(members, data[offset:])
            if value is None:
                return None
            out.append(value)
            offset += 32 * (_static_words(members) or 0)
            continue
        word = data[offset : offset + 32]
        offset += 32
        decoded = _word(t, word)
        if decoded is _INVALID:
            return None
        out.append(decoded)
    return tuple(out)


_INVALID = object()


def _word(abi_type: str, word: bytes) -> Any:
    kind, size = _elementary(abi_type) or ("", 0)
    number = int.from_bytes(word, "big")
    if kind == "uint":
        return number if number < 1 << size else _INVALID
    if kind == "int":
        signed = number - (1 << 256) if number >> 255 else number
        return signed if -(1 << (size - 1)) <= signed < 1 << (size - 1) else _INVALID
    if kind == "bool":
        return bool(number) if number in (0, 1) else _INVALID
    if kind == "address":
        return "0x" + word[12:].hex() if number < 1 << 160 else _INVALID
    if kind == "bytes":
        return word[:size] if not any(word[size:]) else _INVALID
    return _INVALID


def _checksummed(abi_type: str, value: Any) -> Any:
    """Addresses (also inside tuples and arrays) checksummed, as web3's default return normalizers do."""
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type.endswith("]"):
        inner = abi_type[: abi_type.rindex("[")]
        return [_checksummed(inner, v) for v in value] if _has_address(inner) else list(value)
    if abi_type.startswith("("):
        if not _has_address(abi_type):
            return value
        return tuple(_checksummed(t, v) for t, v in zip(_tuple_members(abi_type), value, strict=True))
    return value


def _has_address(abi_type: str) -> bool:
    return "address" in abi_type


def _tuple_members(abi_type: str) -> list[str]:
    """The member types of a tuple type ``(a,(b,c)[],d)``, split at its top-level commas."""
    body, members, depth, start = abi_type[1 : abi_type.rindex(")")], [], 0, 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            members.append(body[start:i])
            start = i + 1
    members.append(body[start:])
    return [m for m in members if m]


@cache
def functions_of(artifact_name: str) -> dict[str, FunctionCodec]:
    """Every function of a packaged artifact by name (the contracts overload none of them)."""
    out: dict[str, FunctionCodec] = {}
    for entry in load_artifact(artifact_name).abi:
        if entry.get("type") != "function":
            continue
        inputs = tuple(collapse_if_tuple(dict(i)) for i in entry.get("inputs", []))
        outputs = tuple(collapse_if_tuple(dict(o)) for o in entry.get("outputs", []))
        name = str(entry["name"])
        if name in out:
            raise ValueError(f"{artifact_name}: {name} is overloaded; use the web3 contract for it")
        selector = function_signature_to_4byte_selector(f"{name}({','.join(inputs)})")
        out[name] = FunctionCodec(name, selector, inputs, outputs)
    return out


@dataclass(frozen=True)
class EncodedCall:
    """One call of a contract function with its arguments, encoded once."""

    w3: Web3
    to: str
    function: FunctionCodec
    data: bytes

    @property
    def fn_name(self) -> str:
        return self.function.name

    def _tx(self, params: TxParams | None) -> TxParams:
        tx: TxParams = {**(params or {}), "to": self.to, "data": self.data}
        return tx

    def call(self, params: TxParams | None = None, block_identifier: BlockIdentifier = "latest") -> Any:
        return self.function.decode(bytes(self.w3.eth.call(self._tx(params), block_identifier)))

    def estimate_gas(self, transaction: TxParams | None = None) -> int:
        return int(self.w3.eth.estimate_gas(self._tx(transaction)))

    def build_transaction(self, transaction: TxParams | None = None) -> TxParams:
        return self._tx(transaction)


class EncodedFunctions:
    """``contract.functions`` for one deployed contract, through the codec: ``fns.state()`` etc."""

    def __init__(self, w3: Web3, address: str, artifact_name: str) -> None:
        self._w3 = w3
        self._to = str(to_checksum_address(address))
        self._functions = functions_of(artifact_name)

    def __getattr__(self, name: str) -> Any:
        try:
            function = self._functions[name]
        except KeyError:
            raise AttributeError(name) from None

        def bind(*args: Any) -> EncodedCall:
            return EncodedCall(self._w3, self._to, function, function.encode(args))

        return bind
