"""Tokens of DRF's `authtoken` (older releases) become hashed API tokens that keep working.

Its table held every key in plaintext: each key's SHA-256 is copied into `core_apitoken`, with a
fresh lifetime (CLEANROOM_TOKEN_TTL_HOURS from now), and the table is dropped along with the
app's migration records (the app is no longer installed). There is no way back: the keys are
gone. A database that never had the table has nothing to do.
"""

import hashlib
from datetime import UTC, timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone

PLAINTEXT_TABLE = "authtoken_token"


def hash_plaintext_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if PLAINTEXT_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("core", "ApiToken")
    table = schema_editor.quote_name(PLAINTEXT_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {schema_editor.quote_name('key')}, user_id, created FROM {table}")
        rows = cursor.fetchall()
    expires_at = timezone.now() + timedelta(hours=settings.CLEANROOM_TOKEN_TTL_HOURS)
    ApiToken.objects.bulk_create(
        ApiToken(
            user_id=user_id,
            # The digest core/tokens.py:token_digest computes (a migration keeps its own copy).
            digest=hashlib.sha256(key.encode()).hexdigest(),
            # SQLite hands the timestamp back naive (in UTC).
            created_at=timezone.make_aware(created, UTC) if timezone.is_naive(created) else created,
            expires_at=expires_at,
        )
        for key, user_id, created in rows
    )
    schema_editor.execute(f"DROP TABLE {table}")
    schema_editor.execute("DELETE FROM django_migrations WHERE app = %s", ["authtoken"])


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0006_api_tokens"),
    ]

    operations = [
        migrations.RunPython(hash_plaintext_tokens, migrations.RunPython.noop),
    ]
