"""What a generation request may ask for: defaults, limits and the input images (no database)."""

from __future__ import annotations

import pytest

from core.exceptions import ApplicationError
from generation.services.rules import check_request
from tests.generation.factories import astronaut, corner_mask, png


def test_a_text_to_image_request_gets_the_defaults_and_a_recorded_seed(settings):
    settings.CLEANROOM_GENERATION = {**settings.CLEANROOM_GENERATION, "DEFAULT_STEPS": 25}

    checked = check_request(kind="text_to_image", parameters={"prompt": "  a red apple "}, seed=None)

    assert checked.parameters == {
        "prompt": "a red apple", "negative_prompt": "", "steps": 25, "guidance": 7.5, "width": 512, "height": 512,
    }  # fmt: skip
    assert 0 <= checked.seed < 2**31


def test_image_kinds_take_their_size_from_the_input_and_upscale_multiplies_it():
    image = png(astronaut(100))

    assert check_request(kind="image_to_image", parameters={"prompt": "p"}, seed=1, image=image).parameters["width"] == 96
    upscaled = check_request(kind="upscale", parameters={"scale": 3}, seed=1, image=image).parameters
    assert (upscaled["width"], upscaled["height"], upscaled["strength"], upscaled["prompt"]) == (296, 296, 0.3, "")


@pytest.mark.parametrize(
    ("kind", "parameters", "files", "code"),
    [
        ("sketch_to_image", {"prompt": "p"}, {}, "unknown_kind"),
        ("text_to_image", {}, {}, "prompt_required"),
        ("text_to_image", {"prompt": "p", "width": 2048, "height": 1024}, {}, "too_large"),
        ("text_to_image", {"prompt": "p", "width": 250}, {}, "invalid_parameter"),
        ("text_to_image", {"prompt": "p", "steps": 0}, {}, "invalid_parameter"),
        ("text_to_image", {"prompt": "p", "guidance": "lots"}, {}, "invalid_parameter"),
        ("text_to_image", {"prompt": "p", "strength": 0.5}, {}, "invalid_parameter"),
        ("image_to_image", {"prompt": "p"}, {}, "input_image_required"),
        ("image_to_image", {"prompt": "p"}, {"image": b"GIF89a not really"}, "invalid_image"),
        ("image_to_image", {"prompt": "p"}, {"image": b"%PDF-1.4 a document"}, "unsupported_type"),
        ("image_to_image", {"prompt": "p", "strength": 0.01}, {"image": "astronaut"}, "invalid_parameter"),
        ("inpaint", {"prompt": "p"}, {"image": "astronaut"}, "mask_required"),
        ("inpaint", {"prompt": "p"}, {"image": "astronaut", "mask": "small mask"}, "mask_size_mismatch"),
        ("upscale", {"scale": 4}, {"image": "big astronaut"}, "too_large"),
    ],
)
def test_a_bad_request_is_refused_with_a_reason_and_a_code(settings, kind, parameters, files, code):
    settings.CLEANROOM_GENERATION = {**settings.CLEANROOM_GENERATION, "MAX_PIXELS": 1024 * 1024}
    named = {"astronaut": png(astronaut()), "big astronaut": png(astronaut(512)), "small mask": png(corner_mask(128))}
    files = {key: named.get(value, value) for key, value in files.items()}

    with pytest.raises(ApplicationError) as refused:
        check_request(kind=kind, parameters=parameters, seed=1, **files)

    assert refused.value.code == code and refused.value.status == 400
    assert refused.value.message


def test_text_to_image_defaults_to_the_models_native_size_and_warns_far_above_it():
    native = check_request(kind="text_to_image", parameters={"prompt": "p"}, seed=1, native_size=(64, 96))
    assert (native.parameters["width"], native.parameters["height"], native.warnings) == (64, 96, [])

    at_twice = {"prompt": "p", "width": 128, "height": 192}
    twice = check_request(kind="text_to_image", parameters=at_twice, seed=1, native_size=(64, 96))
    assert twice.warnings == []
    large = check_request(kind="text_to_image", parameters={"prompt": "p", "width": 512}, seed=1, native_size=(64, 96))
    assert (large.parameters["width"], large.parameters["height"]) == (512, 96)
    assert large.warnings == ["512×96 is more than 2× the model's native 64×96 per side: slow, and rarely a coherent picture"]


def test_an_image_kind_far_above_the_native_size_is_warned_about_too():
    upscaled = check_request(kind="upscale", parameters={"scale": 2}, seed=1, image=png(astronaut(100)), native_size=(64, 64))

    assert "200×200 is more than 2× the model's native 64×64" in upscaled.warnings[0]
