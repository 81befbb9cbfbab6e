"""The protected-works registry: `protected add`, its refusals, and its persistent index."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from PIL import Image
from skimage import data as samples

from auditing.models import ProtectedWork
from auditing.services.protected import protected_add
from auditing.services.protected_index import index_path, protected_index, protected_index_forget
from auditing.similarity import store
from auditing.similarity.near_duplicate import NearDuplicateIndex
from core.models import AuditEvent, EventType
from core.storage import blob_exists

ROOT = Path(__file__).resolve().parents[2]


def jpeg(array: np.ndarray, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _index_per_test(settings, tmp_path):
    settings.CLEANROOM_INDEX_DIR = tmp_path / "indexes"
    protected_index_forget()
    yield
    protected_index_forget()


@pytest.fixture
def works(tmp_path) -> Path:
    folder = tmp_path / "works"
    folder.mkdir()
    (folder / "astronaut.jpg").write_bytes(jpeg(samples.astronaut()))
    (folder / "coffee.jpg").write_bytes(jpeg(samples.coffee()))
    return folder


def add(*args: str) -> dict:
    out = io.StringIO()
    call_command("protected", "add", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_protected_add_stores_each_work_with_its_fingerprint_event_and_index_entry(works, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = add(str(works), "--owner", "Acme Pictures", "--reference", "https://example.com/catalogue/1")
    assert result["refused"] == []
    assert sorted(Path(row["path"]).name for row in result["added"]) == ["astronaut.jpg", "coffee.jpg"]
    ids = {row["protected_work_id"] for row in result["added"]}
    for work in ProtectedWork.objects.filter(pk__in=ids):
        assert work.owner == "Acme Pictures" and work.reference == "https://example.com/catalogue/1"
        assert blob_exists(work.sha256) and (work.width, work.height) != (0, 0) and len(work.fingerprint) > 1000
    events = AuditEvent.objects.filter(event_type=EventType.PROTECTED_WORK_ADDED)
    assert set(events.values_list("subject_id", flat=True)) == ids
    assert set(NearDuplicateIndex.load(index_path()).keys()) == ids


@pytest.mark.django_db
def test_hostile_and_broken_files_are_refused_with_a_reason_and_the_rest_are_added(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = jpeg(samples.camera())
    (folder / "camera.jpg").write_bytes(good)
    (folder / "logo.jpg").write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "empty.png").write_bytes(b"")
    result = add(str(folder), "--owner", "Acme")
    assert [Path(row["path"]).name for row in result["added"]] == ["camera.jpg"]
    reasons = {Path(row["path"]).name: row["reason"] for row in result["refused"]}
    assert reasons == {"logo.jpg": "unsupported_type", "truncated.jpg": "invalid_image", "empty.png": "invalid_image"}
    assert all(row["detail"] for row in result["refused"])
    assert ProtectedWork.objects.count() == 1


@pytest.mark.django_db
def test_the_same_bytes_are_refused_as_a_duplicate_in_one_batch_and_across_batches(tmp_path, works):
    copy = tmp_path / "copy-of-coffee.jpg"
    copy.write_bytes((works / "coffee.jpg").read_bytes())
    first = add(str(works / "coffee.jpg"), str(copy), "--owner", "Acme")
    assert len(first["added"]) == 1 and [r["reason"] for r in first["refused"]] == ["duplicate"]
    second = add(str(works / "coffee.jpg"), "--owner", "Someone Else")
    assert second["added"] == [] and second["refused"][0]["reason"] == "duplicate"
    assert first["added"][0]["protected_work_id"] in second["refused"][0]["detail"]
    assert ProtectedWork.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_0_with_refusals_and_2_on_a_usage_error(tmp_path, works):
    (works / "notes.jpg").write_bytes(b"%PDF-1.7 not an image")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANROOM_", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        CLEANROOM_DATA_DIR=str(tmp_path / "data"),
        DJANGO_SETTINGS_MODULE="config.settings.base",
    )

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    done = manage("protected", "add", str(works), "--owner", "Acme", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result["added"]) == 2 and [r["reason"] for r in result["refused"]] == ["unsupported_type"]
    assert (tmp_path / "data" / "indexes" / "protected.idx").is_file()
    usage = manage("protected", "add", str(works), "--json")
    assert usage.returncode == 2 and "--owner" in usage.stderr


@pytest.mark.django_db
def test_the_index_survives_a_restart_by_loading_its_file(works, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = protected_add(paths=[str(works)], owner="Acme")
    ids = {str(work.pk) for _, work in result.added}
    before = os.stat(index_path())
    protected_index_forget()
    assert set(protected_index().keys()) == ids
    after = os.stat(index_path())
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # read, not rewritten


@pytest.mark.django_db
def test_a_corrupt_or_missing_index_file_is_rebuilt_from_the_database(works, tmp_path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ids = {str(work.pk) for _, work in protected_add(paths=[str(works / "coffee.jpg")], owner="Acme").added}
    path = index_path()
    path.write_bytes(b"CRNDIDX\0 garbage")
    protected_index_forget()
    assert set(protected_index().keys()) == ids
    assert set(NearDuplicateIndex.load(path).keys()) == ids

    path.unlink()
    protected_index_forget()
    assert set(protected_index().keys()) == ids and path.is_file()


def saved_count() -> int:
    path = index_path()
    return json.loads(path.with_name(path.name + ".meta.json").read_text())["count"]


@pytest.mark.django_db
def test_a_file_behind_the_table_is_caught_up_from_it_not_rebuilt_or_rewritten(works, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ids = {str(work.pk) for _, work in protected_add(paths=[str(works / "coffee.jpg")], owner="Acme").added}
    before = os.stat(index_path())
    # Added without the index hearing of it (no commit hook ran): the file is one work behind.
    [(_, later)] = protected_add(paths=[str(works / "astronaut.jpg")], owner="Acme").added
    protected_index_forget()  # a process start

    assert set(protected_index().keys()) == ids | {str(later.pk)}
    assert os.stat(index_path()).st_mtime_ns == before.st_mtime_ns and saved_count() == 1


def add_late(works: Path, name: str, before) -> str:
    """A work whose time was taken before its transaction committed, after `before`'s."""
    [(_, late)] = protected_add(paths=[str(works / name)], owner="Acme").added
    ProtectedWork.objects.filter(pk=late.pk).update(created_at=before.created_at - timedelta(minutes=5))
    return str(late.pk)


@pytest.mark.django_db
def test_a_work_committed_late_is_caught_up_with_the_next_one(works, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        [(_, first)] = protected_add(paths=[str(works / "coffee.jpg")], owner="Acme").added
    assert set(protected_index().keys()) == {str(first.pk)}
    late = add_late(works, "astronaut.jpg", first)
    (works / "camera.jpg").write_bytes(jpeg(samples.camera()))
    [(_, next_)] = protected_add(paths=[str(works / "camera.jpg")], owner="Acme").added

    assert set(protected_index().keys()) == {str(first.pk), late, str(next_.pk)}
    assert saved_count() == 1  # caught up, not rebuilt


@pytest.mark.django_db
def test_when_no_work_follows_the_recount_finds_the_late_one(works, django_capture_on_commit_callbacks, monkeypatch):
    with django_capture_on_commit_callbacks(execute=True):
        [(_, first)] = protected_add(paths=[str(works / "coffee.jpg")], owner="Acme").added
    assert set(protected_index().keys()) == {str(first.pk)}
    late = add_late(works, "astronaut.jpg", first)
    assert late not in protected_index()  # the table's latest row has not moved

    monkeypatch.setattr(store, "RECOUNT_SECONDS", 0.0)  # the recount is due
    assert set(protected_index().keys()) == {str(first.pk), late} and saved_count() == 1


@pytest.mark.django_db
def test_a_work_gone_from_the_table_leaves_the_index_at_the_recount(works, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(store, "RECOUNT_SECONDS", 0.0)
    with django_capture_on_commit_callbacks(execute=True):
        kept, gone = (work for _, work in protected_add(paths=[str(works)], owner="Acme").added)
    assert len(protected_index()) == 2
    ProtectedWork.objects.filter(pk=gone.pk).delete()

    assert set(protected_index().keys()) == {str(kept.pk)}


@pytest.mark.django_db
def test_the_file_is_rewritten_only_once_it_lags_the_index_far_enough(works, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(store, "SAVE_AFTER_ROWS", 2)
    (works / "camera.jpg").write_bytes(jpeg(samples.camera()))
    counts = []
    for name in ("coffee.jpg", "astronaut.jpg", "camera.jpg"):
        with django_capture_on_commit_callbacks(execute=True):
            protected_add(paths=[str(works / name)], owner="Acme")
        counts.append((len(protected_index()), saved_count()))

    assert counts == [(1, 1), (2, 1), (3, 3)]  # built with the first; one behind is not enough
