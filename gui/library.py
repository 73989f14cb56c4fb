"""The results library the workstation shows: every clip in the output folder with its provenance
sidecar, waveform thumbnails, stars. Qt-free (plain files and NumPy), so it is tested alone."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine import paths


@dataclass
class ClipInfo:
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    starred: bool = False

    @property
    def prompt(self) -> str:
        return str(self.meta.get("prompt") or self.path.stem)

    @property
    def seed(self) -> int | None:
        return self.meta.get("seed")

    @property
    def created(self) -> str:
        return str(self.meta.get("created") or "")

    def summary(self) -> str:
        m = self.meta
        bits = [f"seed {m.get('seed')}", f"{m.get('duration_s', 0):g} s" if m.get("duration_s") else None,
                f"{m.get('steps')} steps" if m.get("steps") else None,
                f"guidance {m.get('guidance_scale'):g}" if m.get("guidance_scale") is not None else None,
                m.get("model"), f"{m.get('sample_rate')} Hz" if m.get("sample_rate") else None,
                m.get("sample_format"), self.tuning()]
        return ", ".join(str(b) for b in bits if b)

    def tuning(self) -> str | None:
        """What the finishing chain's tuning did, in a few words ("tuned to A3 from +1.9 st")."""
        from engine.pitch import note_name

        t = (self.meta.get("finished") or {}).get("tuning") or {}
        if not t.get("target_hz"):
            return None
        if t.get("skipped"):
            return "not tuned"
        shift = t.get("shift_semitones") or 0.0
        return f"tuned to {note_name(t['target_hz'])}" + (f" from {-shift:+.1f} st" if abs(shift) >= 0.05 else "")

    def matches(self, text: str) -> bool:
        text = text.strip().lower()
        if not text:
            return True
        hay = " ".join([self.prompt, self.path.name, str(self.meta.get("negative_prompt", "")),
                        str(self.meta.get("model", "")), str(self.seed)]).lower()
        return all(word in hay for word in text.split())


def read_clip(path: Path, starred: set[str] | None = None) -> ClipInfo | None:
    sidecar = path.with_name(path.name + ".json")
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        meta = {}
    if not path.is_file():
        return None
    return ClipInfo(path=path, meta=meta, starred=str(path) in (starred or set()))


def scan(folder: Path, starred: set[str] | None = None, limit: int = 500) -> list[ClipInfo]:
    """The newest ``limit`` clips of the library (ours: with a provenance sidecar), newest first."""
    try:
        wavs = [p for p in folder.glob("*.wav") if p.with_name(p.name + ".json").is_file()]
    except OSError:
        return []
    wavs.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    out = []
    for p in wavs[:limit]:
        clip = read_clip(p, starred)
        if clip is not None:
            out.append(clip)
    return out


def waveform_envelope(path: Path, width: int = 160) -> np.ndarray:
    """(width, 2) min / max of the clip in ``width`` columns, for a thumbnail (mono mix, -1..1)."""
    import soundfile as sf

    try:
        audio, _ = sf.read(str(path), always_2d=True, dtype="float32")
    except Exception:
        return np.zeros((width, 2), np.float32)
    mono = audio.mean(axis=1)
    if len(mono) == 0:
        return np.zeros((width, 2), np.float32)
    edges = np.linspace(0, len(mono), width + 1).astype(int)[:-1]
    edges = np.minimum(edges, len(mono) - 1)
    return np.stack([np.minimum.reduceat(mono, edges), np.maximum.reduceat(mono, edges)], axis=1)


class Stars:
    """Starred (kept) clips, remembered in the user data folder."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.data_dir() / "gui-stars.json"
        try:
            self.items: set[str] = set(json.loads(self.path.read_text()))
        except (OSError, ValueError):
            self.items = set()

    def toggle(self, clip: Path) -> bool:
        key = str(clip)
        if key in self.items:
            self.items.discard(key)
        else:
            self.items.add(key)
        self._save()
        return key in self.items

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
        tmp.write_text(json.dumps(sorted(self.items)))
        os.replace(tmp, self.path)


def source_of(client_key: str | None) -> str:
    """Who submitted a job, from its idempotency key: OSC, MIDI, GUI, or the command line."""
    if not client_key:
        return "CLI"
    prefix = client_key.split(":", 1)[0]
    return {"osc": "OSC", "midi": "MIDI", "gui": "GUI"}.get(prefix, prefix.upper())
