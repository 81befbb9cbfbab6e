from django.apps import AppConfig


class AuditingConfig(AppConfig):
    name = "auditing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # provenance may not import auditing: it announces ingests through its hook registry.
        from auditing.portal import findings_in_plain_words
        from auditing.services import audits_request_after_ingest
        from auditing.services.bulk_decisions import BULK_DECISION_KIND
        from auditing.services.export_outcomes import audit_outcomes
        from auditing.services.likeness import likeness_consent_lapsed
        from core.background import register_background_kind
        from provenance import hooks
        from provenance.exports.records import on_audit_outcomes
        from provenance.portal.selectors import on_findings_explained

        hooks.on_assets_ingested(audits_request_after_ingest)
        hooks.on_consent_lapsed(likeness_consent_lapsed)
        on_audit_outcomes(audit_outcomes)
        on_findings_explained(findings_in_plain_words)
        register_background_kind(
            BULK_DECISION_KIND,
            label="Decide all matching findings",
            runner="auditing.services.bulk_decisions.bulk_decision_job",
            result_template="auditing/bulk_result.html",
        )
