"""NSFW detection for the auditing pipeline: a small backend protocol and two backends.

`NudeNetDetector` (default) runs the ONNX model that ships inside the nudenet 3.4.2 wheel
(`320n.onnx`, a YOLO body-part detector with a 320 px input) on onnxruntime's CPU provider,
fully offline. NudeNet's bundled LICENSE is AGPL-3.0 although its package metadata says MIT,
so the backend stays swappable: `ClipNsfwDetector` scores a locally configured open_clip
image embedding with a small head from a local file (or zero-shot against text prompts), and
`detector_from_settings` picks one from a config dict.

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

Threshold: an image is flagged when a counted label scores at least `threshold` (default
0.5). NudeNet reports nothing below 0.2, so thresholds below 0.2 are rejected rather than
silently acting as 0.2. Its recall is modest (a published community test found at most 60%
on an all-NSFW set): lower the threshold towards 0.3 to trade reviewer time for recall, since
a flag only opens a finding for a human to review.

Models are loaded lazily, once per process, single-threaded: audit workers scale by
processes, and a second thread per process only competes with the other workers for cores.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, runtime_checkable

import numpy as np
from django.core.exceptions import ImproperlyConfigured
from PIL import Image

from auditing.detectors.embeddings import OpenClipModel
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
DEFAULT_THRESHOLD = 0.5
NUDENET_MODEL_FILE = "320n.onnx"
NUDENET_INPUT_SIZE = 320
# NudeNet's own post-processing constants, kept so our results equal `NudeDetector.detect`.
NUDENET_REPORT_FLOOR = 0.2
NUDENET_NMS_SCORE = 0.25
NUDENET_NMS_IOU = 0.45
# The model sees 320 px; padding a 24-megapixel photo to a square at full size before that
# costs hundreds of MB and tens of ms for nothing, so large images are reduced first.
NUDENET_MAX_SIDE = 1280

Box = tuple[int, int, int, int]


class DetectorUnavailable(ImproperlyConfigured):
    """The backend cannot run here: a package or a weights file is missing or unreadable."""


class NsfwLabel(TypedDict):
    label: str
    score: float
    box: Box  # (x, y, width, height) in the pixels of the image passed to detect()


@dataclass(frozen=True)
class NsfwResult:
    flagged: bool
    score: float  # the highest score among counted labels, 0.0 when none was found
    threshold: float
    labels: list[NsfwLabel] = field(default_factory=list)


@runtime_checkable
class NsfwDetector(Protocol):
    name: str
    version: str

    def detect(self, image: Image.Image) -> NsfwResult: ...


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


class NudeNetDetector:
    """NudeNet's body-part detector; flags an image when a counted label reaches the threshold."""

    name = "nudenet"

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, counted_labels: frozenset[str] = DEFAULT_COUNTED_LABELS) -> None:
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
        try:
            package_version = importlib.metadata.version("nudenet")
        except importlib.metadata.PackageNotFoundError:
            raise DetectorUnavailable(
                "NudeNetDetector needs the 'nudenet' package (pinned 3.4.2), which is not installed"
            ) from None
        # The decision depends on the threshold and the counted labels as much as on the
        # model, so they are part of the version: changing them re-audits.
        self.version = f"{package_version}/320n/t{self.threshold:g}/{_labels_digest(self.counted_labels)}"

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
        counted = [entry["score"] for entry in labels if entry["label"] in self.counted_labels]
        score = max(counted, default=0.0)
        return NsfwResult(flagged=score >= self.threshold, score=score, threshold=self.threshold, labels=labels)


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


# Zero-shot prompts for ClipNsfwDetector when no trained head is configured.
CLIP_NSFW_PROMPTS: tuple[str, ...] = (
    "an explicit photo of a naked person",
    "a pornographic image",
    "a photo of exposed genitals",
    "a topless photo",
)
CLIP_SAFE_PROMPTS: tuple[str, ...] = (
    "a photo of a clothed person",
    "a photo of a landscape",
    "a photo of an object",
    "a photo of an animal",
    "a photo of people in swimwear at the beach",
)
CLIP_LABEL = "NSFW"
HEAD_SUFFIXES = (".safetensors", ".npz")


@dataclass(frozen=True, eq=False)
class NsfwHead:
    """A classifier over L2-normalised image embeddings: dense layers with ReLU between them,
    ending in one logit; the score is its sigmoid.

    File (.safetensors, or .npz without pickles): `layers.0.weight` (out, in), `layers.0.bias`
    (out,), `layers.1.weight`, ... the last with out = 1 (a linear probe is one layer). An
    optional `threshold` (safetensors metadata, or a scalar array in an .npz) is the score at
    which the head's trainer says to flag; the THRESHOLD setting overrides it.
    """

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    threshold: float | None
    sha256: str

    @property
    def input_dim(self) -> int:
        return int(self.layers[0][0].shape[1])

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        values = np.asarray(embeddings, dtype=np.float64)
        for position, (weight, bias) in enumerate(self.layers):
            values = values @ weight.T + bias
            if position < len(self.layers) - 1:
                values = np.maximum(values, 0.0)
        return 1.0 / (1.0 + np.exp(-values[:, 0]))


def load_nsfw_head(path: str | Path) -> NsfwHead:
    """Read and check a head file; DetectorUnavailable names what is wrong with it."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DetectorUnavailable(f"CLEANROOM_NSFW: HEAD {str(path)!r} is not a file here")
    raw = path.read_bytes()
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open
            from safetensors.numpy import load as load_safetensors

            tensors = load_safetensors(raw)
            with safe_open(str(path), framework="np") as handle:
                metadata = handle.metadata() or {}
            threshold = float(metadata["threshold"]) if "threshold" in metadata else None
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                tensors = {name: archive[name] for name in archive.files}
            threshold = float(tensors.pop("threshold")) if "threshold" in tensors else None
        else:
            raise ValueError(f"the file name must end in {' or '.join(HEAD_SUFFIXES)}")
        layers = []
        for position in range(len(tensors) // 2):
            weight = np.asarray(tensors.pop(f"layers.{position}.weight"), dtype=np.float64)
            bias = np.asarray(tensors.pop(f"layers.{position}.bias"), dtype=np.float64)
            if weight.ndim != 2 or bias.shape != (weight.shape[0],):
                raise ValueError(f"layer {position}: weight {weight.shape} and bias {bias.shape} do not fit")
            if layers and weight.shape[1] != layers[-1][0].shape[0]:
                raise ValueError(
                    f"layer {position} takes {weight.shape[1]} inputs, the layer before gives {layers[-1][0].shape[0]}"
                )
            layers.append((weight, bias))
        if tensors:
            raise ValueError(f"unexpected tensors {sorted(tensors)[:5]}")
        if not layers or layers[-1][0].shape[0] != 1:
            raise ValueError("the last layer must give one logit")
    except (ValueError, KeyError, OSError) as exc:
        raise DetectorUnavailable(
            f"CLEANROOM_NSFW: HEAD {str(path)!r} is not a usable head: {type(exc).__name__}: {exc}"
        ) from None
    if threshold is not None and not 0.0 < threshold <= 1.0:
        raise DetectorUnavailable(f"CLEANROOM_NSFW: HEAD {str(path)!r} carries threshold {threshold}, outside (0, 1]")
    return NsfwHead(tuple(layers), threshold, hashlib.sha256(raw).hexdigest())


class ClipNsfwDetector:
    """An open_clip image encoder from local files, scoring the whole image.

    With `head_path` (see NsfwHead) the score is the head's sigmoid over the L2-normalised
    image embedding; without it, the probability mass CLIP puts on the NSFW prompts against the
    safe ones (zero-shot: only meaningful with real CLIP weights). Files are checked here, torch
    and open_clip are imported on the first detection only. The threshold is THRESHOLD, else the
    head's own, else 0.5.
    """

    name = "clip"

    def __init__(
        self,
        weights_path: str,
        *,
        model_name: str = "ViT-L-14",
        head_path: str | None = None,
        threshold: float | None = None,
        device: str = "cpu",
    ) -> None:
        try:
            self.model = OpenClipModel(model=model_name, weights=weights_path, device=device, setting="CLEANROOM_NSFW")
        except ImproperlyConfigured as exc:
            raise DetectorUnavailable(f"{exc}. Or use BACKEND 'nudenet'.") from None
        self.head = load_nsfw_head(head_path) if head_path else None
        if threshold is None:
            threshold = self.head.threshold if self.head is not None and self.head.threshold is not None else DEFAULT_THRESHOLD
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold {threshold!r} must be in (0, 1]")
        if self.head is not None and self.head.input_dim != self.model.embed_dim:
            raise DetectorUnavailable(
                f"CLEANROOM_NSFW: HEAD {head_path!r} takes {self.head.input_dim}-dimensional embeddings, "
                f"model {self.model.name!r} gives {self.model.embed_dim}"
            )
        self.threshold = float(threshold)
        scorer = self.head.sha256 if self.head is not None else "zero-shot:" + "|".join(CLIP_NSFW_PROMPTS + CLIP_SAFE_PROMPTS)
        digest = hashlib.sha256(f"{self.model.digest}\0{scorer}".encode()).hexdigest()
        # The model, the head and the threshold all decide: any change re-audits (32 chars at most).
        self.version = f"clip/{digest[:12]}/t{self.threshold:g}"

    def _prompt_embeddings(self) -> np.ndarray:
        return once_per_process(
            ("clip-prompts", self.model.digest), lambda: self.model.embed_texts(CLIP_NSFW_PROMPTS + CLIP_SAFE_PROMPTS)
        )

    def score(self, image: Image.Image) -> float:
        embedding = self.model.embed([image])
        if self.head is not None:
            return float(self.head.scores(embedding)[0])
        logits = 100.0 * (embedding.astype(np.float64) @ self._prompt_embeddings().T.astype(np.float64))[0]
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        return float(probabilities[: len(CLIP_NSFW_PROMPTS)].sum())

    def detect(self, image: Image.Image) -> NsfwResult:
        score = self.score(image)
        label = NsfwLabel(label=CLIP_LABEL, score=score, box=(0, 0, image.width, image.height))
        return NsfwResult(flagged=score >= self.threshold, score=score, threshold=self.threshold, labels=[label])


_SETTING_KEYS = {
    "nudenet": {"BACKEND", "THRESHOLD", "LABELS"},
    "clip": {"BACKEND", "THRESHOLD", "WEIGHTS", "MODEL", "HEAD", "DEVICE"},
}


def detector_from_settings(config: dict[str, Any]) -> NsfwDetector:
    """The backend a config dict names, e.g. {"BACKEND": "nudenet", "THRESHOLD": 0.5} or
    {"BACKEND": "clip", "MODEL": "ViT-L-14" or "/models/clip.json", "WEIGHTS": "/models/clip.safetensors",
    "HEAD": "/models/nsfw-head.safetensors"}.

    Unknown backends and unknown keys are errors: a misspelt THRESHOLD must not silently fall
    back to the default.
    """
    backend = config.get("BACKEND", "nudenet")
    if backend not in _SETTING_KEYS:
        raise ValueError(f"unknown NSFW backend {backend!r}; known: {', '.join(_SETTING_KEYS)}")
    unknown = set(config) - _SETTING_KEYS[backend]
    if unknown:
        raise ValueError(f"unknown settings for the {backend!r} NSFW backend: {', '.join(sorted(unknown))}")
    if backend == "nudenet":
        labels = frozenset(config["LABELS"]) if "LABELS" in config else DEFAULT_COUNTED_LABELS
        return NudeNetDetector(threshold=float(config.get("THRESHOLD", DEFAULT_THRESHOLD)), counted_labels=labels)
    if not config.get("WEIGHTS"):
        raise ValueError("the 'clip' NSFW backend needs WEIGHTS, the path of a local open_clip checkpoint")
    return ClipNsfwDetector(
        str(config["WEIGHTS"]),
        model_name=str(config.get("MODEL") or "ViT-L-14"),
        head_path=str(config["HEAD"]) if config.get("HEAD") else None,
        threshold=float(config["THRESHOLD"]) if config.get("THRESHOLD") is not None else None,
        device=str(config.get("DEVICE") or "cpu"),
    )
