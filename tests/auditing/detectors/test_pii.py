"""Personal data in text, metadata and GPS: real Presidio, real files built with Pillow."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from PIL import Image

from auditing.detectors.pii import find_gps, find_pii_in_metadata, find_pii_in_text, mask
from auditing.detectors.pii_text import NerModelNotFound
from provenance.ingest.metadata import extract_metadata

REPO = Path(__file__).resolve().parents[3]
DC = "http://purl.org/dc/elements/1.1/"


def _metadata_of(image: Image.Image, **save_options: object) -> dict:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **save_options)
    data = buffer.getvalue()
    return extract_metadata(Image.open(io.BytesIO(data)), data, mime_type="image/jpeg").as_json()


def _gps_exif(latitude: tuple[float, float, float], north: bool, longitude: tuple[float, float, float], east: bool) -> Image.Exif:
    exif = Image.Exif()
    exif[0x8825] = {1: "N" if north else "S", 2: latitude, 3: "E" if east else "W", 4: longitude}
    return exif


def _entities(hits: list) -> set[str]:
    return {hit.entity_type for hit in hits}


# --- text ------------------------------------------------------------------------------------


def test_email_and_phone_in_a_caption_are_found_and_masked() -> None:
    text = "Shot by john.doe@example.com, call +1 (212) 555-0147 for prints"
    hits = find_pii_in_text(text, field="caption")

    by_type = {hit.entity_type: hit for hit in hits}
    assert set(by_type) == {"EMAIL_ADDRESS", "PHONE_NUMBER"}
    email = by_type["EMAIL_ADDRESS"]
    assert text[email.start : email.end] == "john.doe@example.com"
    assert email.text == "j***@example.com"
    assert email.field == "caption"
    assert by_type["PHONE_NUMBER"].text.endswith("47") and "555" not in by_type["PHONE_NUMBER"].text


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("card 4111 1111 1111 1111 on file", "CREDIT_CARD"),
        ("IBAN DE89 3704 0044 0532 0130 00", "IBAN_CODE"),
        ("uploaded from 203.0.113.54", "IP_ADDRESS"),
        ("see https://portfolio.example.net/jane", "URL"),
        ("my ssn is 536-22-8910", "US_SSN"),
    ],
)
def test_pattern_recognizers_find_each_kind_of_identifier(text: str, entity: str) -> None:
    assert entity in _entities(find_pii_in_text(text, field="caption"))


@pytest.mark.parametrize("number", ["2221 0000 0000 0009", "2720-9900-0000-0007", "2500000000000001"])
def test_mastercard_2_series_numbers_are_cards(number: str) -> None:
    # Presidio's card pattern starts at 3–6 (and 1): the 2221–2720 range issued since 2017 was missed.
    hits = find_pii_in_text(f"paid with {number}", field="caption")
    assert [(hit.entity_type, hit.score) for hit in hits] == [("CREDIT_CARD", 1.0)]


def test_a_2_series_number_failing_the_luhn_check_is_not_a_card() -> None:
    assert "CREDIT_CARD" not in _entities(find_pii_in_text("ref 2221 0000 0000 0008", field="caption"))


def test_a_plain_description_has_no_pii() -> None:
    assert find_pii_in_text("A red fox crossing a snowy field at dawn, 2021", field="caption") == []
    assert find_pii_in_text("   ", field="caption") == []


def test_the_domain_of_an_email_is_not_reported_again_as_a_url() -> None:
    hits = find_pii_in_text("write to ana@studio.example.org", field="caption")
    assert [hit.entity_type for hit in hits] == ["EMAIL_ADDRESS"]


def test_masking_keeps_only_a_hint_of_the_value() -> None:
    assert mask("EMAIL_ADDRESS", "jane.roe@example.com") == "j***@example.com"
    assert mask("PHONE_NUMBER", "212-555-0147") == "2**-***-**47"
    assert mask("PERSON", "Jane Roe") == "J*** R***"
    assert mask("IP_ADDRESS", "10.2.3.4") == "1*.*.*.4"


def test_no_network_is_touched_even_on_first_use(tmp_path: Path) -> None:
    """A fresh process with an empty home, proxies at a closed port and an audit hook that
    records every connection attempt: the email recognizer still validates domains."""
    script = (
        "import json, sys\n"
        "events = []\n"
        "sys.addaudithook(lambda e, a: events.append(e) if e in ('socket.connect', 'socket.getaddrinfo', "
        "'urllib.Request', 'http.client.connect') else None)\n"
        "from auditing.detectors.pii import find_pii_in_text\n"
        "hits = find_pii_in_text('mail me: jane.roe@example.co.uk', field='caption')\n"
        "print(json.dumps({'events': events, 'hits': [h.entity_type for h in hits]}))\n"
    )
    closed_port = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "HTTP_PROXY": closed_port,
        "HTTPS_PROXY": closed_port,
        "http_proxy": closed_port,
        "https_proxy": closed_port,
        "PYTHONPATH": str(REPO),
    }
    env.pop("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", None)
    completed = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result == {"events": [], "hits": ["EMAIL_ADDRESS"]}
    assert not (tmp_path / "cache" / "python-tldextract").exists()


# --- a local NER model -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ner_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny spaCy pipeline an operator could have trained: blank English + an entity ruler."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [
            {"label": "PERSON", "pattern": "Jane Roe"},
            {"label": "PERSON", "pattern": [{"LOWER": "ada"}, {"LOWER": "lovelace"}]},
            {"label": "GPE", "pattern": "Reykjavik"},
        ]
    )
    path = tmp_path_factory.mktemp("models") / "tiny-ner"
    nlp.to_disk(path)
    return path


def test_a_configured_ner_model_finds_people_and_places(ner_model_dir: Path) -> None:
    text = "Jane Roe and Ada Lovelace in Reykjavik, jane@example.com"
    hits = find_pii_in_text(text, field="caption", ner_model_dir=ner_model_dir)

    found = {(hit.entity_type, text[hit.start : hit.end]) for hit in hits}
    assert found == {
        ("PERSON", "Jane Roe"),
        ("PERSON", "Ada Lovelace"),
        ("LOCATION", "Reykjavik"),
        ("EMAIL_ADDRESS", "jane@example.com"),
    }
    assert {hit.text for hit in hits if hit.entity_type == "PERSON"} == {"J*** R***", "A*** L***"}


def test_without_a_ner_model_names_are_not_guessed(ner_model_dir: Path) -> None:
    assert find_pii_in_text("Jane Roe in Reykjavik", field="caption") == []


def test_a_missing_ner_model_directory_fails_instead_of_downloading(tmp_path: Path) -> None:
    with pytest.raises(NerModelNotFound):
        find_pii_in_text("Jane Roe", field="caption", ner_model_dir=tmp_path / "nowhere")


# --- metadata --------------------------------------------------------------------------------


def test_metadata_fields_of_a_real_jpeg_are_searched_and_named() -> None:
    exif = Image.Exif()
    exif[0x010E] = "Portrait, contact studio@example.com"  # ImageDescription
    exif[0x013B] = "Jane Roe +44 20 7946 0958"  # Artist
    exif[0x0110] = "Example Camera 212-555-0147"  # Model: not a text field a person writes in
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description xmlns:dc="{DC}"><dc:creator><rdf:Seq><rdf:li>ana@example.org</rdf:li></rdf:Seq>'
        "</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    metadata = _metadata_of(Image.new("RGB", (32, 32), "grey"), exif=exif, xmp=xmp.encode())
    metadata["iptc"] = {"Caption-Abstract": "call 030 1234567", "By-line": "Jane Roe"}

    hits = find_pii_in_metadata(metadata, caption="Sunset, by bob@example.net", original_name="IMG_0001.jpg")

    assert sorted((hit.field, hit.entity_type) for hit in hits) == [
        ("caption", "EMAIL_ADDRESS"),
        ("exif:Artist", "PHONE_NUMBER"),
        ("exif:ImageDescription", "EMAIL_ADDRESS"),
        ("iptc:Caption-Abstract", "PHONE_NUMBER"),
        ("xmp:dc:creator", "EMAIL_ADDRESS"),
    ]


def test_user_comment_with_its_charset_header_is_searched() -> None:
    exif = Image.Exif()
    exif[0x8769] = {0x9286: b"ASCII\x00\x00\x00reach me at lee@example.com"}  # UserComment
    metadata = _metadata_of(Image.new("RGB", (32, 32)), exif=exif)

    hits = find_pii_in_metadata(metadata, caption="", original_name="")

    assert [(hit.field, hit.text) for hit in hits] == [("exif:UserComment", "l***@example.com")]


def test_phone_numbers_and_emails_in_file_names_are_found() -> None:
    hits = find_pii_in_metadata({}, caption="", original_name="uploads/IMG_212-555-0147_jane.roe@example.com.jpg")

    assert [(hit.entity_type, hit.text) for hit in hits] == [
        ("PHONE_NUMBER", "2**-***-**47"),
        ("EMAIL_ADDRESS", "j***@example.com"),
    ]
    assert all(hit.field == "file_name" for hit in hits)


def test_a_file_name_extension_is_not_a_url() -> None:
    assert find_pii_in_metadata({}, caption="", original_name="holiday.photo.jpg") == []


def test_empty_metadata_has_no_pii() -> None:
    assert find_pii_in_metadata({"exif": {}, "xmp": {}, "iptc": {}, "gps": None}, "", "") == []


# --- GPS -------------------------------------------------------------------------------------


def test_exif_gps_of_a_real_jpeg_is_reported_in_decimal_degrees() -> None:
    exif = _gps_exif((48.0, 51.0, 29.6), True, (2.0, 17.0, 40.2), True)
    hit = find_gps(_metadata_of(Image.new("RGB", (32, 32)), exif=exif))

    assert hit is not None
    assert hit.entity_type == "GPS_COORDINATES" and hit.field == "exif:GPS"
    assert hit.details["latitude"] == pytest.approx(48.858222, abs=1e-5)
    assert hit.details["longitude"] == pytest.approx(2.294500, abs=1e-5)
    assert hit.text == "48.858222, 2.294500"


def test_southern_and_western_coordinates_are_negative() -> None:
    exif = _gps_exif((33.0, 51.0, 54.0), False, (151.0, 12.0, 36.0), False)
    hit = find_gps(_metadata_of(Image.new("RGB", (32, 32)), exif=exif))

    assert hit is not None
    assert hit.details["latitude"] == pytest.approx(-33.865, abs=1e-4)
    assert hit.details["longitude"] == pytest.approx(-151.21, abs=1e-4)


def test_xmp_gps_of_a_real_jpeg_is_reported() -> None:
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="64,8.55N" '
        'exif:GPSLongitude="21,56.22W"/></rdf:RDF></x:xmpmeta>'
    )
    hit = find_gps(_metadata_of(Image.new("RGB", (32, 32)), xmp=xmp.encode()))

    assert hit is not None and hit.field == "xmp:GPS"
    assert hit.details["latitude"] == pytest.approx(64.1425, abs=1e-4)
    assert hit.details["longitude"] == pytest.approx(-21.937, abs=1e-4)


def test_a_photo_without_gps_has_no_location() -> None:
    assert find_gps(_metadata_of(Image.new("RGB", (32, 32)))) is None
    assert find_gps({}) is None


def test_hits_serialise_to_json() -> None:
    hit = find_gps({"gps": {"latitude": 1.5, "longitude": -2.25, "altitude": None, "source": "exif"}})
    assert hit is not None
    assert json.loads(json.dumps(hit.as_json()))["details"]["longitude"] == -2.25


# --- numbers that parse as a phone or pass the Luhn check but are something else ----------------


def _types_in(text: str) -> set[str]:
    return _entities(find_pii_in_text(text, field="caption"))


@pytest.mark.parametrize("text", ["PO-4111111111111111", "ticket ORD-2125550147", "lot 4111111111111111-B"])
def test_a_number_glued_to_letters_is_part_of_a_code(text: str) -> None:
    assert _types_in(text) & {"PHONE_NUMBER", "CREDIT_CARD"} == set()


@pytest.mark.parametrize("text", ["acct FR00 4111 1111 1111 1111 0000 123", "ES00 4111 1111 1111 1111 0000"])
def test_digits_inside_an_iban_shaped_string_are_neither_card_nor_phone(text: str) -> None:
    # Checksums deliberately wrong: a mistyped account number is still not a card or a phone.
    assert _types_in(text) & {"PHONE_NUMBER", "CREDIT_CARD"} == set()


@pytest.mark.parametrize(
    "text", ["serial 4111-1111-1111-1111", "Invoice: 020 7946 0123", "S/N 0207 946 0123", "Item #2125550147"]
)
def test_a_number_after_an_identifier_label_is_that_identifier(text: str) -> None:
    assert _types_in(text) & {"PHONE_NUMBER", "CREDIT_CARD"} == set()


def test_an_identifier_label_in_another_part_of_the_text_does_not_hide_a_phone() -> None:
    assert "PHONE_NUMBER" in _types_in("order 1182, tel. 020 7946 0123")


@pytest.mark.parametrize("text", ["0207 9460 123", "2125550147", "0301234567 (v2)"])
def test_a_national_number_without_its_countrys_grouping_or_a_phone_word_is_not_a_phone(text: str) -> None:
    assert "PHONE_NUMBER" not in _types_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "020 7946 0123",  # grouped as the UK groups it
        "(415) 555-0132",
        "mobile: 2125550147",  # a bare run, said to be a phone
        "Tel. No. 0207 9460 123",
        "Téléphone 0145536506",
        "+44 2079460123",  # an international number needs neither
    ],
)
def test_a_national_number_grouped_like_its_country_or_said_to_be_a_phone_is_a_phone(text: str) -> None:
    assert "PHONE_NUMBER" in _types_in(text)


def test_an_ungrouped_13_digit_run_is_a_barcode_not_a_card() -> None:
    # 4222222222222 passes the Luhn check (Visa's old 13-digit test number); 13 digits is EAN-13's length.
    assert "CREDIT_CARD" not in _types_in("EAN 4222222222222") | _types_in("4222222222222")
    assert "CREDIT_CARD" in _types_in("4111111111111111")
