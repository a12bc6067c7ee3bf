"""The Helm chart's values, as a pydantic model: `values.schema.json` and `values.yaml` are generated from it.

`helm install` validates user values against the schema, so a typo in a values file fails at install time
with the field named, instead of rendering a broken Deployment.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from flalliance.api.base import ApiModel, Quantity


class Image(ApiModel):
    repository: str = Field(min_length=1)
    tag: str = Field(default="dev", min_length=1)
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"


class ResourceValues(ApiModel):
    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)


class ServiceAccountValues(ApiModel):
    create: bool = True
    name: str = Field(default="", description="Defaults to the release's full name")


class ServiceMonitorValues(ApiModel):
    """A Prometheus Operator ServiceMonitor for the metrics Service (needs its CRD in the cluster)."""

    enabled: bool = False
    interval: str = Field(default="30s", pattern=r"^[0-9]+(ms|s|m|h)$", description="Scrape interval")
    labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels, e.g. the release label your Prometheus selects"
    )


class MetricsValues(ApiModel):
    enabled: bool = True
    port: int = Field(default=8080, ge=1, le=65535)
    service_monitor: ServiceMonitorValues = Field(default_factory=ServiceMonitorValues)


class LeaderElectionValues(ApiModel):
    lease_seconds: int = Field(default=15, ge=5, le=300, description="A standby takes over after this")


class DevChainValues(ApiModel):
    """An in-cluster dev chain (anvil or geth --dev) with the contracts deployed, for demos and tests (never
    for production)."""

    enabled: bool = False
    client: Literal["anvil", "geth"] = Field(
        default="anvil",
        description="anvil (instant blocks) or geth --dev (a real Ethereum client; set blockTime, e.g. 2, "
        "and the FLTask's spec.chain.confirmations)",
    )
    image: Image = Field(default_factory=lambda: Image(repository="flalliance/devchain"))
    chain_id: int = Field(default=31337, ge=1, description="anvil's chain id; geth --dev's is always 1337")
    port: int = Field(default=8545, ge=1, le=65535)
    block_time: int = Field(default=0, ge=0, description="Seconds per block; 0 mines on every transaction")
    funded_accounts: int = Field(default=10, ge=1, le=100, description="Dev accounts minted $FML and ETH")
    arena_tasks: int = Field(default=1, ge=0, le=100, description="Finished Arena tasks to register")


class StoreValues(ApiModel):
    """An optional PVC shared by the operator and the worker pods as a file:// artifact store."""

    enabled: bool = False
    size: str = Field(default="2Gi", pattern=r"^[0-9]+(Ki|Mi|Gi|Ti)$")
    storage_class_name: str = Field(default="", description="Empty: the cluster's default StorageClass")
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany"] = Field(
        default="ReadWriteOnce", description="ReadWriteMany when worker pods land on several nodes"
    )
    mount_path: str = Field(default="/artifacts", pattern=r"^/.+")


class Values(ApiModel):
    """Values of the `flalliance` Helm chart."""

    image: Image = Field(default_factory=lambda: Image(repository="flalliance/operator"))
    replicas: int = Field(default=1, ge=1, le=5, description="More than one is safe: Lease leader election")
    watch_namespaces: list[str] = Field(
        default_factory=list,
        description="Namespaces the operator manages (and may read Secrets in); empty = all namespaces",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    service_account: ServiceAccountValues = Field(default_factory=ServiceAccountValues)
    metrics: MetricsValues = Field(default_factory=MetricsValues)
    leader_election: LeaderElectionValues = Field(default_factory=LeaderElectionValues)
    resources: ResourceValues = Field(
        default_factory=lambda: ResourceValues(
            requests={"cpu": "50m", "memory": "128Mi"}, limits={"memory": "512Mi"}
        )
    )
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    dev_chain: DevChainValues = Field(default_factory=DevChainValues)
    store: StoreValues = Field(default_factory=StoreValues)
    test_mode: bool = Field(
        default=False,
        description="Honour Participants' test.flalliance.io/behaviour annotations (attacks, for demos and "
        "e2e tests); never in production",
    )


def values_schema() -> dict[str, Any]:
    """JSON Schema (draft 7 flavour, as Helm expects) with every `$ref` inlined."""
    from flalliance.api.crd import _resolve  # one resolver for both generated schemas

    raw = Values.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    schema: dict[str, Any] = _resolve(raw, defs)
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return schema


def default_values() -> dict[str, Any]:
    return Values().model_dump(by_alias=True, mode="json")
