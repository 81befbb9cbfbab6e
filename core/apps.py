from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.auditlog_verify import AUDITLOG_VERIFY_KIND
        from core.background import register_background_kind

        register_background_kind(
            AUDITLOG_VERIFY_KIND,
            label="Verify the audit log's chain",
            runner="core.auditlog_verify.auditlog_verify_run",
            result_template="core/auditlog_verify_result.html",
        )
