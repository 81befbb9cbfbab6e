"""The NSFW detector with the real NudeNet model, on benign third-party photos only.

No NSFW image is created or stored: scikit-image's bundled photos (an astronaut, a cup of
coffee, a cat) must pass, and the wiring from model output to a flag is proven by counting a
FACE label, which the astronaut photo does contain. The CLIP backend runs a tiny open_clip
model built from a config (random weights) with a head fitted here to a handful of photos, so
its decision on them is known.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from PIL import Image
from skimage import data

from auditing.detectors import process_cache
from auditing.detectors.nsfw import DetectorUnavailable, NsfwDetector, detector_from_settings
from auditing.detectors.nsfw.clip import CLIP_LABEL, ClipNsfwDetector, load_nsfw_head
from auditing.detectors.nsfw.nudenet import DEFAULT_COUNTED_LABELS, NUDENET_LABELS, NudeNetDetector, nudenet_session
from auditing.similarity.embeddings import OpenClipModel
from tests.auditing.tiny_clip import fit_linear_head, write_head, write_tiny_clip

REPO = Path(__file__).resolve().parents[3]
FACES = frozenset({"FACE_FEMALE", "FACE_MALE"})
FLAGGED = ["astronaut", "chelsea", "rocket"]
PASSED = ["coffee", "camera", "coins"]


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(data, name)())


@pytest.fixture(scope="module")
def detector() -> NudeNetDetector:
    return NudeNetDetector()


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_benign_photos_are_not_flagged(detector: NudeNetDetector, name: str) -> None:
    result = detector.detect(photo(name))

    assert not result.flagged
    assert result.score == 0.0
    assert result.threshold == 0.5
    assert not {entry["label"] for entry in result.labels} & DEFAULT_COUNTED_LABELS


def test_a_face_is_reported_with_its_box_but_never_flags_by_default(detector: NudeNetDetector) -> None:
    result = detector.detect(photo("astronaut"))

    faces = [entry for entry in result.labels if entry["label"] in FACES]
    assert len(faces) == 1 and faces[0]["score"] > 0.5
    x, y, w, h = faces[0]["box"]
    # Eileen Collins' face in the 512 x 512 photo sits around x 170-280, y 80-180.
    assert 150 < x < 200 and 60 < y < 110 and 80 < w < 130 and 80 < h < 130
    assert not result.flagged and result.score == 0.0


def test_counting_a_face_label_flags_the_astronaut_end_to_end() -> None:
    result = NudeNetDetector(threshold=0.3, counted_labels=DEFAULT_COUNTED_LABELS | FACES).detect(photo("astronaut"))

    assert result.flagged
    assert result.score == max(entry["score"] for entry in result.labels if entry["label"] in FACES)
    assert result.threshold == 0.3


def test_a_counted_label_below_the_threshold_is_scored_but_does_not_flag() -> None:
    result = NudeNetDetector(threshold=0.95, counted_labels=FACES).detect(photo("astronaut"))

    assert not result.flagged
    assert 0.5 < result.score < 0.95


def test_the_default_counted_labels_are_the_exposed_intimate_parts_and_no_face() -> None:
    assert {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "ANUS_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "BUTTOCKS_EXPOSED",
    } == DEFAULT_COUNTED_LABELS
    assert set(NUDENET_LABELS) > DEFAULT_COUNTED_LABELS


def test_the_label_names_are_those_of_the_model_nudenet_ships() -> None:
    import nudenet.nudenet

    assert tuple(getattr(nudenet.nudenet, "__labels")) == NUDENET_LABELS
    (output,) = nudenet_session().get_outputs()
    assert output.shape[1] == 4 + len(NUDENET_LABELS)


def test_a_misspelt_or_empty_label_set_is_rejected() -> None:
    with pytest.raises(ValueError, match="FEMALE_BREAST_EXPOSD"):
        NudeNetDetector(counted_labels=frozenset({"FEMALE_BREAST_EXPOSD"}))
    with pytest.raises(ValueError, match="empty"):
        NudeNetDetector(counted_labels=frozenset())


@pytest.mark.parametrize("threshold", [0.1, 0.0, 1.5])
def test_a_threshold_outside_what_nudenet_reports_is_rejected(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        NudeNetDetector(threshold=threshold)


def test_in_memory_detection_matches_nudenet_reading_the_same_file(detector: NudeNetDetector, tmp_path: Path) -> None:
    from nudenet import NudeDetector

    reference = NudeDetector()
    for name in ("astronaut", "coffee", "camera"):
        path = tmp_path / f"{name}.png"
        photo(name).save(path)

        ours = [(e["label"], round(e["score"], 4), list(e["box"])) for e in detector.detect(photo(name)).labels]
        theirs = [(d["class"], round(d["score"], 4), d["box"]) for d in reference.detect(str(path))]

        assert ours == theirs


def test_greyscale_and_transparent_images_are_accepted(detector: NudeNetDetector) -> None:
    grey = Image.fromarray(data.camera())
    transparent = photo("astronaut").convert("RGBA")

    assert grey.mode == "L" and [e["label"] for e in detector.detect(grey).labels] == ["FACE_MALE"]
    assert [e["label"] for e in detector.detect(transparent).labels] == ["FACE_FEMALE"]


def test_a_large_photo_is_reduced_first_and_boxes_come_back_in_its_own_pixels(detector: NudeNetDetector) -> None:
    small = detector.detect(photo("astronaut")).labels[0]["box"]
    large = detector.detect(photo("astronaut").resize((2048, 2048), Image.Resampling.BICUBIC)).labels[0]["box"]

    assert all(abs(big - 4 * little) <= 12 for big, little in zip(large, small, strict=True))


def test_the_model_is_loaded_once_per_process_and_shared_by_every_detector() -> None:
    first, second = NudeNetDetector(), NudeNetDetector(threshold=0.8)
    session = nudenet_session()

    first.detect(photo("coffee"))
    second.detect(photo("chelsea"))

    assert nudenet_session() is session
    assert sum(1 for key in process_cache.loaded_keys() if key[0] == "nudenet") == 1


def test_the_session_is_single_threaded_on_the_cpu() -> None:
    session = nudenet_session()

    assert session.get_providers() == ["CPUExecutionProvider"]
    assert session.get_session_options().intra_op_num_threads == 1


def test_importing_and_configuring_the_detector_loads_no_model() -> None:
    code = (
        "import sys\n"
        "from auditing.detectors.nsfw import detector_from_settings\n"
        "detector_from_settings({'BACKEND': 'nudenet', 'THRESHOLD': 0.4})\n"
        "assert 'onnxruntime' not in sys.modules and 'nudenet' not in sys.modules, sorted(sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr


def test_a_forked_worker_builds_its_own_session_and_still_detects() -> None:
    nudenet_session()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's teardown
        try:
            inherited = bool(process_cache.loaded_keys())
            face = NudeNetDetector(counted_labels=FACES).detect(photo("astronaut")).flagged
            os.write(write, f"{inherited} {face}".encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    report = os.read(read, 100).decode()
    os.close(read)

    assert os.waitstatus_to_exitcode(status) == 0
    assert report == "False True"


def test_a_warm_detection_takes_well_under_a_quarter_second(detector: NudeNetDetector) -> None:
    image = photo("astronaut")
    detector.detect(image)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        detector.detect(image)
        timings.append(time.perf_counter() - started)

    assert statistics.median(timings) < 0.25


def test_the_version_changes_with_the_threshold_or_the_counted_labels() -> None:
    base = NudeNetDetector().version

    assert base.startswith("3.4.2/320n/")
    assert NudeNetDetector().version == base
    assert NudeNetDetector(threshold=0.4).version != base
    assert NudeNetDetector(counted_labels=DEFAULT_COUNTED_LABELS - {"BUTTOCKS_EXPOSED"}).version != base


def test_the_nudenet_backend_satisfies_the_detector_protocol(detector: NudeNetDetector) -> None:
    assert isinstance(detector, NsfwDetector)
    assert detector.name == "nudenet"


def test_settings_build_a_nudenet_detector_with_their_threshold_and_labels() -> None:
    detector = detector_from_settings({"BACKEND": "nudenet", "THRESHOLD": 0.4, "LABELS": ["FACE_FEMALE"]})

    assert isinstance(detector, NudeNetDetector)
    assert detector.threshold == 0.4
    assert detector.counted_labels == {"FACE_FEMALE"}
    assert detector.detect(photo("astronaut")).flagged


def test_settings_without_a_backend_mean_nudenet_with_the_documented_defaults() -> None:
    detector = detector_from_settings({})

    assert isinstance(detector, NudeNetDetector)
    assert detector.threshold == 0.5 and detector.counted_labels == DEFAULT_COUNTED_LABELS


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        ({"BACKEND": "nsfwjs"}, "unknown NSFW backend"),
        ({"BACKEND": "nudenet", "TRESHOLD": 0.3}, "TRESHOLD"),
        ({"BACKEND": "clip"}, "WEIGHTS"),
    ],
)
def test_a_wrong_setting_is_a_value_error_naming_it(config: dict, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        detector_from_settings(config)


def test_results_are_plain_python_values_ready_for_a_json_finding(detector: NudeNetDetector) -> None:
    result = dataclasses.asdict(detector.detect(photo("astronaut")))

    (face,) = result["labels"]
    assert type(result["score"]) is float and type(face["score"]) is float
    assert all(type(v) is int for v in face["box"])
    assert json.loads(json.dumps(result))["labels"][0]["label"] == "FACE_FEMALE"


# --- the CLIP backend: a tiny open_clip model and a head fitted to known photos ---------------


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clip")
    config, weights = write_tiny_clip(folder, seed=0)
    encoder = OpenClipModel(model=str(config), weights=str(weights))
    weight, bias = fit_linear_head(encoder.embed([photo(n) for n in FLAGGED + PASSED]), [n in FLAGGED for n in FLAGGED + PASSED])
    # The same decision through a two-layer head: ReLU(z) - ReLU(-z) = z.
    hidden = (np.vstack([weight, -weight]), np.concatenate([bias, -bias]))
    return {
        "config": config,
        "weights": weights,
        "other_weights": write_tiny_clip(folder, seed=1)[1],
        "linear": write_head(folder / "linear.safetensors", [(weight, bias)]),
        "mlp": write_head(folder / "mlp.npz", [hidden, (np.array([[1.0, -1.0]]), np.zeros(1))], threshold=0.9),
    }


def clip_detector(files: dict[str, Path], **options) -> ClipNsfwDetector:
    options.setdefault("head_path", str(files["linear"]))
    return ClipNsfwDetector(str(files["weights"]), model_name=str(files["config"]), **options)


def test_the_clip_backend_flags_what_its_head_was_fitted_to_flag(clip_files) -> None:
    detector = clip_detector(clip_files)

    for name in FLAGGED:
        result = detector.detect(photo(name))
        assert result.flagged and result.score == pytest.approx(0.982, abs=0.01), name
    for name in PASSED:
        result = detector.detect(photo(name))
        assert not result.flagged and result.score == pytest.approx(0.018, abs=0.01), name


def test_a_clip_result_is_one_whole_image_label_ready_for_a_finding(clip_files) -> None:
    image = photo("rocket")
    result = dataclasses.asdict(clip_detector(clip_files).detect(image))

    (label,) = result["labels"]
    assert label == {"label": CLIP_LABEL, "score": result["score"], "box": (0, 0, image.width, image.height)}
    assert type(result["score"]) is float and result["threshold"] == 0.5
    assert json.loads(json.dumps(result))["labels"][0]["label"] == "NSFW"


def test_a_two_layer_head_in_an_npz_gives_the_same_scores_and_brings_its_threshold(clip_files) -> None:
    linear, mlp = clip_detector(clip_files), clip_detector(clip_files, head_path=str(clip_files["mlp"]))

    assert mlp.threshold == 0.9
    for name in FLAGGED + PASSED:
        assert mlp.score(photo(name)) == pytest.approx(linear.score(photo(name)), abs=1e-4)
    assert clip_detector(clip_files, head_path=str(clip_files["mlp"]), threshold=0.99).threshold == 0.99
    assert not clip_detector(clip_files, threshold=0.99).detect(photo("astronaut")).flagged


def test_the_scores_come_from_the_configured_weights(clip_files) -> None:
    ours = clip_detector(clip_files).score(photo("astronaut"))
    theirs = ClipNsfwDetector(
        str(clip_files["other_weights"]), model_name=str(clip_files["config"]), head_path=str(clip_files["linear"])
    ).score(photo("astronaut"))

    assert abs(ours - theirs) > 0.05


def test_without_a_head_the_backend_scores_zero_shot_against_its_prompts_offline(clip_files) -> None:
    detector = clip_detector(clip_files, head_path=None)

    scores = [detector.score(photo(name)) for name in ("astronaut", "coffee")]

    assert all(0.0 < score < 1.0 for score in scores) and scores[0] != scores[1]
    assert "/t0.5" in detector.version and detector.version != clip_detector(clip_files).version


def test_the_clip_version_changes_with_weights_head_and_threshold_and_fits_its_column(clip_files) -> None:
    base = clip_detector(clip_files).version
    others = {
        ClipNsfwDetector(
            str(clip_files["other_weights"]), model_name=str(clip_files["config"]), head_path=str(clip_files["linear"])
        ).version,
        clip_detector(clip_files, head_path=str(clip_files["mlp"])).version,
        clip_detector(clip_files, threshold=0.7).version,
    }

    assert base.startswith("clip/") and len(base) <= 32 and all(len(v) <= 32 for v in others)
    assert base not in others and len(others) == 3
    assert clip_detector(clip_files).version == base


def test_a_missing_weights_file_is_named_and_never_looked_up_on_a_hub(clip_files, tmp_path: Path) -> None:
    missing = tmp_path / "clip-vit-l-14.safetensors"

    with pytest.raises(DetectorUnavailable) as raised:
        ClipNsfwDetector(str(missing), model_name=str(clip_files["config"]))
    assert str(missing) in str(raised.value) and "nudenet" in str(raised.value)
    assert isinstance(raised.value, ImproperlyConfigured)
    with pytest.raises(DetectorUnavailable, match="not a file"):
        ClipNsfwDetector("openai", model_name="ViT-L-14")


def test_a_checkpoint_of_another_architecture_fails_clearly_on_first_use(clip_files, tmp_path: Path) -> None:
    _, small = write_tiny_clip(tmp_path, seed=0, config={**json.loads(clip_files["config"].read_text()), "embed_dim": 16})
    detector = ClipNsfwDetector(str(small), model_name=str(clip_files["config"]))

    with pytest.raises(ImproperlyConfigured, match="do not load into open_clip model"):
        detector.detect(photo("coffee"))


@pytest.mark.parametrize(
    ("head", "complaint"),
    [
        ("missing.safetensors", "is not a file"),
        ("head.pt", "must end in"),
        ("wrong-dim.safetensors", "takes 8-dimensional embeddings, model 'cleanroom-tiny-clip' gives 32"),
        ("two-logits.npz", "one logit"),
        ("gap.npz", "layers.0.weight"),
        ("bad-threshold.safetensors", "threshold 1.5"),
    ],
)
def test_a_missing_or_malformed_head_is_refused_naming_the_problem(clip_files, tmp_path: Path, head: str, complaint: str) -> None:
    (tmp_path / "head.pt").write_bytes(b"torchscript would run code")
    write_head(tmp_path / "wrong-dim.safetensors", [(np.ones((1, 8)), np.zeros(1))])
    write_head(tmp_path / "two-logits.npz", [(np.ones((2, 32)), np.zeros(2))])
    np.savez(tmp_path / "gap.npz", **{"layers.1.weight": np.ones((1, 32)), "layers.1.bias": np.zeros(1)})
    write_head(tmp_path / "bad-threshold.safetensors", [(np.ones((1, 32)), np.zeros(1))], threshold=1.5)

    with pytest.raises(DetectorUnavailable, match=complaint):
        clip_detector(clip_files, head_path=str(tmp_path / head))


def test_a_head_file_is_read_without_torch_and_keeps_its_digest(clip_files) -> None:
    head = load_nsfw_head(clip_files["linear"])

    assert head.input_dim == 32 and head.threshold is None and len(head.layers) == 1
    assert head.sha256 == hashlib.sha256(clip_files["linear"].read_bytes()).hexdigest()


def test_settings_build_the_clip_backend_with_its_files(clip_files) -> None:
    detector = detector_from_settings(
        {
            "BACKEND": "clip",
            "MODEL": str(clip_files["config"]),
            "WEIGHTS": str(clip_files["weights"]),
            "HEAD": str(clip_files["mlp"]),
        }
    )

    assert isinstance(detector, ClipNsfwDetector) and isinstance(detector, NsfwDetector)
    assert detector.name == "clip" and detector.threshold == 0.9
    assert detector.detect(photo("chelsea")).flagged


def test_configuring_the_clip_backend_loads_neither_torch_nor_open_clip(clip_files) -> None:
    config = {
        "BACKEND": "clip",
        "MODEL": str(clip_files["config"]),
        "WEIGHTS": str(clip_files["weights"]),
        "HEAD": str(clip_files["mlp"]),
    }
    code = (
        "import sys\n"
        "from auditing.detectors.nsfw import detector_from_settings\n"
        f"detector_from_settings({config!r}).version\n"
        "assert 'torch' not in sys.modules and 'open_clip' not in sys.modules, 'torch loaded'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr


def test_a_warm_tiny_clip_detection_is_fast(clip_files) -> None:
    detector, image = clip_detector(clip_files), photo("astronaut")
    detector.detect(image)
    started = time.perf_counter()
    for _ in range(5):
        detector.detect(image)

    assert (time.perf_counter() - started) / 5 < 0.25


# --- the backend registry: CLEANROOM_NSFW['BACKEND'] ------------------------------------------


def test_output_moderation_runs_the_configured_backend(clip_files, settings) -> None:
    from generation.services.moderation import moderate

    settings.CLEANROOM_NSFW = {
        "BACKEND": "clip",
        "MODEL": str(clip_files["config"]),
        "WEIGHTS": str(clip_files["weights"]),
        "HEAD": str(clip_files["mlp"]),
    }
    verdict = moderate(photo("chelsea"))

    assert verdict["detector"] == "clip" and verdict["flagged"] and verdict["threshold"] == 0.9


def test_a_dotted_path_names_a_backend_as_well_as_its_short_name(clip_files) -> None:
    detector = detector_from_settings(
        {
            "BACKEND": "auditing.detectors.nsfw.clip.ClipNsfwDetector",
            "MODEL": str(clip_files["config"]),
            "WEIGHTS": str(clip_files["weights"]),
            "HEAD": str(clip_files["linear"]),
        }
    )

    assert type(detector) is ClipNsfwDetector and detector.detect(photo("rocket")).flagged


def test_an_unknown_backend_names_the_setting_and_the_known_backends() -> None:
    with pytest.raises(
        ImproperlyConfigured, match=r"CLEANROOM_NSFW\['BACKEND'\]: unknown NSFW backend 'nsfwjs'; known: clip, nudenet"
    ):
        detector_from_settings({"BACKEND": "nsfwjs"})


def test_a_class_that_is_not_an_nsfw_detector_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"is not a auditing\.detectors\.nsfw\.base\.NsfwDetector"):
        detector_from_settings({"BACKEND": "auditing.detectors.faces.haar.HaarFaces"})
