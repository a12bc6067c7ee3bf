"""The `flalliance` command line: one entry point; each sub-command lives in the module that owns it.

A sub-command module exposes `register(subparsers)`, which adds its parser and sets `func` (called with the
parsed arguments, returning the exit code). Imports stay lazy so `flalliance version` never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from flalliance import __version__

# Modules that register sub-commands. Add yours here.
SUBCOMMAND_MODULES = [
    "flalliance.api.cli_crds",
    "flalliance.chain.cli_chain",
    "flalliance.controller.main",
    "flalliance.demo.cli_demo",
    "flalliance.sim.cli_simulate",
]


def _version(_: argparse.Namespace) -> int:
    print(__version__)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flalliance", description="FL Alliance tasks on Kubernetes")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the version").set_defaults(func=_version)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
