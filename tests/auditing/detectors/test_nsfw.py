"""The NSFW detector with the real NudeNet model, on benign third-party photos only.

No NSFW image is created or stored: scikit-image's bundled photos (an astronaut, a cup of
coffee, a cat) must pass, and the wiring from model output to a flag is proven by counting a
FACE label, which the astronaut photo does contain. The CLIP backend's inference path needs
torch and open_clip, which are not installed here, so only its unavailability is tested.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

from auditing.detectors import nsfw
from auditing.detectors.nsfw import (
    DEFAULT_COUNTED_LABELS,
    NUDENET_LABELS,
    ClipNsfwDetector,
    DetectorUnavailable,
    NsfwDetector,
    NudeNetDetector,
    detector_from_settings,
    nudenet_session,
)

REPO = Path(__file__).resolve().parents[3]
FACES = frozenset({"FACE_FEMALE", "FACE_MALE"})
CLIP_STACK_INSTALLED = importlib.util.find_spec("torch") is not None or importlib.util.find_spec("open_clip") is not None


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
    assert DEFAULT_COUNTED_LABELS == {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "ANUS_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "BUTTOCKS_EXPOSED",
    }
    assert DEFAULT_COUNTED_LABELS < set(NUDENET_LABELS)


def test_the_label_names_are_those_of_the_model_nudenet_ships() -> None:
    import nudenet.nudenet

    assert NUDENET_LABELS == tuple(getattr(nudenet.nudenet, "__labels"))
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

    assert all(abs(big - 4 * little) <= 12 for big, little in zip(large, small))


def test_the_model_is_loaded_once_per_process_and_shared_by_every_detector() -> None:
    first, second = NudeNetDetector(), NudeNetDetector(threshold=0.8)
    session = nudenet_session()

    first.detect(photo("coffee"))
    second.detect(photo("chelsea"))

    assert nudenet_session() is session
    assert sum(1 for key in nsfw._models if key[0] == "nudenet") == 1


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
            inherited = bool(nsfw._models)
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


@pytest.mark.skipif(CLIP_STACK_INSTALLED, reason="torch/open_clip are installed here")
def test_the_clip_backend_names_each_missing_package_and_the_missing_weights(tmp_path: Path) -> None:
    missing = tmp_path / "clip-vit-l-14.pt"

    with pytest.raises(DetectorUnavailable) as raised:
        ClipNsfwDetector(str(missing))

    message = str(raised.value)
    assert "'torch'" in message and "'open_clip'" in message and "open_clip_torch" in message
    assert str(missing) in message


@pytest.mark.skipif(CLIP_STACK_INSTALLED, reason="torch/open_clip are installed here")
def test_the_clip_backend_with_weights_present_names_only_the_missing_packages(tmp_path: Path) -> None:
    weights = tmp_path / "clip.pt"
    weights.write_bytes(b"not really a checkpoint")

    with pytest.raises(DetectorUnavailable) as raised:
        ClipNsfwDetector(str(weights))

    assert "'torch'" in str(raised.value)
    assert "weights" not in str(raised.value)


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


@pytest.mark.skipif(CLIP_STACK_INSTALLED, reason="torch/open_clip are installed here")
def test_settings_naming_the_clip_backend_raise_unavailable_here(tmp_path: Path) -> None:
    with pytest.raises(DetectorUnavailable, match="torch"):
        detector_from_settings({"BACKEND": "clip", "WEIGHTS": str(tmp_path / "clip.pt")})


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
