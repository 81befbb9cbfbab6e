# Every process (web, workers, beat, the command line) imports this package before anything
# else of ours: the umask is set here, before any file is written (config/files.py).
from config.files import make_files_private

make_files_private()

# Loaded with Django so that tasks bind to the project's Celery app.
from config.celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
