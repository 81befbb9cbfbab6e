"""The Croissant 1.1 + RAI 1.0 export of a snapshot built through the services: carla's likeness
consent (naming Pat Model) covers three images; one's GPS tag was flagged by the PII auditor and
a reviewer dismissed it, one was rejected (so left out), and two reviewers approved the snapshot.
MLCommons' own validator checks the file, offline."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from PIL import Image

from auditing.auditors.pii import PiiAuditor
from auditing.models import Finding
from auditing.services.audits import asset_audit_run, audits_request, finding_resolve
from core.background import background_run
from core.exceptions import ApplicationError
from provenance.consent_document import parse_consent_bytes
from provenance.exports.service import export_write
from provenance.models import Contributor, Snapshot, SnapshotMember
from provenance.services.assets import asset_review
from provenance.services.consent import consent_grant, consent_revoke, evidence_opener_for_uploads
from provenance.services.datasets import dataset_create
from provenance.services.snapshots import snapshot_approve, snapshot_create
from tests.provenance.factories import consent_json, image_bytes, ingest, jpeg

pytestmark = pytest.mark.django_db

# `mlcroissant validate`: the console script beside this Python, else the module it runs.
_SCRIPT = Path(sys.executable).parent / "mlcroissant"
VALIDATE = [str(_SCRIPT), "validate"] if _SCRIPT.exists() else [sys.executable, "-m", "mlcroissant.scripts.validate"]


def geotagged_jpeg(name: str, seed: int) -> SimpleUploadedFile:
    """A photo whose EXIF says where it was taken: the PII auditor flags the location."""
    image = Image.open(io.BytesIO(image_bytes(seed)))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return SimpleUploadedFile(name, buffer.getvalue(), "image/jpeg")


@pytest.fixture
def snapshot(settings, contributor, reviewer, second_reviewer, ml_engineer, operator) -> Snapshot:
    dataset = dataset_create(slug="portraits", scopes=["ai_training"], actor=operator)
    document = consent_json(
        "carla@example.com",
        scopes=["ai_training", "generative_training", "likeness"],
        depicted_persons=[{"name": "Pat Model", "scopes": ["likeness"], "evidence": "release.pdf"}],
    )
    consent, _ = consent_grant(
        document=parse_consent_bytes(document),
        contributor=Contributor.objects.get(email="carla@example.com"),
        open_evidence=evidence_opener_for_uploads(
            [SimpleUploadedFile("form.pdf", b"%PDF-1.4 signed form"), SimpleUploadedFile("release.pdf", b"%PDF-1.4 release")]
        ),
        actor=contributor,
    )
    accepted = ingest(contributor, dataset, consent, jpeg("plain.jpg", 1), geotagged_jpeg("beach.jpg", 2), jpeg("blurry.jpg", 3))
    plain, geotagged, blurry = (row["asset_id"] for row in accepted["accepted"])
    asset_review(asset_id=plain, reviewer=reviewer, decision="approve", reason="clean")
    asset_review(asset_id=blurry, reviewer=reviewer, decision="reject", reason="out of focus")
    settings.CLEANROOM_AUDITORS = ["auditing.auditors.pii.PiiAuditor"]
    settings.CLEANROOM_PII = {**settings.CLEANROOM_PII, "OCR": False, "FACES": False}
    with transaction.atomic():
        audits_request(asset_ids=[geotagged])
    assert asset_audit_run(asset_id=geotagged, task_id="test-pii") == "flagged"
    finding = Finding.objects.get(asset_id=geotagged)
    finding_resolve(finding_id=str(finding.pk), reviewer=reviewer, decision="dismiss", reason="a public beach, not a home")
    created = snapshot_create(dataset_slug="portraits", actor=ml_engineer)
    snapshot_approve(snapshot_id=str(created.pk), reviewer=reviewer)
    snapshot_approve(snapshot_id=str(created.pk), reviewer=second_reviewer)
    return Snapshot.objects.get(pk=created.pk)


def export(snapshot: Snapshot, output: Path, *, warnings: list[str] | None = None) -> str:
    """Export through the export service, as the command and the API do; the file's text."""
    result = export_write(subject="snapshot", subject_id=str(snapshot.pk), format_name="croissant", output=output)
    assert result.warnings == (warnings or [])
    assert result.sha256 == hashlib.sha256(output.read_bytes()).hexdigest()
    return output.read_text(encoding="utf-8")


def records_of(document: dict) -> list[dict]:
    [record_set] = document["recordSet"]
    return [{key.removeprefix("members/"): value for key, value in row.items()} for row in record_set["data"]]


def test_every_member_is_a_file_object_with_its_sha256_and_its_consent_as_prov(snapshot, tmp_path):
    document = json.loads(export(snapshot, tmp_path / "snapshot.jsonld"))

    members = list(SnapshotMember.objects.filter(snapshot=snapshot).order_by("index"))
    files = document["distribution"]
    assert [f["sha256"] for f in files] == [m.asset_sha256 for m in members] and len(files) == 2
    for file, member in zip(files, members, strict=True):
        assert file["@type"] == "cr:FileObject" and file["encodingFormat"] == "image/jpeg"
        assert file["prov:wasDerivedFrom"] == {"@id": f"urn:uuid:{member.consent_id}"}
        assert file["prov:wasAttributedTo"] == {"@id": f"urn:uuid:{member.asset.contributor_id}"}
        assert "ai_training, generative_training, likeness" in file["usageInfo"]
    assert document["conformsTo"] == ["http://mlcommons.org/croissant/1.1", "http://mlcommons.org/croissant/RAI/1.0"]


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")  # inside rdflib's own parser
def test_an_rdf_reader_sees_each_members_consent_and_contributor_as_prov_o(snapshot, tmp_path):
    import rdflib  # mlcroissant's RDF library (test-only, with it)

    path = tmp_path / "snapshot.jsonld"
    export(snapshot, path)
    graph = rdflib.Graph().parse(path, format="json-ld", base="https://example.org/snapshot/")

    prov = rdflib.Namespace("http://www.w3.org/ns/prov#")
    members = list(SnapshotMember.objects.filter(snapshot=snapshot).select_related("asset"))
    file = {m.pk: rdflib.URIRef(f"https://example.org/snapshot/file/{m.asset_sha256}") for m in members}
    consents = {(file[m.pk], rdflib.URIRef(f"urn:uuid:{m.consent_id}")) for m in members}
    contributors = {(file[m.pk], rdflib.URIRef(f"urn:uuid:{m.asset.contributor_id}")) for m in members}
    assert set(graph.subject_objects(prov.wasDerivedFrom)) == consents
    assert set(graph.subject_objects(prov.wasAttributedTo)) == contributors


def test_the_export_command_writes_the_croissant(snapshot, tmp_path):
    output = tmp_path / "snapshot.jsonld"
    printed = io.StringIO()

    call_command("export", str(snapshot.pk), "--format", "croissant", "--output", str(output), "--json", stdout=printed)

    said = json.loads(printed.getvalue())
    assert (said["path"], said["format"]) == (str(output), "croissant")
    assert said["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert json.loads(output.read_bytes())["identifier"] == f"urn:uuid:{snapshot.pk}"


def test_the_record_set_carries_each_members_consent_and_audit_outcome(snapshot, tmp_path):
    document = json.loads(export(snapshot, tmp_path / "snapshot.jsonld"))

    records = records_of(document)
    members = list(SnapshotMember.objects.filter(snapshot=snapshot).order_by("index").select_related("consent", "asset"))
    assert [(r["leaf_index"], r["sha256"]) for r in records] == [(m.index, m.asset_sha256) for m in members]
    consent = members[0].consent
    for record in records:
        assert (record["consent_id"], record["consent_digest"]) == (str(consent.pk), consent.digest)
        assert record["consent_scopes"] == ["ai_training", "generative_training", "likeness"]
        assert record["depicted_persons"] == ["Pat Model"] and record["evidence_sha256"] == consent.evidence_id
        assert record["contributor"] == "Carla Contributor" and record["consent_revoked_at"] is None
    [geotagged] = [r for r in records if r["findings"]]
    assert geotagged["auditors"] == [f"pii {PiiAuditor.version}: done"]
    [finding] = geotagged["findings"]
    assert finding.startswith(f"pii {PiiAuditor.version} pii.location.") and "dismissed by rita" in finding
    assert finding.endswith(": a public beach, not a home")
    declared = {f["name"] for f in document["recordSet"][0]["field"]}
    assert declared == set(records[0])


def test_the_rai_fields_report_real_counts_from_the_records(snapshot, tmp_path):
    document = json.loads(export(snapshot, tmp_path / "snapshot.jsonld"))

    collection = document["rai:dataCollection"]
    assert collection.startswith("2 images supplied by 1 contributor under 1 consent record (terms 2026-01)")
    assert "granted at 2026-01-01T00:00:00+00:00" in collection
    personal = document["rai:personalSensitiveInformation"]
    assert "The PII auditor examined 1 of 2 images" in personal[0] and "flagged 1 image" in personal[0]
    [pii] = [line for line in personal if line.startswith("PII auditor: pii.location.")]
    assert pii.endswith(": 1 finding, 1 dismissed by a reviewer")
    assert any(line.startswith("Likeness: 2 images under consents naming 1 depicted person,") for line in personal)
    assert document["rai:dataLimitations"] == ["1 image of the dataset left out of the snapshot: rejected 1."]
    assert "Consented by every member: ai_training, generative_training, likeness." in document["rai:dataUseCases"]
    assert document["rai:machineAnnotationTools"] == [f"pii {PiiAuditor.version} (ran on 1 image)"]
    assert "TAINTED" not in json.dumps(document)
    assert document["datePublished"] != document["dateCreated"]  # the second approval, not the freeze


def test_two_exports_of_the_same_snapshot_are_byte_identical(snapshot, operator, tmp_path):
    first = export(snapshot, tmp_path / "first.jsonld")
    dataset_create(slug="landscapes", scopes=["ai_training"], actor=operator)  # the audit log moves on meanwhile

    assert export(snapshot, tmp_path / "second.jsonld") == first


def test_a_tainted_snapshot_says_so_with_the_revocation(snapshot, contributor, tmp_path):
    consent_id = str(snapshot.members.first().consent_id)
    consent_revoke(consent_id=consent_id, actor=contributor, reason="I no longer agree")

    document = json.loads(export(snapshot, tmp_path / "snapshot.jsonld"))

    assert document["description"].startswith("TAINTED since ")
    assert f"consent {consent_id} revoked" in document["description"] and "I no longer agree" in document["description"]
    assert document["rai:dataLimitations"][0].startswith("TAINTED since ")
    assert "2 images under a revoked consent (consent_revoked_at per record)." in document["rai:dataLimitations"]
    assert "I no longer agree" in document["rai:dataLimitations"][0]
    assert document["creativeWorkStatus"] == "TAINTED"
    assert all(r["consent_revoked_at"] for r in records_of(document))


def test_licensed_members_name_their_licence_and_missing_images_are_said(approved, tmp_path):
    """The exports' shared world: five images from a CC-BY-4.0 source whose bytes are not in the
    store, and carla's own ingested image, under her consent."""
    text = export(
        approved,
        tmp_path / "faces.jsonld",
        warnings=["5 member image(s) missing from the blob store; their records are exported (blob_missing)"],
    )

    document = json.loads(text)
    first, second = document["license"]
    assert first == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert second["@type"] == "sc:CreativeWork" and second["description"].startswith("1 image without a third-party licence")
    assert "5 images came from licensed sources (Acme Photo)." in document["rai:dataCollection"]
    assert "5 images missing from the store (blob_missing per record)." in document["rai:dataLimitations"]
    assert document["usageInfo"] == "Consented by every member: ai_training, generative_training."
    assert sum(r["blob_missing"] for r in records_of(document)) == 5


def test_a_snapshot_never_approved_is_not_exported(in_review, tmp_path):
    with pytest.raises(ApplicationError) as refused:
        export(in_review, tmp_path / "faces.jsonld")

    assert refused.value.code == "snapshot_not_approved"
    assert list(tmp_path.glob("*.jsonld")) == []


def test_compliance_exports_the_croissant_over_rest_with_progress(approved, client_for, compliance):
    cora = client_for(compliance)
    started = cora.post(f"/api/v1/snapshots/{approved.pk}/exports/", {"format": "croissant"}, format="json")
    assert started.status_code == 202, started.content

    background_run(started.json()["id"])

    done = cora.get(started.json()["url"]).json()
    assert (done["status"], done["done"], done["total"]) == ("succeeded", 6, 6)
    download = cora.get(done["download"])
    assert download.status_code == 200 and download["Content-Type"] == "application/ld+json"
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == done["result"]["sha256"]
    assert len(json.loads(body)["distribution"]) == 6


def offline_environment(tmp_path: Path) -> dict[str, str]:
    """No network: any HTTP request goes to a closed port, and Hugging Face stays offline."""
    dead = "http://127.0.0.1:9"
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "http_proxy": dead,
        "https_proxy": dead,
        "NO_PROXY": "",
        "HOME": str(tmp_path),
    }


@pytest.mark.parametrize(
    ("world", "tainted"),
    [("snapshot", False), ("snapshot", True), ("approved", False)],
    ids=["approved", "tainted", "licensed-with-missing-images"],
)
def test_mlcroissant_validates_the_export_offline_with_no_warning(request, contributor, tmp_path, world, tainted):
    snapshot = request.getfixturevalue(world)
    if tainted:
        consent_revoke(consent_id=str(snapshot.members.first().consent_id), actor=contributor, reason="I no longer agree")
    path = tmp_path / "snapshot.jsonld"
    result = export_write(subject="snapshot", subject_id=str(snapshot.pk), format_name="croissant", output=path)
    assert result.path == str(path)

    validated = subprocess.run(
        [*VALIDATE, "--jsonld", str(path)],
        capture_output=True,
        text=True,
        env=offline_environment(tmp_path),
        timeout=300,
        check=False,
    )

    output = validated.stdout + validated.stderr
    assert validated.returncode == 0, output
    assert "Done." in output
    assert [line for line in output.splitlines() if line[:1] in "WEF" or "warning" in line.lower()] == [], output


def test_mlcroissant_reads_the_records_back_as_written(snapshot, tmp_path):
    path = tmp_path / "snapshot.jsonld"
    written = export(snapshot, path)
    script = (
        "import json, sys, mlcroissant as mlc\n"
        "rows = list(mlc.Dataset(sys.argv[1]).records('members'))\n"
        "print(json.dumps([[row['members/sha256'], row['members/leaf_index']] for row in rows]))\n"
    )

    read = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        env=offline_environment(tmp_path),
        timeout=300,
        check=False,
    )

    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout.splitlines()[-1]) == [[r["sha256"], r["leaf_index"]] for r in records_of(json.loads(written))]
