"""The platform's files are its own: no other local user may read them.

The data folder holds the database, blobs, consent evidence, keys and the demo's passwords.
Every process (web, workers, beat, the command line) imports the `config` package before
anything else of ours, and `config/__init__.py` sets the umask there, so every file and folder a
process creates is 0600 / 0700, whatever umask it was started with. Django's file storages set
a file's mode themselves (FILE_UPLOAD_PERMISSIONS, 0644 unless told), so the settings give them
these modes too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700


def make_files_private() -> None:
    os.umask(PRIVATE_UMASK)


def close_folder(path: Path) -> None:
    """Take the group's and others' permissions off a folder this process's user owns: one that
    an older release, or a `mkdir` in a shell, made with a permissive umask. A folder that does
    not exist yet will be made private by the umask."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(status.st_mode)
    if status.st_uid == os.geteuid() and mode & PRIVATE_UMASK:
        path.chmod(mode & ~PRIVATE_UMASK)
