"""Personal data in a C2PA manifest store as the reader returns it: coordinates in every format
C2PA writers use, text in any assertion, and hostile stores read without an exception."""

from __future__ import annotations

import math

import pytest

from auditing.detectors.pii_c2pa import find_gps_in_c2pa, find_pii_in_c2pa, parse_coordinate

ACTIVE, INGREDIENT = "urn:c2pa:active", "urn:c2pa:ingredient"
DEEP: list = [{"exif:GPSLatitude": 1, "exif:GPSLongitude": 2, "note": "jane.doe@example.com"}]
for _ in range(100):
    DEEP = [DEEP]


def store(*assertions: dict, ingredient_assertions: tuple[dict, ...] = (), ingredients: tuple[dict, ...] = ()) -> dict:
    manifests = {ACTIVE: {"label": ACTIVE, "assertions": list(assertions), "ingredients": list(ingredients)}}
    if ingredient_assertions:
        manifests[INGREDIENT] = {"label": INGREDIENT, "assertions": list(ingredient_assertions)}
    return {"active_manifest": ACTIVE, "manifests": manifests, "validation_state": "Valid", "error": None}


@pytest.mark.parametrize(
    ("value", "reference", "degrees"),
    [
        (48.858, None, 48.858),
        (-33.8688, None, -33.8688),
        ("-33.8688", None, -33.8688),
        ("33.8688 S", None, -33.8688),
        ("39,21.102N", None, 39.3517),
        ("74,26.5737W", None, -74.442895),
        ("48,51,30N", None, 48.858333),
        ("33° 52' 7.68\" S", None, -33.868800),
        (["48/1", "51/1", "3000/100"], "N", 48.858333),
        ([2, 17, 40], "W", -2.294444),
        (33.8688, "S", -33.8688),
        (-33.8688, "N", 33.8688),  # the reference tag wins over a stray sign
    ],
)
def test_coordinates_in_every_format_c2pa_writers_use(value, reference, degrees):
    assert parse_coordinate(value, reference, limit=90 if abs(degrees) <= 90 else 180) == pytest.approx(degrees, abs=1e-6)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        "",
        "north",
        "48,51,30X",
        "N 48.5 S",  # two references
        "10,61N",  # 61 minutes
        "-10,30N",  # a negative with minutes
        "91",
        "1/0",
        math.nan,
        math.inf,
        [1, 2, 3, 4],
        [],
        {"degrees": 10},
        "1e400",
    ],
)
def test_nonsense_coordinates_are_refused(value):
    assert parse_coordinate(value, None, limit=90) is None


def test_a_separate_reference_tag_signs_the_coordinates_and_the_hit_names_its_assertion():
    exif = {
        "label": "stds.exif",
        "data": {
            "exif:GPSLatitude": "33,52.128",
            "exif:GPSLatitudeRef": "S",
            "exif:GPSLongitude": "151,12.558",
            "exif:GPSLongitudeRef": "E",
            "exif:GPSAltitude": "12/1",
            "exif:GPSAltitudeRef": "1",
        },
    }

    [hit] = find_gps_in_c2pa(store(exif))

    assert hit.entity_type == "GPS_COORDINATES" and hit.field == f"c2pa:{ACTIVE}/stds.exif"
    assert hit.details["latitude"] == pytest.approx(-33.8688) and hit.details["longitude"] == pytest.approx(151.2093)
    assert hit.details["altitude"] == -12.0
    assert hit.details["keys"] == ["exif:GPSLatitude", "exif:GPSLongitude"] and hit.details["path"] == "$"


def test_schema_org_coordinates_nested_anywhere_and_ingredient_manifests_are_read():
    work = {
        "label": "stds.schema-org.CreativeWork",
        "data": {"contentLocation": {"geo": {"@type": "GeoCoordinates", "latitude": 51.5007, "longitude": -0.1246}}},
    }
    camera = {"label": "c2pa.metadata", "data": {"exif:GPSLatitude": 1.5, "exif:GPSLongitude": 2.5}}

    hits = find_gps_in_c2pa(store(work, ingredient_assertions=(camera,)))

    assert [(hit.details["manifest"], hit.details["assertion"], hit.details["path"]) for hit in hits] == [
        (ACTIVE, "stds.schema-org.CreativeWork", "$.contentLocation.geo"),
        (INGREDIENT, "c2pa.metadata", "$"),
    ]


def test_a_half_or_broken_location_is_no_location():
    assertions = (
        {"label": "stds.exif", "data": {"exif:GPSLatitude": "39,21.102N"}},
        {"label": "c2pa.metadata", "data": {"exif:GPSLatitude": "garbage", "exif:GPSLongitude": "2,17E"}},
        {"label": "c2pa.metadata", "data": {"exif:GPSLatitude": "95,0N", "exif:GPSLongitude": "2,17E"}},
    )

    assert find_gps_in_c2pa(store(*assertions)) == []


@pytest.mark.parametrize(
    "hostile",
    [
        None,
        [],
        "manifest",
        {"manifests": "not a dict"},
        {"manifests": {"m": None}},
        {"manifests": {"m": {"assertions": "not a list"}}},
        {"manifests": {"m": {"assertions": [None, 7, {"label": 3}, {"label": "x", "data": None}]}}},
        {"manifests": {"m": {"ingredients": [None, {"label": None, "title": 5}]}}},
        {"manifests": {"m": {"assertions": [{"label": "deep", "data": DEEP}]}}},
    ],
)
def test_a_hostile_store_gives_no_hits_and_no_exception(hostile):
    assert find_pii_in_c2pa(hostile) == []


def test_an_identity_s_email_is_a_text_hit_at_its_path_and_machine_values_are_not_read():
    identity = {
        "label": "cawg.identity",
        "data": {
            "signer_payload": {
                "sig_type": "cawg.identity_claims_aggregation",
                "referenced_assertions": [{"url": "self#jumbf=c2pa.assertions/c2pa.hash.data", "hash": "3q2+7w=="}],
            },
            "verifiedIdentities": [{"type": "cawg.social_media", "name": "Jane Doe", "address": "jane.doe@example.com"}],
        },
    }
    actions = {
        "label": "c2pa.actions.v2",
        "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": "http://cv.iptc.org/newscodes/x/y"}]},
    }
    exif = {"label": "stds.exif", "data": {"exif:Artist": "call 212-555-0147", "exif:DateTimeOriginal": "2019:09:22 13:18:33"}}
    ingredient = {"label": "c2pa.ingredient.v3", "title": "from mark.smith@example.org", "format": "image/jpeg"}

    hits = find_pii_in_c2pa(store(identity, actions, exif, ingredients=(ingredient,)))

    assert [(hit.entity_type, hit.details["assertion"], hit.details["path"]) for hit in hits] == [
        ("EMAIL_ADDRESS", "cawg.identity", "$.verifiedIdentities[0].address"),
        ("PHONE_NUMBER", "stds.exif", "$.exif:Artist"),
        ("EMAIL_ADDRESS", "c2pa.ingredient.v3", "$.title"),
    ]
    assert all("jane.doe" not in hit.text and "mark.smith" not in hit.text for hit in hits)
    assert hits[0].field == f"c2pa:{ACTIVE}/cawg.identity"
