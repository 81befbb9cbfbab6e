"""The Kubernetes manifests (docker/k8s/), rendered by kustomize and checked offline: strict schema
validation against the Kubernetes API, then the rules an operator relies on."""

from __future__ import annotations

import copy
import re

import kubernetes_validate
import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from core.metrics import metrics_text
from tests.support.manifests import (
    COMPONENT,
    LIVENESS_FILE,
    OVERLAYS,
    SIGNING_COMPONENTS,
    SIGNING_SECRET,
    WORKER_START_SECONDS,
    component,
    container_offences,
    render,
    signing_key_holders,
    signs,
    worker_queue_offences,
    workloads,
)

KUBERNETES_VERSION = "1.37.0"


@pytest.fixture(scope="module", params=OVERLAYS)
def docs(request) -> list[dict]:
    return render(request.param)


def _of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


def _deployment(docs: list[dict], name: str) -> dict:
    (found,) = [doc for doc in _of_kind(docs, "Deployment") if doc["metadata"]["name"] == name]
    return found


def _env(container: dict) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def _workers(docs: list[dict]) -> dict[str, dict]:
    """component → main container of every worker Deployment."""
    return {
        component(doc): spec["containers"][0]
        for doc, spec in workloads(docs)
        if _env(spec["containers"][0]).get("CLEANROOM_PROCESS") == "worker"
    }


def _queue_offences(docs: list[dict]) -> list[str]:
    return [offence for name, c in _workers(docs).items() for offence in worker_queue_offences(name, c["args"], _env(c))]


def test_every_rendered_object_passes_strict_schema_validation(docs):
    failures = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")

    assert failures == []


def test_strict_validation_refuses_an_unknown_field(docs):
    deployment = copy.deepcopy(_of_kind(docs, "Deployment")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_overlay_deploys_every_process_and_the_migration_job(docs):
    deployments = {doc["metadata"]["name"] for doc in _of_kind(docs, "Deployment")}
    (job,) = _of_kind(docs, "Job")

    assert deployments == {f"cleanroom-{name}" for name in ("web", "worker-audit", "worker-default", "worker-gpu", "beat")}
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][0] == "migrate"
    assert all(doc["metadata"].get("namespace") for doc in docs)


def test_every_container_has_probes_resources_and_a_locked_down_security_context(docs):
    assert container_offences(docs) == []


def test_the_container_check_reports_a_missing_probe_and_a_writable_root(docs):
    broken = copy.deepcopy(docs)
    web = _deployment(broken, "cleanroom-web")["spec"]["template"]["spec"]["containers"][0]
    del web["readinessProbe"]
    web["securityContext"]["readOnlyRootFilesystem"] = False

    assert container_offences(broken) == [
        "cleanroom-web/web: root filesystem writable",
        "cleanroom-web/web: no readinessProbe",
    ]


def test_web_probes_healthz_and_readyz_and_workers_run_cleanroom_health(docs):
    web = _deployment(docs, "cleanroom-web")["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for name in ("cleanroom-worker-audit", "cleanroom-worker-default", "cleanroom-worker-gpu", "cleanroom-beat"):
        container = _deployment(docs, name)["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["exec"]["command"] == ["cleanroom", "health"], name
        assert container["readinessProbe"]["exec"]["command"] == ["cleanroom", "health", "--ready"], name


def test_each_process_says_which_process_it_is(docs):
    expected = {"web": "web", "worker-audit": "worker", "worker-default": "worker", "worker-gpu": "worker", "beat": "beat"}
    for doc, spec in workloads(docs):
        env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
        assert env["CLEANROOM_PROCESS"] == expected.get(component(doc), "web"), doc["metadata"]["name"]


def test_the_signing_key_is_mounted_only_into_the_workers_that_sign(docs):
    assert signing_key_holders(docs) == SIGNING_COMPONENTS


def test_exactly_the_workers_whose_queues_sign_mount_the_signing_key(docs):
    queues = {name: _env(c)["CLEANROOM_WORKER_QUEUES"] for name, c in _workers(docs).items()}

    assert queues == {"worker-audit": "audit", "worker-default": "default", "worker-gpu": "gpu"}
    assert {name for name, q in queues.items() if signs(q, settings.CLEANROOM_SIGNING_QUEUES)} == signing_key_holders(docs)


def test_every_worker_names_its_queues_in_the_environment_its_probes_read(docs):
    assert _queue_offences(docs) == []


def test_the_queue_check_notices_arguments_that_disagree_with_the_environment(docs):
    broken = copy.deepcopy(docs)
    container = _deployment(broken, "cleanroom-worker-audit")["spec"]["template"]["spec"]["containers"][0]
    container["args"] = ["worker", "--queues", "default"]

    assert _queue_offences(broken) == ["worker-audit: --queues default but CLEANROOM_WORKER_QUEUES=audit"]


def test_worker_liveness_reads_the_liveness_file_after_the_worker_has_started(docs):
    interval = settings.CLEANROOM_WORKER_LIVENESS_SECONDS
    for name, container in _workers(docs).items():
        probe = container["livenessProbe"]
        assert _env(container)["CLEANROOM_WORKER_LIVENESS_FILE"] == LIVENESS_FILE, name
        assert "CLEANROOM_WORKER_LIVENESS_SECONDS" not in _env(container), name  # the default the probe assumes
        assert probe["initialDelaySeconds"] >= WORKER_START_SECONDS, name
        # A probe reads the file more often than it may go stale, and restarts a hung worker within minutes.
        assert probe["periodSeconds"] <= 3 * interval, name
        assert probe["periodSeconds"] * probe["failureThreshold"] <= 120, name


def test_the_signing_key_check_notices_the_key_in_the_web_pod(docs):
    broken = copy.deepcopy(docs)
    spec = _deployment(broken, "cleanroom-web")["spec"]["template"]["spec"]
    spec["volumes"].append({"name": "signing", "secret": {"secretName": SIGNING_SECRET}})

    assert "web" in signing_key_holders(broken)


def test_secrets_arrive_as_files_never_as_values(docs):
    for _, spec in workloads(docs):
        for container in spec.get("initContainers", []) + spec["containers"]:
            for entry in container.get("env", []):
                assert "valueFrom" not in entry, entry["name"]
                if re.search(r"SECRET|PASSWORD|TOKEN|DATABASE_URL|BROKER_URL", entry["name"]):
                    assert entry["name"].endswith("_FILE") and entry["value"].startswith("/run/secrets/"), entry


def test_the_web_service_selects_only_web_pods(docs):
    (service,) = _of_kind(docs, "Service")
    selector = service["spec"]["selector"].items()
    selected = [component(doc) for doc, _ in workloads(docs) if selector <= doc["spec"]["template"]["metadata"]["labels"].items()]

    assert selected == ["web"]


def test_every_deployment_but_beat_has_a_disruption_budget(docs):
    budgets = {tuple(sorted(doc["spec"]["selector"]["matchLabels"].items())) for doc in _of_kind(docs, "PodDisruptionBudget")}
    for deployment in _of_kind(docs, "Deployment"):
        labels = tuple(sorted(deployment["spec"]["selector"]["matchLabels"].items()))
        assert (labels in budgets) == (component(deployment) != "beat"), deployment["metadata"]["name"]


def test_beat_is_one_pod_replaced_not_rolled(docs):
    beat = _deployment(docs, "cleanroom-beat")

    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}


def test_the_audit_autoscaler_follows_the_audit_queue_depth(docs):
    (hpa,) = _of_kind(docs, "HorizontalPodAutoscaler")
    (metric,) = hpa["spec"]["metrics"]

    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "cleanroom-worker-audit"
    assert metric["external"]["metric"] == {"name": "cleanroom_queue_depth", "selector": {"matchLabels": {"queue": "audit"}}}


@pytest.mark.django_db
def test_the_metric_the_autoscaler_follows_is_one_the_platform_exports(docs):
    (hpa,) = _of_kind(docs, "HorizontalPodAutoscaler")
    wanted = hpa["spec"]["metrics"][0]["external"]["metric"]
    text, _ = metrics_text()

    exported = {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }
    assert (wanted["name"], tuple(sorted(wanted["selector"]["matchLabels"].items()))) in exported


def test_the_gpu_worker_takes_one_gpu_on_a_gpu_node(docs):
    spec = _deployment(docs, "cleanroom-worker-gpu")["spec"]["template"]["spec"]
    container = spec["containers"][0]

    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["args"] == ["worker", "--concurrency", "1"]
    assert _env(container)["CLEANROOM_WORKER_QUEUES"] == "gpu"
    assert spec["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in spec["tolerations"])


def test_only_web_pods_take_any_traffic(docs):
    policies = _of_kind(docs, "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]]
    ingress = [p for p in policies if p["spec"].get("ingress")]

    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert [p["spec"]["podSelector"]["matchLabels"][COMPONENT] for p in ingress] == ["web"]
    (rule,) = ingress[0]["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]


def test_no_service_account_gets_a_token_or_a_role(docs):
    accounts = _of_kind(docs, "ServiceAccount")

    assert accounts and all(account["automountServiceAccountToken"] is False for account in accounts)
    assert not [doc for doc in docs if doc["kind"] in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")]


def test_production_pins_every_image_by_digest():
    for _, spec in workloads(render("production")):
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert re.fullmatch(r"[\w./-]+@sha256:[0-9a-f]{64}", container["image"]), container["image"]
