"""Shared building blocks of the API models: camelCase field names, strict parsing, common value types."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """Base of every API object: camelCase on the wire, unknown fields refused (the CRD prunes them too)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_default=True,
    )

    def to_k8s(self) -> dict[str, Any]:
        """The object as the Kubernetes API stores it: aliases, no unset optional fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
HASH_PATTERN = r"^0x[0-9a-f]{64}$"
# Token amounts in whole $FML with up to 18 decimals, written as strings so no precision is lost in YAML.
FML_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,18})?$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def _checksummed(address: str) -> str:
    """Refuse a mixed-case address whose EIP-55 checksum is wrong: it is a typo, not another address.

    All-lower and all-upper case carry no checksum and are accepted as written (many tools print them).
    """
    digits = address[2:]
    if digits != digits.lower() and digits != digits.upper():
        from eth_utils.address import to_checksum_address

        expected = to_checksum_address(address)
        if address != expected:
            raise ValueError(
                f"{address} fails its EIP-55 checksum (mixed case must match {expected}); a mistyped "
                "address would be another account or contract"
            )
    return address


Address = Annotated[
    str,
    Field(pattern=ADDRESS_PATTERN, description="An Ethereum address, 0x + 40 hex (EIP-55 if mixed case)"),
    AfterValidator(_checksummed),
]
Hash32 = Annotated[str, Field(pattern=HASH_PATTERN, description="A 32-byte hash, 0x + 64 lower-case hex")]
FmlAmount = Annotated[
    str,
    Field(
        pattern=FML_PATTERN, description='An amount of $FML (18 decimals) as a decimal string, e.g. "10.5"'
    ),
]
ObjectName = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")]
# Kubernetes quantities (`500m`, `2Gi`, `1`): integers or strings, like core/v1 resources.
Quantity = Annotated[
    int | str,
    WithJsonSchema({"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}),
]

WEI_PER_FML = 10**18
_FML_RE = re.compile(FML_PATTERN)


def fml_to_wei(amount: str) -> int:
    """Convert a decimal $FML string (the API's form) to base units; exact, never through float."""
    if not _FML_RE.match(amount):
        raise ValueError(f"not an $FML amount: {amount!r} (expected a decimal string like '10.5')")
    try:
        value = Decimal(amount) * WEI_PER_FML
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes this
        raise ValueError(f"not an $FML amount: {amount!r}") from exc
    return int(value)


def wei_to_fml(wei: int) -> str:
    """Render base units as a decimal $FML string without trailing zeros (the inverse of fml_to_wei)."""
    sign = "-" if wei < 0 else ""
    whole, frac = divmod(abs(wei), WEI_PER_FML)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:018d}".rstrip("0")


class SecretKeyRef(ApiModel):
    """A key of a Secret in the resource's own namespace."""

    name: ObjectName = Field(description="Name of the Secret")
    key: str = Field(default="privateKey", min_length=1, description="Key inside the Secret")


def field_errors(exc: Any, prefix: str = "spec") -> str:
    """A pydantic ValidationError as one line naming each field as kubectl does (`spec.chain.rpcUrl: ...`)."""
    parts = []
    for err in exc.errors():
        path = ".".join([prefix, *(str(p) for p in err["loc"])])
        parts.append(f"{path}: {err['msg']}")
    return "; ".join(parts)
