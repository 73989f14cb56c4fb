"""Pure DSP on NumPy arrays: resampling, channel layout, gain, fades. No torch, no I/O.

Arrays are float32; multichannel audio is (frames, channels), the layout soundfile uses.
"""

from __future__ import annotations

import numpy as np
import soxr


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """High-quality resampling with soxr ('VHQ'); (frames,) or (frames, channels) in and out."""
    audio = np.asarray(audio, dtype=np.float32)
    if sr_in == sr_out:
        return audio.copy()
    return soxr.resample(audio, sr_in, sr_out, quality="VHQ").astype(np.float32)


def resample_exact(audio: np.ndarray, sr_in: int, sr_out: int, n_out: int) -> np.ndarray:
    """Resample, then pad with zeros or crop so the result has exactly ``n_out`` frames."""
    out = resample(audio, sr_in, sr_out)
    return fit_length(out, n_out)


def fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    if len(audio) >= n:
        return audio[:n]
    pad = [(0, n - len(audio))] + [(0, 0)] * (audio.ndim - 1)
    return np.pad(audio, pad)


def to_channels(mono: np.ndarray, channels: int) -> np.ndarray:
    """(frames,) mono -> (frames, channels), the same signal on every channel."""
    mono = np.asarray(mono, dtype=np.float32).reshape(-1)
    return np.repeat(mono[:, None], channels, axis=1)


def peak_normalise(audio: np.ndarray, peak_dbfs: float) -> np.ndarray:
    """Scale so the absolute peak sits at ``peak_dbfs``; silence is returned unchanged."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-9:
        return audio.astype(np.float32)
    return (audio * (10 ** (peak_dbfs / 20) / peak)).astype(np.float32)


def fade_in_out(audio: np.ndarray, sr: int, fade_s: float = 0.002) -> np.ndarray:
    """Short raised-cosine fades at both ends so a clip starts and stops without a click."""
    n = min(int(round(fade_s * sr)), len(audio) // 2)
    if n < 2:
        return audio
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))).astype(np.float32)
    out = audio.copy()
    shape = (n,) + (1,) * (audio.ndim - 1)
    out[:n] *= ramp.reshape(shape)
    out[-n:] *= ramp[::-1].reshape(shape)
    return out


def finalise_clip(mono_16k: np.ndarray, *, sample_rate: int, channels: int, n_frames: int,
                  peak_dbfs: float | None) -> np.ndarray:
    """The default (non-raw) post-processing of a generated 16 kHz clip.

    Remove DC, resample to the DAW rate with an exact length, 2 ms edge fades, optional peak
    normalisation, then copy to the requested channel count. Returns (n_frames, channels).
    """
    x = np.asarray(mono_16k, dtype=np.float32)
    x = x - x.mean()
    x = resample_exact(x, 16_000, sample_rate, n_frames)
    x = fade_in_out(x, sample_rate)
    if peak_dbfs is not None:
        x = peak_normalise(x, peak_dbfs)
    return to_channels(x, channels)
