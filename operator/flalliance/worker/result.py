"""The worker's JSON result: printed, and written to the termination log the operator reads."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

# Kubernetes keeps at most 4096 bytes of a termination message.
MAX_TERMINATION_BYTES = 4096


def encode_result(result: dict[str, Any]) -> str:
    text = json.dumps(result, sort_keys=True, separators=(",", ":"), default=str)
    if len(text.encode()) <= MAX_TERMINATION_BYTES:
        return text
    slim = {
        k: v for k, v in result.items() if k in ("command", "round", "role", "status", "error", "sealed_vote")
    }
    slim["truncated"] = True
    return json.dumps(slim, sort_keys=True, separators=(",", ":"), default=str)[:MAX_TERMINATION_BYTES]


def write_result(result: dict[str, Any], path: Path | None) -> str:
    text = encode_result(result)
    if path is not None and path.parent.is_dir():
        # A read-only or missing termination log must not fail the step itself.
        with contextlib.suppress(OSError):
            path.write_text(text)
    return text
