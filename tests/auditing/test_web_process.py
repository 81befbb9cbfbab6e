"""The web process asks auditors for their versions (API ingest queues audits) but must never
load the heavy detector libraries: those belong in the workers."""

from __future__ import annotations

from tests.web_process import web_process_report

# The PDF exports' renderer and charts too: a worker or the command line writes PDFs, never a request.
HEAVY = [
    "presidio_analyzer",
    "spacy",
    "onnxruntime",
    "cv2",
    "faiss",
    "torch",
    "skimage",
    "pytesseract",
    "weasyprint",
    "matplotlib",
]


def test_the_web_application_and_the_auditor_versions_load_no_heavy_ml_library(tmp_path):
    heavy, versions = web_process_report(
        "django.urls.resolve('/api/v1/ingest/')\nfrom auditing.registry import current_versions",
        heavy=HEAVY,
        data_dir=tmp_path,
        report="current_versions()",
    )
    assert set(versions) == {"synthetic", "pii", "nsfw", "near_duplicate"}
    assert heavy == []
