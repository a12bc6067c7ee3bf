"""`flalliance crds`: write (or check) the generated CRD files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from flalliance.api.crd import render_all


def register(sub: Any) -> None:
    parser = sub.add_parser("crds", help="write the CRDs generated from the API models")
    parser.add_argument("--out", type=Path, default=Path("crds"), help="directory to write into")
    parser.add_argument("--check", action="store_true", help="exit 1 if the files on disk are stale")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    stale = []
    for name, text in render_all().items():
        path = out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
            continue
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    if stale:
        print(f"stale CRDs (run `make crds`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0
