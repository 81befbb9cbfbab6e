"""Deployment files read the way the tools read them: Kubernetes overlays rendered by `kubectl
kustomize`, the compose file by PyYAML (anchors and merge keys resolved), and the checks the ops
tests share, written as functions that return offences so a test can also prove each one fails."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
OVERLAYS = ("dev", "production")
SIGNING_SECRET = "cleanroom-signing"
# The workers whose queues sign: `default` (exports, compliance packs, verification reports) and
# `gpu` (generated outputs, model lineage). Web, audit workers, beat and the migration never sign.
SIGNING_COMPONENTS = {"worker-default", "worker-gpu"}
# Where every worker container keeps its liveness file: /tmp, the writable mount under a
# read-only root.
LIVENESS_FILE = "/tmp/cleanroom-worker.alive"
# Seconds from a worker's start until it consumes (and first touches its liveness file), with
# margin: measured 2-9 s on 2 busy CPUs. No liveness verdict may come earlier.
WORKER_START_SECONDS = 45
COMPONENT = "app.kubernetes.io/component"


def tool(path_or_name: str, hint: str) -> str:
    """The tool's path, or a failure that says how to get it (never a silent skip)."""
    found = shutil.which(path_or_name) or (path_or_name if Path(path_or_name).is_file() else None)
    if found is None:
        raise AssertionError(f"{path_or_name} is missing on this machine: {hint}")
    return found


def render(overlay: str) -> list[dict]:
    kubectl = tool("kubectl", "install the Kubernetes client (it renders kustomize offline)")
    done = subprocess.run(
        [kubectl, "kustomize", str(DOCKER / "k8s" / "overlays" / overlay)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"kubectl kustomize {overlay} failed:\n{done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def load_compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def workloads(docs: list[dict]) -> Iterator[tuple[dict, dict]]:
    """(object, pod spec) for every Deployment and Job."""
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield doc, doc["spec"]["template"]["spec"]


def component(doc: dict) -> str:
    return doc["spec"]["template"]["metadata"]["labels"].get(COMPONENT, "")


def container_offences(docs: list[dict]) -> list[str]:
    """Every container: resources (requests and limits), a locked-down securityContext; every
    Deployment's main containers: liveness and readiness probes."""
    offences = []
    for doc, spec in workloads(docs):
        name = doc["metadata"]["name"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"{name}/{container['name']}"
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(part, {})):
                    offences.append(f"{where}: no cpu/memory {part}")
            context = container.get("securityContext", {})
            if context.get("allowPrivilegeEscalation") is not False:
                offences.append(f"{where}: allowPrivilegeEscalation not false")
            if context.get("readOnlyRootFilesystem") is not True:
                offences.append(f"{where}: root filesystem writable")
            if context.get("capabilities", {}).get("drop") != ["ALL"]:
                offences.append(f"{where}: capabilities not all dropped")
        if doc["kind"] == "Deployment":
            for container in spec["containers"]:
                for probe in ("livenessProbe", "readinessProbe"):
                    if probe not in container:
                        offences.append(f"{name}/{container['name']}: no {probe}")
        pod = spec.get("securityContext", {})
        if pod.get("runAsNonRoot") is not True or pod.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            offences.append(f"{name}: pod not non-root with the RuntimeDefault seccomp profile")
        if spec.get("automountServiceAccountToken") is not False:
            offences.append(f"{name}: service account token mounted")
        mounts = {m["mountPath"] for c in spec["containers"] for m in c.get("volumeMounts", [])}
        if "/tmp" not in mounts:
            offences.append(f"{name}: no writable /tmp under a read-only root")
    return offences


def signing_key_holders(docs: list[dict]) -> set[str]:
    """Components whose pods mount the signing key Secret or name a signing key file."""
    holders = set()
    for doc, spec in workloads(docs):
        secrets = {v.get("secret", {}).get("secretName") for v in spec.get("volumes", [])}
        named = {
            e["name"]
            for c in spec.get("initContainers", []) + spec["containers"]
            for e in c.get("env", [])
            if "SIGNER_KEY" in e["name"]
        }
        if SIGNING_SECRET in secrets or named:
            holders.add(component(doc) or doc["metadata"]["name"])
    return holders


def worker_queue_offences(name: str, args: list[str], env: dict[str, str | None]) -> list[str]:
    """A worker names its queues in CLEANROOM_WORKER_QUEUES (what its probes read); a `--queues`
    in its arguments, if any, must name the same ones."""
    queues = env.get("CLEANROOM_WORKER_QUEUES")
    if not queues:
        return [f"{name}: no CLEANROOM_WORKER_QUEUES"]
    if "--queues" in args and args[args.index("--queues") + 1] != queues:
        return [f"{name}: --queues {args[args.index('--queues') + 1]} but CLEANROOM_WORKER_QUEUES={queues}"]
    return []


def signs(queues: str, signing_queues: list[str]) -> bool:
    return bool(set(queues.split(",")) & set(signing_queues))
