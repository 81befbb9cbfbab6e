"""Personal data written in pixels: text rendered with Pillow, read by the real Tesseract."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from auditing.detectors.ocr import OcrText, OcrWord, ink_layer, ocr, repaired, union_box
from auditing.detectors.pii import Box, find_pii_in_pixels

FONT = ImageFont.load_default(size=28)


def _render(
    lines: list[tuple[tuple[int, int], str]], *, size: tuple[int, int] = (720, 260), mode: str = "RGB"
) -> tuple[Image.Image, list[Box]]:
    background = (255, 255, 255, 0) if mode == "RGBA" else "white"
    image = Image.new(mode, size, background)
    draw = ImageDraw.Draw(image)
    boxes: list[Box] = []
    for position, text in lines:
        draw.text(position, text, fill="black", font=FONT)
        left, top, right, bottom = draw.textbbox(position, text, font=FONT)
        boxes.append((left, top, right - left, bottom - top))
    return image, boxes


def _inside(inner: Box, outer: Box, *, slack: int = 6) -> bool:
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[0] + inner[2] <= outer[0] + outer[2] + slack
        and inner[1] + inner[3] <= outer[1] + outer[3] + slack
    )


def test_an_email_and_a_phone_number_in_pixels_are_found_with_their_boxes() -> None:
    image, (email_line, phone_line) = _render(
        [((30, 40), "Contact: jane.roe@example.com"), ((30, 150), "Phone: +1 212 555 0147")]
    )

    hits = find_pii_in_pixels(image)

    by_type = {hit.entity_type: hit for hit in hits}
    assert set(by_type) == {"EMAIL_ADDRESS", "PHONE_NUMBER"}
    email, phone = by_type["EMAIL_ADDRESS"], by_type["PHONE_NUMBER"]
    assert email.text == "j***@example.com" and email.field == "pixels"
    assert email.box is not None and _inside(email.box, email_line)
    # The box covers the address, not the "Contact:" label before it.
    assert email.box[0] > email_line[0] + 60
    assert phone.box is not None and _inside(phone.box, phone_line)
    assert phone.box[2] > 150  # all four groups of digits, not only the last word
    assert email.details["ocr_confidence"] > 50


def test_words_keep_their_offsets_and_lines() -> None:
    image, _ = _render([((30, 40), "first line"), ((30, 150), "second line")])

    read = ocr(image)

    assert read.text == "first line\nsecond line"
    assert [read.text[w.start : w.end] for w in read.words] == ["first", "line", "second", "line"]
    assert read.words[2].box[1] > read.words[0].box[1] + 80


def test_an_image_without_text_has_no_pii() -> None:
    assert find_pii_in_pixels(Image.new("RGB", (320, 240), (40, 90, 160))) == []


def test_dark_text_on_a_transparent_background_is_still_read() -> None:
    image, _ = _render([((30, 60), "mail ana@example.org")], mode="RGBA")

    assert [hit.entity_type for hit in find_pii_in_pixels(image)] == ["EMAIL_ADDRESS"]


def test_a_very_large_image_is_read_at_a_bounded_size_with_boxes_in_its_own_pixels() -> None:
    small, (line,) = _render([((30, 40), "ana@example.org")], size=(600, 120))
    large = small.resize((3000, 600), Image.Resampling.LANCZOS)

    (hit,) = find_pii_in_pixels(large)

    assert hit.box is not None
    scaled_line = tuple(v * 5 for v in line)
    assert _inside(hit.box, scaled_line, slack=30)  # type: ignore[arg-type]


def test_union_box_spans_all_words() -> None:
    assert union_box([(10, 20, 30, 10), (50, 18, 20, 14)]) == (10, 18, 60, 14)


def _textured(size: tuple[int, int], *, seed: int) -> Image.Image:
    """A busy grey background like grass or gravel: blocks of mid greys crossed by short strokes."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(70, 190, size=(size[1] // 4, size[0] // 4), dtype=np.uint8)
    image = Image.fromarray(blocks).resize(size, Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    for _ in range(600):
        x, y = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        end = (x + int(rng.integers(-15, 15)), y + int(rng.integers(-25, 25)))
        draw.line((x, y, *end), fill=int(rng.integers(60, 200)), width=2)
    return image.convert("RGB")


def test_black_text_over_a_busy_texture_is_read_from_its_ink() -> None:
    image = _textured((480, 160), seed=0)
    ImageDraw.Draw(image).text((20, 60), "mail ana@example.org", fill="black", font=FONT)

    assert [hit.entity_type for hit in find_pii_in_pixels(image)] == ["EMAIL_ADDRESS"]


def test_a_flat_background_has_no_separate_ink_read() -> None:
    image, _ = _render([((30, 40), "mail ana@example.org")])

    assert ink_layer(image) is None


def _line(*words: str, height: int = 30, gap: int = 8) -> OcrText:
    """Words as Tesseract would report them on one line, left to right, `gap` pixels apart."""
    text, placed, left = "", [], 10
    for word in words:
        start = len(text) + (1 if text else 0)
        text = f"{text} {word}" if text else word
        width = 14 * len(word)
        placed.append(OcrWord(word, start, start + len(word), (left, 50, width, height), 90.0))
        left += width + gap
    return OcrText(text, tuple(placed))


# A Visa number with its Luhn check digit, and the same number with a wrong one.
CARD = "4556737586899855"
WRONG_CHECK_DIGIT = "4556737586899856"


@pytest.mark.parametrize("size", [(3000, 1), (1, 3000), (1, 1)])
def test_a_line_of_pixels_has_no_ink_read_and_no_numpy_warning(size: tuple[int, int]) -> None:
    # Found by the thin-image audit: the busy-background test averaged an empty array.
    stripes = Image.fromarray((np.indices(size[::-1]).sum(axis=0) % 2 * 255).astype(np.uint8)).convert("RGB")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ink_layer(stripes) is None


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (("paid", "with", CARD[:13], CARD[13:]), "paid with " + CARD),  # split at a wide gap
        (("card", "4556-7375-8689-98S5"), "card " + CARD),  # a letter for a digit
        (("email", "noor", "@studio.example.co.uk"), "email noor@studio.example.co.uk"),  # label kept apart
        (("jane.roe©example.com",), "jane.roe@example.com"),
        (("contact", "m.kowalski@photo.example,", "fr"), "contact m.kowalski@photo.example.fr"),
        (("IBAN", "NL9I", "ABNA", "O417", "164300"), "IBAN NL91ABNA0417164300"),  # I for 1, O for 0 where digits go
        (("host", "2001:db8:b0a4:", ":3ec5:3cf7"), "host 2001:db8:b0a4::3ec5:3cf7"),
        (("2001:db8:e762::1173:led",), "2001:db8:e762::1173:1ed"),
        (("from", "192.168.l.20"), "from 192.168.1.20"),
    ],
)
def test_a_split_or_misread_identifier_is_repaired_when_its_own_check_passes(words: tuple[str, ...], expected: str) -> None:
    read = _line(*words)

    result = repaired(read)

    assert result.text == expected
    assert [result.text[word.start : word.end] for word in result.words] == expected.split(" ")
    assert result.words[-1].box == union_box([word.box for word in read.words[len(expected.split(" ")) - 1 :]])


@pytest.mark.parametrize(
    "words",
    [
        ("paid", "with", WRONG_CHECK_DIGIT[:13], WRONG_CHECK_DIGIT[13:]),  # Luhn fails: no card to restore
        ("IBAN", "NL92", "ABNA", "O417", "164300"),  # mod-97 fails
        ("version", "2001:db8:zz"),
        ("order", "20240620", "1234"),  # joined, still no card
        ("mail", "noor", "at", "example.org"),
    ],
)
def test_words_that_repair_to_no_valid_identifier_are_left_as_read(words: tuple[str, ...]) -> None:
    read = _line(*words)

    assert repaired(read) == read


def test_pieces_far_apart_or_on_different_rows_are_not_joined() -> None:
    far = _line("paid", CARD[:13], CARD[13:], gap=80)
    head, tail = _line(CARD[:13], CARD[13:]).words
    other_row = OcrText(
        f"{head.text} {tail.text}", (head, OcrWord(tail.text, tail.start, tail.end, (tail.box[0], 200, tail.box[2], 30), 90.0))
    )

    assert repaired(far) == far
    assert repaired(other_row) == other_row
