"""The AudioLDM sampling primitives shared by every mode.

``encode_prompt`` -> ``initial_noise`` -> ``denoise`` -> ``decode``, plus ``clap_scores`` for
re-ranking. ``denoise`` is one loop for all four modes: text-to-audio starts from pure noise at the
first step; style transfer starts part-way (``start_index``) from a noised source latent;
inpainting and super-resolution re-impose the noised known latent where ``mask`` is 1 at every step.

With DDIM (eta 0), one candidate and the same seed, the result equals diffusers' deprecated
``AudioLDMPipeline`` (tested in tests/test_parity.py): same CLAP-text conditioning (L2-normalised
``text_embeds`` as ``class_labels``), same CFG batch order (uncond, cond), same CPU-generator noise.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .errors import Cancelled
from .model import LoadedModel


@dataclass
class StepInfo:
    """Progress of one sampling run, reported after every step."""

    step: int  # 1-based steps done in this run
    total: int
    elapsed_s: float
    eta_s: float
    #: Waveform (16 kHz mono float32) decoded from the current clean-latent estimate, when asked for.
    preview: np.ndarray | None = None


ProgressFn = Callable[[StepInfo], None]
CancelFn = Callable[[], bool]


@dataclass
class StageTimes:
    """Seconds spent per stage, summed over candidates (the benchmark prints these)."""

    text_encoder: float = 0.0
    unet: float = 0.0
    vae_decode: float = 0.0
    vocoder: float = 0.0
    clap: float = 0.0

    def add(self, other: "StageTimes") -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def _pooled(out) -> torch.Tensor:
    """transformers 4 returns a tensor from get_*_features, transformers 5 an output object."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


# --------------------------------------------------------------------------- conditioning

@torch.inference_mode()
def encode_text(model: LoadedModel, texts: list[str]) -> torch.Tensor:
    """L2-normalised CLAP text embeddings (B, D), as diffusers' AudioLDMPipeline computes them.

    With a text-to-audio prior (the default model), non-empty texts are mapped into the audio-
    embedding space the UNet was trained on; the empty text stays as it is, because it is what the
    UNet saw for its dropped conditions (the unconditional input of classifier-free guidance).
    """
    if model.extra.get("prompt_numbers") == "digits":  # a vocabulary that only saw "440 Hz", "1.5 kHz"
        from .pitch import frequencies_in_digits

        texts = [frequencies_in_digits(t) for t in texts]
    # Padded to the longest text, not to the tokenizer's maximum (diffusers pads to 77 tokens): the
    # padding is masked out and the embedding is the first token's, so the result is the same
    # (test_parity) while AudioLDM-S's text encoder runs 0.86 s -> about 0.1 s per render.
    tok = model.tokenizer(texts, padding="longest", max_length=model.tokenizer.model_max_length,
                          truncation=True, return_tensors="pt")
    out = model.text_encoder(tok.input_ids.to(model.device),
                             attention_mask=tok.attention_mask.to(model.device))
    emb = F.normalize(out.text_embeds, dim=-1)
    if model.text_prior is not None:
        spoken = torch.tensor([bool(t.strip()) for t in texts], device=emb.device)[:, None]
        emb = torch.where(spoken, model.text_prior(emb), emb)
    return emb.to(model.dtype)


def encode_prompt(model: LoadedModel, prompt: str, negative_prompt: str, guidance_scale: float,
                  times: StageTimes | None = None) -> torch.Tensor:
    """Conditioning for one sample: (2, D) [uncond, cond] with CFG, else (1, D)."""
    t0 = time.perf_counter()
    if guidance_scale > 1.0:
        emb = encode_text(model, [negative_prompt or "", prompt])
    else:
        emb = encode_text(model, [prompt])
    _sync(model.device)
    model.done_with("text_encoder")
    if times is not None:
        times.text_encoder += time.perf_counter() - t0
    return emb


# --------------------------------------------------------------------------- schedulers

def make_scheduler(model: LoadedModel, name: str, steps: int):
    """A fresh scheduler built from the model's own config (prediction type, betas, spacing)."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    cfg = dict(model.scheduler_config)
    if name == "ddim":
        sched = DDIMScheduler.from_config(cfg)
    elif name == "dpmpp":
        sched = DPMSolverMultistepScheduler.from_config(
            cfg, algorithm_type="dpmsolver++", solver_order=2, lower_order_final=True,
        )
    else:  # validated in the request; kept for direct callers
        raise ValueError(f"unknown scheduler {name!r}")
    sched.set_timesteps(steps, device=model.device)
    return sched


# --------------------------------------------------------------------------- shapes and noise

def latent_frames(model: LoadedModel, n_samples: int) -> int:
    """Mel frames for ``n_samples`` at the model rate, rounded up to the VAE factor."""
    frames = -(-n_samples // model.hop_length)
    f = model.vae_scale_factor
    return -(-frames // f) * f


def latent_shape(model: LoadedModel, mel_frames: int, batch: int = 1) -> tuple[int, int, int, int]:
    f = model.vae_scale_factor
    return (batch, int(model.unet.config.in_channels), mel_frames // f, model.mel_bins // f)


def initial_noise(model: LoadedModel, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Gaussian latents drawn on the CPU from ``generator`` (device-independent, as diffusers)."""
    from diffusers.utils.torch_utils import randn_tensor

    return randn_tensor(shape, generator=generator, device=model.device, dtype=model.dtype)


# --------------------------------------------------------------------------- the loop

def predicted_clean(scheduler, sample: torch.Tensor, t: torch.Tensor, model_output: torch.Tensor) -> torch.Tensor:
    """x0 estimate from the model output at timestep t (epsilon, v or sample prediction)."""
    abar = scheduler.alphas_cumprod.to(sample.device)[int(t)].to(sample.dtype)
    a, s = abar.sqrt(), (1 - abar).sqrt()
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return (sample - s * model_output) / a
    if kind == "v_prediction":
        return a * sample - s * model_output
    return model_output


def mel_lowpass(x: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """The part of a (B, C, frames, mel) latent that varies slowly along the mel axis: averaged over
    ``factor`` latent mel bins (16 of the 64 mel bands for AudioLDM) and linearly interpolated back."""
    frames, bins = x.shape[-2:]
    coarse = F.adaptive_avg_pool2d(x, (frames, max(1, bins // factor)))
    return F.interpolate(coarse, size=(frames, bins), mode="bilinear", align_corners=False)


def guide(uncond: torch.Tensor, cond: torch.Tensor, scale: float, scale_low: float | None = None) -> torch.Tensor:
    """Classifier-free guidance, optionally frequency-decoupled: with ``scale_low``, the mel-smooth
    part of ``cond - uncond`` (:func:`mel_lowpass`) is scaled by ``scale_low`` and the rest by ``scale``.

    Why: plain guidance exaggerates how a sound's spectral balance differs from the average sound.
    On the default model at guidance 3, "white noise" came out brighter than white and "pink noise"
    nearly white; guiding the spectral tilt at 1 (the conditional prediction's own) and the detail
    at ``scale`` fixed most of them while keeping pitch and chords (docs/default-model.md).
    """
    diff = cond - uncond
    if scale_low is None or scale_low == scale:
        return uncond + scale * diff
    low = mel_lowpass(diff)
    return uncond + scale_low * low + scale * (diff - low)


@torch.inference_mode()
def denoise(
    model: LoadedModel,
    latents: torch.Tensor,
    cond: torch.Tensor,
    guidance_scale: float,
    scheduler,
    *,
    generator: torch.Generator | None = None,
    eta: float = 0.0,
    start_index: int = 0,
    known: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    known_noise: torch.Tensor | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    preview_every: int = 0,
    n_preview_samples: int | None = None,
    times: StageTimes | None = None,
    guidance_low: float | None = None,
    guidance_until: float | None = None,
) -> torch.Tensor:
    """Run the sampler from ``scheduler.timesteps[start_index]`` to the end.

    ``guidance_low``: frequency-decoupled guidance (Sadat et al. 2025, "Guidance in the frequency
    domain"): the part of the guidance direction that varies slowly along the mel axis (the spectral
    tilt, :func:`mel_lowpass`) gets this scale and the rest ``guidance_scale``. None is plain
    classifier-free guidance (AudioLDM's).

    ``guidance_until``: guide only the first :func:`guided_steps` of the steps (the high-noise ones,
    where the sound's shape is decided); later steps run the conditional branch alone, one UNet
    pass of batch 1 instead of 2. None guides every step.

    ``known``/``mask`` (1 = keep) re-impose ``known`` noised to the current timestep before every
    step (AudioLDM's inpainting and super-resolution), and exactly at the end. ``cancel`` is
    checked before every step, so a cancelled render stops within one step.
    """
    cfg = guidance_scale > 1.0
    timesteps = scheduler.timesteps[start_index:]
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(start_index)
    step_kwargs = {}
    params = inspect.signature(scheduler.step).parameters
    if "eta" in params:
        step_kwargs["eta"] = eta
    if "generator" in params:
        step_kwargs["generator"] = generator
    if known is not None and known_noise is None:
        known_noise = torch.randn(known.shape, generator=generator, dtype=torch.float32).to(known)

    total = len(timesteps)
    n_guided = total if guidance_until is None else guided_steps(guidance_until, total)
    t_start = time.perf_counter()
    for i, t in enumerate(timesteps):
        if cancel is not None and cancel():
            raise Cancelled(f"cancelled after {i} of {total} steps")
        if known is not None:
            noised = scheduler.add_noise(known, known_noise, t.reshape(1))
            latents = noised * mask + latents * (1 - mask)
        guided = cfg and i < n_guided
        model_in = torch.cat([latents] * 2) if guided else latents
        model_in = scheduler.scale_model_input(model_in, t)
        labels = cond if guided or not cfg else cond[len(cond) // 2:]  # [uncond, cond] -> cond
        out = model.unet(model_in, t, encoder_hidden_states=None, class_labels=labels).sample
        if guided:
            uncond, text = out.chunk(2)
            out = guide(uncond, text, guidance_scale, guidance_low)
        previous = latents
        latents = scheduler.step(out, t, latents, **step_kwargs).prev_sample
        _sync(model.device)
        elapsed = time.perf_counter() - t_start
        if progress is not None:
            preview = None
            if preview_every and ((i + 1) % preview_every == 0) and i + 1 < total:
                clean = predicted_clean(scheduler, previous, t, out)
                preview = decode(model, clean, n_preview_samples, final=False)[0]
            progress(StepInfo(step=i + 1, total=total, elapsed_s=elapsed,
                              eta_s=elapsed / (i + 1) * (total - i - 1), preview=preview))
    if times is not None:
        times.unet += time.perf_counter() - t_start
    if known is not None:
        latents = known * mask + latents * (1 - mask)
    return latents


@torch.inference_mode()
def decode(model: LoadedModel, latents: torch.Tensor, n_samples: int | None = None,
           times: StageTimes | None = None, final: bool = True) -> np.ndarray:
    """Latents -> mel -> vocoder -> (B, N) float32 waveform on the CPU, cropped to ``n_samples``.

    ``final``: this is a render's decode (not a preview during sampling), so each component's
    memory-mapped weights are released when it is done (:meth:`LoadedModel.done_with`)."""
    t0 = time.perf_counter()
    if final:
        model.done_with("unet")
    mel = model.vae.decode(latents / model.vae.config.scaling_factor).sample
    _sync(model.device)
    if final:
        model.done_with("vae")
    t1 = time.perf_counter()
    wav = model.vocode(mel.squeeze(1))
    _sync(model.device)
    if final:
        model.done_with("vocoder")
    t2 = time.perf_counter()
    if times is not None:
        times.vae_decode += t1 - t0
        times.vocoder += t2 - t1
    # fp16 once produced unplayable files (diffusers#3091): always hand float32 onwards.
    out = wav.float().cpu().numpy()
    if out.ndim == 1:
        out = out[None]
    return out[:, :n_samples] if n_samples is not None else out


@torch.inference_mode()
def encode_audio(model: LoadedModel, mel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, frames, 64) log-mel -> scaled VAE latent (B, 8, frames/f, 64/f), sampled as the original."""
    from diffusers.utils.torch_utils import randn_tensor

    posterior = model.vae.encode(mel[:, None].to(model.device, model.dtype)).latent_dist
    noise = randn_tensor(posterior.mean.shape, generator=generator, device=model.device, dtype=model.dtype)
    return (posterior.mean + posterior.std * noise) * model.vae.config.scaling_factor


# --------------------------------------------------------------------------- CLAP re-ranking

@torch.inference_mode()
def clap_scores(model: LoadedModel, prompt: str, waveforms: np.ndarray) -> np.ndarray | None:
    """Cosine similarity between the prompt and each 16 kHz waveform in CLAP space; None without CLAP.

    As the original: audio resampled 16 -> 48 kHz and repeat-padded to 10 s (the feature extractor's
    ``repeatpad``); unlike the original it runs on whatever device the model is on, not only CUDA.
    """
    if model.clap is None:
        return None
    if hasattr(model.clap, "score"):  # a CLAP audio branch that scores on our own log-mel
        # It scores embeddings we compute: the model's CLAP text encoder (+ prior), as for sampling.
        return model.clap.score(waveforms, encode_text(model, [prompt]))[:, 0]
    from .dsp import resample

    proc = model.clap_processor
    audio = [resample(w, model.sample_rate, proc.sampling_rate) for w in waveforms]
    feats = proc(audio, sampling_rate=proc.sampling_rate, return_tensors="pt")
    device = model.device
    audio_emb = _pooled(model.clap.get_audio_features(
        input_features=feats.input_features.to(device, torch.float32),
        is_longer=feats.get("is_longer").to(device) if feats.get("is_longer") is not None else None))
    tok = model.tokenizer([prompt], padding=True, truncation=True, return_tensors="pt")
    text_emb = _pooled(model.clap.get_text_features(input_ids=tok.input_ids.to(device),
                                                    attention_mask=tok.attention_mask.to(device)))
    sims = F.normalize(audio_emb.float(), dim=-1) @ F.normalize(text_emb.float(), dim=-1).T
    return sims[:, 0].cpu().numpy()


def guard_finite(wav: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(wav)):
        from .errors import OutputError

        raise OutputError(
            f"{what} produced non-finite samples (NaN/inf); nothing was written. On CUDA try "
            f"--dtype float32 (half precision can overflow)"
        )


def guided_steps(until: float, total: int) -> int:
    """How many of ``total`` steps, from the first, are guided when guidance stops at ``until``."""
    return max(1, int(round(until * total)))


def steps_until(strength: float, steps: int) -> int:
    """Index of the first timestep a style transfer of ``strength`` runs (0 = full render)."""
    return steps - min(steps, int(math.floor(strength * steps + 1e-9)))
