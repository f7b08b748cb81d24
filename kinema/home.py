"""Kinema's data directory: everything Kinema writes on its own lives under one folder.

Contract
- ``kinema_home()`` is ``$KINEMA_HOME`` when that is set and not empty, else the user's data
  directory for "kinema" (platformdirs: ~/.local/share/kinema on Linux, ~/Library/Application
  Support/kinema on macOS, %LOCALAPPDATA%\\kinema on Windows). ``~`` is expanded.
- The folder is created (with parents) on every call, so callers can write into it at once.
- What lives there: ``keys/`` (the local C2PA signing certificate chain and key), and, as the
  other parts land, the server database, generated videos, API keys and caches.
- ``kinema_cache()`` is where re-creatable files go (models unpacked from installed packages):
  ``$KINEMA_CACHE``, else the user's cache directory for "kinema" (~/.cache/kinema on Linux). It is
  apart from the data directory so that a fresh ``$KINEMA_HOME`` (a test, a second server) does
  not unpack the same 438 MB model again.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_VAR = "KINEMA_HOME"
CACHE_ENV_VAR = "KINEMA_CACHE"


def kinema_home() -> Path:
    """The data directory (created if missing): $KINEMA_HOME or the user's data directory."""
    override = os.environ.get(ENV_VAR, "").strip()
    home = Path(override).expanduser() if override else Path(platformdirs.user_data_dir("kinema", appauthor=False))
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create Kinema's data directory {home} ({error.strerror}); "
                         f"set ${ENV_VAR} to a writable folder") from None
    if not home.is_dir():
        raise ValueError(f"Kinema's data directory {home} is not a folder; set ${ENV_VAR} to a folder")
    return home


def kinema_cache() -> Path:
    """The cache directory (created if missing): $KINEMA_CACHE or the user's cache directory."""
    override = os.environ.get(CACHE_ENV_VAR, "").strip()
    cache = Path(override).expanduser() if override else Path(platformdirs.user_cache_dir("kinema", appauthor=False))
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create Kinema's cache directory {cache} ({error.strerror}); "
                         f"set ${CACHE_ENV_VAR} to a writable folder") from None
    return cache
