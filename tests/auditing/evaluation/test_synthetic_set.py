"""The synthetic-input auditor's evaluation set: labels from the IPTC vocabulary, declarations
read back by the real metadata reader, and the auditor measured against them."""

from __future__ import annotations

import io

from PIL import Image

from auditing.evaluation.synthetic import TRAINED_MODEL_CODES, build_set, c2pa_cases, flagged, measure
from provenance.ingest.metadata import extract_metadata
from tests.support.pki import use_identity, write_identity


def test_every_case_carries_the_declaration_its_label_was_written_for():
    cases = list(build_set(quick=True))

    declared = [case for case in cases if case.declared is not None]
    assert {case.declared for case in declared} >= TRAINED_MODEL_CODES | {"digitalCapture", "algorithmicMedia"}
    for case in declared:
        with Image.open(io.BytesIO(case.data)) as image:
            metadata = extract_metadata(image, case.data, mime_type=case.mime_type)
        assert metadata.digital_source_type is not None and metadata.digital_source_type.endswith(case.declared)
        assert case.synthetic == (case.declared in TRAINED_MODEL_CODES)
    assert any(case.declared is None and not case.synthetic for case in cases)


def test_the_builder_is_reproducible():
    assert [case.data for case in build_set(quick=True)] == [case.data for case in build_set(quick=True)]


def test_a_signed_c2pa_declaration_is_judged_as_its_code_says(settings, tmp_path):
    use_identity(settings, write_identity(tmp_path / "pki"))

    outcomes = {case.declared: flagged(case) for case in c2pa_cases()}

    assert {code for code, found in outcomes.items() if found} == TRAINED_MODEL_CODES


def test_the_measurement_finds_every_declared_trained_model_and_nothing_else():
    measurement = measure(quick=True)

    figures = {figure.name: figure for figure in measurement.figures}
    assert figures["accuracy.synthetic.recall"].value == 1.0
    assert figures["accuracy.synthetic.precision"].value == 1.0
    assert all(figure.met for figure in measurement.figures)
