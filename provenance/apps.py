from django.apps import AppConfig


class ProvenanceConfig(AppConfig):
    name = "provenance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.background import register_background_kind
        from provenance.exports.jobs import EXPORT_KIND

        register_background_kind(
            EXPORT_KIND,
            label="Export a report",
            runner="provenance.exports.jobs.export_job",
            result_template="provenance/export_result.html",
        )
        register_background_kind(
            "portal_upload",
            label="Process your upload",
            runner="provenance.services.portal_upload.upload_process_job",
            result_template="portal/upload_result.html",
        )
