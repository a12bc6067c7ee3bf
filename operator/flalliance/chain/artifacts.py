"""Compiled contract artifacts (ABI + bytecode), shipped as package data so the operator needs no compiler.

The JSON files under ``artifacts/`` are written by ``contracts/compile.js`` (``make contracts``) and
committed; a test fails when they are stale against ``contracts/**/*.sol``.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

_PACKAGE = "flalliance.chain"
_DIRECTORY = "artifacts"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ArtifactNotFoundError(LookupError):
    """No packaged artifact of that name: the contract is not in contracts/, or `make contracts` not run."""


class Artifact(BaseModel):
    """One contract as the compiler produced it: enough to deploy it and to encode/decode calls and errors."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    contract_name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    source_sha256: str
    source_path: str = ""
    compiler: str = ""

    @property
    def deployable(self) -> bool:
        """Interfaces and abstract contracts compile to empty bytecode and cannot be deployed."""
        return len(self.bytecode) > 2


# Directories searched after the package's: the test suite adds the artifacts of the contracts only tests
# deploy (contracts/test/**, built into tests/contracts/artifacts), which the package does not ship.
_EXTRA: list[Path] = []


def add_directory(path: Path) -> None:
    """Also look for artifacts in `path` (tests: their own contracts); clears the caches."""
    if path not in _EXTRA:
        _EXTRA.append(path)
        load_artifact.cache_clear()
        _error_abis.cache_clear()


def _directories() -> list[Any]:
    return [resources.files(_PACKAGE).joinpath(_DIRECTORY), *_EXTRA]


def artifact_names() -> list[str]:
    """Names of all known artifacts, sorted (so iteration order, and error-selector ties, are stable)."""
    names = {
        entry.name[:-5]
        for directory in _directories()
        if directory.is_dir()
        for entry in directory.iterdir()
        if entry.name.endswith(".json")
    }
    return sorted(names)


@functools.cache
def load_artifact(name: str) -> Artifact:
    """The artifact of contract ``name`` (e.g. ``"FLTask"``), validated; cached for the process lifetime."""
    if not _NAME.match(name):
        raise ArtifactNotFoundError(f"invalid contract name {name!r}: must be a Solidity identifier")
    entry = next(
        (d.joinpath(f"{name}.json") for d in _directories() if d.joinpath(f"{name}.json").is_file()), None
    )
    if entry is None:
        known = ", ".join(artifact_names()) or "none"
        raise ArtifactNotFoundError(
            f"no artifact for contract {name!r} (packaged: {known}); run `make contracts` after adding it"
        )
    try:
        return Artifact.model_validate(json.loads(entry.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        raise ArtifactNotFoundError(f"artifact {name}.json is malformed: {exc}") from exc


@functools.cache
def _error_abis() -> tuple[dict[str, Any], ...]:
    seen: set[str] = set()
    errors: list[dict[str, Any]] = []
    for name in artifact_names():
        for entry in load_artifact(name).abi:
            if entry.get("type") != "error":
                continue
            key = json.dumps(entry, sort_keys=True)
            if key not in seen:
                seen.add(key)
                errors.append(entry)
    return tuple(errors)


def all_error_abis() -> list[dict[str, Any]]:
    """Every ``error`` ABI entry across all artifacts, deduplicated, in artifact-name order.

    Revert data carries only a 4-byte selector, not the contract that raised it (a call may revert inside
    another contract, e.g. the token), so decoding looks selectors up across all known errors.
    """
    return [dict(entry) for entry in _error_abis()]
