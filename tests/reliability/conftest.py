from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.private_services import RabbitNode, private_rabbitmq


@pytest.fixture(scope="module")
def rabbit() -> Iterator[RabbitNode]:
    """A RabbitMQ node private to the test module (a test may restart it; the shared one on
    :5672 serves the rest of the suite)."""
    with private_rabbitmq() as node:
        print(f"private RabbitMQ node started in {node.started_in:.1f} s")
        yield node


@pytest.fixture
def on_rabbit(rabbit: RabbitNode) -> Iterator[RabbitNode]:
    """This process's Celery app sends to the private node for the test (the workers are told
    through CELERY_BROKER_URL). Celery's connection pools are kombu's, kept per URL: dropping
    the app's references makes it take the pool of the new URL, and leaves the old one intact."""
    from config.celery import app

    saved = app.conf.broker_url, app.conf.broker_transport_options
    app.conf.broker_url, app.conf.broker_transport_options = rabbit.url, {}
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield rabbit
    finally:
        app._pool = None
        app.amqp._producer_pool = None
        app.conf.broker_url, app.conf.broker_transport_options = saved
