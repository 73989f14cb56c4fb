"""Zero-shot editing of a DAW region: style transfer, inpainting and super-resolution.

The three AudioLDM algorithms (shared/reference/audioldm.md, "The zero-shot algorithms") run on the
primitives of :mod:`engine.sampling`; everything around them is about handing the DAW back a clip
it can drop in place: exactly the region's length, rate and channel count, untouched audio left
bit-identical, written atomically with provenance. docs/editing.md explains the choices.

Per request:

1. Read the region (:func:`engine.regions.read_region`: header checks before decoding, NaN/inf
   refused) and check the mode's own inputs (gap inside the region, cutoff).
2. Resample the span the model must see to 16 kHz, per channel (stereo: both channels in one
   batch with the same noise, so the generated parts share one "performance" and the image holds).
3. Window loop (:func:`_run_windows`): windows of at most the model's trained length; each is
   normalised as the original front end does (DC removed, peak 0.5), encoded, denoised with the
   mode's mask, decoded, and scaled back by the same gain. A window after the first treats its
   overlap with the previous output as known audio, so it continues what came before; the two
   are then joined with a power-preserving crossfade.
4. Back at the source rate: style transfer returns the model's audio (plus the source's own
   content above the model's 8 kHz ceiling, faded out as strength grows); inpainting splices the
   generated gap into the *original* samples; super-resolution adds the generated band above the
   cutoff to the source through a zero-phase crossover.
5. Candidates re-ranked by CLAP when asked; every output written in the source's sample format.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch

from . import regions
from .audio_io import write_clip
from .dsp import resample_exact
from .errors import AudioInputError, InvalidRequest
from .frontend import cutoff_to_mel_bin, extend_log_mel, log_mel
from .model import LoadedModel
from .naming import clip_paths
from .request import RenderRequest
from .results import Clip, RenderResult, provenance
from .sampling import (CancelFn, ProgressFn, StageTimes, StepInfo, decode, denoise, encode_audio,
                       encode_prompt, guard_finite, initial_noise, latent_frames, make_scheduler, steps_until)
from .variations import best_of_candidates, no_rerank_reason

#: Overlap between consecutive windows of a long region (seconds at the model rate).
DEFAULT_OVERLAP_S = 1.0
#: Source audio the model sees on each side of an inpainting gap.
INPAINT_CONTEXT_S = 2.5
#: Longest crossfade at each edge of an inpainting gap (they lie inside the gap).
MAX_GAP_FADE_S = 0.020
#: The original front end scales each clip's peak to 0.5.
PEAK_TARGET = 0.5
#: Quieter windows are not amplified further, so near-silence stays near-silence.
PEAK_FLOOR = 1e-4
#: Codec-gain corrections outside this range mean the measurement is meaningless: left at 1.
GAIN_CORRECTION_RANGE = (1e-3, 1e3)
STEREO_METHOD = "per-channel, shared noise"


@dataclass
class EditOutput:
    """What one mode run produces before writing."""

    #: (frames, channels) float64 at ``sample_rate``; outside an edited span the source's exact values.
    audio: np.ndarray
    sample_rate: int
    #: 16 kHz mono mix of the model's output over the span it generated (for CLAP re-ranking).
    model_audio: np.ndarray | None
    details: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


#: Where super-resolution starts when the model's ``audioldm_bridge.json`` does not say
#: (``"upsample_start"``): 0, from noise, as AudioLDM's paper. A fraction f > 0 starts that far into
#: the steps from the source with its upper band guessed (:func:`engine.frontend.extend_log_mel`),
#: noised to that step (docs/editing.md has the measurements).
UPSAMPLE_START = 0.0


@dataclass
class _Job:
    """What the window loop needs to know about a mode."""

    start_index: int = 0
    #: (n16,) True where the source is known (inpainting); None: every sample is to be regenerated.
    known_time: np.ndarray | None = None
    #: Latent frequency bins kept from the bottom (super-resolution); 0 keeps none.
    keep_bins: int = 0
    #: Measure the model's level against the source on known samples (inpainting) ...
    calibrate_on_known: bool = False
    #: ... or below this frequency (super-resolution) ...
    calibrate_below_hz: float | None = None
    #: ... or against its own rendering of the window's input (style transfer: nothing is kept).
    calibrate_on_reconstruction: bool = False
    #: Super-resolution started from an estimate: the window's log-mel with its upper band filled in
    #: (``frontend.extend_log_mel``), noised to ``start_index``; the kept bins still come from the source.
    extend_mel: Callable[[torch.Tensor], torch.Tensor] | None = None


# --------------------------------------------------------------------------- the window loop

def _window_samples(model: LoadedModel, window_s: float | None, overlap_s: float) -> tuple[int, int]:
    window_s = model.max_duration_s if window_s is None else min(window_s, model.max_duration_s)
    window = int(round(window_s * model.sample_rate))
    # A model with short windows (a small default model trained on 2.56 s clips) gets a shorter
    # overlap rather than an error: the overlap is at most a third of the window.
    overlap = min(max(0, int(round(overlap_s * model.sample_rate))), window // 3)
    return window, overlap


def _latent_keep(model: LoadedModel, known: np.ndarray, frames: int) -> np.ndarray:
    """(T,) True for latent frames whose whole receptive span of samples is known.

    Mel frame i is centred on sample i*hop and sees n_fft samples around it; latent frame j holds
    mel frames f*j .. f*j+f-1. A frame touching a single unknown sample is regenerated.
    """
    hop, f = model.hop_length, model.vae_scale_factor
    half = 512  # n_fft / 2 of the front end
    n = len(known)
    unknown_before = np.concatenate([[0], np.cumsum(~known)])
    out = np.zeros(frames // f, dtype=bool)
    for j in range(len(out)):
        lo = max(0, j * f * hop - half)
        hi = min(n, (j * f + f - 1) * hop + half)
        out[j] = hi <= lo or unknown_before[hi] - unknown_before[lo] == 0
    return out


def _gain_correction(source: np.ndarray, produced: np.ndarray) -> np.ndarray:
    """Per-channel factor that brings the model's rendering of known audio to the source's level."""
    src = np.sqrt(np.mean(source**2, axis=0))
    out = np.sqrt(np.mean(produced**2, axis=0))
    ratio = np.ones_like(src)
    ok = (src > 1e-6) & (out > 1e-12)
    ratio[ok] = src[ok] / out[ok]
    lo, hi = GAIN_CORRECTION_RANGE
    ratio[(ratio < lo) | (ratio > hi)] = 1.0
    return ratio


def _reconstruction_gain(model: LoadedModel, z0: torch.Tensor, normalised: np.ndarray,
                         times: StageTimes) -> np.ndarray:
    """Per-channel level of the model's own rendering of a window vs its input (codec gain).

    Decoding costs as much as a few sampling steps, so at most ~2.5 s from the middle of the window
    are decoded, and a quarter second at each end of that excerpt (decoder edge effects) is ignored.
    """
    spl = model.hop_length * model.vae_scale_factor  # samples per latent frame
    t_lat = z0.shape[2]
    keep = min(t_lat, 64)
    j0 = (t_lat - keep) // 2
    n = min(keep * spl, len(normalised) - j0 * spl)
    rendered = decode(model, z0[:, :, j0:j0 + keep], n, times, final=False).T.astype(np.float64)
    source = normalised[j0 * spl:j0 * spl + n]
    edge = min(model.sample_rate // 4, n // 4) if j0 > 0 or keep < t_lat else 0
    sel = slice(edge, n - edge)
    return _gain_correction(source[sel], rendered[sel])


def _encode_channels(model: LoadedModel, mel: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """VAE-encode each channel with the same posterior noise (identical channels stay identical)."""
    state = generator.get_state()
    latents = []
    for c in range(mel.shape[0]):
        generator.set_state(state)
        latents.append(encode_audio(model, mel[c:c + 1], generator))
    return torch.cat(latents)


def _run_windows(model: LoadedModel, x16: np.ndarray, job: _Job, *, cond: torch.Tensor,
                 request: RenderRequest, seed: int, window: int, overlap: int,
                 progress: ProgressFn | None, cancel: CancelFn | None, times: StageTimes,
                 preview_every: int = 0) -> tuple[np.ndarray, int]:
    """Generate over ``x16`` ((n, channels) at the model rate, source level); returns the model's
    audio at source level, same shape, and the number of windows. A preview (every
    ``preview_every`` steps) is the draft of the window being rendered, at the model's level."""
    n, channels = x16.shape
    plan = regions.plan_windows(n, window, overlap)
    steps_per_window = request.steps - job.start_index
    total = steps_per_window * len(plan)
    generator = torch.Generator("cpu").manual_seed(seed)
    cond_batch = cond.repeat_interleave(channels, dim=0)  # [uncond x C, cond x C] for CFG's [x, x] batch
    hop = model.hop_length
    y = np.zeros((n, channels), dtype=np.float64)
    done_until = 0
    t_start = time.perf_counter()
    for k, (a, b) in enumerate(plan):
        m = b - a
        source = x16[a:b].astype(np.float64)
        seg = source.copy()
        ov = max(0, done_until - a)
        known = np.ones(m, dtype=bool) if job.known_time is None else job.known_time[a:b].copy()
        if ov:
            # Continue the previous window: its output stands in for whatever is not source-known.
            take = np.ones(ov, dtype=bool) if job.known_time is None else ~known[:ov]
            seg[:ov][take] = y[a:a + ov][take]
        # The original front end, per window: DC removed, peak at 0.5 (undone after decoding).
        # Measured on what the model keeps: a loud cough in an inpainting gap must not turn the
        # room tone around it down.
        basis = known.copy()
        basis[:ov] = True
        ref = seg[basis] if basis.any() else seg
        dc = ref.mean(axis=0)
        seg -= dc
        gain = PEAK_TARGET / max(float(np.max(np.abs(ref - dc))), PEAK_FLOOR)
        frames = latent_frames(model, m)
        padded = np.zeros((channels, frames * hop), dtype=np.float32)
        padded[:, :m] = (seg * gain).T
        mel = log_mel(torch.from_numpy(padded))[:, :frames]
        z0 = _encode_channels(model, mel, generator)
        _, c, t_lat, f_lat = z0.shape
        z_start = z0 if job.extend_mel is None else _encode_channels(model, job.extend_mel(mel), generator)

        # Mask (1 = keep): source-known frames, the overlap with the previous window, low bins.
        keep = np.zeros((t_lat, f_lat), dtype=bool)
        time_known = np.zeros(frames * hop, dtype=bool)
        if job.known_time is not None:
            time_known[:m] = known
            time_known[m:] = True  # padding past the end is known silence
        if ov:
            time_known[:ov] = True
        if job.known_time is not None or ov:
            keep[_latent_keep(model, time_known, frames)] = True
        if job.keep_bins:
            keep[:, :job.keep_bins] = True
        mask = torch.from_numpy(keep.astype(np.float32))[None, None].to(z0.device, z0.dtype) if keep.any() else None

        scheduler = make_scheduler(model, request.scheduler, request.steps)
        # One noise draw for every channel: the channels are rendered as one performance.
        noise = initial_noise(model, (1, c, t_lat, f_lat), generator).expand(channels, -1, -1, -1)
        if job.start_index > 0:
            t0 = scheduler.timesteps[job.start_index:job.start_index + 1]
            latents = scheduler.add_noise(z_start, noise, t0)
        else:
            latents = noise * scheduler.init_noise_sigma
        known_noise = None
        if mask is not None:
            known_noise = initial_noise(model, (1, c, t_lat, f_lat), generator).expand(channels, -1, -1, -1)

        def report(info: StepInfo, k: int = k) -> None:
            if progress is None:
                return
            done = k * steps_per_window + info.step
            elapsed = time.perf_counter() - t_start
            progress(StepInfo(step=done, total=total, elapsed_s=elapsed,
                              eta_s=elapsed / done * (total - done), preview=info.preview))

        latents = denoise(model, latents.contiguous(), cond_batch, request.guidance_scale, scheduler,
                          guidance_low=request.guidance_low,
                          guidance_until=request.guidance_until, generator=generator, eta=request.eta,
                          start_index=job.start_index,
                          known=z0 if mask is not None else None, mask=mask,
                          known_noise=known_noise.contiguous() if known_noise is not None else None,
                          progress=report, cancel=cancel, times=times,
                          preview_every=preview_every, n_preview_samples=m)
        wav = decode(model, latents, m, times)
        guard_finite(wav, "the model")
        out = wav.T.astype(np.float64) / gain  # back at the window's source level (DC still removed)

        # The VAE + vocoder do not return exactly the level they were given (a random model is far
        # off): measure it where the source is known and correct the whole window by that factor.
        if job.calibrate_on_known and job.known_time is not None:
            sel = known.copy()
            sel[:ov] = False
            if sel.sum() >= hop * 4:
                out *= _gain_correction(source[sel] - dc, out[sel])
        elif job.calibrate_on_reconstruction:
            out *= _reconstruction_gain(model, z0, seg * gain, times)
        elif job.calibrate_below_hz is not None:
            low_src = regions.band_filter(source - dc, model.sample_rate, None, job.calibrate_below_hz)
            low_out = regions.band_filter(out, model.sample_rate, None, job.calibrate_below_hz)
            out *= _gain_correction(low_src, low_out)
        out += dc

        if ov:
            y[a:a + ov] = regions.crossfade(y[a:a + ov], out[:ov])
            y[a + ov:b] = out[ov:]
        else:
            y[a:b] = out
        done_until = b
    return y, len(plan)


def _to_model_rate(model: LoadedModel, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    n16 = int(round(len(audio) * model.sample_rate / sample_rate))
    return resample_exact(audio.astype(np.float32), sample_rate, model.sample_rate, n16).astype(np.float64)


def _from_model_rate(model: LoadedModel, audio: np.ndarray, sample_rate: int, n: int) -> np.ndarray:
    return resample_exact(audio.astype(np.float32), model.sample_rate, sample_rate, n).astype(np.float64)


def _common_details(region: regions.Region, windows: int, window: int, overlap: int,
                    model: LoadedModel) -> dict:
    return {"windows": windows,
            "window_s": window / model.sample_rate if windows > 1 else None,
            "overlap_s": overlap / model.sample_rate if windows > 1 else None,
            "stereo": STEREO_METHOD if region.channels == 2 else "mono"}


# --------------------------------------------------------------------------- the three modes

def style_transfer(model: LoadedModel, region: regions.Region, request: RenderRequest, *, seed: int,
                   cond: torch.Tensor, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                   times: StageTimes | None = None, window_s: float | None = None,
                   overlap_s: float = DEFAULT_OVERLAP_S, preview_every: int = 0) -> EditOutput:
    """AudioLDM's style transfer: encode the region, noise it to ``strength`` of the schedule,
    denoise with the new prompt. Strength 0 (or less than one step) returns the source unchanged."""
    times = times if times is not None else StageTimes()
    x, sr, n = region.audio, region.sample_rate, region.frames
    start_index = steps_until(request.strength, request.steps)
    details = {"strength": request.strength, "start_step": start_index}
    if start_index >= request.steps:
        return EditOutput(audio=x.copy(), sample_rate=sr, model_audio=None, details=details, warnings=[
            f"strength {request.strength:g} is less than one of the {request.steps} steps: "
            f"the source is returned unchanged"])
    window, overlap = _window_samples(model, window_s, overlap_s)
    job = _Job(start_index=start_index, calibrate_on_reconstruction=True)
    y16, windows = _run_windows(model, _to_model_rate(model, x, sr), job,
                                cond=cond, request=request, seed=seed, window=window, overlap=overlap,
                                progress=progress, cancel=cancel, times=times, preview_every=preview_every)
    y = _from_model_rate(model, y16, sr, n)
    ceiling = model.sample_rate / 2
    if sr > model.sample_rate:
        # The model cannot make anything above its 8 kHz ceiling: keep the source's own top band,
        # fading it out as strength grows (at 1 it is gone: a fresh render has no trace of it).
        split = ceiling - 200.0
        y = regions.band_filter(y, sr, None, split, 400.0) + \
            (1.0 - request.strength) * regions.band_filter(x, sr, split, None, 400.0)
    details.update(_common_details(region, windows, window, overlap, model))
    return EditOutput(audio=y, sample_rate=sr, model_audio=y16.mean(axis=1).astype(np.float32),
                      details=details)


def gap_frames(region: regions.Region, gap_start_s: float, gap_end_s: float) -> tuple[int, int]:
    """Region-relative [start, end) frames of an inpainting gap given in source-file seconds."""
    gs, ge = region.frame_of(gap_start_s), region.frame_of(gap_end_s)
    if not (0 <= gs and ge <= region.frames):
        raise InvalidRequest(
            f"the gap {gap_start_s:g}-{gap_end_s:g} s is not inside the region "
            f"{region.start_s:g}-{region.end_s:g} s of {region.path.name}; give the gap in source-file seconds"
        )
    if ge - gs < 1:
        raise InvalidRequest(f"the gap {gap_start_s:g}-{gap_end_s:g} s is shorter than one sample")
    return gs, ge


def inpaint(model: LoadedModel, region: regions.Region, request: RenderRequest, *, seed: int,
            cond: torch.Tensor, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
            times: StageTimes | None = None, window_s: float | None = None,
            overlap_s: float = DEFAULT_OVERLAP_S, context_s: float = INPAINT_CONTEXT_S,
            preview_every: int = 0) -> EditOutput:
    """AudioLDM's inpainting: regenerate the gap, re-imposing the noised known latent outside it at
    every step. The output is the source's own samples outside the gap, bit for bit."""
    times = times if times is not None else StageTimes()
    x, sr = region.audio, region.sample_rate
    gs, ge = gap_frames(region, request.gap_start_s, request.gap_end_s)
    # Only the gap and some context around it go through the model; when the model's window is
    # short, the context shrinks (down to 0.25 s a side) before the gap is split into windows.
    window, overlap = _window_samples(model, window_s, overlap_s)
    context_s = min(context_s, max(0.25, (window / model.sample_rate - (ge - gs) / sr) / 2))
    context = int(round(context_s * sr))
    s0, s1 = max(0, gs - context), min(region.frames, ge + context)
    x16 = _to_model_rate(model, x[s0:s1], sr)
    ratio = model.sample_rate / sr
    known = np.ones(len(x16), dtype=bool)
    known[int(np.floor((gs - s0) * ratio)):int(np.ceil((ge - s0) * ratio))] = False
    y16, windows = _run_windows(model, x16, _Job(known_time=known, calibrate_on_known=True), cond=cond,
                                request=request, seed=seed, window=window, overlap=overlap,
                                progress=progress, cancel=cancel, times=times, preview_every=preview_every)
    y = _from_model_rate(model, y16, sr, s1 - s0)
    out = x.copy()
    out[s0:s1] = regions.splice(x[s0:s1], y, gs - s0, ge - s0, int(round(MAX_GAP_FADE_S * sr)))
    details = {"gap_start_s": (region.start_frame + gs) / sr, "gap_end_s": (region.start_frame + ge) / sr,
               "gap_frames": [region.start_frame + gs, region.start_frame + ge],
               "gap_fade_s": min(int(round(MAX_GAP_FADE_S * sr)), (ge - gs) // 3) / sr,
               "context_s": context_s}
    details.update(_common_details(region, windows, window, overlap, model))
    g0, g1 = int(np.floor((gs - s0) * ratio)), int(np.ceil((ge - s0) * ratio))
    return EditOutput(audio=out, sample_rate=sr, model_audio=y16[g0:g1].mean(axis=1).astype(np.float32),
                      details=details)


def upsample(model: LoadedModel, region: regions.Region, request: RenderRequest, *, seed: int,
             cond: torch.Tensor, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
             times: StageTimes | None = None, window_s: float | None = None,
             overlap_s: float = DEFAULT_OVERLAP_S, preview_every: int = 0) -> EditOutput:
    """AudioLDM's super-resolution: regenerate the latent bins above the cutoff, keep those below;
    then a crossover keeps the source's own content below the cutoff (and above 8 kHz)."""
    times = times if times is not None else StageTimes()
    x, sr, n = region.audio, region.sample_rate, region.frames
    ceiling = model.sample_rate / 2
    # The output rate: the one asked for (the DAW session's), else the source's, at least 16 kHz
    # (a file below the model's rate has no room for the band it adds). The length in seconds is exact.
    if request.sample_rate and request.sample_rate < model.sample_rate:
        raise InvalidRequest(f"sample_rate {request.sample_rate} Hz cannot hold the band upsampling adds "
                             f"(up to {ceiling:g} Hz): use {model.sample_rate} Hz or more, e.g. the session's rate")
    out_rate = int(request.sample_rate) if request.sample_rate else max(sr, model.sample_rate)
    n_out = n if out_rate == sr else int(round(n * out_rate / sr))
    source = x if out_rate == sr else _from_rate(x, sr, out_rate, n_out)
    warnings: list[str] = []
    if out_rate != sr and not request.sample_rate:
        warnings.append(f"{region.path.name} is sampled at {sr} Hz, too low to hold a regenerated band: "
                        f"the output is at {out_rate} Hz ({n_out} frames, the region's length)")
    details: dict = {"output_sample_rate": out_rate}
    nyquist = sr / 2
    if request.cutoff_hz is not None and request.cutoff_hz >= nyquist:
        raise InvalidRequest(f"the cutoff {request.cutoff_hz:g} Hz is at or above {region.path.name}'s Nyquist "
                             f"frequency ({nyquist:g} Hz at {sr} Hz): the file cannot hold content there; "
                             f"leave --cutoff out to regenerate from {nyquist:g} Hz")
    if request.cutoff_hz is not None:
        cutoff, detected = float(request.cutoff_hz), False
    else:
        try:
            estimate = regions.detect_cutoff(x, sr, ceiling)
        except AudioInputError as exc:
            raise AudioInputError(f"{region.path.name}: {exc}") from exc
        cutoff, detected = float(estimate.cutoff_hz), True
        if not estimate.band_limited and nyquist < ceiling - 100.0:
            # Sampled below 16 kHz with content up to its own Nyquist frequency (a phone call at
            # 8 kHz ends at 4 kHz): that is the band limit, a little under it where the resampler's
            # transition band starts.
            cutoff = 0.97 * nyquist
            estimate = dataclasses.replace(estimate, cutoff_hz=cutoff, band_limited=True)
        if not estimate.band_limited:
            details.update(cutoff_hz=None, cutoff_detected=True)
            warnings.append(f"no band limit below the model's {ceiling:g} Hz ceiling was found in "
                            f"{region.path.name}; nothing to regenerate, the source is returned unchanged "
                            f"(force one with --cutoff HZ)")
            return EditOutput(audio=source.copy(), sample_rate=out_rate, model_audio=None,
                              details=details, warnings=warnings)
        warnings.append(f"detected cutoff {cutoff:.0f} Hz in {region.path.name}: regenerating "
                        f"{cutoff:.0f}-{ceiling:.0f} Hz")
    if cutoff < 500.0:
        raise InvalidRequest(f"the cutoff {cutoff:.0f} Hz is below 500 Hz, too little to build on; "
                             f"give one with --cutoff HZ (500-7900)")
    if cutoff >= ceiling - 100.0:
        raise InvalidRequest(f"the cutoff {cutoff:.0f} Hz is at the model's {ceiling:g} Hz ceiling: "
                             f"there is nothing it can regenerate above it")
    f_lat = model.mel_bins // model.vae_scale_factor
    keep_bins = int(min(max(cutoff_to_mel_bin(cutoff) // model.vae_scale_factor, 1), f_lat - 1))
    details.update(cutoff_hz=round(cutoff), cutoff_detected=detected, kept_latent_bins=keep_bins,
                   latent_bins=f_lat)
    window, overlap = _window_samples(model, window_s, overlap_s)
    job = _Job(keep_bins=keep_bins, calibrate_below_hz=0.9 * cutoff)
    start_index = min(request.steps - 1, int(round(request.steps * float(model.extra.get("upsample_start",
                                                                                      UPSAMPLE_START)))))
    if start_index > 0:  # (a 1-step render has no step to start at: from noise)
        job = dataclasses.replace(job, extend_mel=functools.partial(extend_log_mel, cutoff_hz=cutoff),
                                  start_index=start_index)
    details.update(started_from="the source with its upper band guessed" if job.start_index > 0 else "noise",
                   start_step=job.start_index)
    y16, windows = _run_windows(model, _to_model_rate(model, x, sr), job, cond=cond, request=request,
                                seed=seed, window=window, overlap=overlap, progress=progress,
                                cancel=cancel, times=times, preview_every=preview_every)
    y = _from_model_rate(model, y16, out_rate, n_out)
    # Crossover: the source everywhere, except the band cutoff..ceiling, which comes from the model.
    transition = regions.crossover_transition_hz(cutoff)
    band = regions.band_filter(y - source, out_rate, cutoff - transition / 2, ceiling - transition / 2,
                               transition)
    details.update(_common_details(region, windows, window, overlap, model), crossover_transition_hz=transition)
    return EditOutput(audio=source + band, sample_rate=out_rate,
                      model_audio=y16.mean(axis=1).astype(np.float32), details=details, warnings=warnings)


def _from_rate(x: np.ndarray, sr_in: int, sr_out: int, n_out: int) -> np.ndarray:
    return resample_exact(x.astype(np.float32), sr_in, sr_out, n_out).astype(np.float64)


ModeFn = Callable[..., EditOutput]
MODE_FUNCTIONS: dict[str, ModeFn] = {"style_transfer": style_transfer, "inpaint": inpaint, "upsample": upsample}


# --------------------------------------------------------------------------- the entry point

#: Whether an edit without a prompt may be guided by the source's own CLAP audio embedding (on models
#: that ask for it, :func:`source_embedding`); otherwise such an edit is unconditional.
SOURCE_CONDITIONING = True


def source_embedding(model: LoadedModel, region: regions.Region) -> torch.Tensor | None:
    """(1, D) CLAP audio embedding of the region's sound (channels averaged, at the model's rate), for
    a model whose UNet was trained on CLAP audio embeddings, that carries that audio encoder and whose
    ``audioldm_bridge.json`` asks for it (``"edit_condition": "source"``, written by
    ``engine.default_model.unet_tune``: measured there, 6 dB more upper band in super-resolution; on
    the bundled model it measured no better than unconditional, so it stays off there); else None."""
    from .nets.clap_audio import SmallClapAudio

    if (model.extra.get("condition") != "audio" or model.extra.get("edit_condition") != "source"
            or not isinstance(model.clap, SmallClapAudio)):
        return None
    mono = _to_model_rate(model, region.audio.mean(axis=1), region.sample_rate)
    mono = 0.5 * mono / max(float(np.max(np.abs(mono))), 1e-9)  # the level the encoder was trained at
    with torch.inference_mode():
        emb = model.clap(log_mel(torch.from_numpy(mono.astype(np.float32)))[None].to(model.device))
    return emb.to(model.dtype)


def render_edit(model: LoadedModel, request: RenderRequest, *, output: str | Path | None = None,
                progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                existing: Literal["backup", "replace"] = "backup", window_s: float | None = None,
                overlap_s: float = DEFAULT_OVERLAP_S, preview_every: int = 0,
                job_id: int | None = None) -> RenderResult:
    """Run one edit request end to end and write its clips (names: :mod:`engine.naming`)."""
    # 1. Check inputs: the source region (header first), then the mode's own parameters
    request = request.resolved(model.sampler_defaults)
    if request.mode not in MODE_FUNCTIONS:
        raise InvalidRequest(f"mode {request.mode} is not an edit mode; use one of {', '.join(MODE_FUNCTIONS)}")
    region = regions.read_region(request.source_path, request.region_start_s, request.region_end_s)
    if request.mode == "inpaint":
        gap_frames(region, request.gap_start_s, request.gap_end_s)
    mode_fn = MODE_FUNCTIONS[request.mode]
    times = StageTimes()
    warnings: list[str] = []
    why = no_rerank_reason(model, request)
    if why:
        warnings.append(why)

    # 2. Encode the prompt once (no prompt, on a model conditioned on audio: the source's own sound)
    cond = encode_prompt(model, request.prompt, request.negative_prompt, request.guidance_scale, times)
    conditioned_on = "prompt" if request.prompt.strip() else "nothing"
    if SOURCE_CONDITIONING and conditioned_on == "nothing" and (own := source_embedding(model, region)) is not None:
        cond = torch.cat([cond[:-1], own]) if len(cond) > 1 else own
        conditioned_on = "source audio"

    # 3. Render every candidate of every variation (progress and previews across all of them);
    #    the CLAP-best candidate of each variation is kept
    def run(seed: int, report: ProgressFn) -> EditOutput:
        out = mode_fn(model, region, request, seed=seed, cond=cond, progress=report, cancel=cancel,
                      times=times, window_s=window_s, overlap_s=overlap_s, preview_every=preview_every)
        for w in out.warnings:
            if w not in warnings:
                warnings.append(w)
        return out

    picks = best_of_candidates(model, request, run, lambda out: out.model_audio, progress=progress,
                               times=times, rerank=why is None)

    # 4. Write each output in the source's own sample format, with provenance and BWF position
    fmt = region.sample_format
    clips = []
    for path, pick in zip(clip_paths(request, [p.seed for p in picks], output=output, job_id=job_id), picks):
        out, seed, score = pick.output, pick.seed, pick.score
        rate = out.sample_rate
        time_reference = 0
        if request.timeline_position_s is not None:
            time_reference = max(0, int(round(request.timeline_position_s * rate)))
        meta = provenance(request, model, seed, score, {
            "duration_s": region.frames / region.sample_rate,
            "source_path": str(region.path.resolve()), "source_sample_rate": region.sample_rate,
            "source_channels": region.channels, "source_subtype": region.info.subtype,
            "source_format": region.info.format,
            "region_start_s": region.start_s, "region_end_s": region.end_s,
            "region_frames": [region.start_frame, region.end_frame],
            "sample_rate": rate, "channels": region.channels, "sample_format": fmt, "peak_dbfs": None,
            "timeline_position_s": request.timeline_position_s, "time_reference": time_reference,
            "strength": request.strength if request.mode == "style_transfer" else None,
            "conditioned_on": conditioned_on,
            **out.details,
        })
        written = write_clip(path, out.audio, rate, fmt, meta, time_reference=time_reference, existing=existing)
        clips.append(Clip(path=written, seed=seed, sample_rate=rate, frames=len(out.audio),
                          channels=out.audio.shape[1], clap_score=score))
    return RenderResult(clips=clips, model=model.name, device=str(model.device), times=times, warnings=warnings)


__all__ = ["EditOutput", "render_edit", "style_transfer", "inpaint", "upsample", "gap_frames",
           "MODE_FUNCTIONS", "DEFAULT_OVERLAP_S", "INPAINT_CONTEXT_S", "MAX_GAP_FADE_S"]
