"""The `nudenet` NSFW backend (the default): the ONNX model that ships inside the nudenet 3.4.2
wheel (`320n.onnx`, a YOLO body-part detector with a 320 px input) on onnxruntime's CPU
provider, fully offline. NudeNet's bundled LICENSE is AGPL-3.0 although its package metadata
says MIT, so the backend stays swappable (CLEANROOM_NSFW['BACKEND']).

NudeNet does not say "NSFW"; it names body parts (18 labels, `NUDENET_LABELS`) and we decide
which of them make an image unfit for a training set. By default these count:

- FEMALE_GENITALIA_EXPOSED, MALE_GENITALIA_EXPOSED, ANUS_EXPOSED: explicit nudity in any
  context; no legitimate photo in a general training set needs them.
- FEMALE_BREAST_EXPOSED: nudity as most content policies and image licences define it.
- BUTTOCKS_EXPOSED: nudity, and the part most often exposed in sexualised images that avoid
  the labels above.

These never count by default, and are reported so that reviewers can see them:

- MALE_BREAST_EXPOSED, BELLY_EXPOSED, ARMPITS_EXPOSED, FEET_EXPOSED: beaches, sport and
  swimwear; counting them would flag ordinary photos by the thousand.
- every *_COVERED label: clothed people.
- FACE_FEMALE, FACE_MALE: a face is personal data (the PII auditor's business), not nudity.

`counted_labels` overrides the default set (any of the 18 labels; a typo is an error).

Sanity policy (nsfw/sanity.py, on by default; SANITY False turns it off): a counted label with
next to no skin in its box, in a colour image with no face, is set aside rather than counted,
because NudeNet names body parts on abstract graphics (colour wheels came back BUTTOCKS_EXPOSED
at up to 0.79). What was set aside is in `NsfwResult.set_aside`, with the reason.

Threshold: an image is flagged when a counted label scores at least `threshold` (default
0.5). NudeNet reports nothing below 0.2, so thresholds below 0.2 are rejected rather than
silently acting as 0.2. Its recall is modest (a published community test found at most 60%
on an all-NSFW set): lower the threshold towards 0.3 to trade reviewer time for recall, since
a flag only opens a finding for a human to review.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from auditing.detectors.nsfw.base import DEFAULT_THRESHOLD, DetectorUnavailable, NsfwDetector, NsfwLabel, NsfwResult
from auditing.detectors.nsfw.sanity import SkinEvidencePolicy
from auditing.detectors.process_cache import once_per_process

if TYPE_CHECKING:
    import onnxruntime

# In the order of the model's output channels (nudenet/nudenet.py, version 3.4.2).
NUDENET_LABELS: tuple[str, ...] = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
DEFAULT_COUNTED_LABELS: frozenset[str] = frozenset(
    {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "ANUS_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "BUTTOCKS_EXPOSED",
    }
)
NUDENET_MODEL_FILE = "320n.onnx"
NUDENET_INPUT_SIZE = 320
# NudeNet's own post-processing constants, kept so our results equal `NudeDetector.detect`.
NUDENET_REPORT_FLOOR = 0.2
NUDENET_NMS_SCORE = 0.25
NUDENET_NMS_IOU = 0.45
# The model sees 320 px; padding a 24-megapixel photo to a square at full size before that
# costs hundreds of MB and tens of ms for nothing, so large images are reduced first.
NUDENET_MAX_SIDE = 1280


def nudenet_model_path() -> Path:
    """The ONNX file inside the installed nudenet package, found without importing it."""
    spec = importlib.util.find_spec("nudenet")
    if spec is None or spec.origin is None:
        raise DetectorUnavailable("NudeNetDetector needs the 'nudenet' package (pinned 3.4.2), which is not installed")
    path = Path(spec.origin).parent / NUDENET_MODEL_FILE
    if not path.is_file():
        raise DetectorUnavailable(f"the nudenet package has no model file at {path}")
    return path


def nudenet_session() -> onnxruntime.InferenceSession:
    """The process's single onnxruntime session for NudeNet's model, built on first use."""
    path = nudenet_model_path()

    def build() -> onnxruntime.InferenceSession:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    return once_per_process(("nudenet", str(path)), build)


def _labels_digest(labels: frozenset[str]) -> str:
    return hashlib.sha256(",".join(sorted(labels)).encode()).hexdigest()[:8]


class NudeNetDetector(NsfwDetector):
    """NudeNet's body-part detector; flags an image when a counted label reaches the threshold."""

    name = "nudenet"
    setting_keys = frozenset({"THRESHOLD", "LABELS", "SANITY"})

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        counted_labels: frozenset[str] = DEFAULT_COUNTED_LABELS,
        policy: SkinEvidencePolicy | None = SkinEvidencePolicy(),  # noqa: B008 (frozen, shared safely)
    ) -> None:
        unknown = set(counted_labels) - set(NUDENET_LABELS)
        if unknown:
            raise ValueError(f"unknown NudeNet labels {sorted(unknown)}; known: {', '.join(NUDENET_LABELS)}")
        if not counted_labels:
            raise ValueError("counted_labels is empty: nothing could ever be flagged")
        if not NUDENET_REPORT_FLOOR <= threshold <= 1.0:
            raise ValueError(
                f"threshold {threshold!r} must be in [{NUDENET_REPORT_FLOOR}, 1]: "
                f"NudeNet reports nothing below {NUDENET_REPORT_FLOOR}"
            )
        self.threshold = float(threshold)
        self.counted_labels = frozenset(counted_labels)
        self.policy = policy
        try:
            package_version = importlib.metadata.version("nudenet")
        except importlib.metadata.PackageNotFoundError:
            raise DetectorUnavailable(
                "NudeNetDetector needs the 'nudenet' package (pinned 3.4.2), which is not installed"
            ) from None
        # The decision depends on the threshold, the counted labels and the sanity policy as much
        # as on the model, so they are part of the version: changing them re-audits.
        policy_version = policy.version if policy is not None else "raw"
        self.version = f"{package_version}/320n/t{self.threshold:g}/{_labels_digest(self.counted_labels)}/{policy_version}"

    @classmethod
    def from_settings(cls, config: Mapping[str, Any]) -> NudeNetDetector:
        labels = frozenset(config["LABELS"]) if "LABELS" in config else DEFAULT_COUNTED_LABELS
        sanity = config.get("SANITY", True)
        if not isinstance(sanity, bool):
            raise ValueError(f"SANITY must be True or False, not {sanity!r}")
        return cls(
            threshold=float(config.get("THRESHOLD", DEFAULT_THRESHOLD)),
            counted_labels=labels,
            policy=SkinEvidencePolicy() if sanity else None,
        )

    def detect(self, image: Image.Image) -> NsfwResult:
        from nudenet.nudenet import _read_image

        session = nudenet_session()
        rgb = image.convert("RGB")
        scale = 1.0
        if max(rgb.size) > NUDENET_MAX_SIDE:
            scale = max(rgb.size) / NUDENET_MAX_SIDE
            reduced = (max(1, round(rgb.width / scale)), max(1, round(rgb.height / scale)))
            rgb = rgb.resize(reduced, Image.Resampling.BILINEAR, reducing_gap=2.0)
        # NudeNet's pre-processing expects the BGR array cv2.imread would return.
        bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
        blob, _, _, x_pad, y_pad, width, height = _read_image(bgr, NUDENET_INPUT_SIZE)
        (output,) = session.run(None, {session.get_inputs()[0].name: blob})
        labels = _decode(output[0], x_pad=x_pad, y_pad=y_pad, width=width, height=height, scale=scale)
        if self.policy is None:
            counted = [entry for entry in labels if entry["label"] in self.counted_labels]
            set_aside = []
        else:
            # Judged on the reduced copy the model saw; boxes are in the original's pixels.
            counted, set_aside = self.policy.review(rgb, labels, self.counted_labels, scale=scale)
        score = max((entry["score"] for entry in counted), default=0.0)
        return NsfwResult(
            flagged=score >= self.threshold, score=score, threshold=self.threshold, labels=labels, set_aside=set_aside
        )


def _decode(output: np.ndarray, *, x_pad: int, y_pad: int, width: int, height: int, scale: float) -> list[NsfwLabel]:
    """The model's (4 + 18, candidates) output as labelled boxes, as nudenet 3.4.2 decodes it.

    nudenet's `_postprocess` does the same in a Python loop over ~2,100 candidates (11 ms of
    a 38 ms detection here); vectorised, only the few candidates above the floor are touched.
    """
    import cv2

    candidates = output.T
    class_scores = candidates[:, 4:]
    scores = class_scores.max(axis=1)
    keep = scores >= NUDENET_REPORT_FLOOR
    if not keep.any():
        return []
    candidates, scores, class_ids = candidates[keep], scores[keep], class_scores[keep].argmax(axis=1)
    # Centre boxes on the padded 320 px square, back to top-left boxes in image pixels.
    x_factor = (width + x_pad) / NUDENET_INPUT_SIZE
    y_factor = (height + y_pad) / NUDENET_INPUT_SIZE
    w = candidates[:, 2] * x_factor
    h = candidates[:, 3] * y_factor
    x = np.clip((candidates[:, 0] - candidates[:, 2] / 2) * x_factor, 0, width)
    y = np.clip((candidates[:, 1] - candidates[:, 3] / 2) * y_factor, 0, height)
    w = np.minimum(w, width - x)
    h = np.minimum(h, height - y)
    boxes = np.stack([x, y, w, h], axis=1)
    # Class-agnostic NMS, as nudenet does: one region gets one label.
    kept = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), NUDENET_NMS_SCORE, NUDENET_NMS_IOU)
    return [
        NsfwLabel(
            label=NUDENET_LABELS[int(class_ids[i])],
            score=float(scores[i]),
            box=tuple(int(v * scale) for v in boxes[i]),  # type: ignore[typeddict-item]
        )
        for i in np.ravel(kept)
    ]
