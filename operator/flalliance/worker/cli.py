"""`flalliance-worker` command line: parse, run one step, print and record a JSON result, exit 0/1/2."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flalliance.chain.errors import ChainError, ContractRevert
from flalliance.worker import llm_cmd, participate, partition_cmd
from flalliance.worker.logs import configure
from flalliance.worker.result import write_result
from flalliance.worker.settings import add_arguments, from_args

log = logging.getLogger("flalliance.worker")

EXIT_OK, EXIT_RETRY, EXIT_PERMANENT = 0, 1, 2

# Reverts that a retry cannot change: the caller is not allowed to do this at all.
PERMANENT_REVERTS = {
    "NotParticipant",
    "NotPioneer",
    "NotProposer",
    "NotVoter",
    "CommitmentMismatch",
    "ZeroHash",
    "InvalidSamples",
    "ScoreOutOfRange",
    "StakeTooLow",
    "StakeTooHigh",
}


def _round_step(name: str) -> Callable[[argparse.Namespace], dict[str, Any]]:
    def run(args: argparse.Namespace) -> dict[str, Any]:
        from flalliance.worker import steps
        from flalliance.worker.context import WorkerContext

        ctx = WorkerContext(from_args(args))
        if name == "reveal":
            sealed = args.sealed or (Path(args.sealed_file).read_text().strip() if args.sealed_file else "")
            if not sealed:
                raise ValueError("reveal needs --sealed or --sealed-file (the validate step's sealed_vote)")
            return steps.reveal(ctx, args.round, sealed)
        step: Callable[[Any, int], dict[str, Any]] = getattr(steps, name)
        return step(ctx, args.round)

    return run


def _claim(args: argparse.Namespace) -> dict[str, Any]:
    from flalliance.worker import steps
    from flalliance.worker.context import WorkerContext

    return steps.claim(WorkerContext(from_args(args)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flalliance-worker", description=__doc__)
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command", required=True)
    helps = {
        "pioneer": "publish the initial model as the pioneering global model (round 0)",
        "train": "train on the private split and propose the weights",
        "validate": "judge the proposals, aggregate, commit the vote",
        "reveal": "reveal a committed vote",
    }
    for name, text in helps.items():
        p = sub.add_parser(name, help=text)
        p.add_argument("--round", type=int, required=True)
        add_arguments(p)
        if name == "reveal":
            p.add_argument("--sealed")
            p.add_argument("--sealed-file")
        p.set_defaults(run=_round_step(name))
    p = sub.add_parser("claim", help="claim rewards and withdraw the stake once the task has ended")
    add_arguments(p)
    p.set_defaults(run=_claim)
    partition_cmd.register(sub)
    llm_cmd.register(sub)
    participate.register(sub)
    return parser


def _classify(exc: BaseException) -> tuple[int, str]:
    from flalliance.worker.context import PermanentError

    if isinstance(exc, ContractRevert):
        return (EXIT_PERMANENT if exc.name in PERMANENT_REVERTS else EXIT_RETRY), str(exc)
    if isinstance(exc, ChainError | ConnectionError | TimeoutError):
        return EXIT_RETRY, f"{type(exc).__name__}: {exc}"
    if isinstance(exc, PermanentError | ValueError | ValidationError):
        return EXIT_PERMANENT, str(exc)
    if isinstance(exc, OSError):
        return EXIT_RETRY, f"{type(exc).__name__}: {exc}"
    return EXIT_RETRY, f"{type(exc).__name__}: {exc}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure(args.log_level)
    result_file = getattr(args, "result_file", None)
    try:
        result = args.run(args)
        code = EXIT_OK
    except Exception as exc:  # every failure ends as a result with a reason, never a bare traceback
        code, reason = _classify(exc)
        log.error(
            "%s failed (%s): %s", args.command, "permanent" if code == EXIT_PERMANENT else "retryable", reason
        )
        result = {
            "command": args.command,
            "status": "failed",
            "error": reason,
            "permanent": code == EXIT_PERMANENT,
        }
    path = result_file or os.environ.get("FLALLIANCE_RESULT_FILE")
    print(write_result(result, Path(path) if path else None))
    return code


if __name__ == "__main__":
    sys.exit(main())
