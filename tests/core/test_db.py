"""core.db: a step cut off by a lost database connection runs again once the database answers;
an error on a live connection, or a step inside an outer transaction, is raised at once."""

from __future__ import annotations

import psycopg
import pytest
from django.db import OperationalError, connection, transaction

from core.db import retry_on_lost_connection

pytestmark = pytest.mark.django_db(transaction=True)


def terminate_own_connection() -> None:
    """Have another session end this one, as a server restart does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname=settings["NAME"]) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def count_assets() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM provenance_asset")
        return int(cursor.fetchone()[0])


def test_a_step_whose_connection_was_terminated_runs_again_on_a_new_one():
    attempts = []

    def step() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            terminate_own_connection()
        return count_assets()

    assert retry_on_lost_connection(step, what="test") == 0
    assert len(attempts) == 2


def test_an_operational_error_on_a_live_connection_is_not_retried():
    attempts = []

    def step() -> None:
        attempts.append(1)
        raise OperationalError("deadlock detected")

    with pytest.raises(OperationalError, match="deadlock"):
        retry_on_lost_connection(step, what="test")
    assert len(attempts) == 1


def test_a_step_inside_an_outer_transaction_is_not_retried():
    attempts = []

    def step() -> int:
        attempts.append(1)
        terminate_own_connection()
        return count_assets()

    with pytest.raises(OperationalError), transaction.atomic():
        retry_on_lost_connection(step, what="test")
    assert len(attempts) == 1
    connection.close()  # the terminated connection: the next query opens a new one


def test_a_database_that_stays_away_is_given_up_after_the_configured_time(settings):
    settings.CLEANROOM_DB_RECONNECT_SECONDS = 0
    attempts = []

    def step() -> int:
        attempts.append(1)
        terminate_own_connection()
        return count_assets()

    with pytest.raises(OperationalError):
        retry_on_lost_connection(step, what="test")
    assert len(attempts) == 1
    connection.close()  # the terminated connection: the next query opens a new one
