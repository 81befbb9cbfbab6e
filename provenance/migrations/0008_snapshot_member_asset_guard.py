"""Snapshot members lose their per-row foreign key to the asset; a trigger keeps its promise.

A delete (or a change of id) of an asset that a snapshot member names is refused by the
database. On PostgreSQL the trigger first takes, exclusively, the advisory lock that
snapshot_create holds shared while it writes members, so it waits for snapshots being built to
commit and then sees their members (READ COMMITTED: each statement of the trigger sees what
committed before it). The lock key is provenance.services.snapshot_members.MEMBERS_LOCK.
SQLite has one writer at a time, so its trigger needs no lock. Caveat on SQLite: Django remakes
a table (and drops its triggers) when a later migration alters provenance_asset there, so such
a migration must create this trigger again.
"""

from django.db import migrations, models
import django.db.models.deletion

MEMBERS_LOCK = 0x736E_6170  # "snap"; the same number as snapshot_members.MEMBERS_LOCK

POSTGRES = f"""
CREATE FUNCTION provenance_asset_snapshot_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.id = NEW.id THEN
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock({MEMBERS_LOCK});
    IF EXISTS (SELECT 1 FROM provenance_snapshotmember WHERE asset_id = OLD.id) THEN
        RAISE EXCEPTION 'asset % is a member of a snapshot and cannot be deleted', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER provenance_asset_snapshot_guard BEFORE DELETE OR UPDATE OF id ON provenance_asset
    FOR EACH ROW EXECUTE FUNCTION provenance_asset_snapshot_guard();
"""
POSTGRES_REVERSE = """
DROP TRIGGER provenance_asset_snapshot_guard ON provenance_asset;
DROP FUNCTION provenance_asset_snapshot_guard();
"""
SQLITE = [
    """CREATE TRIGGER provenance_asset_snapshot_guard BEFORE DELETE ON provenance_asset
    WHEN EXISTS (SELECT 1 FROM provenance_snapshotmember WHERE asset_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'asset is a member of a snapshot and cannot be deleted'); END""",
    """CREATE TRIGGER provenance_asset_snapshot_guard_id BEFORE UPDATE OF id ON provenance_asset
    WHEN OLD.id <> NEW.id AND EXISTS (SELECT 1 FROM provenance_snapshotmember WHERE asset_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'asset is a member of a snapshot and cannot be deleted'); END""",
]
SQLITE_REVERSE = ["DROP TRIGGER provenance_asset_snapshot_guard", "DROP TRIGGER provenance_asset_snapshot_guard_id"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise NotImplementedError(f"no snapshot member guard for {schema_editor.connection.vendor}")
        for statement in [statements] if isinstance(statements, str) else statements:
            schema_editor.execute(statement, params=None)  # the SQL holds a literal %

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("provenance", "0007_upload_session_abandoned"),
    ]

    operations = [
        migrations.AlterField(
            model_name="snapshotmember",
            name="asset",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="snapshot_members",
                to="provenance.asset",
            ),
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRES, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE}),
        ),
    ]
