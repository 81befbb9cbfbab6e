from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo seeds the whole platform (contributors, consents, images, a snapshot, a tiny base
    model and a signing identity), so it sits above every other app and nothing imports it."""

    name = "demo"
    verbose_name = "Demo data"
