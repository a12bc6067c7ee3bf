"""Run a whole task on one machine: a dev chain (anvil or geth), the contracts, N participants, a keeper.

The participants are separate `flalliance-worker participate` processes: they join, read their roles from
the chain and act on their own. This process is the task creator and keeper: it deploys the system,
creates and funds the task, partitions the data, starts rounds, finalizes them, moves the dev chain's clock
only when a phase waits on participants that will never act (absentees, dead processes), settles every
participant after each round (anyone may call ``settle``; it makes each round's payouts exact in the
report), evaluates every global model on the held-out set, and writes the report and plots.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flalliance.chain.client import ChainClient
from flalliance.chain.deploy import deploy_system
from flalliance.chain.events import EventReader
from flalliance.chain.harness import ETHER, DevTask, derived_accounts
from flalliance.chain.keys import dev_account
from flalliance.chain.models import Phase, Policy, Role, SlashReason, Status, TaskParams, hash_bytes
from flalliance.chain.token import TokenClient
from flalliance.fl.spec import format_metric
from flalliance.sim.config import SimConfig, build_spec, dataset_name
from flalliance.sim.devnode import DevNode, dev_node
from flalliance.sim.report import (
    ParticipantOutcome,
    ParticipantRecord,
    PayoutRecord,
    ProposalRecord,
    RoundRecord,
    SimReport,
    VoteRecord,
    summarize,
)
from flalliance.store.local import LocalStore

if TYPE_CHECKING:
    from flalliance.fl.dataset import Dataset
    from flalliance.fl.plugin import Samples
    from flalliance.fl.spec import TrainingLogicSpec

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class Member:
    label: str
    address: str
    behaviour: str
    key_file: Path
    data_dir: Path
    process: subprocess.Popen[bytes] | ForkedWorker | None = None
    stdout: Path | None = None

    @property
    def absent(self) -> bool:
        return self.behaviour == "absent"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


class ForkedWorker:
    """`flalliance-worker ARGV` in a child forked from this process, which has torch and the FL engine
    imported already: ten cold torch imports on two cores cost ~30 s, a fork costs milliseconds. The child
    runs the same command-line entry point as the exec'ed worker; only the start-up is shared. Quacks like
    the parts of :class:`subprocess.Popen` the simulation uses."""

    def __init__(self, argv: list[str], env: dict[str, str], stdout: Path, stderr: Path) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; leaves only through os._exit (no atexit of the parent)
            code = 70
            try:
                _die_with_parent()
                os.environ.clear()
                os.environ.update(env)
                flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                os.dup2(os.open(stdout, flags, 0o644), 1)
                os.dup2(os.open(stderr, flags, 0o644), 2)
                from flalliance.worker.cli import main

                code = main(argv)
            except BaseException:  # report anything, then leave without the parent's atexit handlers
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0.0)
            time.sleep(0.05)
        return code

    def terminate(self) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


def prepare_data(cfg: SimConfig, out: Path) -> tuple[list[Path], Dataset, dict[str, Any]]:
    """Partition the dataset into one directory per participant; the held-out global test set."""
    from flalliance.fl.datasets import load_builtin
    from flalliance.fl.partition import PartitionRecord, dirichlet, holdout, write_partitions

    name = dataset_name(cfg)
    data = load_builtin(name)
    pool = data.train
    if cfg.subsample is not None and cfg.subsample < len(pool):
        _, keep = holdout(pool.y, cfg.subsample / len(pool), cfg.partition_seed)
        pool = pool.subset(keep)
    if data.test is not None:
        test = data.test
    else:
        rest, held = holdout(pool.y, cfg.holdout, cfg.partition_seed)
        pool, test = pool.subset(rest), pool.subset(held)
    if cfg.test_subsample is not None and cfg.test_subsample < len(test):
        _, keep = holdout(test.y, cfg.test_subsample / len(test), cfg.partition_seed)
        test = test.subset(keep)
    parts, attempts = dirichlet(pool.y, cfg.participants, cfg.alpha, cfg.partition_seed)
    record = PartitionRecord(
        "dirichlet", cfg.participants, cfg.partition_seed, {"alpha": cfg.alpha}, attempts=attempts
    )
    dirs = write_partitions(pool, parts, out / "data", record, global_test=test)
    info = {
        "dataset": name,
        "scheme": "dirichlet",
        "alpha": cfg.alpha,
        "seed": cfg.partition_seed,
        "sizes": [len(p) for p in parts],
        "train_pool": len(pool),
        "held_out": len(test),
        "attempts": attempts,
    }
    return dirs, test, info


class Simulation:
    def __init__(self, cfg: SimConfig, out: Path, *, progress: Progress | None = None) -> None:
        self.cfg = cfg
        self.out = out
        self.progress = progress or (lambda line: print(line, flush=True))
        self.spec: TrainingLogicSpec  # set by prepare_inputs (a preset's, or the user's file)
        self.test: Samples | None = None
        self.members: list[Member] = []
        self.node: DevNode | None = None

    # ----------------------------------------------------------------------------------------------------
    def run(self) -> SimReport:
        import torch

        # imported here once: forked participants inherit them (cfg.launch == "fork")
        from flalliance.fl import training, validation  # noqa: F401

        torch.set_num_threads(1)
        started = time.monotonic()
        self.out.mkdir(parents=True, exist_ok=True)
        try:
            with dev_node(self.cfg, self.out) as node:
                self.node = node
                report = self._run(node, started)
        finally:
            self._stop_all()
        report.wall_seconds = round(time.monotonic() - started, 3)
        report.summary = summarize(report)
        self.write(report)
        return report

    def write(self, report: SimReport) -> None:
        from flalliance.sim.plots import accuracy_plot, payout_plot

        (self.out / "report.json").write_text(report.model_dump_json(indent=2) + "\n")
        accuracy_plot(report, self.out / "accuracy.png")
        payout_plot(report, self.out / "payouts.png")

    # ----------------------------------------------------------------------------------------------------
    def _run(self, node: DevNode, started: float) -> SimReport:
        from flalliance.fl.spec import canonical_json, spec_hash
        from flalliance.sim.inputs import prepare_inputs

        cfg = self.cfg
        inputs = prepare_inputs(cfg, self.out)
        self.spec, dirs, self.test, partition = inputs.spec, inputs.dirs, inputs.test, inputs.info
        store = LocalStore(self.out / "store")
        store.put(canonical_json(self.spec))
        owner = ChainClient(
            node.rpc_url,
            dev_account(0),
            chain_id=node.chain_id,
            confirmations=cfg.confirmations,
            timeout=max(30.0, 10.0 * cfg.block_period * (1 + cfg.confirmations)),
        )
        system = deploy_system(owner)
        phase = cfg.phase_seconds
        params = TaskParams(
            min_stake=cfg.stake_tokens * ETHER,
            min_participants=cfg.participants,
            max_participants=cfg.participants,
            total_rounds=cfg.rounds,
            proposer_fraction_bps=cfg.proposer_fraction_bps,
            max_proposers=cfg.max_proposers,
            max_voters=cfg.max_voters,
            slash_bps=cfg.slash_bps,
            policy=Policy.COLLECTIVE if cfg.policy == "collective" else Policy.PER_PROPOSAL,
            # geth: the window opens at creation and closes by the wall clock; leave the participants time
            # to start (the task starts as soon as it is full)
            join_duration=phase if cfg.chain == "anvil" else max(phase, 300),
            pioneer_duration=phase,
            propose_duration=phase,
            commit_duration=phase,
            reveal_duration=phase,
            max_lifecycle=phase * (2 + 3 * cfg.rounds) + 86_400,
        )
        dev = DevTask.create(
            owner,
            system,
            params,
            members=[],
            arena_reward=cfg.reward_tokens * ETHER,
            training_logic_hash=spec_hash(self.spec),
        )
        self.dev = dev
        self.task = dev.task
        token = TokenClient(owner, system.token)
        self.token = token
        accounts = derived_accounts(cfg.participants, label=f"flalliance-sim/{cfg.partition_seed}")
        keys = self.out / "keys"
        keys.mkdir(exist_ok=True)
        for i, (account, data_dir) in enumerate(zip(accounts, dirs, strict=True)):
            key_file = keys / f"p{i:02d}.key"
            key_file.write_text("0x" + bytes(account.key).hex())
            key_file.chmod(0o600)
            token.mint(account.address, cfg.stake_tokens * ETHER)
            self.members.append(
                Member(f"p{i:02d}", str(account.address), cfg.behaviour(i), key_file, data_dir)
            )
        node.fund(owner, [m.address for m in self.members], 100 * ETHER)
        self.initial_balance = {m.address: token.balance_of(m.address) for m in self.members}
        self.events = EventReader(owner, self.task.contract, start_block=system.block)
        self.events.poll()

        self.progress(
            f"task {self.task.address}: {cfg.training_logic or cfg.preset}, {cfg.participants} participants "
            f"({len(cfg.malicious)} malicious: "
            + (", ".join(f"p{i:02d}={cfg.behaviour(i)}" for i in cfg.malicious) or "none")
            + f"), {cfg.rounds} rounds, policy {cfg.policy}"
        )
        self._spawn(node)
        self._wait_joined()
        roster = self.task.participants()
        by_address = {m.address.lower(): m for m in self.members}
        self.label_of = {a.lower(): by_address[a.lower()].label for a in roster}
        participants = [
            ParticipantRecord(
                label=by_address[a.lower()].label,
                address=a,
                roster_index=i,
                behaviour=by_address[a.lower()].behaviour,
                malicious=by_address[a.lower()].behaviour != "honest",
            )
            for i, a in enumerate(roster)
        ]
        participants.sort(key=lambda p: p.label)
        setup = time.monotonic() - started
        self.progress(f"all {len(roster)} participants joined ({setup:.1f} s since start)")

        report = SimReport(
            config=cfg.model_dump(mode="json"),
            spec_hash="0x" + spec_hash(self.spec).hex(),
            metric=self.spec.metric.name,
            minimize=self.spec.metric.direction == "minimize",
            task=self.task.address,
            chain_id=owner.chain_id,
            partition=partition,
            participants=participants,
            initial_accuracy=None,
            rounds=[],
            setup_seconds=round(setup, 3),
        )
        self.store = store
        while len(report.rounds) < cfg.rounds:
            record = self._play_round(report)
            if record is None:
                break
            report.rounds.append(record)
        report.outcomes = self._finish(report)
        return report

    # ----------------------------------------------------------------------------------------------------
    def _spawn(self, node: DevNode) -> None:
        logs = self.out / "logs"
        logs.mkdir(exist_ok=True)
        for m in self.members:
            env = {
                **os.environ,
                "OMP_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1",
                "FLALLIANCE_RPC_URL": node.rpc_url,
                "FLALLIANCE_CHAIN_ID": str(node.chain_id),
                "FLALLIANCE_CONFIRMATIONS": str(self.cfg.confirmations),
                "FLALLIANCE_TASK": self.task.address,
                "FLALLIANCE_KEY_FILE": str(m.key_file),
                "FLALLIANCE_DATA_DIR": str(m.data_dir),
                "FLALLIANCE_STORE_URL": f"file://{(self.out / 'store').resolve()}",
                "FLALLIANCE_BEHAVIOUR": "honest" if m.absent else m.behaviour,
            }
            env.pop("FLALLIANCE_RESULT_FILE", None)
            argv = ["participate", "--poll", str(self.cfg.poll_seconds)]
            if m.absent:
                argv.append("--absent")
            m.stdout = logs / f"{m.label}.result.json"
            stderr = logs / f"{m.label}.log"
            if self.cfg.launch == "fork":
                m.process = ForkedWorker(argv, env, m.stdout, stderr)
                continue
            cmd = [sys.executable, "-m", "flalliance.worker.cli", *argv]
            with m.stdout.open("wb") as out, stderr.open("wb") as err:
                m.process = subprocess.Popen(
                    cmd, env=env, stdout=out, stderr=err, preexec_fn=_die_with_parent
                )

    def _wait_joined(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while self.task.state().participant_count < self.cfg.participants:
            dead = [m.label for m in self.members if not m.alive()]
            if dead:
                raise RuntimeError(f"participants {dead} exited before joining; see {self.out / 'logs'}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"participants did not join within {timeout:.0f} s")
            time.sleep(0.05)

    def _stop_all(self) -> None:
        for m in self.members:
            if m.alive() and m.process is not None:
                m.process.terminate()
        for m in self.members:
            if m.process is not None:
                try:
                    m.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    m.process.kill()
                    m.process.wait()

    # ----------------------------------------------------------------------------------------------------
    def _advance(self, deadline: int) -> None:
        assert self.node is not None
        self.node.advance_past(self.dev.owner, deadline)

    def _play_round(self, report: SimReport) -> RoundRecord | None:
        cfg = self.cfg
        task = self.task
        t0 = time.monotonic()
        task.start_round()
        state = task.state()
        r = state.round
        roster = task.participants()
        roles = {a.lower(): task.role_of(r, a) for a in roster}
        members = {m.address.lower(): m for m in self.members}
        proposers = [a for a in roster if roles[a.lower()] == Role.PROPOSER]
        voters = [a for a in roster if roles[a.lower()] == Role.VOTER]
        pioneer = task.pioneer_of(r) if state.phase == Phase.PIONEERING else None
        advances = 0
        last_progress = (time.monotonic(), -1)
        while True:
            state = task.state()
            phase = state.phase
            if phase in (Phase.FINALIZABLE, Phase.IDLE):
                break
            gone = {a.lower() for a, m in members.items() if m.absent or not m.alive()}
            counters = (state.phase, state.proposal_count, state.commit_count, state.reveal_count)
            marker = hash(counters)
            if marker != last_progress[1]:
                last_progress = (time.monotonic(), marker)
            if phase == Phase.PIONEERING:
                stuck = pioneer is not None and pioneer.lower() in gone
            elif phase == Phase.PROPOSING:
                stuck = state.proposal_count >= sum(1 for a in proposers if a.lower() not in gone)
            elif phase == Phase.COMMITTING:
                stuck = state.commit_count >= sum(1 for a in voters if a.lower() not in gone)
            else:
                dead_voters = sum(1 for a in voters if a.lower() in gone)
                stuck = state.reveal_count >= state.commit_count - dead_voters
            if not stuck and time.monotonic() - last_progress[0] > cfg.stall_seconds:
                self.progress(f"  round {r}: {phase.name} made no progress for {cfg.stall_seconds:.0f} s")
                stuck = True
            if stuck:
                self._advance(state.phase_deadline)
                advances += 1
                continue
            time.sleep(cfg.poll_seconds / 2)
        proposals = task.proposals(r)
        task.finalize_round()
        info = task.round_info(r)
        # Settle everyone now, so this round's rewards and slashes are attributed to it exactly.
        for a in roster:
            task.settle(a, cfg.rounds)
        events = self.events.poll()
        state = task.state()
        global_model = state.global_model
        label = self.label_of
        votes: list[VoteRecord] = []
        pioneer_model = None
        payouts: dict[str, PayoutRecord] = {m.label: PayoutRecord() for m in self.members}
        for e in events:
            if e.name == "VoteRevealed" and int(e.args["round"]) == r:
                votes.append(
                    VoteRecord(
                        voter=label[str(e.args["voter"]).lower()],
                        score=int(e.args["score"]),
                        aggregate_hash="0x" + bytes(e.args["aggregateHash"]).hex(),
                        verdicts=int(e.args["verdicts"]),
                    )
                )
            elif e.name == "PioneerModelSubmitted" and int(e.args["round"]) == r:
                pioneer_model = "0x" + bytes(e.args["modelHash"]).hex()
            elif e.name == "Settled":
                who = label.get(str(e.args["account"]).lower())
                if who is not None:
                    payouts[who].rewarded += int(e.args["rewarded"])
            elif e.name == "Slashed":
                who = label.get(str(e.args["account"]).lower())
                if who is not None:
                    payouts[who].slashed += int(e.args["amount"])
                    payouts[who].slash_reason = SlashReason(int(e.args["reason"])).name.lower()
        proposal_records = []
        for k, p in enumerate(proposals):
            accepts = sum(1 for v in votes if (v.verdicts >> k) & 1)
            proposal_records.append(
                ProposalRecord(
                    index=k,
                    proposer=label[p.proposer.lower()],
                    model_hash=p.model_hash,
                    samples=p.samples,
                    accepted=info.proposal_accepted(k),
                    accept_votes=accepts,
                    reject_votes=len(votes) - accepts,
                )
            )
        if pioneer_model is not None and report.initial_accuracy is None:
            report.initial_accuracy = self._accuracy(pioneer_model)
        accuracy = self._accuracy(global_model) if state.has_global_model else None
        model_bytes = self._model_bytes(global_model)
        report.model_bytes = model_bytes
        n_prop = len(proposals)
        # Uploads and downloads of model files: every proposer fetches the global model and uploads its
        # proposal; every revealing voter fetches the global model and every proposal and uploads its
        # aggregate; the pioneer uploads the initial model.
        moved = model_bytes * (2 * n_prop + len(votes) * (2 + n_prop) + (1 if pioneer_model else 0))
        record = RoundRecord(
            round=r,
            pioneer=label.get(pioneer.lower()) if pioneer else None,
            pioneer_model=pioneer_model,
            proposers=[label[a.lower()] for a in proposers],
            voters=[label[a.lower()] for a in voters],
            proposals=proposal_records,
            votes=votes,
            accepted=info.accepted,
            aborted=info.aborted,
            global_model=global_model,
            global_accuracy=accuracy,
            reward_per_weight=info.reward_per_weight,
            payouts=payouts,
            clock_advances=advances,
            wall_seconds=round(time.monotonic() - t0, 3),
            bytes_moved=moved,
        )
        self._print_round(record, report)
        return record

    def _print_round(self, rec: RoundRecord, report: SimReport) -> None:
        bad = {p.label: p.behaviour for p in report.participants if p.malicious}

        def tag(label: str) -> str:
            return f"{label}[{bad[label]}]" if label in bad else label

        verdicts = " ".join(f"{tag(p.proposer)}:{'ok' if p.accepted else 'REJ'}" for p in rec.proposals)
        acc = "-" if rec.global_accuracy is None else format_metric(report.metric, rec.global_accuracy)
        slashed = [lbl for lbl, p in rec.payouts.items() if p.slashed]
        self.progress(
            f"round {rec.round + 1}/{self.cfg.rounds}: {'accepted' if rec.accepted else 'REJECTED'}"
            f"{' (aborted)' if rec.aborted else ''}; proposals {verdicts or 'none'}; "
            f"{len(rec.votes)}/{len(rec.voters)} votes; global {report.metric} {acc}; "
            f"slashed {','.join(slashed) or 'nobody'}; {rec.wall_seconds:.1f} s"
            + (f"; clock moved x{rec.clock_advances}" if rec.clock_advances else "")
        )

    def _model_bytes(self, model_hash: str) -> int:
        with contextlib.suppress(Exception):
            return len(self.store.get(hash_bytes(model_hash)))
        return 0

    def _accuracy(self, model_hash: str) -> float | None:
        from flalliance.fl.training import architecture, evaluate
        from flalliance.fl.weights import decode

        if self.test is None:
            return None  # the user's own directories without a --test-dir: no global figure

        digest = hash_bytes(model_hash)
        try:
            data = self.store.get(digest)
        except Exception:  # a global model nobody uploaded (should not happen): no figure, not a crash
            log.warning("global model %s is not in the store", model_hash)
            return None
        tensors = decode(
            data, architecture(self.spec), max_bytes=self.spec.max_model_bytes, expected_hash=digest
        )
        return float(evaluate(self.spec, tensors, self.test))

    # ----------------------------------------------------------------------------------------------------
    def _finish(self, report: SimReport, timeout: float = 120.0) -> list[ParticipantOutcome]:
        state = self.task.state()
        if not state.status.ended:
            raise RuntimeError(f"the task is {state.status.name} after {len(report.rounds)} rounds")
        deadline = time.monotonic() + timeout
        for m in self.members:
            if m.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    m.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        outcomes = []
        for m in self.members:
            info = self.task.participant(m.address)
            net = self.token.balance_of(m.address) - self.initial_balance[m.address]
            rewarded = sum(r.payouts[m.label].rewarded for r in report.rounds)
            slashed = sum(r.payouts[m.label].slashed for r in report.rounds)
            code = m.process.poll() if m.process is not None else None
            if not info.withdrawn:
                net = rewarded - slashed  # the process did not finish: report the books, not the wallet
            outcomes.append(
                ParticipantOutcome(
                    label=m.label,
                    behaviour=m.behaviour,
                    malicious=m.behaviour != "honest",
                    rewarded=rewarded,
                    slashed=slashed,
                    net=net,
                    withdrawn=info.withdrawn,
                    exit_code=code,
                )
            )
        s = summarize(report.model_copy(update={"outcomes": outcomes}))
        self.progress(
            f"task {Status(state.status).name}: final {report.metric} "
            + ("-" if s["final_accuracy"] is None else format_metric(report.metric, s["final_accuracy"]))
            + ", malicious proposals rejected "
            f"{_pct(s['malicious_rejected'])}, honest rejected {_pct(s['honest_rejected'])}, "
            f"every honest participant gained: {s['honest_all_net_gain']}"
        )
        return outcomes


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def summary_json(report: SimReport) -> str:
    return json.dumps(report.summary, indent=2, sort_keys=True)


def centralized_accuracy(cfg: SimConfig, data_dir: Path, *, epochs: int | None = None) -> float:
    """The upper bound: one model trained by the same code on all participants' data pooled."""
    from flalliance.fl.data_files import load_directory
    from flalliance.fl.dataset import Dataset
    from flalliance.fl.pioneer import initial_tensors
    from flalliance.fl.training import evaluate, train

    spec = build_spec(cfg)
    dataset, _, training = spec.classifier()
    parts = sorted(data_dir.glob("client-*"))
    loaded = [load_directory(p, dataset) for p in parts]
    pooled = Dataset(np.concatenate([d.x for d in loaded]), np.concatenate([d.y for d in loaded]))
    test = load_directory(data_dir / "global-test", dataset)
    if epochs is not None:
        spec = spec.model_copy(update={"training": training.model_copy(update={"epochs": epochs})})
    tensors = train(spec, initial_tensors(spec, seed=cfg.init_seed), pooled, seed=cfg.train_seed).tensors
    return float(evaluate(spec, tensors, test))
