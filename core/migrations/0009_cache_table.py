"""The database cache's table (`CACHES` in config/settings/base.py), created by `migrate` so no
deployment forgets `createcachetable`. It is created whatever `CACHES` says: an unused empty
table costs nothing, and switching from Redis back to the database then needs no extra step."""

import io

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations

CACHE_TABLE = "cleanroom_cache"  # the LOCATION of the database cache in config/settings/base.py


def create_cache_table(apps, schema_editor):
    command = CreateCacheTable(stdout=io.StringIO())
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, CACHE_TABLE, dry_run=False)


def drop_cache_table(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(CACHE_TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("core", "0008_login_failures")]

    operations = [migrations.RunPython(create_cache_table, drop_cache_table)]
