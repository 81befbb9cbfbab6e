"""A second opinion on NudeNet's counted detections: an exposed body part is skin.

NudeNet is a body-part detector trained on photos of people; shown a picture with no person in
it, it can still name a part. On the evaluation set (auditing/evaluation/nsfw.py) every colour
wheel came back BUTTOCKS_EXPOSED (0.51-0.79) with a box over the whole picture, and a blue-green
blob pattern FEMALE_BREAST_EXPOSED (three boxes at 0.55-0.64). What these have in common is not
the box's size (the blobs' boxes cover 15% of the frame) nor the score (a threshold above 0.79
would drop real detections too), but that there is no skin where the part is said to be: at
most 10% of the box is skin-toned, against about 88% of a real face's box.

The rule, per counted detection:

1. Kept when the image shows a face (NudeNet's FACE_* at `FACE_EVIDENCE_SCORE` or more): there
   is a person, and we do not second-guess the model about a person.
2. Kept when the image has too little colour to judge skin by (mean chroma below
   `MONOCHROME_CHROMA`): a black-and-white photo has no skin tones at all, and setting its
   detections aside would hide exactly the images the check cannot see.
3. Kept when at least `MIN_SKIN_FRACTION` of the box is skin-toned.
4. Otherwise set aside, with the reason and the measurements, which the result carries
   (`NsfwResult.set_aside`) so that reviewers and auditors can see what was not counted and why.

Skin tone is the classic YCbCr box (Chai & Ngan 1999: Cr 133-173, Cb 77-127), which covers
light to dark skin under ordinary light; luma below 40 is left out (shadow has no hue).
What this cannot see: nudity under strongly coloured light or recoloured (hue-shifted,
duotone) with no face in the picture; those detections are set aside and shown as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from auditing.detectors.nsfw.base import NsfwLabel, SetAside

POLICY_VERSION = "skin1"
FACE_LABELS = frozenset({"FACE_FEMALE", "FACE_MALE"})
# The faces/nudenet.py backend's threshold: real faces scored 0.58 and 0.72, faceless photos < 0.3.
FACE_EVIDENCE_SCORE = 0.4
# Real skin fills most of a part's box (a face's box is ~88% skin-toned on the astronaut); the
# colour wheels NudeNet flags have at most 10%. A quarter leaves room either side.
MIN_SKIN_FRACTION = 0.25
# Mean distance from grey in Cb/Cr: 0 for a greyscale photo, 20-35 for colour photos of people.
MONOCHROME_CHROMA = 6.0
SKIN_CR = (133, 173)
SKIN_CB = (77, 127)
SKIN_MIN_LUMA = 40
NO_SKIN = "no_skin"


@dataclass(frozen=True)
class SkinEvidencePolicy:
    """Which counted detections to set aside; `version` goes into the detector's version."""

    min_skin_fraction: float = MIN_SKIN_FRACTION
    # False only to measure the skin test on its own (auditing/evaluation/nsfw.py).
    trust_faces: bool = True

    @property
    def version(self) -> str:
        if self.min_skin_fraction != MIN_SKIN_FRACTION or not self.trust_faces:
            return f"{POLICY_VERSION}-{self.min_skin_fraction:g}{'' if self.trust_faces else 'nf'}"
        return POLICY_VERSION

    def review(
        self, image: Image.Image, labels: list[NsfwLabel], counted: frozenset[str], *, scale: float = 1.0
    ) -> tuple[list[NsfwLabel], list[SetAside]]:
        """The counted labels split into those kept and those set aside (with why). `scale`:
        the labels' pixels per pixel of `image` (a reduced copy of what they were found on)."""
        candidates = [entry for entry in labels if entry["label"] in counted]
        if not candidates:
            return [], []
        if self.trust_faces and any(entry["label"] in FACE_LABELS and entry["score"] >= FACE_EVIDENCE_SCORE for entry in labels):
            return candidates, []
        ycbcr = np.asarray(image.convert("RGB").convert("YCbCr"), dtype=np.int16)
        if chroma(ycbcr) < MONOCHROME_CHROMA:
            return candidates, []
        kept: list[NsfwLabel] = []
        set_aside: list[SetAside] = []
        area = max(1, image.width * image.height)
        for entry in candidates:
            x, y, w, h = (round(v / scale) for v in entry["box"])
            fraction = skin_fraction(ycbcr, (x, y, w, h))
            if fraction >= self.min_skin_fraction:
                kept.append(entry)
                continue
            set_aside.append(
                SetAside(
                    label=entry["label"],
                    score=entry["score"],
                    box=entry["box"],
                    rule=NO_SKIN,
                    skin_fraction=round(fraction, 3),
                    box_coverage=round(w * h / area, 3),
                    reason=(
                        f"{fraction:.0%} of the box is skin-toned (an exposed part needs {self.min_skin_fraction:.0%}) "
                        "and the image shows no face"
                    ),
                )
            )
        return kept, set_aside


def chroma(ycbcr: np.ndarray) -> float:
    """Mean distance of the pixels from grey in the Cb/Cr plane."""
    return float(np.hypot(ycbcr[..., 1] - 128, ycbcr[..., 2] - 128).mean())


def skin_fraction(ycbcr: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x, y, w, h = box
    region = ycbcr[y : y + h, x : x + w].reshape(-1, 3)
    if region.size == 0:
        return 0.0
    luma, cb, cr = region[:, 0], region[:, 1], region[:, 2]
    skin = (cr >= SKIN_CR[0]) & (cr <= SKIN_CR[1]) & (cb >= SKIN_CB[0]) & (cb <= SKIN_CB[1]) & (luma >= SKIN_MIN_LUMA)
    return float(skin.mean())
