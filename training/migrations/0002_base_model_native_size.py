import hashlib
from pathlib import Path

from django.db import migrations, models

CONFIGS = ("unet/config.json", "vae/config.json")


def record_native_sizes(apps, schema_editor) -> None:
    """Base models registered before: their native size from the configs in their directory,
    only when those are still the registered bytes (a changed directory would be refused at
    load anyway). Left null otherwise: generation then falls back to 512×512, as before."""
    from training.weights import native_size

    BaseModel = apps.get_model("training", "BaseModel")
    for base_model in BaseModel.objects.all():
        recorded = {entry["path"]: entry["sha256"] for entry in base_model.files}
        directory = Path(base_model.directory)
        try:
            unchanged = all(
                hashlib.sha256((directory / name).read_bytes()).hexdigest() == recorded.get(name) for name in CONFIGS
            )
        except OSError:
            continue
        size = native_size(directory) if unchanged else None
        if size is not None:
            base_model.native_width, base_model.native_height = size
            base_model.save(update_fields=["native_width", "native_height"])


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="basemodel",
            name="native_height",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="basemodel",
            name="native_width",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(record_native_sizes, migrations.RunPython.noop),
    ]
