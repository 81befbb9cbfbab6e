from __future__ import annotations

from pathlib import Path

import pytest

from provenance.ingest.metadata import extract_metadata
from provenance.ingest.optout import DoNotTrainList, OptOutSignal, find_embedded_optout
from tests.provenance.ingest import images
from tests.provenance.ingest.c2pa_signing import (
    make_credentials,
    shared_credentials,
    sign_image,
    training_mining_assertion,
)

PLUS_VOCAB = "http://ns.useplus.org/ldf/vocab/"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def optout_of(data: bytes, mime_type: str) -> OptOutSignal | None:
    metadata = extract_metadata(
        images.open_image(data), data, mime_type=mime_type, trust_anchors_pem=shared_credentials().root_pem
    )
    return find_embedded_optout(metadata, data)


def signed_jpeg(entries: dict[str, str], *, label: str = "cawg.training-mining", **options: object) -> bytes:
    return sign_image(images.jpeg_bytes(), "image/jpeg", assertions=[training_mining_assertion(entries, label=label)], **options)


def test_cawg_ai_training_not_allowed_in_a_signed_jpeg_is_an_optout() -> None:
    signal = optout_of(signed_jpeg({"cawg.ai_training": "notAllowed"}), "image/jpeg")

    assert signal.signal == "cawg.training-mining"
    assert "cawg.ai_training: notAllowed" in signal.detail
    assert "urn:c2pa:" in signal.detail
    assert "manifest validation: Trusted" in signal.detail


def test_cawg_generative_training_not_allowed_in_a_signed_png_is_an_optout() -> None:
    data = sign_image(
        images.png_bytes(),
        "image/png",
        assertions=[training_mining_assertion({"cawg.ai_generative_training": "notAllowed"})],
    )

    signal = optout_of(data, "image/png")

    assert signal.signal == "cawg.training-mining"
    assert "cawg.ai_generative_training: notAllowed" in signal.detail


def test_the_older_c2pa_training_mining_label_is_an_optout() -> None:
    data = signed_jpeg({"c2pa.ai_training": "notAllowed"}, label="c2pa.training-mining")

    signal = optout_of(data, "image/jpeg")

    assert signal.signal == "c2pa.training-mining"
    assert "c2pa.ai_training: notAllowed" in signal.detail


def test_a_versioned_training_mining_label_is_an_optout() -> None:
    data = signed_jpeg({"cawg.ai_training": "notAllowed"}, label="cawg.training-mining.v2")

    assert optout_of(data, "image/jpeg").signal == "cawg.training-mining"


def test_constrained_training_counts_as_an_optout_and_says_constrained() -> None:
    signal = optout_of(signed_jpeg({"cawg.ai_training": "constrained"}), "image/jpeg")

    assert signal.signal == "cawg.training-mining"
    assert "constrained" in signal.detail


def test_allowed_training_is_not_an_optout() -> None:
    data = signed_jpeg({"cawg.ai_training": "allowed", "cawg.ai_generative_training": "allowed"})

    assert optout_of(data, "image/jpeg") is None


def test_prohibiting_only_inference_and_data_mining_is_not_an_optout() -> None:
    data = signed_jpeg(
        {
            "cawg.ai_training": "allowed",
            "cawg.ai_generative_training": "allowed",
            "cawg.ai_inference": "notAllowed",
            "cawg.data_mining": "notAllowed",
        }
    )

    assert optout_of(data, "image/jpeg") is None


def test_an_optout_in_an_ingredient_manifest_is_found() -> None:
    parent = signed_jpeg({"cawg.ai_training": "notAllowed"})
    child = sign_image(images.jpeg_bytes(), "image/jpeg", parent=parent)

    signal = optout_of(child, "image/jpeg")

    assert signal.signal == "cawg.training-mining"


def test_an_optout_signed_by_an_untrusted_signer_is_still_an_optout() -> None:
    data = signed_jpeg({"cawg.ai_training": "notAllowed"}, credentials=make_credentials("Unknown CA"))

    signal = optout_of(data, "image/jpeg")

    assert signal.signal == "cawg.training-mining"
    assert "manifest validation: Valid" in signal.detail


def test_an_optout_whose_pixels_were_changed_after_signing_is_still_an_optout() -> None:
    data = images.flip_byte_in_scan_data(signed_jpeg({"cawg.ai_training": "notAllowed"}))

    signal = optout_of(data, "image/jpeg")

    assert signal.signal == "cawg.training-mining"
    assert "manifest validation: Invalid" in signal.detail


@pytest.mark.parametrize("mime_type", ["image/jpeg", "image/png"])
def test_an_optout_in_a_manifest_the_sdk_cannot_read_is_found_by_a_raw_scan(mime_type: str) -> None:
    source = images.jpeg_bytes() if mime_type == "image/jpeg" else images.png_bytes()
    signed = sign_image(source, mime_type, assertions=[training_mining_assertion({"cawg.ai_training": "notAllowed"})])

    signal = optout_of(images.break_manifest_claim(signed), mime_type)

    assert signal.signal == "cawg.training-mining"
    assert "cawg.ai_training: notAllowed" in signal.detail
    assert "unreadable" in signal.detail


def test_the_raw_scan_does_not_lend_one_entrys_refusal_to_its_neighbour() -> None:
    signed = signed_jpeg({"cawg.ai_training": "allowed", "cawg.data_mining": "notAllowed"})

    assert optout_of(images.break_manifest_claim(signed), "image/jpeg") is None


def test_the_raw_scan_reports_constrained_generative_training() -> None:
    signed = signed_jpeg({"cawg.ai_generative_training": "constrained", "cawg.ai_inference": "notAllowed"})

    signal = optout_of(images.break_manifest_claim(signed), "image/jpeg")

    assert "cawg.ai_generative_training: constrained" in signal.detail


def test_a_signed_file_without_a_training_mining_assertion_is_not_an_optout() -> None:
    assert optout_of(sign_image(images.jpeg_bytes(), "image/jpeg"), "image/jpeg") is None


@pytest.mark.parametrize(
    "xmp_attribute_value",
    [f"{PLUS_VOCAB}DMI-PROHIBITED-AIMLTRAINING", f"{PLUS_VOCAB}DMI-PROHIBITED-GENAIMLTRAINING", "DMI-PROHIBITED"],
)
def test_plus_data_mining_prohibited_is_an_optout(xmp_attribute_value: str) -> None:
    packet = images.xmp_packet(attributes=f'plus:DataMining="{xmp_attribute_value}"')

    signal = optout_of(images.jpeg_bytes(xmp=packet), "image/jpeg")

    assert signal == OptOutSignal("plus:DataMining", signal.detail)
    assert xmp_attribute_value in signal.detail


def test_plus_data_mining_written_as_a_resource_in_a_png_is_an_optout() -> None:
    packet = images.xmp_packet(body=f'<plus:DataMining rdf:resource="{PLUS_VOCAB}DMI-PROHIBITED-SEECONSTRAINT"/>')

    assert optout_of(images.png_with_xmp(packet), "image/png").signal == "plus:DataMining"


@pytest.mark.parametrize("value", [f"{PLUS_VOCAB}DMI-ALLOWED", f"{PLUS_VOCAB}DMI-UNSPECIFIED"])
def test_plus_data_mining_allowed_or_unspecified_is_not_an_optout(value: str) -> None:
    packet = images.xmp_packet(attributes=f'plus:DataMining="{value}"')

    assert optout_of(images.jpeg_bytes(xmp=packet), "image/jpeg") is None


def test_tdm_reservation_of_one_is_an_optout() -> None:
    packet = images.xmp_packet(attributes='tdm:reservation="1" tdm:policy="https://example.com/tdm-policy.json"')

    signal = optout_of(images.jpeg_bytes(xmp=packet), "image/jpeg")

    assert signal.signal == "tdm-reservation"
    assert "is 1" in signal.detail
    assert "https://example.com/tdm-policy.json" in signal.detail


def test_tdm_reservation_of_zero_is_not_an_optout() -> None:
    packet = images.xmp_packet(attributes='tdm:reservation="0"')

    assert optout_of(images.jpeg_bytes(xmp=packet), "image/jpeg") is None


def test_tdm_reservation_in_the_hash_namespace_variant_is_an_optout() -> None:
    packet = images.xmp_packet(body='<tdmx:reservation xmlns:tdmx="http://www.w3.org/ns/tdmrep#">1</tdmx:reservation>')

    assert optout_of(images.jpeg_bytes(xmp=packet), "image/jpeg").signal == "tdm-reservation"


def test_a_property_named_tdm_reservation_is_an_optout() -> None:
    packet = images.xmp_packet(body='<o:tdm-reservation xmlns:o="urn:example:other">1</o:tdm-reservation>')

    assert optout_of(images.jpeg_bytes(xmp=packet), "image/jpeg").signal == "tdm-reservation"


def test_a_plain_image_has_no_embedded_optout() -> None:
    assert optout_of(images.jpeg_bytes(exif=images.exif_with_gps(1.0, 2.0)), "image/jpeg") is None


def test_a_missing_or_absent_list_file_is_an_empty_list(tmp_path: Path) -> None:
    for do_not_train in (DoNotTrainList.from_file(None), DoNotTrainList.from_file(tmp_path / "missing.txt")):
        assert len(do_not_train) == 0
        assert do_not_train.match(sha256=SHA, source_url="https://example.com/a.jpg") is None


def test_a_listed_sha256_matches_in_any_case(tmp_path: Path) -> None:
    path = tmp_path / "do-not-train.txt"
    path.write_text(f"# takedown 2024-05-01\n\n{SHA.upper()}\n", encoding="utf-8")

    signal = DoNotTrainList.from_file(path).match(sha256=SHA, source_url=None)

    assert signal.signal == "do-not-train:sha256"
    assert SHA in signal.detail


def test_a_listed_source_url_matches_after_normalisation() -> None:
    do_not_train = DoNotTrainList.from_lines(["HTTPS://Example.COM:443/Gallery/Photo.jpg/"])

    signal = do_not_train.match(sha256=SHA, source_url="https://example.com/Gallery/Photo.jpg#top")

    assert signal.signal == "do-not-train:source-url"
    assert "https://example.com/Gallery/Photo.jpg" in signal.detail


def test_url_paths_stay_case_sensitive() -> None:
    do_not_train = DoNotTrainList.from_lines(["https://example.com/Gallery/Photo.jpg"])

    assert do_not_train.match(sha256=SHA, source_url="https://example.com/gallery/photo.jpg") is None


def test_an_entry_ending_in_a_star_matches_by_prefix() -> None:
    do_not_train = DoNotTrainList.from_lines(["https://Example.com/artists/ana/*"])

    assert do_not_train.match(sha256=SHA, source_url="https://example.com/artists/ana/2024/boat.png") is not None
    assert do_not_train.match(sha256=SHA, source_url="https://example.com/artists/ana") is not None
    assert do_not_train.match(sha256=SHA, source_url="https://example.com/artists/anabel/boat.png") is None


def test_comments_and_blank_lines_are_ignored() -> None:
    do_not_train = DoNotTrainList.from_lines(["# https://example.com/commented.jpg", "   ", "  # indented comment"])

    assert len(do_not_train) == 0
    assert do_not_train.match(sha256=SHA, source_url="https://example.com/commented.jpg") is None


def test_an_unlisted_file_does_not_match() -> None:
    do_not_train = DoNotTrainList.from_lines([SHA, "https://example.com/a.jpg", "https://example.com/b/*"])

    assert do_not_train.match(sha256="0" * 64, source_url="https://example.com/c.jpg") is None
