"""The cluster does what the project needs: Jobs with real pods running locally built images, logs through
the API, Service DNS, host-path volumes, reaching a server on the host, ServiceAccount tokens under RBAC,
and CRDs with CEL validation and a status subresource."""

from __future__ import annotations

import http.server
import secrets
import threading
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from .e2e_kube import ClusterFacts, Kube, wait_until

pytestmark = pytest.mark.e2e


def test_job_runs_local_image_and_its_logs_are_readable(kube: Kube) -> None:
    logs = kube.run_job("hello", client.V1PodSpec(containers=[kube.container(["hello"])]))
    assert "hello from flalliance smoke, python 3.11" in logs


def test_pod_resolves_a_service_by_dns_and_reaches_it(kube: Kube) -> None:
    labels = {"app": "web"}
    kube.core.create_namespaced_pod(
        kube.ns,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="web", labels=labels),
            spec=client.V1PodSpec(
                containers=[
                    kube.container(
                        ["serve", "8080"],
                        ports=[client.V1ContainerPort(container_port=8080)],
                        readiness_probe=client.V1Probe(
                            http_get=client.V1HTTPGetAction(path="/", port=8080), period_seconds=1
                        ),
                    )
                ]
            ),
        ),
    )
    kube.core.create_namespaced_service(
        kube.ns,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1ServiceSpec(
                selector=labels, ports=[client.V1ServicePort(port=80, target_port=8080)]
            ),
        ),
    )
    # Short name (search path), namespace-qualified and fully qualified names all resolve.
    fqdn = f"web.{kube.ns}.svc.cluster.local"
    for i, host in enumerate(["web", f"web.{kube.ns}", fqdn]):
        logs = kube.run_job(
            f"fetch-{i}", client.V1PodSpec(containers=[kube.container(["fetch", f"http://{host}/"])])
        )
        assert "smoke-ok web" in logs, f"{host}: {logs}"


def test_pvc_binds_and_a_pod_writes_to_it(kube: Kube) -> None:
    kube.core.create_namespaced_persistent_volume_claim(
        kube.ns,
        client.V1PersistentVolumeClaim(
            metadata=client.V1ObjectMeta(name="data"),
            spec=client.V1PersistentVolumeClaimSpec(
                access_modes=["ReadWriteOnce"],
                resources=client.V1VolumeResourceRequirements(requests={"storage": "16Mi"}),
            ),  # no storageClassName: the default class must provision it
        ),
    )
    token = secrets.token_hex(8)
    volume = client.V1Volume(
        name="data", persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(claim_name="data")
    )
    mount = [client.V1VolumeMount(name="data", mount_path="/data")]
    logs = kube.run_job(
        "writer",
        client.V1PodSpec(
            containers=[kube.container(["write", "/data/token", token], volume_mounts=mount)],
            volumes=[volume],
        ),
    )
    assert f"wrote {token}" in logs
    pvc = kube.core.read_namespaced_persistent_volume_claim("data", kube.ns)
    assert pvc.status.phase == "Bound"
    assert pvc.spec.storage_class_name, "the default StorageClass was not applied"
    # A second pod sees what the first wrote: the data lives on the volume, not in the container.
    logs = kube.run_job(
        "reader",
        client.V1PodSpec(
            containers=[kube.container(["write", "/data/second", "x"], volume_mounts=mount)], volumes=[volume]
        ),
    )
    assert "wrote x" in logs


@pytest.fixture
def host_server(cluster_facts: ClusterFacts) -> Iterator[tuple[str, int, str]]:
    """An HTTP server on the host address pods reach (where a dev chain would listen)."""
    if not cluster_facts.host_ip:
        pytest.skip("host address for pods unknown on this cluster (set FLALLIANCE_HOST_IP)")
    token = secrets.token_hex(8)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"host-ok {token}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((cluster_facts.host_ip, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield cluster_facts.host_ip, server.server_address[1], token
    server.shutdown()
    server.server_close()


def test_pod_reaches_a_server_on_the_host(kube: Kube, host_server: tuple[str, int, str]) -> None:
    ip, port, token = host_server
    logs = kube.run_job(
        "to-host", client.V1PodSpec(containers=[kube.container(["fetch", f"http://{ip}:{port}/"])])
    )
    assert f"host-ok {token}" in logs


def test_service_account_token_is_authorized_by_rbac(kube: Kube) -> None:
    rbac = client.RbacAuthorizationV1Api(kube.api)
    kube.core.create_namespaced_service_account(
        kube.ns, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="reader"))
    )
    rbac.create_namespaced_role(
        kube.ns,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="cm-reader"),
            rules=[client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["get", "list"])],
        ),
    )
    rbac.create_namespaced_role_binding(
        kube.ns,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="reader"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="cm-reader"),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name="reader", namespace=kube.ns)],
        ),
    )
    kube.core.create_namespaced_config_map(
        kube.ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cfg"), data={"k": "v"})
    )
    base = f"/api/v1/namespaces/{kube.ns}"
    logs = kube.run_job(
        "sa",
        client.V1PodSpec(
            service_account_name="reader",
            containers=[kube.container(["kube-get", f"{base}/configmaps/cfg", f"{base}/secrets"])],
        ),
    )
    assert f"GET {base}/configmaps/cfg -> 200" in logs, logs
    assert f"GET {base}/secrets -> 403" in logs, logs


CRD_GROUP = "e2e.flalliance.dev"


@pytest.fixture
def widget_crd(kube: Kube) -> Iterator[str]:
    ext = client.ApiextensionsV1Api(kube.api)
    plural = f"widgets{secrets.token_hex(3)}"
    name = f"{plural}.{CRD_GROUP}"
    schema = client.V1JSONSchemaProps(
        type="object",
        properties={
            "spec": client.V1JSONSchemaProps(
                type="object",
                required=["min", "max"],
                properties={
                    "min": client.V1JSONSchemaProps(type="integer"),
                    "max": client.V1JSONSchemaProps(type="integer"),
                },
                x_kubernetes_validations=[
                    client.V1ValidationRule(rule="self.min <= self.max", message="min must not exceed max")
                ],
            ),
            "status": client.V1JSONSchemaProps(
                type="object", properties={"phase": client.V1JSONSchemaProps(type="string")}
            ),
        },
    )
    ext.create_custom_resource_definition(
        client.V1CustomResourceDefinition(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1CustomResourceDefinitionSpec(
                group=CRD_GROUP,
                scope="Namespaced",
                names=client.V1CustomResourceDefinitionNames(
                    plural=plural, singular=plural[:-1], kind=f"W{plural}"
                ),
                versions=[
                    client.V1CustomResourceDefinitionVersion(
                        name="v1",
                        served=True,
                        storage=True,
                        schema=client.V1CustomResourceValidation(open_apiv3_schema=schema),
                        subresources=client.V1CustomResourceSubresources(status={}),
                    )
                ],
            ),
        )
    )

    def established() -> bool:
        crd = ext.read_custom_resource_definition(name)
        return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

    wait_until(established, 60, f"CRD {name} established")
    yield plural
    ext.delete_custom_resource_definition(name)


def test_crd_cel_validation_and_status_subresource(kube: Kube, widget_crd: str) -> None:
    co = client.CustomObjectsApi(kube.api)
    kind = f"W{widget_crd}"

    def body(lo: int, hi: int, name: str) -> dict[str, object]:
        return {
            "apiVersion": f"{CRD_GROUP}/v1",
            "kind": kind,
            "metadata": {"name": name},
            "spec": {"min": lo, "max": hi},
        }

    # The CRD is served a moment after Established; retry the first create briefly on 404.
    def create_ok() -> bool:
        try:
            co.create_namespaced_custom_object(CRD_GROUP, "v1", kube.ns, widget_crd, body(1, 2, "ok"))
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise

    wait_until(create_ok, 30, "custom resource accepted")
    with pytest.raises(ApiException) as bad:
        co.create_namespaced_custom_object(CRD_GROUP, "v1", kube.ns, widget_crd, body(3, 2, "bad"))
    assert bad.value.status == 422
    assert "min must not exceed max" in str(bad.value.body)

    co.patch_namespaced_custom_object_status(
        CRD_GROUP, "v1", kube.ns, widget_crd, "ok", {"status": {"phase": "Ready"}}
    )
    obj = co.get_namespaced_custom_object(CRD_GROUP, "v1", kube.ns, widget_crd, "ok")
    assert obj["status"]["phase"] == "Ready"
    # Through the main resource, status is ignored (that is what the subresource means).
    co.patch_namespaced_custom_object(CRD_GROUP, "v1", kube.ns, widget_crd, "ok", {"status": {"phase": "X"}})
    assert (
        co.get_namespaced_custom_object(CRD_GROUP, "v1", kube.ns, widget_crd, "ok")["status"]["phase"]
        == "Ready"
    )
