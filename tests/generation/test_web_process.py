"""The web process serves the generation and verify APIs but must never load the ML stack:
generation runs in the `gpu` workers, a stripped copy's soft bindings are read by CPU workers."""

from __future__ import annotations

from tests.web_process import web_process_report

HEAVY = ["torch", "diffusers", "transformers", "onnxruntime", "cv2", "faiss", "imwatermark", "trustmark", "lightning"]


def test_the_generation_api_loads_no_heavy_library(tmp_path):
    heavy, _ = web_process_report(
        "for url in ('/api/v1/generation/jobs/', '/api/v1/generation/outputs/00000000-0000-0000-0000-000000000000/download/',\n"
        "            '/api/v1/verify/'):\n"
        "    django.urls.resolve(url)\n"
        "import generation.api.views, generation.api.verify, generation.tasks, generation.selectors\n"
        "import generation.services.verification",
        heavy=HEAVY,
        data_dir=tmp_path,
    )
    assert heavy == []
