"""One entry point for every render: :func:`render` takes a :class:`RenderRequest` and writes files.

Text-to-audio reads as a numbered script (diffusers style); the three edit modes live in
:mod:`engine.editing` and share the primitives of :mod:`engine.sampling`.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from . import __version__, dsp, paths
from .audio_io import check_writable, write_clip
from .errors import InvalidRequest
from .loader import LoadedModel, ModelCache
from .request import RenderRequest
from .sampling import (CancelFn, ProgressFn, StageTimes, StepInfo, clap_scores, decode, denoise,
                       encode_prompt, guard_finite, initial_noise, latent_frames, latent_shape,
                       make_scheduler)

log = logging.getLogger(__name__)


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


@dataclass
class Waveforms:
    """What a mode produces before writing: 16 kHz mono waveforms, one per output, plus metadata."""

    audio: list[np.ndarray]
    seeds: list[int]
    scores: list[float | None]
    times: StageTimes
    warnings: list[str]


def check_duration(model: LoadedModel, duration_s: float) -> None:
    if duration_s > model.max_duration_s + 1e-9:
        raise InvalidRequest(
            f"duration {duration_s:g} s is longer than this model's maximum of {model.max_duration_s:g} s; "
            f"render shorter clips or use an edit mode, which works in overlapping windows"
        )


def generate_waveforms(model: LoadedModel, request: RenderRequest, progress: ProgressFn | None = None,
                       cancel: CancelFn | None = None, preview_every: int = 0) -> Waveforms:
    """Text-to-audio: ``variations`` outputs, each the CLAP-best of ``candidates`` renders."""
    # 1. Check inputs against the model; unset sampler settings become the model's defaults
    request = request.resolved(model.sampler_defaults)
    check_duration(model, request.duration_s)
    times = StageTimes()
    warnings: list[str] = []
    n_samples = int(round(request.duration_s * model.sample_rate))
    frames = latent_frames(model, n_samples)
    if request.candidates > 1 and model.clap is None:
        warnings.append(
            f"this model has no CLAP audio branch, so {request.candidates} candidates cannot be re-ranked; "
            f"the first candidate of each variation is kept"
        )

    # 2. Encode the prompt (once: it is the same for every candidate)
    cond = encode_prompt(model, request.prompt, request.negative_prompt, request.guidance_scale, times)

    total_runs = request.variations * request.candidates
    audio, seeds, scores = [], [], []
    for v in range(request.variations):
        cand_wavs, cand_seeds = [], []
        for c in range(request.candidates):
            seed = request.seed_for(v, c)
            run_index = v * request.candidates + c
            # 3. Initial noise from a CPU generator seeded per candidate (device-independent)
            generator = torch.Generator("cpu").manual_seed(seed)
            scheduler = make_scheduler(model, request.scheduler, request.steps)
            latents = initial_noise(model, latent_shape(model, frames), generator)
            latents = latents * scheduler.init_noise_sigma

            # 4. Denoise, reporting progress across all runs of this request
            def report(info: StepInfo, run_index=run_index) -> None:
                if progress is None:
                    return
                done = run_index * info.total + info.step
                whole = total_runs * info.total
                rate = info.elapsed_s / info.step
                progress(StepInfo(step=done, total=whole, elapsed_s=info.elapsed_s,
                                  eta_s=rate * (whole - done), preview=info.preview))

            latents = denoise(model, latents, cond, request.guidance_scale, scheduler,
                              guidance_low=request.guidance_low,
                              generator=generator, eta=request.eta, progress=report, cancel=cancel,
                              preview_every=preview_every, n_preview_samples=n_samples, times=times)
            # 5. Decode: VAE -> mel -> vocoder, cropped to the exact length
            wav = decode(model, latents, n_samples, times)[0]
            guard_finite(wav, "the model")
            cand_wavs.append(wav)
            cand_seeds.append(seed)
        # 6. Re-rank candidates by CLAP text-audio similarity
        best, score = 0, None
        if request.candidates > 1 and model.clap is not None:
            import time

            t0 = time.perf_counter()
            sims = clap_scores(model, request.prompt, np.stack(cand_wavs))
            times.clap += time.perf_counter() - t0
            best = int(np.argmax(sims))
            score = float(sims[best])
        audio.append(cand_wavs[best])
        seeds.append(cand_seeds[best])
        scores.append(score)
    return Waveforms(audio=audio, seeds=seeds, scores=scores, times=times, warnings=warnings)


# --------------------------------------------------------------------------- output

def slug(text: str, limit: int = 40) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", text.lower()).strip("-")
    return (s[:limit].rstrip("-")) or "clip"


def output_paths(request: RenderRequest, output: str | Path | None, seeds: list[int]) -> list[Path]:
    """Deterministic names (same request -> same names, so a re-render replaces, never piles up)."""
    if output is not None:
        out = Path(output).expanduser()
        if out.suffix.lower() != ".wav":
            out = out / f"{slug(request.prompt or request.mode)}-{request.seed}.wav"
        if len(seeds) == 1:
            return [out]
        return [out.with_name(f"{out.stem}-v{i + 1}{out.suffix}") for i in range(len(seeds))]
    folder = paths.output_dir()
    return [folder / f"{slug(request.prompt or request.mode)}-{s}.wav" for s in seeds]


def provenance(request: RenderRequest, model: LoadedModel, seed: int, score: float | None,
               extra: dict | None = None) -> dict:
    """Everything needed to re-render this clip exactly: run the same request with this seed and
    variations = candidates = 1."""
    data = {
        "app": "audioldm-bridge", "version": __version__, "mode": request.mode,
        "prompt": request.prompt, "negative_prompt": request.negative_prompt,
        "seed": seed, "request_seed": request.seed, "model": model.name, "steps": request.steps,
        "guidance_scale": request.guidance_scale, "guidance_low": request.guidance_low,
        "scheduler": request.scheduler, "eta": request.eta,
        "duration_s": request.duration_s, "candidates": request.candidates, "clap_score": score,
        "raw": request.raw, "peak_dbfs": None if request.raw else request.peak_dbfs,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "device": str(model.device), "dtype": str(model.dtype).replace("torch.", ""),
    }
    if extra:
        data.update(extra)
    return data


def write_generated(request: RenderRequest, model: LoadedModel, result: Waveforms,
                    output: str | Path | None, existing: Literal["backup", "replace"]) -> list[Clip]:
    clips = []
    for path, wav, seed, score in zip(output_paths(request, output, result.seeds), result.audio,
                                      result.seeds, result.scores):
        if request.raw:
            audio, rate, fmt, channels = wav.astype(np.float32), model.sample_rate, "float32", 1
        else:
            rate, fmt, channels = request.sample_rate, request.sample_format, request.channels
            n_frames = int(round(request.duration_s * rate))
            audio = dsp.finalise_clip(wav, sample_rate=rate, channels=channels, n_frames=n_frames,
                                      peak_dbfs=request.peak_dbfs)
        meta = provenance(request, model, seed, score,
                          {"sample_rate": rate, "channels": channels, "sample_format": fmt})
        written = write_clip(path, audio, rate, fmt, meta, existing=existing)
        clips.append(Clip(path=written, seed=seed, sample_rate=rate, frames=len(audio),
                          channels=channels, clap_score=score))
    return clips


def render(request: RenderRequest, models: ModelCache, *, output: str | Path | None = None,
           progress: ProgressFn | None = None, cancel: CancelFn | None = None,
           existing: Literal["backup", "replace"] = "backup", preview_every: int = 0) -> RenderResult:
    """Run one request end to end and write its files. The single entry point for every front end."""
    check_writable(output if output is not None else paths.output_dir())
    model = models.get(request.model)
    request = request.resolved(model.sampler_defaults)  # provenance records the values used
    if request.mode == "generate":
        result = generate_waveforms(model, request, progress, cancel, preview_every)
        clips = write_generated(request, model, result, output, existing)
        return RenderResult(clips=clips, model=model.name, device=str(model.device),
                            times=result.times, warnings=result.warnings)
    from . import editing

    return editing.render_edit(model, request, output=output, progress=progress, cancel=cancel,
                               existing=existing)
