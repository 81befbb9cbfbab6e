from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Training: base models, LoRA runs and model lineage"

    def ready(self) -> None:
        # provenance may not import training: the model's report formats are provided from here.
        from provenance.exports.formats import MODEL, export_format_provide
        from provenance.exports.pack import on_snapshot_models
        from provenance.portal.selectors import on_models_trained_on
        from provenance.report_views import on_report_section
        from training.exports import snapshot_signed_models
        from training.portal import models_trained_on
        from training.report_views import report_models_section

        export_format_provide(MODEL, "json", "training.exports.model_json_write")
        export_format_provide(MODEL, "pdf", "training.report_pdf.model_pdf_write")
        export_format_provide(MODEL, "eu-summary", "training.eu_summary.eu_summary_write")
        on_snapshot_models(snapshot_signed_models)
        on_report_section(report_models_section)
        on_models_trained_on(models_trained_on)
