"""Which files a request from outside (OSC, a DAW adapter) may read: existing audio files under
the allowed folders, judged after resolving symlinks and ``..``. Nothing else, ever."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import platformdirs

from engine import paths
from engine.errors import BridgeError


class PathRefused(BridgeError):
    """A source path outside the allowed folders, missing, not a file, or not audio."""


def default_allowed_dirs() -> tuple[Path, ...]:
    """The user's music folder and the output library."""
    return tuple(dict.fromkeys(p.expanduser().resolve() for p in
                               (Path(platformdirs.user_music_dir()), paths.output_dir())))


def resolve_dirs(dirs: Iterable[str | Path]) -> tuple[Path, ...]:
    out = []
    for d in dirs:
        p = Path(d).expanduser().resolve()
        if not p.is_dir():
            raise BridgeError(f"--allow-dir {d}: not a folder")
        out.append(p)
    return tuple(dict.fromkeys(out))


def check_source(path: object, allowed: Iterable[Path]) -> Path:
    """The resolved path of an audio file a remote request may read, or :class:`PathRefused`."""
    allowed = tuple(allowed)
    where = ", ".join(str(d) for d in allowed) or "none"
    if not isinstance(path, str) or not path or "\x00" in path:
        raise PathRefused(f"the source path must be text naming a file, got {path!r}")
    p = Path(path).expanduser()
    if not p.is_absolute():
        raise PathRefused(f"{path}: give an absolute path (the bridge has no working folder of yours)")
    try:
        real = p.resolve(strict=True)
    except (OSError, RuntimeError):
        raise PathRefused(f"{path}: no such file") from None
    if not any(real.is_relative_to(d) for d in allowed):
        raise PathRefused(f"{path} is outside the folders remote requests may read ({where}); "
                          f"allow its folder with: audioldm-bridge serve --allow-dir DIR")
    if not real.is_file():
        raise PathRefused(f"{path} is not a file")
    try:
        import soundfile as sf

        sf.info(str(real))
    except Exception:
        raise PathRefused(f"{path} is not an audio file this bridge can read (WAV, AIFF, FLAC)") from None
    return real
