"""Prometheus metrics of the operator, served on `/metrics` (the chart's metrics Service scrapes it)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILES = Counter("flalliance_reconciles_total", "Reconcile passes per task", ["namespace", "task"])
RECONCILE_ERRORS = Counter(
    "flalliance_reconcile_errors_total", "Reconcile passes that raised", ["namespace", "task", "reason"]
)
ACTIONS = Counter("flalliance_actions_total", "Actions carried out", ["namespace", "task", "action"])
ROUNDS = Counter(
    "flalliance_rounds_total",
    "Rounds finalized on the chain, by outcome (accepted, rejected, aborted)",
    ["namespace", "task", "outcome"],
)
ROUND = Gauge("flalliance_task_round", "Current round of a task", ["namespace", "task"])
PHASE_SECONDS = Histogram(
    "flalliance_phase_duration_seconds",
    "Observed wall time of each round phase (phases whose start this replica saw)",
    ["phase"],
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600),
)
JOB_OUTCOMES = Counter(
    "flalliance_jobs_total",
    "Worker Jobs finished, by kind and outcome (succeeded, failed)",
    ["kind", "outcome"],
)
TX_SECONDS = Histogram(
    "flalliance_chain_tx_seconds",
    "Latency of chain transactions sent by the operator (send to receipt)",
    ["method"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
TX_FAILURES = Counter(
    "flalliance_chain_tx_failures_total", "Chain transactions that failed", ["method", "error"]
)
RECONCILE_SECONDS = Histogram(
    "flalliance_reconcile_stage_seconds",
    "Wall time of each stage of a reconcile pass",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
API_REQUESTS = Counter(
    "flalliance_kube_requests_total",
    "Kubernetes API requests made by the reconciler, by verb and resource",
    ["verb", "resource"],
)


def serve(port: int, addr: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from inside the cluster
    start_http_server(port, addr=addr)
