"""The trained models on the Reports page (/reports/, compliance): a section of the page that
provenance renders (provenance.report_views.on_report_section), and each model's export page,
which works as a snapshot's."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from provenance.exports.formats import MODEL, export_formats
from provenance.models import SnapshotStatus
from provenance.report_views import ExportPage, ReportSubject
from training.models import ModelArtifact

# The newest models listed on the Reports page; older ones are exported from the command line
# or the API, which take any model's id.
MODELS_SHOWN = 50


def _models(request: HttpRequest) -> QuerySet[ModelArtifact]:
    return ModelArtifact.objects.visible_to(request.user).select_related("snapshot__dataset", "base_model", "training_run")


def report_models_section(request: HttpRequest) -> tuple[str, dict[str, Any]]:
    models = list(_models(request).order_by("-created_at", "-id")[: MODELS_SHOWN + 1])
    formats = [export_format for export_format in export_formats(MODEL) if export_format.available]
    return "training/_report_models.html", {
        "models": models[:MODELS_SHOWN],
        "more": len(models) > MODELS_SHOWN,
        "formats": formats,
    }


class ModelExportPage(ExportPage):
    """A trained model's export (/reports/models/<model>/<format>/)."""

    subject = MODEL

    def report_subject(self, request: HttpRequest, subject_id: Any) -> ReportSubject:
        model = _models(request).filter(pk=subject_id).first()
        if model is None:
            raise Http404("no such model")
        snapshot = model.snapshot
        tainted = snapshot.status == SnapshotStatus.TAINTED
        return ReportSubject(
            pk=model.pk,
            title=f"model {str(model.pk)[:8]}…",
            description=(
                f"the model trained from base model {model.base_model.name} on snapshot {str(snapshot.pk)[:8]}… "
                f"of dataset {snapshot.dataset.slug}"
            ),
            tainted_reason=f"the snapshot it was trained on is tainted: {snapshot.status_reason}" if tainted else "",
            small=True,
        )
