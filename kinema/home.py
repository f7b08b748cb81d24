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
    return _folder(ENV_VAR, platformdirs.user_data_dir("kinema", appauthor=False), "data")


def kinema_cache() -> Path:
    """The cache directory (created if missing): $KINEMA_CACHE or the user's cache directory."""
    return _folder(CACHE_ENV_VAR, platformdirs.user_cache_dir("kinema", appauthor=False), "cache")


def _folder(env_var: str, default: str, what: str) -> Path:
    """$`env_var` (when set and not empty) or `default`, created with parents; a clear error naming
    the variable when it cannot be."""
    override = os.environ.get(env_var, "").strip()
    folder = Path(override).expanduser() if override else Path(default)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create Kinema's {what} directory {folder} ({error.strerror}); "
                         f"set ${env_var} to a writable folder") from None
    if not folder.is_dir():
        raise ValueError(f"Kinema's {what} directory {folder} is not a folder; set ${env_var} to a folder")
    return folder
