"""Personal data written in pixels: text rendered with Pillow, read by the real Tesseract."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from auditing.detectors.ocr import ocr, union_box
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
