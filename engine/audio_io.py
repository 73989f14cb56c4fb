"""Writing clips a DAW can trust: atomic, finite, with provenance inside the file and beside it.

* Atomic: the file is written to a temp name in the target folder, flushed, fsynced, then
  ``os.replace``d over the final name (a DAW never sees a half-written file), and the folder is
  fsynced. A failed write removes its temp file.
* Finite: NaN/inf samples are refused before anything touches the disk.
* Provenance: a JSON sidecar (``clip.wav.json``), the same JSON in the RIFF INFO comment (``ICMT``),
  and a BWF ``bext`` chunk (description, originator, date, time reference in samples) so DAWs that
  honour BWF place the clip at its timeline position.
* Nothing the user made is overwritten: an existing file is moved to a ``.bak-<time>`` name first,
  unless the caller says the file is its own idempotent re-render (``existing="replace"``).
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf

from .errors import OutputError

SUBTYPES = {"pcm16": "PCM_16", "pcm24": "PCM_24", "float32": "FLOAT",
            # Only for edits, which write back in the source's own format (engine.regions).
            "pcm8": "PCM_U8", "pcm32": "PCM_32", "float64": "DOUBLE"}
ORIGINATOR = "AudioLDM Bridge"
BEXT_FIXED_SIZE = 602


# --------------------------------------------------------------------------- BWF bext

def build_bext(description: str, time_reference: int = 0, when: _dt.datetime | None = None,
               coding_history: str = "") -> bytes:
    """The payload of a BWF ``bext`` chunk, version 1 (EBU Tech 3285)."""
    when = when or _dt.datetime.now()

    def field(text: str, size: int) -> bytes:
        return text.encode("ascii", "replace")[:size].ljust(size, b"\0")

    payload = b"".join([
        field(description, 256),
        field(ORIGINATOR, 32),
        field("audioldm-bridge", 32),
        field(when.strftime("%Y-%m-%d"), 10),
        field(when.strftime("%H:%M:%S"), 8),
        struct.pack("<II", time_reference & 0xFFFFFFFF, time_reference >> 32),
        struct.pack("<H", 1),
        b"\0" * 64,   # UMID
        b"\0" * 190,  # loudness fields (v2) unset + reserved
        coding_history.encode("ascii", "replace"),
    ])
    assert len(payload) >= BEXT_FIXED_SIZE
    return payload


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise OutputError("internal error: the WAV encoder did not produce a RIFF/WAVE file")
    out, pos = [], 12
    while pos + 8 <= len(data):
        cid = data[pos:pos + 4]
        size = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        out.append((cid, data[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return out


def _riff(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(cid + struct.pack("<I", len(p)) + p + (b"\0" if len(p) & 1 else b"") for cid, p in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def insert_bext(wav: bytes, bext_payload: bytes) -> bytes:
    """Put (or replace) a ``bext`` chunk right after ``fmt `` in an in-memory WAV file."""
    chunks = [c for c in _chunks(wav) if c[0] != b"bext"]
    at = next(i for i, c in enumerate(chunks) if c[0] == b"fmt ") + 1
    chunks.insert(at, (b"bext", bext_payload))
    return _riff(chunks)


def read_bext(path: str | Path) -> dict[str, Any] | None:
    """Parse a file's ``bext`` chunk (description, originator, date, time, time_reference)."""
    data = Path(path).read_bytes()
    for cid, p in _chunks(data):
        if cid == b"bext" and len(p) >= BEXT_FIXED_SIZE:
            text = lambda a, b: p[a:b].split(b"\0", 1)[0].decode("ascii", "replace")  # noqa: E731
            low, high = struct.unpack("<II", p[338:346])
            return {"description": text(0, 256), "originator": text(256, 288),
                    "date": text(320, 330), "time": text(330, 338),
                    "time_reference": low | (high << 32), "version": struct.unpack("<H", p[346:348])[0]}
    return None


# --------------------------------------------------------------------------- encoding

def encode_wav(audio: np.ndarray, sample_rate: int, sample_format: str, provenance: dict[str, Any],
               time_reference: int = 0) -> bytes:
    """(frames,) or (frames, channels) float audio -> WAV bytes with INFO comment and bext."""
    audio = np.asarray(audio)
    # float64 carries 32-bit PCM and float64 sources through exactly (an edit's untouched samples
    # must stay bit-identical); everything else is float32.
    audio = audio.astype(np.float64 if audio.dtype == np.float64 else np.float32, copy=False)
    if audio.ndim == 1:
        audio = audio[:, None]
    if not np.all(np.isfinite(audio)):
        raise OutputError("refusing to write non-finite samples (NaN/inf); nothing was written")
    if sample_format not in SUBTYPES:
        raise OutputError(f"unknown sample format {sample_format!r}; use one of {', '.join(SUBTYPES)}")
    if sample_format != "float32":
        # Integer PCM wraps instead of clipping in some encoders: clip explicitly.
        audio = np.clip(audio, -1.0, 1.0)
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", samplerate=sample_rate, channels=audio.shape[1],
                      format="WAV", subtype=SUBTYPES[sample_format]) as f:
        f.comment = json.dumps(provenance, sort_keys=True, separators=(",", ":"))
        f.software = ORIGINATOR
        if provenance.get("prompt"):
            f.title = str(provenance["prompt"])[:200]
        f.write(audio)
    description = "; ".join(f"{k}={provenance[k]}" for k in ("prompt", "seed", "model", "mode")
                            if provenance.get(k) not in (None, ""))
    return insert_bext(buf.getvalue(), build_bext(description, time_reference))


# --------------------------------------------------------------------------- atomic files

def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not supported on this platform (Windows)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {folder}: {exc.strerror}") from exc
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write to output folder {folder}: {exc.strerror}; choose another with -o") from exc
    try:
        # mkstemp makes 0600 files; clips must be readable like any file the user saves.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {exc.strerror}") from exc
        raise
    _fsync_dir(folder)


def check_writable(path: str | Path) -> None:
    """Fail before a long render, not after it, when the output cannot be written."""
    path = Path(path).expanduser()
    folder = path if path.suffix.lower() != ".wav" else path.parent
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to output folder {folder}: not writable; choose another with -o")


def backup_existing(path: Path) -> Path | None:
    """Move an existing file (and its sidecar) aside to ``name.bak-YYYYmmdd-HHMMSS[-n].ext``."""
    if not path.exists():
        return None
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    n = 0
    while True:
        suffix = f".bak-{stamp}" + (f"-{n}" if n else "")
        backup = path.with_name(path.stem + suffix + path.suffix)
        if not backup.exists():
            break
        n += 1
    os.replace(path, backup)
    sidecar = sidecar_path(path)
    if sidecar.exists():
        os.replace(sidecar, sidecar_path(backup))
    return backup


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def write_clip(path: str | Path, audio: np.ndarray, sample_rate: int, sample_format: str,
               provenance: dict[str, Any], time_reference: int = 0,
               existing: Literal["backup", "replace"] = "backup") -> Path:
    """Write a clip and its JSON sidecar atomically; returns the final path.

    ``existing="backup"`` moves a file already at ``path`` aside first (nothing the user made is
    lost); ``"replace"`` is for idempotent re-renders of the same request (same seed, same name).
    """
    path = Path(path).expanduser()
    if path.suffix.lower() != ".wav":
        raise OutputError(f"output {path} must be a .wav file")
    if path.is_dir():
        raise OutputError(f"output {path} is a folder; give a file name ending in .wav")
    data = encode_wav(audio, sample_rate, sample_format, provenance, time_reference)
    if existing == "backup":
        backup_existing(path)
    atomic_write_bytes(path, data)
    atomic_write_bytes(sidecar_path(path), (json.dumps(provenance, indent=2, sort_keys=True) + "\n").encode())
    return path


def read_provenance(path: str | Path) -> dict[str, Any]:
    """Provenance embedded in a WAV written by :func:`write_clip` (RIFF INFO comment)."""
    with sf.SoundFile(str(path)) as f:
        return json.loads(f.comment)
