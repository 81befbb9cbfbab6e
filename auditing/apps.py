from django.apps import AppConfig


class AuditingConfig(AppConfig):
    name = "auditing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # provenance may not import auditing: it announces ingests through its hook registry.
        from auditing.services import audits_request_after_ingest
        from provenance import hooks

        hooks.on_assets_ingested(audits_request_after_ingest)
