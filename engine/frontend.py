"""AudioLDM's audio front end: 16 kHz waveform -> log-mel, exactly as the original code.

STFT n_fft = win = 1024 (Hann), hop 160, reflect padding of 512 each side; magnitude; 64 slaney
mel bins from 0 to 8 kHz (librosa's defaults, via transformers' port of the filterbank);
natural log of clamp(mel, 1e-5). 100 frames per second. Real checkpoints sound wrong if any of
this differs, so it lives in one place and is tested against an independent computation.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from transformers.audio_utils import mel_filter_bank

SAMPLE_RATE = 16_000
N_FFT = 1024
HOP = 160
N_MELS = 64
F_MIN = 0.0
F_MAX = 8_000.0
LOG_FLOOR = 1e-5
FRAMES_PER_SECOND = SAMPLE_RATE / HOP


@functools.lru_cache(maxsize=None)
def mel_basis() -> np.ndarray:
    """The (n_mels, n_fft // 2 + 1) slaney filterbank librosa.filters.mel(sr=16000, n_fft=1024,
    n_mels=64, fmin=0, fmax=8000) returns."""
    fb = mel_filter_bank(
        num_frequency_bins=N_FFT // 2 + 1,
        num_mel_filters=N_MELS,
        min_frequency=F_MIN,
        max_frequency=F_MAX,
        sampling_rate=SAMPLE_RATE,
        norm="slaney",
        mel_scale="slaney",
    )
    return np.ascontiguousarray(fb.T.astype(np.float32))


@functools.lru_cache(maxsize=None)
def mel_bin_centres_hz() -> np.ndarray:
    """Centre frequency (Hz) of each of the 64 mel bins: the peak of its triangle."""
    freqs = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    return freqs[np.argmax(mel_basis(), axis=1)]


def preprocess_waveform(wav: np.ndarray) -> np.ndarray:
    """The original preprocessing: remove the mean, scale the peak to 0.5 (silence stays silent)."""
    wav = np.asarray(wav, dtype=np.float32)
    wav = wav - wav.mean(axis=-1, keepdims=True)
    peak = np.max(np.abs(wav), axis=-1, keepdims=True)
    return (0.5 * wav / np.maximum(peak, 1e-8)).astype(np.float32)


def stft_magnitude(wav: torch.Tensor) -> torch.Tensor:
    """(B, N) float waveform at 16 kHz -> (B, 513, frames) STFT magnitude, framed as :func:`log_mel`
    (frames = N // 160 + 1, centre-style reflect padding)."""
    wav = wav.float()
    padded = torch.nn.functional.pad(wav[:, None], (N_FFT // 2, N_FFT // 2), mode="reflect")[:, 0]
    window = torch.hann_window(N_FFT, device=wav.device)
    return torch.stft(padded, N_FFT, hop_length=HOP, win_length=N_FFT, window=window,
                      center=False, return_complex=True).abs()


def log_mel(wav: torch.Tensor) -> torch.Tensor:
    """(B, N) or (N,) float waveform at 16 kHz -> (B, frames, 64) natural-log mel.

    frames = N // 160 + 1 (centre-style padding); callers crop to the frames they need.
    """
    squeeze = wav.dim() == 1
    if squeeze:
        wav = wav[None]
    spec = stft_magnitude(wav)
    basis = torch.from_numpy(mel_basis()).to(wav.device)
    mel = torch.matmul(basis, spec)  # (B, 64, frames)
    out = torch.log(torch.clamp(mel, min=LOG_FLOOR)).transpose(1, 2)
    return out[0] if squeeze else out


def frames_for_samples(n_samples: int, multiple: int = 1) -> int:
    """Mel frames needed to cover ``n_samples`` at 16 kHz, rounded up to ``multiple`` (VAE factor)."""
    frames = -(-n_samples // HOP)
    return -(-frames // multiple) * multiple


def cutoff_to_mel_bin(cutoff_hz: float) -> int:
    """Index of the first mel bin whose centre lies at or above ``cutoff_hz``."""
    centres = mel_bin_centres_hz()
    return int(np.searchsorted(centres, cutoff_hz, side="left"))


def extend_log_mel(mel: torch.Tensor, cutoff_hz: float, floor: float = math.log(1e-5)) -> torch.Tensor:
    """A first guess of the band above ``cutoff_hz`` of (..., T, 64) log-mels: each bin above takes
    the bin an octave (or two, three) below it inside the top octave of the kept band, frame by frame
    (so the band follows the syllables and notes below), lowered by the spectral tilt of the kept
    band extrapolated (a least-squares line through its time-averaged log-mel against log2
    frequency, over cutoff/4..cutoff, clamped to 0..-20 dB per octave). Bins below stay as they are.
    The super-resolution mode noises this guess part way and lets the model finish it."""
    centres = torch.as_tensor(mel_bin_centres_hz(), dtype=mel.dtype, device=mel.device)
    octave = torch.log2(centres.clamp(min=1.0))
    first = cutoff_to_mel_bin(cutoff_hz)
    fit = (centres >= cutoff_hz / 4) & (centres < cutoff_hz)
    if first >= mel.shape[-1] or int(fit.sum()) < 3 or mel.shape[-2] == 0:
        return mel.clone()
    xo = octave[fit] - octave[fit].mean()
    db = math.log(10.0) / 20.0  # log-mel is ln(amplitude): 1 dB = ln(10)/20
    profile = mel.reshape(-1, mel.shape[-2], mel.shape[-1]).mean(dim=(0, 1))[fit]
    slope = float((xo * (profile - profile.mean())).sum() / (xo * xo).sum())
    slope = min(0.0, max(slope, -20.0 * db))
    out = mel.clone()
    kept = octave[:first]
    top = math.log2(cutoff_hz)
    for b in range(first, mel.shape[-1]):
        k = max(1, math.ceil(float(octave[b]) - top))
        src = float(octave[b]) - k  # inside the kept band's top octave
        j = int(torch.searchsorted(kept, torch.tensor(src, dtype=kept.dtype)).clamp(1, first - 1))
        w = float((src - kept[j - 1]) / (kept[j] - kept[j - 1]).clamp(min=1e-6))
        w = min(max(w, 0.0), 1.0)
        value = (1 - w) * mel[..., j - 1] + w * mel[..., j] + slope * k
        out[..., b] = torch.maximum(value, torch.full_like(value, floor))
    return out
