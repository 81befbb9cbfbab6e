from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.management.commands.worker import beat_schedule_file


class Command(BaseCommand):
    help = "The periodic scheduler (Celery beat), its schedule file in the data folder. Run exactly one."
    requires_system_checks: list = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loglevel", default="INFO")

    def handle(self, *args: Any, **options: Any) -> None:
        from config.celery import app  # imported here: the settings are loaded by now

        app.start(["beat", "--schedule", str(beat_schedule_file()), "--loglevel", options["loglevel"]])
