"""docker/compose.yaml, checked offline: Debian's docker-compose validates it against its schema
(`config`), and the rules below read it as compose resolves it (anchors and merge keys)."""

from __future__ import annotations

import re
import subprocess

import pytest
from django.conf import settings

from tests.support.manifests import DOCKER, LIVENESS_FILE, WORKER_START_SECONDS, load_compose, signs, tool, worker_queue_offences

CLEANROOM_IMAGES = ("cleanroom-web:", "cleanroom-gpu-worker:")
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|DATABASE_URL|BROKER_URL|ACCESS_KEY")


@pytest.fixture(scope="module")
def services() -> dict:
    return load_compose()["services"]


def _cleanroom(services: dict) -> dict:
    return {name: s for name, s in services.items() if s["image"].startswith(CLEANROOM_IMAGES)}


def _plaintext_secrets(services: dict) -> list[str]:
    return [
        f"{name}: {key}"
        for name, service in services.items()
        for key in service.get("environment", {})
        if SECRET_NAME.search(key) and not key.endswith("_FILE")
    ]


def test_docker_compose_accepts_the_file():
    binary = tool("docker-compose", "apt-get install docker-compose (scripts/setup.sh installs it)")
    done = subprocess.run(
        [binary, "-f", str(DOCKER / "compose.yaml"), "config", "--quiet"], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr


def test_docker_compose_refuses_an_unknown_service_key(tmp_path):
    binary = tool("docker-compose", "apt-get install docker-compose (scripts/setup.sh installs it)")
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  web:\n    image: cleanroom-web:local\n    helthcheck: {}\n")

    done = subprocess.run([binary, "-f", str(broken), "config", "--quiet"], capture_output=True, text=True, check=False)

    assert done.returncode != 0 and "helthcheck" in done.stderr


def test_every_service_has_a_pinned_image_and_a_healthcheck_unless_it_is_a_one_shot(services):
    for name, service in services.items():
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", service["image"]) and not service["image"].endswith(":latest"), name
        if service.get("restart") == "no":
            continue
        assert service["healthcheck"]["test"], name


def test_every_cleanroom_process_says_which_process_it_is(services):
    processes = {name: s["environment"]["CLEANROOM_PROCESS"] for name, s in _cleanroom(services).items()}

    assert processes == {
        "migrate": "web",
        "web": "web",
        "worker-audit": "worker",
        "worker-default": "worker",
        "worker-gpu": "worker",
        "beat": "beat",
    }


def test_secrets_are_files_and_no_secret_sits_in_the_environment(services):
    declared = set(load_compose()["secrets"])

    assert _plaintext_secrets(services) == []
    for name, service in services.items():
        assert set(service.get("secrets", [])) <= declared, name


def test_the_secret_check_notices_a_plaintext_password():
    assert _plaintext_secrets({"postgres": {"environment": {"POSTGRES_PASSWORD": "hunter2"}}}) == ["postgres: POSTGRES_PASSWORD"]


def test_only_the_signing_workers_get_the_signing_key(services):
    holders = {name for name, s in services.items() if {"signer_key", "signer_chain"} & set(s.get("secrets", []))}

    assert holders == {"worker-default", "worker-gpu"}


def _workers(services: dict) -> dict:
    return {name: s for name, s in _cleanroom(services).items() if s["environment"]["CLEANROOM_PROCESS"] == "worker"}


def test_every_worker_names_its_queues_in_the_environment_and_exactly_the_signing_ones_get_the_key(services):
    workers = _workers(services)
    offences = [o for name, s in workers.items() for o in worker_queue_offences(name, s["command"], s["environment"])]
    queues = {name: s["environment"]["CLEANROOM_WORKER_QUEUES"] for name, s in workers.items()}
    signing = {name for name, q in queues.items() if signs(q, settings.CLEANROOM_SIGNING_QUEUES)}
    holders = {name for name, s in services.items() if {"signer_key", "signer_chain"} & set(s.get("secrets", []))}

    assert offences == []
    assert queues == {"worker-audit": "audit", "worker-default": "default", "worker-gpu": "gpu"}
    assert signing == holders


def test_the_queue_check_notices_a_worker_without_its_queues_in_the_environment():
    assert worker_queue_offences("worker-x", ["worker", "--queues", "audit"], {}) == ["worker-x: no CLEANROOM_WORKER_QUEUES"]


def test_worker_healthchecks_ask_liveness_and_readiness_after_the_worker_has_started(services):
    for name, service in _workers(services).items():
        check = service["healthcheck"]
        assert service["environment"]["CLEANROOM_WORKER_LIVENESS_FILE"] == LIVENESS_FILE, name
        assert check["test"] == ["CMD-SHELL", "cleanroom health && cleanroom health --ready"], name
        assert int(check["start_period"].rstrip("s")) >= WORKER_START_SECONDS, name


def test_services_start_in_order_after_what_they_depend_on(services):
    for name, service in services.items():
        for target, rule in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            assert rule["condition"] in ("service_healthy", "service_completed_successfully"), name
    for name in _cleanroom(services):
        if name != "migrate":
            assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name


def test_the_gpu_worker_reserves_one_nvidia_gpu_and_audit_workers_scale(services):
    (device,) = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]

    assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
    assert services["worker-audit"]["deploy"]["replicas"] >= 2
