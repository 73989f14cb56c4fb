"""One entry point for every render: :func:`render` takes a :class:`RenderRequest` and writes files.

Text-to-audio reads as a numbered script (diffusers style); the three edit modes live in
:mod:`engine.editing` and share the primitives of :mod:`engine.sampling`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from . import dsp, finishing, paths
from .audio_io import check_writable, write_clip
from .errors import InvalidRequest
from .loader import ModelCache
from .model import LoadedModel
from .naming import clip_paths
from .request import RenderRequest
from .results import Clip, RenderResult, provenance
from .sampling import (CancelFn, ProgressFn, StageTimes, decode, denoise, encode_prompt, guard_finite,
                       initial_noise, latent_frames, latent_shape, make_scheduler)
from .variations import best_of_candidates, no_rerank_reason

log = logging.getLogger(__name__)


@dataclass
class Waveforms:
    """What text-to-audio produces before writing: 16 kHz mono waveforms, one per output, plus metadata."""

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
    why = no_rerank_reason(model, request)
    if why:
        warnings.append(why)

    # 2. Encode the prompt (once: it is the same for every candidate)
    cond = encode_prompt(model, request.prompt, request.negative_prompt, request.guidance_scale, times)

    def run(seed: int, report: ProgressFn) -> np.ndarray:
        # 3. Initial noise from a CPU generator seeded per candidate (device-independent)
        generator = torch.Generator("cpu").manual_seed(seed)
        scheduler = make_scheduler(model, request.scheduler, request.steps)
        latents = initial_noise(model, latent_shape(model, frames), generator)
        latents = latents * scheduler.init_noise_sigma
        # 4. Denoise, reporting progress (and preview drafts) after every step
        latents = denoise(model, latents, cond, request.guidance_scale, scheduler,
                          guidance_low=request.guidance_low, guidance_until=request.guidance_until,
                          generator=generator, eta=request.eta, progress=report, cancel=cancel,
                          preview_every=preview_every, n_preview_samples=n_samples, times=times)
        # 5. Decode: VAE -> mel -> vocoder, cropped to the exact length
        wav = decode(model, latents, n_samples, times)[0]
        guard_finite(wav, "the model")
        return wav

    # 6. Every candidate of every variation; the CLAP-best candidate of each variation is kept
    picks = best_of_candidates(model, request, run, lambda wav: wav, progress=progress, times=times,
                               rerank=no_rerank_reason(model, request) is None)
    return Waveforms(audio=[p.output for p in picks], seeds=[p.seed for p in picks],
                     scores=[p.score for p in picks], times=times, warnings=warnings)


# --------------------------------------------------------------------------- output

def write_generated(request: RenderRequest, model: LoadedModel, result: Waveforms,
                    output: str | Path | None, existing: Literal["backup", "replace"],
                    job_id: int | None = None) -> list[Clip]:
    clips = []
    for path, wav, seed, score in zip(clip_paths(request, result.seeds, output=output, job_id=job_id), result.audio,
                                      result.seeds, result.scores):
        if request.raw:
            audio, rate, fmt, channels = wav.astype(np.float32), model.sample_rate, "float32", 1
        else:
            rate, fmt, channels = request.sample_rate, request.sample_format, request.channels
            n_frames = int(round(request.duration_s * rate))
            audio = dsp.finalise_clip(wav, sample_rate=rate, channels=channels, n_frames=n_frames,
                                      peak_dbfs=request.peak_dbfs)
        extra = {"sample_rate": rate, "channels": channels, "sample_format": fmt}
        if request.finish is not None:  # FX chain, fades, trimming, loudness: at the output rate
            audio, report = finishing.apply(audio, rate, request.finish, prompt=request.prompt)
            extra["finish"] = request.finish.to_dict()
            extra["finished"] = {"frames": report.frames_out, "loudness_lufs": report.loudness_lufs,
                                 "true_peak_dbtp": report.true_peak_dbtp}
            if report.tuning is not None:
                extra["finished"]["tuning"] = report.tuning
                if report.tuning["skipped"] and report.tuning["target_hz"] is not None:  # a pitch it could not reach
                    result.warnings.append(f"seed {seed}: not tuned to a pitch: {report.tuning['skipped']}")
        meta = provenance(request, model, seed, score, extra)
        written = write_clip(path, audio, rate, fmt, meta, existing=existing)
        clips.append(Clip(path=written, seed=seed, sample_rate=rate, frames=len(audio),
                          channels=channels, clap_score=score))
    return clips


def render(request: RenderRequest, models: ModelCache, *, output: str | Path | None = None,
           progress: ProgressFn | None = None, cancel: CancelFn | None = None,
           existing: Literal["backup", "replace"] = "backup", preview_every: int = 0,
           job_id: int | None = None) -> RenderResult:
    """Run one request end to end and write its files. The single entry point for every front end.

    ``job_id``: the service job this render is (its files then carry the id, :mod:`engine.naming`).
    ``existing``: "backup" moves a file in the way to a ``.bak`` name; "replace" is for a job
    re-rendering its own files after a crash."""
    check_writable(output if output is not None else paths.output_dir())
    if request.finish is not None:
        finishing.check(request.finish)  # a missing plugin fails now, not after the render
    model = models.get(request.model)
    request = request.resolved(model.sampler_defaults)  # provenance records the values used
    if request.mode == "generate":
        result = generate_waveforms(model, request, progress, cancel, preview_every)
        clips = write_generated(request, model, result, output, existing, job_id)
        return RenderResult(clips=clips, model=model.name, device=str(model.device),
                            times=result.times, warnings=result.warnings)
    from . import editing

    return editing.render_edit(model, request, output=output, progress=progress, cancel=cancel,
                               existing=existing, preview_every=preview_every, job_id=job_id)
