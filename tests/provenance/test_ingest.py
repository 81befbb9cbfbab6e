"""Ingest through its public entry point: every file gets an accepted or a refused row."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
import zipfile

import numpy as np
import pytest
from PIL import Image

from core.audit import auditlog_verify
from core.exceptions import ApplicationError
from core.storage import blob_exists
from provenance.api.serializers import IngestResultSerializer
from provenance.models import Asset, IngestBatch
from provenance.services.datasets import dataset_create
from provenance.services.ingest import ingest_paths
from tests.provenance.factories import blank_png, broken_images, image_bytes, write_consent, write_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def consent_path(contributor, tmp_path):
    return write_consent(tmp_path / "consent", contributor="carla@example.com")


@pytest.fixture
def dataset(db):
    return dataset_create(slug="faces", scopes=["ai_training", "generative_training"])


@pytest.fixture
def ingest(dataset, consent_path):
    def run(*paths, **kwargs):
        options = {"dataset_slug": "faces", "contributor_email": "carla@example.com", "consent_path": str(consent_path)}
        options.update(kwargs)
        return IngestResultSerializer(ingest_paths(paths=[str(p) for p in paths], **options)).data

    return run


def reasons(result) -> dict[str, str]:
    return {os.path.basename(row["path"].split("!")[-1]): row["reason"] for row in result["refused"]}


def test_good_files_are_accepted_and_stored_content_addressed(ingest, tmp_path):
    path = write_image(tmp_path / "in" / "a.jpg", seed=1)
    result = ingest(path)
    [row] = result["accepted"]
    assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert blob_exists(row["sha256"])
    asset = Asset.objects.get(pk=row["asset_id"])
    assert (asset.format, asset.width, asset.height, asset.status) == ("JPEG", 64, 64, "ingested")
    assert asset.datasets.get().slug == "faces"
    assert result["refused"] == []


def test_content_is_sniffed_never_trusted_from_the_extension(ingest, tmp_path):
    folder = tmp_path / "in"
    write_image(folder / "really_png.jpg", seed=2, fmt="PNG")
    (folder / "text.png").write_text("just some text")
    (folder / "vector.svg.png").write_text(
        '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    )
    (folder / "doc.jpg").write_bytes(b"%PDF-1.7\n...")
    (folder / "empty.jpg").write_bytes(b"")
    whole = image_bytes(3, size=(128, 128))
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    result = ingest(folder)
    assert [os.path.basename(r["path"]) for r in result["accepted"]] == ["really_png.jpg"]
    assert Asset.objects.get().format == "PNG"
    assert Asset.objects.get().metadata["extension_mismatch"] is True
    assert reasons(result) == {
        "text.png": "invalid_image",
        "vector.svg.png": "unsupported_type",
        "doc.jpg": "unsupported_type",
        "empty.jpg": "invalid_image",
        "truncated.jpg": "invalid_image",
    }
    assert all(row["detail"] for row in result["refused"])


def test_one_bad_file_never_sinks_the_batch(ingest, tmp_path):
    folder = tmp_path / "in"
    for i in range(20):
        write_image(folder / f"good{i:02}.jpg", seed=100 + i)
    for i in range(5):
        (folder / f"bad{i}.jpg").write_bytes(os.urandom(500))
    result = ingest(folder)
    assert len(result["accepted"]) == 20 and len(result["refused"]) == 5
    batch = IngestBatch.objects.get()
    assert (batch.accepted_count, batch.refused_count) == (20, 5)
    assert auditlog_verify().valid


def test_the_same_bytes_are_never_stored_twice(ingest, tmp_path):
    path = write_image(tmp_path / "in" / "a.jpg", seed=4)
    (tmp_path / "in" / "copy.jpg").write_bytes(path.read_bytes())
    first = ingest(tmp_path / "in")
    assert reasons(first) == {"copy.jpg": "duplicate"} or reasons(first) == {"a.jpg": "duplicate"}
    second = ingest(path)
    assert reasons(second) == {"a.jpg": "duplicate"}
    assert "already ingested as asset" in second["refused"][0]["detail"]
    assert Asset.objects.count() == 1


def test_a_same_name_txt_file_is_the_caption(ingest, tmp_path):
    write_image(tmp_path / "in" / "beach.jpg", seed=5)
    (tmp_path / "in" / "beach.txt").write_text("A beach at dawn\n")
    result = ingest(tmp_path / "in")
    assert len(result["accepted"]) == 1 and result["refused"] == []
    assert Asset.objects.get().caption == "A beach at dawn"


def test_a_decompression_bomb_is_too_large(ingest, tmp_path, settings):
    settings.CLEANROOM_INGEST = {**settings.CLEANROOM_INGEST, "MAX_IMAGE_PIXELS": 1_000_000}
    Image.new("1", (4000, 4000)).save(tmp_path / "bomb.png")  # 16 Mpx in a few kB
    result = ingest(tmp_path / "bomb.png")
    assert reasons(result) == {"bomb.png": "too_large"}
    assert "pixels" in result["refused"][0]["detail"]


def test_the_decompression_bomb_refusal_names_the_configured_pixel_limit_not_pillows(ingest, tmp_path, settings):
    settings.CLEANROOM_INGEST = {**settings.CLEANROOM_INGEST, "MAX_IMAGE_PIXELS": 1_000_000}
    (tmp_path / "twice.png").write_bytes(blank_png(4000, 4000, "L"))  # past Pillow's own 2× threshold
    (tmp_path / "just_over.png").write_bytes(blank_png(1001, 1000, "L"))  # past the limit, under 2×
    result = ingest(tmp_path / "twice.png", tmp_path / "just_over.png")
    assert reasons(result) == {"twice.png": "too_large", "just_over.png": "too_large"}
    for row in result["refused"]:
        assert "1000000 pixels" in row["detail"], row["detail"]
        assert "2000000" not in row["detail"] and "DOS" not in row["detail"], row["detail"]


def test_a_10000_square_rgba_png_of_a_few_hundred_kb_is_refused_by_the_decoded_bytes_budget(ingest, tmp_path, settings):
    """Exactly at the pixel limit, but 400 MB once decoded: over the default budget."""
    settings.CLEANROOM_INGEST = {**settings.CLEANROOM_INGEST, "MAX_IMAGE_PIXELS": 100_000_000}
    limit = settings.CLEANROOM_INGEST["MAX_DECODED_BYTES"]
    assert limit < 400_000_000
    (tmp_path / "huge.png").write_bytes(blank_png(10000, 10000, "RGBA"))
    result = ingest(tmp_path / "huge.png")
    assert reasons(result) == {"huge.png": "too_large"}
    detail = result["refused"][0]["detail"]
    assert f"{limit} bytes" in detail and "400000000 bytes" in detail, detail
    assert "200000000" not in detail and "DOS" not in detail, detail


@pytest.mark.parametrize(("mode", "bytes_per_pixel"), [("L", 1), ("LA", 2), ("RGB", 3), ("RGBA", 4), ("I;16", 2)])
def test_the_decoded_bytes_budget_counts_bands_and_bytes_per_sample(ingest, tmp_path, settings, mode, bytes_per_pixel):
    decoded = 300 * 200 * bytes_per_pixel
    (tmp_path / "image.png").write_bytes(blank_png(300, 200, mode))
    settings.CLEANROOM_INGEST = {**settings.CLEANROOM_INGEST, "MAX_DECODED_BYTES": decoded - 1}
    result = ingest(tmp_path / "image.png")
    assert reasons(result) == {"image.png": "too_large"}
    assert f"{decoded} bytes" in result["refused"][0]["detail"] and f"{decoded - 1} bytes" in result["refused"][0]["detail"]
    settings.CLEANROOM_INGEST = {**settings.CLEANROOM_INGEST, "MAX_DECODED_BYTES": decoded}
    assert ingest(tmp_path / "image.png")["refused"] == []


def test_no_refusal_detail_shows_an_object_repr(ingest, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, data in broken_images().items():
        (folder / name).write_bytes(data)
    _zip(tmp_path / "in" / "broken.zip", broken_images())
    result = ingest(folder)
    assert len(result["refused"]) > 20
    for row in result["refused"]:
        assert "object at 0x" not in row["detail"] and " at 0x" not in row["detail"], row


def test_an_image_over_the_pixel_limit_is_too_large(ingest, tmp_path, settings):
    settings.CLEANROOM_INGEST = {**settings.CLEANROOM_INGEST, "MAX_IMAGE_PIXELS": 1_000_000}
    (tmp_path / "big.png").write_bytes(blank_png(1001, 1000, "L"))
    (tmp_path / "fits.png").write_bytes(blank_png(1000, 1000, "L"))
    result = ingest(tmp_path / "big.png", tmp_path / "fits.png")
    assert reasons(result) == {"big.png": "too_large"}


def test_an_oversized_file_is_too_large(ingest, tmp_path, settings):
    settings.CLEANROOM_INGEST = {**settings.CLEANROOM_INGEST, "MAX_FILE_BYTES": 10_000}
    write_image(tmp_path / "big.png", seed=6, size=(256, 256), fmt="PNG")
    assert reasons(ingest(tmp_path / "big.png")) == {"big.png": "too_large"}


def _zip(path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_members_are_ingested_with_archive_bang_member_paths(ingest, tmp_path):
    archive = _zip(
        tmp_path / "batch.zip", {"photos/a.jpg": image_bytes(7), "photos/a.txt": b"caption a", "b.png": image_bytes(8, fmt="PNG")}
    )
    result = ingest(archive)
    assert sorted(r["path"] for r in result["accepted"]) == [f"{archive}!b.png", f"{archive}!photos/a.jpg"]
    assert Asset.objects.get(original_name="a.jpg").caption == "caption a"


def test_zip_slip_members_are_refused_and_nothing_is_written_outside_storage(ingest, tmp_path):
    target = tmp_path / "escaped.png"
    archive = _zip(
        tmp_path / "evil.zip",
        {
            f"../../{target.name}": image_bytes(9, fmt="PNG"),
            "/tmp/absolute.png": image_bytes(10, fmt="PNG"),
            "..\\windows.png": image_bytes(11, fmt="PNG"),
            "C:/drive.png": image_bytes(12, fmt="PNG"),
            "ok.png": image_bytes(13, fmt="PNG"),
        },
    )
    with zipfile.ZipFile(archive, "a") as z:
        link = zipfile.ZipInfo("link.png")
        link.external_attr = 0o120777 << 16
        z.writestr(link, "/etc/passwd")
    result = ingest(archive)
    assert reasons(result) == {
        f"{target.name}": "unsafe_path",
        "absolute.png": "unsafe_path",
        "..\\windows.png": "unsafe_path",
        "drive.png": "unsafe_path",
        "link.png": "unsafe_path",
    }
    assert len(result["accepted"]) == 1
    assert not target.exists() and not (tmp_path.parent / target.name).exists()
    assert not os.path.exists("/tmp/absolute.png")


def test_nested_zips_are_opened_to_a_bounded_depth(ingest, tmp_path):
    level3 = io.BytesIO()
    with zipfile.ZipFile(level3, "w") as z:
        z.writestr("deep.png", image_bytes(14, fmt="PNG"))
    level2 = io.BytesIO()
    with zipfile.ZipFile(level2, "w") as z:
        z.writestr("inner.png", image_bytes(15, fmt="PNG"))
        z.writestr("level3.zip", level3.getvalue())
    archive = _zip(tmp_path / "outer.zip", {"level2.zip": level2.getvalue()})
    result = ingest(archive)
    assert [r["path"] for r in result["accepted"]] == [f"{archive}!level2.zip!inner.png"]
    assert result["refused"][0]["path"] == f"{archive}!level2.zip!level3.zip"
    assert result["refused"][0]["reason"] == "unsupported_type"


def test_a_zip_bomb_member_is_too_large(ingest, tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {"zeros.png": b"\0" * (30 * 1024 * 1024), "ok.jpg": image_bytes(16)})
    result = ingest(archive)
    assert reasons(result) == {"zeros.png": "too_large"}
    assert "ratio" in result["refused"][0]["detail"]
    assert len(result["accepted"]) == 1


def test_a_zip_member_whose_compressed_data_is_corrupt_is_refused_and_the_others_accepted(ingest, tmp_path):
    good, bad = image_bytes(62), image_bytes(63, size=(128, 128), fmt="PNG")
    archive = _zip(tmp_path / "damaged.zip", {"good.jpg": good, "bad.png": bad})
    raw = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as z:
        member = z.getinfo("bad.png")
    start = member.header_offset + 30 + len(member.filename)  # the local header's fixed part, then the name
    raw[start : start + 16] = b"\xff" * 16  # an invalid deflate block header
    archive.write_bytes(bytes(raw))
    result = ingest(archive)
    assert reasons(result) == {"bad.png": "invalid_image"}
    assert [os.path.basename(r["path"].split("!")[-1]) for r in result["accepted"]] == ["good.jpg"]


def test_a_corrupt_zip_is_refused_with_a_reason(ingest, tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04" + os.urandom(200))
    result = ingest(tmp_path / "broken.zip")
    assert reasons(result) == {"broken.zip": "invalid_image"}
    assert "ZIP" in result["refused"][0]["detail"]


def _claim_zip_version(data: bytes, version: int) -> bytes:
    """The archive with its central directory claiming `version` is needed to extract it."""
    raw = bytearray(data)
    entry = raw.index(b"PK\x01\x02")
    raw[entry + 6 : entry + 8] = version.to_bytes(2, "little")
    return bytes(raw)


@pytest.mark.parametrize("progress", [False, True], ids=["quiet", "progress"])
def test_a_zip_claiming_an_unknown_zip_version_is_refused_not_a_crash(ingest, tmp_path, progress):
    """Found by fuzzing: zipfile raises NotImplementedError ("zip file version 8.4") for it."""
    (tmp_path / "future.zip").write_bytes(
        _claim_zip_version(_zip(tmp_path / "a.zip", {"a.jpg": image_bytes(70)}).read_bytes(), 84)
    )
    inner = _claim_zip_version(_zip(tmp_path / "b.zip", {"b.jpg": image_bytes(71)}).read_bytes(), 84)
    outer = _zip(tmp_path / "outer.zip", {"future-inner.zip": inner, "c.jpg": image_bytes(72)})

    result = ingest(tmp_path / "future.zip", outer, progress=progress)

    assert reasons(result) == {"future.zip": "invalid_image", "future-inner.zip": "invalid_image"}
    assert all("version" in row["detail"] for row in result["refused"])
    assert [os.path.basename(r["path"].split("!")[-1]) for r in result["accepted"]] == ["c.jpg"]


@pytest.mark.slow
def test_a_large_zip_is_streamed_not_read_into_memory(ingest, tmp_path):
    """120 MB of members; peak Python memory stays near one member, not the archive."""
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(tmp_path / "large.zip", "w", compression=zipfile.ZIP_STORED) as archive:
        for i in range(30):
            archive.writestr(f"noise{i}.raw", rng.bytes(4 * 1024 * 1024))
        archive.writestr("real.jpg", image_bytes(17))
    tracemalloc.start()
    try:
        result = ingest(tmp_path / "large.zip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result["accepted"]) == 1 and len(result["refused"]) == 30
    assert peak < 40 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"


def test_files_without_a_consent_covering_the_dataset_scopes_are_no_consent(contributor, tmp_path):
    dataset_create(slug="commercial", scopes=["ai_training", "commercial_use"])
    consent = write_consent(tmp_path / "c", contributor="carla@example.com", scopes=["ai_training"])
    write_image(tmp_path / "in" / "a.jpg", seed=18)
    result = IngestResultSerializer(
        ingest_paths(
            paths=[str(tmp_path / "in")],
            dataset_slug="commercial",
            contributor_email="carla@example.com",
            consent_path=str(consent),
        )
    ).data
    assert reasons(result) == {"a.jpg": "no_consent"}
    assert "commercial_use" in result["refused"][0]["detail"]


def test_an_expired_consent_is_no_consent(ingest, contributor, tmp_path):
    consent = write_consent(tmp_path / "c", contributor="carla@example.com", granted_at="2020-01-01", expires_at="2021-01-01")
    write_image(tmp_path / "in" / "a.jpg", seed=19)
    result = ingest(tmp_path / "in", consent_path=str(consent))
    assert reasons(result) == {"a.jpg": "no_consent"}
    assert "expired" in result["refused"][0]["detail"]


def test_the_do_not_train_list_refuses_by_digest_and_by_source_url(ingest, tmp_path, settings):
    listed = write_image(tmp_path / "in" / "listed.jpg", seed=20)
    write_image(tmp_path / "in" / "fine.jpg", seed=21)
    with open(settings.CLEANROOM_DO_NOT_TRAIN_FILE, "w") as handle:
        handle.write(f"# operator's list\n{hashlib.sha256(listed.read_bytes()).hexdigest()}\nhttps://blocked.example/gallery/*\n")
    result = ingest(tmp_path / "in")
    assert reasons(result) == {"listed.jpg": "optout"}
    write_image(tmp_path / "in2" / "other.jpg", seed=22)
    blocked = ingest(tmp_path / "in2", source_url="https://blocked.example/gallery/42")
    assert reasons(blocked) == {"other.jpg": "optout"}
    assert "do-not-train" in blocked["refused"][0]["detail"].lower()


def _xmp(inner: str) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f"{inner}</rdf:RDF></x:xmpmeta>"
    ).encode()


def test_xmp_data_mining_and_tdm_reservation_opt_outs_are_honoured(ingest, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    prohibited = _xmp(
        '<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"/>'
    )
    allowed = _xmp(
        '<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-ALLOWED"/>'
    )
    reserved = _xmp(
        '<rdf:Description xmlns:tdm="http://www.w3.org/ns/tdmrep/"><tdm:reservation>1</tdm:reservation></rdf:Description>'
    )
    (folder / "prohibited.jpg").write_bytes(image_bytes(23, xmp=prohibited))
    (folder / "allowed.jpg").write_bytes(image_bytes(24, xmp=allowed))
    (folder / "reserved.jpg").write_bytes(image_bytes(25, xmp=reserved))
    result = ingest(folder)
    assert reasons(result) == {"prohibited.jpg": "optout", "reserved.jpg": "optout"}
    details = " ".join(r["detail"] for r in result["refused"])
    assert "DataMining" in details and "tdm" in details.lower()


def test_exif_gps_is_extracted_and_stored(ingest, tmp_path):
    image = Image.fromarray(np.random.default_rng(26).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "W", 4: (1.0, 30.0, 0.0)}
    image.save(tmp_path / "gps.jpg", exif=exif)
    ingest(tmp_path / "gps.jpg")
    gps = Asset.objects.get().metadata["gps"]
    assert gps["latitude"] == pytest.approx(52.52, abs=1e-3)
    assert gps["longitude"] == pytest.approx(-1.5, abs=1e-3)


def test_unknown_dataset_or_contributor_refuses_the_whole_request(consent_path, dataset, tmp_path):
    with pytest.raises(ApplicationError) as refused:
        ingest_paths(paths=[], dataset_slug="nope", contributor_email="carla@example.com", consent_path=str(consent_path))
    assert refused.value.code == "unknown_dataset"
    with pytest.raises(ApplicationError) as refused:
        ingest_paths(paths=[], dataset_slug="faces", contributor_email="nobody@example.com", consent_path=str(consent_path))
    assert refused.value.code == "unknown_contributor"


def test_a_signed_cawg_training_mining_optout_is_refused_and_an_allowed_one_accepted(ingest, tmp_path):
    from tests.provenance.ingest.c2pa_signing import sign_image, training_mining_assertion

    folder = tmp_path / "in"
    folder.mkdir()
    refused = training_mining_assertion({"cawg.ai_training": "notAllowed", "cawg.ai_generative_training": "notAllowed"})
    allowed = training_mining_assertion({"cawg.ai_training": "allowed", "cawg.ai_generative_training": "allowed"})
    (folder / "optout.jpg").write_bytes(sign_image(image_bytes(40), "image/jpeg", assertions=[refused]))
    (folder / "allowed.jpg").write_bytes(sign_image(image_bytes(41), "image/jpeg", assertions=[allowed]))
    result = ingest(folder)
    assert reasons(result) == {"optout.jpg": "optout"}
    detail = result["refused"][0]["detail"]
    assert "cawg.training-mining" in detail and "notAllowed" in detail
    # The signer is a throw-away CA no one trusts: the detail says the manifest did not validate as trusted.
    asset = Asset.objects.get()
    assert asset.c2pa["validation_state"] in {"Valid", "Invalid"}
    assert asset.c2pa["active_manifest"]


def test_a_tampered_signed_optout_is_still_refused_and_the_detail_says_so(ingest, tmp_path):
    from tests.provenance.ingest.c2pa_signing import sign_image, training_mining_assertion

    signed = bytearray(
        sign_image(
            image_bytes(42, size=(128, 128)),
            "image/jpeg",
            assertions=[training_mining_assertion({"cawg.ai_training": "notAllowed"})],
        )
    )
    signed[-200] ^= 0xFF  # flip bits in the pixel data after signing
    (tmp_path / "tampered.jpg").write_bytes(bytes(signed))
    result = ingest(tmp_path / "tampered.jpg")
    assert reasons(result) == {"tampered.jpg": "optout"}
    assert "invalid" in result["refused"][0]["detail"].lower()


def test_a_file_name_that_is_not_utf8_is_ingested_and_reported_readably(ingest, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.jpg"), "wb") as handle:
        handle.write(image_bytes(50))
    with open(os.path.join(os.fsencode(folder), b"bad\xff.png"), "wb") as handle:
        handle.write(b"not an image")
    result = ingest(folder)
    assert [os.path.basename(r["path"]) for r in result["accepted"]] == ["caf\\xe9.jpg"]
    assert [os.path.basename(r["path"]) for r in result["refused"]] == ["bad\\xff.png"]
    assert Asset.objects.get().original_name == "caf\\xe9.jpg"
    import json

    json.dumps(result).encode("utf-8")  # prints on any terminal


def test_nul_characters_in_member_names_and_captions_never_reach_the_database(ingest, tmp_path):
    """zipfile itself cuts member names at NUL; a caption's NUL is dropped before PostgreSQL."""
    archive = _zip(
        tmp_path / "nul.zip",
        {"ok.jpg": image_bytes(51), "ok.txt": b"a caption\x00with a NUL", "evil\x00.png": image_bytes(52, fmt="PNG")},
    )
    result = ingest(archive)
    assert sorted(r["path"] for r in result["accepted"]) == [f"{archive}!evil", f"{archive}!ok.jpg"]
    assert Asset.objects.get(original_name="ok.jpg").caption == "a captionwith a NUL"


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "I;16"])
def test_stored_perceptual_hashes_are_imagehashs_own(ingest, tmp_path, mode):
    import imagehash

    pixels = np.random.default_rng(90).integers(0, 255, (300, 500, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode if mode != "I;16" else "L")
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image).astype(np.uint16) * 257)
    image.save(tmp_path / "image.png")
    ingest(tmp_path / "image.png")
    with Image.open(tmp_path / "image.png") as reference:
        expected = (str(imagehash.phash(reference)), str(imagehash.dhash(reference)))
    assert (Asset.objects.get().phash, Asset.objects.get().dhash) == expected


def test_a_blob_store_failure_ends_the_batch_after_recording_the_files_stored_before_it(ingest, tmp_path, settings):
    """A row is inserted only once its blob is stored: a store that fails on the third file ends
    the batch with the first two recorded, and no row without its blob."""
    folder = tmp_path / "in"
    paths = [write_image(folder / f"{name}.jpg", seed=seed) for name, seed in zip("abcd", range(60, 64), strict=True)]
    digests = [hashlib.sha256(path.read_bytes()).hexdigest() for path in paths]
    assert len({digest[:2] for digest in digests}) == 4, "the seeds must give four different blob folders"
    # A plain file where the third blob's folder should be: storing it fails (ENOTDIR).
    blobs = tmp_path / "blobs"
    assert settings.STORAGES["blobs"]["OPTIONS"]["location"] == str(blobs)
    blobs.mkdir(exist_ok=True)
    (blobs / digests[2][:2]).write_bytes(b"in the way")

    with pytest.raises(NotADirectoryError):
        ingest(folder)

    assert sorted(Asset.objects.values_list("sha256", flat=True)) == sorted(digests[:2])
    assert all(blob_exists(digest) for digest in digests[:2])
    assert auditlog_verify().valid
