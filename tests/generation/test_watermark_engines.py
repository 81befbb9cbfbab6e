"""rivaGan's two engines (onnxruntime in float32, torch in the device's fast precision) and its two
layouts (v2 marks in a 256² working frame; v1 marks, at 512², are still read), on third-party
photos, no mocks."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from PIL import Image
from skimage import data as skimage_data

from generation.watermark import detect_watermark, embed_watermark
from generation.watermarks.base import MIN_HALF_SIDE
from generation.watermarks.rivagan import CURRENT, LEGACY, _halves
from generation.watermarks.rivagan_engines import OnnxEngine, TorchEngine, engine, model_dir


def photo(name: str, size: tuple[int, int] | None = None) -> Image.Image:
    image = Image.fromarray(getattr(skimage_data, name)()).convert("RGB")
    return image.resize(size, Image.Resampling.LANCZOS) if size else image


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return np.stack(_halves(np.asarray(photo("astronaut", (256, 256)))))


@pytest.fixture(scope="module")
def engines() -> tuple[OnnxEngine, TorchEngine]:
    return OnnxEngine(model_dir()), TorchEngine(model_dir(), "cpu")


def test_every_output_size_is_marked_in_the_same_small_working_frame():
    for size in ((256, 256), (512, 512), (1024, 1024), (2048, 2048)):
        assert CURRENT.embedding_size(*size) == (256, 256), size
    width, height = CURRENT.embedding_size(1920, 1080)
    assert abs(width * height - 256 * 256) < 600 and abs(width / height - 1920 / 1080) < 0.01
    # An elongated image keeps each half at least MIN_HALF_SIDE on its short side.
    for size in ((2048, 512), (512, 2048), (3000, 600)):
        half = _halves(np.zeros(CURRENT.embedding_size(*size)[::-1], np.uint8))[0]
        assert min(half.shape) >= MIN_HALF_SIDE, size
    assert LEGACY.embedding_size(1024, 1024) == (512, 512) and LEGACY.embedding_size(600, 400) == (600, 400)


@pytest.mark.slow
def test_the_torch_engine_computes_the_same_mark_and_scores_as_onnxruntime(frames, engines):
    onnx, torch_engine = engines
    bits = np.random.default_rng(3).integers(0, 2, (2, 32)).astype(np.float32)
    expected, residual = onnx.residual(frames, bits), torch_engine.residual(frames, bits)
    # ±2 grey levels per pixel; the fast precision moves it by hundredths on average.
    assert np.abs(expected).mean() > 1.5
    assert np.abs(residual - expected).mean() < 0.05
    assert np.percentile(np.abs(residual - expected), 99.9) < 1.0
    marked = np.clip(np.rint(frames + expected * 1.5), 0, 255).astype(np.uint8)
    reference, scores = onnx.scores(marked), torch_engine.scores(marked)
    assert np.corrcoef(reference.ravel(), scores.ravel())[0, 1] > 0.999
    assert ((reference > 0) == (scores > 0)).mean() >= 0.97
    assert ((scores > 0) == bits).mean() >= 0.95


@pytest.mark.slow
def test_a_mark_made_by_one_engine_reads_with_the_other(settings):
    image = photo("rocket")
    settings.CLEANROOM_WATERMARK = {**settings.CLEANROOM_WATERMARK, "ENGINE": "torch", "DEVICE": "cpu"}
    marked = embed_watermark(image, 4242)
    settings.CLEANROOM_WATERMARK = {**settings.CLEANROOM_WATERMARK, "ENGINE": "onnxruntime"}
    assert engine().name == "onnxruntime"
    hit = detect_watermark(marked, try_mirror=False)
    assert hit is not None and hit.payload == 4242 and hit.backend == "rivagan"


@pytest.mark.slow
def test_outputs_marked_before_the_working_frame_changed_are_still_read(settings):
    image = photo("astronaut")
    settings.CLEANROOM_WATERMARK = {**settings.CLEANROOM_WATERMARK, "BACKEND": "rivagan-v1"}
    older = embed_watermark(image, 777)
    settings.CLEANROOM_WATERMARK = {**settings.CLEANROOM_WATERMARK, "BACKEND": "rivagan"}
    hit = detect_watermark(older)
    assert hit is not None and hit.payload == 777 and hit.backend == "rivagan-v1"
    # And a v2 mark is never read as a v1 one (each layout has its own mask).
    newer = embed_watermark(image, 778)
    hit = detect_watermark(newer)
    assert hit is not None and (hit.payload, hit.backend) == (778, "rivagan")


def test_an_unknown_engine_is_refused_with_the_setting_named(settings):
    settings.CLEANROOM_WATERMARK = {**settings.CLEANROOM_WATERMARK, "ENGINE": "tensorrt"}
    with pytest.raises(ImproperlyConfigured, match=r"CLEANROOM_WATERMARK\['ENGINE'\] is 'tensorrt'"):
        embed_watermark(photo("astronaut"), 7)


@pytest.mark.slow
def test_older_marks_are_not_read_where_the_deployment_never_made_any(settings):
    settings.CLEANROOM_WATERMARK = {**settings.CLEANROOM_WATERMARK, "BACKEND": "rivagan-v1"}
    older = embed_watermark(photo("astronaut"), 779)
    settings.CLEANROOM_WATERMARK = {**settings.CLEANROOM_WATERMARK, "BACKEND": "rivagan", "READ_OLDER_MARKS": False}
    assert detect_watermark(older) is None


@pytest.mark.gpu
def test_on_a_gpu_the_mark_is_made_in_half_precision_and_reads_with_onnxruntime(settings, frames, engines):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    onnx, _ = engines
    on_gpu = TorchEngine(model_dir(), "cuda")
    assert on_gpu.dtype == torch.float16
    bits = np.random.default_rng(4).integers(0, 2, (2, 32)).astype(np.float32)
    assert np.abs(on_gpu.residual(frames, bits) - onnx.residual(frames, bits)).mean() < 0.05
    settings.CLEANROOM_WATERMARK = {**settings.CLEANROOM_WATERMARK, "ENGINE": "torch", "DEVICE": "cuda"}
    marked = embed_watermark(photo("rocket"), 4343)
    settings.CLEANROOM_WATERMARK = {**settings.CLEANROOM_WATERMARK, "ENGINE": "onnxruntime"}
    hit = detect_watermark(marked, try_mirror=False)
    assert hit is not None and hit.payload == 4343
