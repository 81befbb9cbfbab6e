"""The web process holds no signing key (CLEANROOM_PROCESS=web): its settings name none, its
signer refuses, and serving the verify page (which checks signatures) never opens the key file,
while a worker on the same files signs. Each process is a fresh interpreter, as in production."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from core.exceptions import ApplicationError
from provenance.c2pa.signer import open_signer
from tests.support.pki import write_identity
from tests.web_process import ROOT

# Records every file the process opens from the start, then runs the body (a worker or the web).
_PROLOGUE = """
import json, os, sys
opened = []
def _record(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        opened.append(os.fsdecode(args[0]))
sys.addaudithook(_record)
import django
django.setup()
from django.conf import settings
from core.exceptions import ApplicationError
from provenance.c2pa.signer import open_signer
report = {"signer": {k: settings.CLEANROOM_SIGNER[k] for k in ("KEY", "CALLBACK", "CERT_CHAIN")}}
"""

_WORKER = """
from provenance.c2pa.manifests import sign_image
from tests.provenance.factories import image_bytes
signed = sign_image(image=image_bytes(7, fmt="PNG"), mime_type="image/png", title="by a worker", assertions=[], ingredients=[])
open(sys.argv[1], "wb").write(signed)
"""

_WEB = """
from config.wsgi import application
from django.test import Client
try:
    with open_signer():
        report["signer_error"] = None
except ApplicationError as error:
    report["signer_error"] = error.message
client = Client(HTTP_HOST="127.0.0.1")
report["form"] = client.get("/verify/").status_code
with open(sys.argv[1], "rb") as image:
    answer = client.post("/verify/", {"image": image}, follow=True)
report["result"] = answer.status_code
# Not one of our outputs, so the page queues the soft-binding search: the manifest's own
# signature is what the web checks here.
from provenance.c2pa.manifests import read_manifest
with open(sys.argv[1], "rb") as image:
    report["state"] = read_manifest(image.read(), "image/png").state
"""

_EPILOGUE = """
report["opened"] = opened
print(json.dumps(report))
"""


def _run(process: str, body: str, *, pki: Path, data_dir: Path, argument: Path) -> dict:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
    env.update(
        CLEANROOM_PROCESS=process,
        CLEANROOM_DATA_DIR=str(data_dir),
        CLEANROOM_PKI_DIR=str(pki),
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        DJANGO_SETTINGS_MODULE="config.settings.base",
    )
    script = _PROLOGUE + body + _EPILOGUE
    command = [sys.executable, "-c", script, str(argument)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_web_settings_name_no_key_and_its_signer_refuses(settings):
    settings.CLEANROOM_PROCESS = "web"

    with pytest.raises(ApplicationError, match="the web process does not sign") as refused, open_signer():
        pass
    assert refused.value.code == "signer_not_configured"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_web_verifies_a_workers_signature_without_ever_opening_the_key(tmp_path):
    identity = write_identity(tmp_path / "pki")
    signed = tmp_path / "signed.png"

    worker = _run("worker", _WORKER, pki=identity.directory, data_dir=tmp_path / "worker", argument=signed)
    web = _run("web", _WEB, pki=identity.directory, data_dir=tmp_path / "web", argument=signed)

    assert worker["signer"]["KEY"] == str(identity.key_path)
    assert str(identity.key_path) in worker["opened"]
    assert signed.stat().st_size > 0

    assert web["signer"] == {"KEY": "", "CALLBACK": "", "CERT_CHAIN": str(identity.chain_path)}
    assert web["signer_error"].startswith("the web process does not sign")
    assert (web["form"], web["result"], web["state"]) == (200, 200, "Trusted")
    assert [path for path in web["opened"] if "signer-key" in path] == []
    assert str(identity.anchors_path) in web["opened"]  # it did verify, against the public anchors
