from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation: jobs, moderation, soft bindings and verification"

    def ready(self) -> None:
        # "Was my image used?" (provenance) counts the models and outputs from here.
        from generation.usage import models_of_snapshots
        from provenance.services.usage import on_models_of_snapshots

        on_models_of_snapshots(models_of_snapshots)
