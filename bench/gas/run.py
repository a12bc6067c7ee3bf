"""Gas benchmark of the task contracts: gas per operation from 10 to 10,000 participants, on a real anvil.

Run: ``make bench-gas`` (or ``.venv/bin/python bench/gas/run.py``). Writes bench/results/gas.json and the
table between the markers in docs/gas.md. Every figure is a receipt's gasUsed (the whole transaction,
21,000 base included), never an estimate.

Scenario per size: N participants, 30% proposers, pioneering round 0 then steady rounds. In every round one
proposal is poisoned and every honest voter rejects it (so a typical reveal updates one reject tally);
one voter per round votes against the round; in round 2 the first voter to reveal rejects every proposal
and names a fresh aggregate hash (the worst case of a reveal). One participant never acts, so the cost of
settling an absentee's backlog is measured at the end. The task has exactly N participants (min = max), so
PerProposal's creation rule needs one epoch: 4 rounds at 10 and at 100 (3 and 30 proposers); after the
last round an honest participant withdraws (settling and vesting its rewards) and claims them, and
anyone settles another participant after the end (vesting it).

Committee runs (``N/P/V``: at most P proposers and V voters a round, the others without a role) play the
same three rounds. Their epoch (ceil(N / P) rounds) is longer than the run, so the task does not end and the
after-the-end operations are not measured there (they settle one round: the same at any N).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak
from web3.types import TxReceipt

from flalliance.chain.client import ChainClient
from flalliance.chain.deploy import deploy_system
from flalliance.chain.devchain import Anvil
from flalliance.chain.harness import ETHER, DevTask, Vote, derived_accounts
from flalliance.chain.keys import dev_account
from flalliance.chain.models import Phase, Role, TaskParams
from flalliance.protocol import roles

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "gas.json"
DOC = ROOT / "docs" / "gas.md"
BEGIN, END = "<!-- gas-table:begin -->", "<!-- gas-table:end -->"
GENESIS = 1_767_225_600
ROUNDS = 3

# Targets from issue 3 (None: no target, reported for completeness).
TARGETS: dict[str, Any] = {
    "startRound": 80_000,
    "propose": 90_000,
    "commitVote": 60_000,
    "revealVote": 120_000,
    "createTask": 450_000,
}

# The naive prototype (toolchain.md): Fisher-Yates roles written per participant, OZ ERC20.
NAIVE = {
    "startRound_8_participants": 292_727,
    "startRound_per_participant": 27_500,  # "25-30k per participant per round"
    "join": 93_000,
    "propose": 50_000,
    "vote": 42_000,
    "commitVote": 44_000,
    "revealVote": 45_000,
    "finalize_5_proposals": 151_000,
}


def naive_per_participant_round(n: int, proposers: int) -> int:
    """The prototype's cost of one round spread over its participants: a role write per participant, a
    submission per proposer, a commit + reveal per voter, one finalize (its 5-proposal figure)."""
    total = (
        NAIVE["startRound_per_participant"] * n
        + NAIVE["propose"] * proposers
        + (NAIVE["commitVote"] + NAIVE["revealVote"]) * (n - proposers)
        + NAIVE["finalize_5_proposals"]
    )
    return total // n


class Recorder:
    def __init__(self) -> None:
        self.gas: dict[str, list[tuple[int, int]]] = defaultdict(list)  # op -> [(round, gas)]

    def add(self, op: str, round: int, receipt: TxReceipt) -> TxReceipt:
        self.gas[op].append((round, int(receipt["gasUsed"])))
        return receipt

    def values(self, op: str, rounds: set[int] | None = None) -> list[int]:
        return [g for r, g in self.gas.get(op, []) if rounds is None or r in rounds]


def summary(values: list[int]) -> dict[str, int]:
    if not values:
        return {}
    return {
        "count": len(values),
        "min": min(values),
        "median": int(statistics.median(values)),
        "max": max(values),
    }


def parse_size(text: str) -> tuple[int, int, int]:
    """``N`` (no committee cap) or ``N/P/V`` (at most P proposers and V voters a round)."""
    parts = [int(x) for x in text.split("/")]
    if len(parts) == 1:
        return parts[0], roles.MAX_PROPOSERS, roles.MAX_VOTERS
    if len(parts) != 3:
        raise SystemExit(f"--sizes: {text!r} is neither N nor N/P/V")
    return parts[0], parts[1], parts[2]


def size_key(n: int, max_p: int, max_v: int) -> str:
    return str(n) if (max_p, max_v) == (roles.MAX_PROPOSERS, roles.MAX_VOTERS) else f"{n}/{max_p}/{max_v}"


def run_size(anvil: Anvil, n: int, max_p: int, max_v: int) -> dict[str, Any]:
    owner = ChainClient(anvil.rpc_url, dev_account(0), chain_id=anvil.chain_id)
    snapshot = owner.snapshot()
    try:
        started = time.monotonic()
        out = _run_size(anvil, owner, n, max_p, max_v)
        out["seconds"] = round(time.monotonic() - started, 1)
        return out
    finally:
        owner.revert(snapshot)


def _roles(t: DevTask, r: int, roster: list[str]) -> tuple[list[str], list[str]]:
    """(proposers, voters) of round ``r`` from its seed with the contract's mirror (O(n) local work, not n
    calls), checked against the contract's roleOf for every committee member and one outsider."""
    info = t.task.round_info(r)
    n = len(roster)
    p, v = info.num_proposers, info.num_voters
    proposers = [a for i, a in enumerate(roster) if roles.is_proposer(info.seed, i, n, p, r)]
    voters = [a for i, a in enumerate(roster) if roles.is_voter(info.seed, i, n, p, v, r)]
    assert len(proposers) == p and len(voters) == v, (p, v, len(proposers), len(voters), n)
    assert all(t.task.role_of(r, a) == Role.PROPOSER for a in proposers)
    assert all(t.task.role_of(r, a) == Role.VOTER for a in voters)
    committee = set(proposers) | set(voters)
    outsiders = [a for a in roster if a not in committee]
    if outsiders:
        assert t.task.role_of(r, outsiders[0]) == Role.NONE
    return proposers, voters


def _run_size(anvil: Anvil, owner: ChainClient, n: int, max_p: int, max_v: int) -> dict[str, Any]:
    system = deploy_system(owner)
    members = [
        ChainClient(anvil.rpc_url, a, chain_id=anvil.chain_id) for a in derived_accounts(n, label="gas")
    ]
    epoch = roles.epoch_length(n, roles.num_proposers(n, 3_000, max_p))
    ends = epoch <= ROUNDS + 1  # the task ends after one more round: the after-the-end operations run
    params = TaskParams(
        min_stake=10 * ETHER,
        min_participants=n,
        max_participants=n,
        total_rounds=max(ROUNDS + 1, epoch),
        max_proposers=max_p,
        max_voters=max_v,
        proposer_fraction_bps=3_000,
        slash_bps=1_000,
        join_duration=3_600,
        pioneer_duration=600,
        propose_duration=600,
        commit_duration=600,
        reveal_duration=600,
        max_lifecycle=max(30 * 86_400, 3_600 + 600 + 1_800 * epoch + 86_400),
    )
    rec = Recorder()
    t = DevTask.create(owner, system, params, members=members, arena_reward=10_000 * ETHER)
    create_gas = int(_factory_receipt(t)["gasUsed"])
    t.fund(1_000 * ETHER)
    addresses = list(t.members)
    absentee = ""
    slashed: set[str] = set()  # who will be slashed when settling the round just played
    misbehaved: set[str] = set()  # every dissenter and poisoned proposer so far
    for i, a in enumerate(addresses):
        t.members[a].token().ensure_allowance(t.address, 100 * ETHER + i)
        rec.add("join", 0, t.members[a].join(100 * ETHER + i, approve=False))
    roster = t.task.participants()

    for r in range(ROUNDS):
        rec.add("startRound", r, t.task.start_round())
        if t.task.state().phase == Phase.PIONEERING:
            pioneer = t.task.pioneer_of(r)
            absentee = next(a for a in reversed(addresses) if a != pioneer)
            rec.add("submitPioneer", r, t.members[pioneer].submit_pioneer(keccak(b"pioneer")))
        proposers, voters = _roles(t, r, roster)
        active_proposers = [p for p in proposers if p != absentee]
        for k, p in enumerate(active_proposers):
            receipt = t.members[p].propose(keccak(f"model/{p}/{r}".encode()), 1_000 + k)
            rec.add("propose.slash" if _settled_a_slash(receipt) else "propose", r, receipt)
        if t.task.state().phase == Phase.PROPOSING:
            t.advance_past_phase()
        count = len(active_proposers)
        all_accept = (1 << count) - 1
        typical = all_accept & ~1  # proposal 0 is the poisoned one
        agg = keccak(f"aggregate/{r}".encode())
        active_voters = [v for v in voters if v != absentee]
        votes = {v: Vote(agg, 1, typical) for v in active_voters}
        dissenter = active_voters[-1]
        votes[dissenter] = Vote(agg, -1, typical)  # one dissenter, slashed as a minority voter
        rejecter = ""
        if r == 2:  # worst case: a voter rejects every proposal (the most reject-tally slots)
            rejecter = next(v for v in active_voters[:-1] if v not in slashed)
            votes[rejecter] = Vote(agg, 1, 0)
        for v in active_voters:
            rec.add("commitVote", r, t.commit(v, r, votes[v]))
        if t.task.state().phase == Phase.COMMITTING:
            t.advance_past_phase()
        for v in active_voters:
            receipt = t.reveal(v, votes[v])
            kind = "revealVote.rejectall" if v == rejecter else "revealVote"
            rec.add(kind + (".slash" if _settled_a_slash(receipt) else ""), r, receipt)
        slashed = {dissenter, active_proposers[0]}
        misbehaved |= slashed
        while t.task.state().phase != Phase.FINALIZABLE:
            t.advance_past_phase()
        rec.add("finalizeRound", r, t.task.finalize_round())
        rec.gas.setdefault("_proposals", []).append((r, count))

    # Settling an absentee's backlog of ROUNDS rounds (anyone may do it; here the owner).
    rec.add("settle.absentee", ROUNDS, t.task.settle(absentee, 2**16))
    if not ends:
        return _report(n, rec, create_gas, max_p, max_v)
    t.play_round()  # the last round (everyone honest): the task is Completed, withdraw is allowed
    honest, other = [a for a in addresses if a not in misbehaved and a != absentee][:2]
    rec.add("withdraw", ROUNDS + 1, t.members[honest].withdraw())  # settles, vests, pays the stake
    rec.add("claim", ROUNDS + 1, t.members[honest].claim())  # pays the vested rewards
    rec.add("settle.vest", ROUNDS + 1, t.task.settle(other, 2**16))  # anyone: settles and vests
    return _report(n, rec, create_gas, max_p, max_v)


SLASHED_TOPIC = keccak(b"Slashed(address,uint256,address,uint256,uint256,uint8)")


def _settled_a_slash(receipt: TxReceipt) -> bool:
    """Whether the transaction settled a slash of the sender's (a pricier settlement)."""
    return any(bytes(log["topics"][0]) == SLASHED_TOPIC for log in receipt["logs"] if log["topics"])


def _factory_receipt(t: DevTask) -> TxReceipt:
    receipt = t.factory_receipt
    if receipt is None:
        raise RuntimeError("DevTask.create kept no receipt")
    return receipt


def _report(n: int, rec: Recorder, create_gas: int, max_p: int, max_v: int) -> dict[str, Any]:
    proposals = dict(rec.gas["_proposals"])
    steady = {r for r in range(1, ROUNDS)}
    ops: dict[str, Any] = {}
    for op in [
        "join",
        "startRound",
        "submitPioneer",
        "propose",
        "propose.slash",
        "commitVote",
        "revealVote",
        "revealVote.slash",
        "revealVote.rejectall",
        "finalizeRound",
        "settle.absentee",
        "claim",
        "withdraw",
        "settle.vest",
    ]:
        ops[op] = {"all": summary(rec.values(op)), "steady": summary(rec.values(op, steady))}
    ops["createTask"] = {"all": summary([create_gas]), "steady": {}}
    finalize = {r: g for r, g in rec.gas["finalizeRound"]}
    finalize_budget = {r: 80_000 + 30_000 * proposals[r] for r in finalize}
    round_totals = {}
    for r in range(ROUNDS):
        total = sum(
            g
            for op, vals in rec.gas.items()
            if not op.startswith("_")
            for rr, g in vals
            if rr == r and op != "join"
        )
        round_totals[r] = total
    per_participant_round = int(statistics.mean(round_totals[r] for r in steady) / n)
    return {
        "participants": n,
        "max_proposers": max_p,
        "max_voters": max_v,
        "proposals_per_round": proposals,
        "ops": ops,
        "finalize_by_round": {
            str(r): {"gas": g, "proposals": proposals[r], "budget": finalize_budget[r]}
            for r, g in finalize.items()
        },
        "round_totals": {str(r): v for r, v in round_totals.items()},
        "per_participant_round": per_participant_round,
        "naive_per_participant_round": naive_per_participant_round(n, proposals[1] + 1),
    }


def _fmt(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


AFTER_END = ("claim", "withdraw", "settle.vest")


def _column(s: dict[str, Any]) -> str:
    committee = (s.get("max_proposers", roles.MAX_PROPOSERS), s.get("max_voters", roles.MAX_VOTERS))
    name = f"{s['participants']:,} participants"
    if committee != (roles.MAX_PROPOSERS, roles.MAX_VOTERS):
        name += f", committee P {committee[0]} V {committee[1]}"
    return name


def table(results: dict[str, Any]) -> str:
    sizes = list(results["sizes"].values())
    head = "| operation | target | " + " | ".join(f"{_column(s)}: typical / worst" for s in sizes) + " |"
    lines = [head, "|---|---|" + "---|" * len(sizes)]
    labels = {
        "createTask": "createTask (clone + init + escrow)",
        "join": "join (stake; first joiners pre-warm a proposal slot)",
        "startRound": "startRound (role assignment)",
        "submitPioneer": "submitPioneer",
        "propose": "propose (settles the previous round: reward)",
        "propose.slash": "propose, settling a slash of the previous round",
        "commitVote": "commitVote",
        "revealVote": "revealVote (settles the previous round: reward; rejects 1 proposal)",
        "revealVote.slash": "revealVote, settling a slash of the previous round",
        "revealVote.rejectall": "revealVote rejecting every proposal",
        "claim": "claim after the end (pays vested rewards)",
        "withdraw": "withdraw (settles the last round, vests, pays the stake)",
        "settle.absentee": f"settle an absentee's {ROUNDS}-round backlog",
        "settle.vest": "settle after the end (the last round, then vests)",
    }
    for op, label in labels.items():
        target = TARGETS.get(op.split(".")[0])
        cells = []
        for s in sizes:
            o = s["ops"][op]
            typical = (o["steady"] or o["all"]).get("median")
            worst = o["all"].get("max")
            if o["all"]:
                cells.append(f"{_fmt(typical)} / {_fmt(worst)}")
            else:
                cells.append("not run (no end)" if op in AFTER_END else "not drawn")
        lines.append(f"| {label} | {_fmt(target)} | " + " | ".join(cells) + " |")
    for s in sizes:
        for r, f in s["finalize_by_round"].items():
            lines.append(
                f"| finalizeRound, {_column(s)}, round {r} ({f['proposals']} proposals) "
                f"| {_fmt(f['budget'])} | "
                + " | ".join(_fmt(f["gas"]) if x is s else "" for x in sizes)
                + " |"
            )
    lines.append("")
    lines.append(
        "| 30% proposers, steady rounds | a whole round | per participant-round | naive prototype "
        "per participant-round (estimate) |"
    )
    lines.append("|---|---|---|---|")
    for s in sizes:
        steady = [v for r, v in s["round_totals"].items() if r != "0"]
        lines.append(
            f"| {_column(s)} | {_fmt(int(statistics.mean(steady)))} | {_fmt(s['per_participant_round'])} "
            f"| {_fmt(s['naive_per_participant_round'])} |"
        )
    return "\n".join(lines)


def write_doc(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{DOC} lacks the {BEGIN} ... {END} markers")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="10,100,100/16/32,1000/16/32,10000/16/32",
        help="comma-separated N (no committee cap) or N/P/V (at most P proposers, V voters a round)",
    )
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite the table in docs/gas.md")
    parser.add_argument(
        "--merge", action="store_true", help="add these sizes to the sizes already in the results file"
    )
    args = parser.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    started = time.monotonic()
    # --prune-history: no historical states on disk (anvil otherwise persists them: gigabytes at 10,000
    # participants, each transaction its own block)
    with Anvil(timestamp=GENESIS, extra_args=["--prune-history", "64"]) as anvil:
        results: dict[str, Any] = {
            "meta": {
                "command": "make bench-gas",
                "chain": "anvil (real node), automine, fixed genesis timestamp",
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "rounds": ROUNDS,
                "proposer_fraction_bps": 3_000,
                "targets": TARGETS,
                "naive_prototype": NAIVE,
            },
            "sizes": {},
        }
        if args.merge and RESULTS.exists():
            results["sizes"] = json.loads(RESULTS.read_text(encoding="utf-8"))["sizes"]
        for size in sizes:
            results["sizes"][size_key(*size)] = run_size(anvil, *size)
            print(f"{size_key(*size)}: {results['sizes'][size_key(*size)]['seconds']} s", flush=True)
    results["meta"]["seconds"] = round(time.monotonic() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    text = table(results)
    print(text)
    if not args.no_doc:
        write_doc(text)
    print(f"\nwrote {RESULTS.relative_to(ROOT)} in {results['meta']['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
