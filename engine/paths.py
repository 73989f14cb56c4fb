"""Stable per-user folders (platformdirs), never temp dirs. Each can be overridden by env vars."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP = "audioldm-bridge"


def _folder(env: str, default: str) -> Path:
    return Path(os.environ.get(env) or default).expanduser()


def data_dir() -> Path:
    """User data (queue journal, settings). ``AUDIOLDM_BRIDGE_DATA`` overrides."""
    return _folder("AUDIOLDM_BRIDGE_DATA", platformdirs.user_data_dir(APP, appauthor=False))


def output_dir() -> Path:
    """The output library: where renders go when no path is given. ``AUDIOLDM_BRIDGE_OUTPUT`` overrides."""
    music = platformdirs.user_music_dir()
    return _folder("AUDIOLDM_BRIDGE_OUTPUT", str(Path(music) / "AudioLDM Bridge"))


def cache_dir() -> Path:
    """Rebuildable things (the random test model). ``AUDIOLDM_BRIDGE_CACHE`` overrides."""
    return _folder("AUDIOLDM_BRIDGE_CACHE", platformdirs.user_cache_dir(APP, appauthor=False))


def default_model_dir() -> Path:
    """The trained default model shipped inside the package."""
    return Path(__file__).resolve().parent / "default_model" / "weights"


def runtime_dir() -> Path:
    """Sockets and per-session files of a running service (user-only, not kept across reboots).
    ``AUDIOLDM_BRIDGE_RUNTIME`` overrides; else ``$XDG_RUNTIME_DIR`` (Linux), platformdirs' runtime
    folder (macOS, Windows), or a per-user folder in the temp folder."""
    override = os.environ.get("AUDIOLDM_BRIDGE_RUNTIME")
    if override:
        folder = Path(override).expanduser()
    elif os.name == "posix" and not os.environ.get("XDG_RUNTIME_DIR") and not sys.platform == "darwin":
        import tempfile

        folder = Path(tempfile.gettempdir()) / f"{APP}-{os.getuid()}"
    else:
        folder = Path(platformdirs.user_runtime_dir(APP, appauthor=False))
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def config_dir() -> Path:
    """User settings (presets, MIDI mappings). ``AUDIOLDM_BRIDGE_CONFIG`` overrides."""
    return _folder("AUDIOLDM_BRIDGE_CONFIG", platformdirs.user_config_dir(APP, appauthor=False))
