# Loaded with Django so that tasks bind to the project's Celery app.
from config.celery import app as celery_app

__all__ = ["celery_app"]
