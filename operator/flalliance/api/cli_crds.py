"""`flalliance crds`: write (or check) every file generated from the API models.

The CRDs (`crds/` and the chart's copy), the chart's `values.schema.json` and `values.yaml`, and
`docs/configuration.md` all come from the pydantic models; `--check` fails when any is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from flalliance.api.crd import HEADER, render_all
from flalliance.api.docs_gen import render_configuration
from flalliance.api.helm_values import default_values, values_schema

CHART = Path("charts") / "flalliance"


def generated_files() -> dict[Path, str]:
    """Repository-relative path → content of every generated file."""
    files: dict[Path, str] = {}
    for name, text in render_all().items():
        files[Path("crds") / name] = text
        files[CHART / "crds" / name] = text
    files[CHART / "values.schema.json"] = json.dumps(values_schema(), indent=2) + "\n"
    values_header = HEADER.replace("do not edit by hand", "override with -f or --set, do not edit here")
    files[CHART / "values.yaml"] = values_header + yaml.safe_dump(default_values(), sort_keys=False)
    files[Path("docs") / "configuration.md"] = render_configuration()
    return files


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "crds", help="write the CRDs, chart schema/values and config docs from the models"
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root to write into")
    parser.add_argument("--check", action="store_true", help="exit 1 if any generated file is stale")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root: Path = args.root
    stale = []
    for rel, text in generated_files().items():
        path = root / rel
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(rel))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {rel}")
    if stale:
        print(f"stale generated files (run `make crds`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0
