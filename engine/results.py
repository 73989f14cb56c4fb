"""What a render hands back (:class:`Clip`, :class:`RenderResult`) and the provenance every written
clip carries; shared by text-to-audio (:mod:`engine.pipeline`) and the edits (:mod:`engine.editing`)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .model import LoadedModel
from .request import RenderRequest
from .sampling import StageTimes


@dataclass
class Clip:
    """One written output file."""

    path: Path
    seed: int
    sample_rate: int
    frames: int
    channels: int
    clap_score: float | None = None


@dataclass
class RenderResult:
    clips: list[Clip]
    model: str
    device: str
    times: StageTimes
    warnings: list[str] = field(default_factory=list)


def provenance(request: RenderRequest, model: LoadedModel, seed: int, score: float | None,
               extra: dict | None = None) -> dict:
    """Everything needed to re-render this clip exactly: run the same request with this seed and
    variations = candidates = 1."""
    tuning = model.extra.get("tuning") or {}  # the speed choices measured for this model (engine.tuning)
    data = {
        "app": "audioldm-bridge", "version": __version__, "mode": request.mode,
        "prompt": request.prompt, "negative_prompt": request.negative_prompt,
        "seed": seed, "request_seed": request.seed, "model": model.name, "steps": request.steps,
        "guidance_scale": request.guidance_scale, "guidance_low": request.guidance_low,
        "guidance_until": request.guidance_until,
        "scheduler": request.scheduler, "eta": request.eta,
        "duration_s": request.duration_s, "candidates": request.candidates, "clap_score": score,
        "raw": request.raw, "peak_dbfs": None if request.raw else request.peak_dbfs,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "device": str(model.device), "dtype": str(model.dtype).replace("torch.", ""),
        "memory_format": tuning.get("memory_format"), "vae_memory_format": tuning.get("vae_memory_format"),
        "attention": tuning.get("attention"), "vocoder_layout": tuning.get("vocoder_layout"),
        # The request that renders exactly this clip alone (presets save from it).
        "request": request.replace(seed=seed, variations=1, candidates=1).to_dict(),
    }
    if extra:
        data.update(extra)
    return data
