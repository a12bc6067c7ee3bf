"""Chain errors, and the decoding of revert data into them.

A revert carries ABI-encoded bytes: a 4-byte selector and the arguments. Three shapes exist: a Solidity
custom error (``error NotProposer(uint256 round, address account)``), ``Error(string)`` from
``require``/``revert("...")`` and ``Panic(uint256)`` from failed asserts, overflow, division by zero...
The operator needs the custom error's *name and arguments* to decide what to do, so they are decoded here
into a :class:`ContractRevert` instead of surfacing as an opaque hex string.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import abi_to_signature, function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from flalliance.chain.artifacts import all_error_abis

ERROR_STRING_SELECTOR = "0x08c379a0"  # Error(string)
PANIC_SELECTOR = "0x4e487b71"  # Panic(uint256)

# https://docs.soliditylang.org/en/latest/control-structures.html#panic-via-assert-and-error-via-require
PANIC_CODES: Mapping[int, str] = {
    0x00: "generic compiler panic",
    0x01: "assert failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "corrupt storage byte array",
    0x31: "pop() on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to a zero-initialized function variable",
}


class ChainError(Exception):
    """Anything that went wrong talking to the chain: RPC failure, timeout, wrong chain, bad receipt."""


class TransactionFailed(ChainError):
    """A transaction failed (mined with status 0, or stuck) and no revert reason could be decoded."""

    def __init__(self, message: str, *, tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


class ContractRevert(ChainError):
    """A revert decoded into the error's name and named arguments.

    ``args`` maps argument names to Python values (addresses checksummed, ``bytesN`` as ``bytes``,
    structs as dicts). ``str(e)`` reads like the Solidity call, e.g. ``NotProposer(round=3, account=0x..)``.
    ``Error(string)`` decodes to name ``"Error"`` with ``args == {"reason": ...}``; ``Panic(uint256)`` to
    name ``"Panic"`` with ``args == {"code": ...}``. ``tx_hash`` is set when the revert happened in a mined
    transaction (None when caught by gas estimation or eth_call).
    """

    def __init__(
        self,
        name: str,
        args: Mapping[str, Any],
        selector: str,
        tx_hash: str | None = None,
        *,
        data: str = "",
    ) -> None:
        self.name = name
        self._arguments = dict(args)
        self.selector = selector
        self.tx_hash = tx_hash
        self.data = data
        super().__init__(self._render())

    # BaseException.args is a tuple; the binding interface wants the error's arguments here, by name.
    @property
    def args(self) -> dict[str, Any]:  # type: ignore[override]
        return self._arguments

    def with_tx_hash(self, tx_hash: str) -> ContractRevert:
        """The same revert, attributed to a mined transaction."""
        return ContractRevert(self.name, self._arguments, self.selector, tx_hash, data=self.data)

    def _render(self) -> str:
        inner = ", ".join(f"{key}={_render_value(value)}" for key, value in self._arguments.items())
        text = f"{self.name}({inner})"
        if self.name == "Panic" and isinstance(self._arguments.get("code"), int):
            text += f" [{PANIC_CODES.get(self._arguments['code'], 'unknown panic code')}]"
        return text

    def __str__(self) -> str:
        return self._render()

    def __repr__(self) -> str:
        return f"ContractRevert({self._render()}, selector={self.selector}, tx_hash={self.tx_hash})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_revert, (self.name, self._arguments, self.selector, self.tx_hash, self.data))


def _rebuild_revert(
    name: str, args: dict[str, Any], selector: str, tx_hash: str | None, data: str
) -> ContractRevert:
    return ContractRevert(name, args, selector, tx_hash, data=data)


def _render_value(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str):
        return value if value.startswith("0x") else repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_render_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_render_value(v) for v in value) + "]"
    return str(value)


def _abi_type(param: Mapping[str, Any]) -> str:
    """The canonical type string of an ABI parameter, expanding structs to tuples."""
    type_: str = param["type"]
    if type_.startswith("tuple"):
        inner = ",".join(_abi_type(component) for component in param.get("components", []))
        return f"({inner}){type_[len('tuple') :]}"
    return type_


def _named(param: Mapping[str, Any], value: Any) -> Any:
    """Give decoded values readable shapes: checksummed addresses, structs as dicts, arrays as lists."""
    type_: str = param["type"]
    if type_.endswith("]"):
        element = dict(param, type=type_[: type_.rindex("[")])
        return [_named(element, item) for item in value]
    if type_ == "tuple":
        components: Sequence[Mapping[str, Any]] = param.get("components", [])
        return {
            (c.get("name") or f"field{i}"): _named(c, v)
            for i, (c, v) in enumerate(zip(components, value, strict=True))
        }
    if type_ == "address":
        return to_checksum_address(value)
    return value


@functools.cache
def _selector_table() -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for entry in all_error_abis():
        selector = "0x" + function_signature_to_4byte_selector(abi_to_signature(entry)).hex()  # type: ignore[arg-type]
        table.setdefault(selector, entry)
    return table


def _decode_with(abi: Mapping[str, Any], selector: str, payload: bytes, data: str) -> ContractRevert | None:
    inputs: Sequence[Mapping[str, Any]] = abi.get("inputs", [])
    try:
        values = abi_decode([_abi_type(p) for p in inputs], payload)
    except (DecodingError, ValueError, OverflowError):
        return None
    args = {
        (p.get("name") or f"arg{i}"): _named(p, v)
        for i, (p, v) in enumerate(zip(inputs, values, strict=True))
    }
    return ContractRevert(abi["name"], args, selector, data=data)


_BUILTIN_ERRORS: Mapping[str, Mapping[str, Any]] = {
    ERROR_STRING_SELECTOR: {
        "type": "error",
        "name": "Error",
        "inputs": [{"name": "reason", "type": "string"}],
    },
    PANIC_SELECTOR: {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
}


def _to_bytes(data: bytes | str) -> bytes | None:
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    text = data.strip()
    if text.startswith("Reverted "):  # some nodes prefix revert data this way
        text = text[len("Reverted ") :]
    if text.startswith(("0x", "0X")):
        text = text[2:]
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def decode_revert(data: bytes | str) -> ContractRevert | None:
    """Decode revert data (bytes or 0x-hex) into a :class:`ContractRevert`; None when it is not decodable.

    Not decodable: empty data (``revert()``, out of gas), a selector no packaged artifact declares, or
    arguments that do not match the declared types.
    """
    raw = _to_bytes(data)
    if raw is None or len(raw) < 4:
        return None
    selector = "0x" + raw[:4].hex()
    hex_data = "0x" + raw.hex()
    abi = _BUILTIN_ERRORS.get(selector) or _selector_table().get(selector)
    if abi is None:
        return None
    return _decode_with(abi, selector, raw[4:], hex_data)
