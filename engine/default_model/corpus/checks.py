"""Checking audio against attributes with the DSP descriptors: absolute expectations on
one clip (:func:`check_expectations`) and orderings across clips (:data:`ORDERINGS`,
:func:`ordering_holds`).
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from ... import descriptors
from .params import midi_to_hz, NOTE_NAMES

# Thresholds of check_expectations (see its docstring).
_TONAL_MAX, _NOISY_MIN = 0.25, 0.35
_SHORT_MAX_S, _LONG_MIN_S = 0.35, 0.5
_SHARP_MAX_S = 0.03

# Noise-colour slope windows in dB/octave (white 0, pink -3, brown -6).
_NOISE_SLOPE_WINDOWS = {"white": (-1.5, 1.5), "pink": (-4.5, -1.5), "brown": (-9.0, -4.5)}


def _chord_quality_ok(x: np.ndarray, sr: int, quality: str, root: str) -> bool:
    """True if the major third above ``root`` (any octave) carries more energy
    than the minor third for "major", and the reverse for "minor"."""
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / sr)
    ok = (freqs > 60) & (freqs < 2000)
    pitch_class = np.round(12 * np.log2(freqs[ok] / midi_to_hz(60))).astype(int) % 12
    chroma = np.bincount(pitch_class, weights=power[ok], minlength=12)
    root_pc = NOTE_NAMES.index(root)
    major, minor = chroma[(root_pc + 4) % 12], chroma[(root_pc + 3) % 12]
    return bool(major > minor) if quality == "major" else bool(minor > major)


def check_expectations(audio: np.ndarray, sr: int, expect: Mapping[str, object]) -> dict[str, bool]:
    """Check the absolute expectations in ``expect`` against ``audio``.

    Returns ``{key: passed}`` for the keys that can be judged on a single
    clip; relative keys ("pitch", "brightness", "tempo", "density",
    "intensity", "distance", "gusts") are skipped - compare clips with
    :func:`ordering_holds` instead.  Rules:

    * f0_hz: :func:`descriptors.fundamental_hz` within 2 semitones;
    * noise_colour: spectral slope inside the white/pink/brown window;
    * rhythm: at most one onset for "single" (a swell shows none), at least
      two for "repeated";
      n_hits: onset count within max(1, 20 %) of it;
    * envelope: "sharp" attack (10 % to 50 % of peak) <= 30 ms, "fading" slope < -3 dB/s,
      "swelling" slope > +3 dB/s, "steady" |slope| < 8 dB/s;
    * sweep: pitch-track slope > +1 / < -1 semitone per second;
    * texture: :func:`descriptors.noisiness` below 0.25 ("tonal") or above
      0.35 ("noisy"); "mixed" is not judged;
    * length: effective duration (-30 dB) < 0.35 s ("short") or > 0.5 s;
    * chord (+ root): major vs minor third energy.
    """
    x = np.asarray(audio, dtype=np.float64)
    results: dict[str, bool] = {}
    for key, value in expect.items():
        if key == "f0_hz":
            f0 = descriptors.fundamental_hz(x, sr)
            results[key] = f0 is not None and abs(12 * np.log2(f0 / float(value))) <= 2.0
        elif key == "noise_colour":
            lo, hi = _NOISE_SLOPE_WINDOWS[str(value)]
            results[key] = lo <= descriptors.noise_slope_db_per_octave(x, sr) <= hi
        elif key == "rhythm":
            count = len(descriptors.onset_times(x, sr))
            # A swell has no detectable onset, so "single" allows zero.
            results[key] = count <= 1 if value == "single" else count >= 2
        elif key == "n_hits":
            count = len(descriptors.onset_times(x, sr))
            results[key] = abs(count - int(value)) <= max(1, round(0.2 * int(value)))
        elif key == "envelope":
            if value == "sharp":
                results[key] = descriptors.attack_time_s(x, sr) <= _SHARP_MAX_S
            else:
                slope = descriptors.envelope_slope(x, sr)
                within = {"fading": slope < -3.0, "swelling": slope > 3.0, "steady": abs(slope) < 8.0}
                results[key] = within[str(value)]
        elif key == "sweep":
            slope = descriptors.pitch_track_slope(x, sr)
            results[key] = slope is not None and (slope > 1.0 if value == "rising" else slope < -1.0)
        elif key == "texture" and value in ("tonal", "noisy"):
            noisiness = descriptors.noisiness(x, sr)
            results[key] = noisiness < _TONAL_MAX if value == "tonal" else noisiness > _NOISY_MIN
        elif key == "length":
            dur = descriptors.effective_duration_s(x, sr)
            results[key] = dur < _SHORT_MAX_S if value == "short" else dur > _LONG_MIN_S
        elif key == "chord":
            if "root" in expect:
                results[key] = _chord_quality_ok(x, sr, str(value), str(expect["root"]))
    return results


def _pitch_measure(x: np.ndarray, sr: int) -> float:
    f0 = descriptors.fundamental_hz(x, sr)
    return f0 if f0 is not None else descriptors.spectral_centroid_hz(x, sr)


# For each relative attribute: the descriptor and the values from lowest to
# highest measurement.
ORDERINGS: dict[str, tuple[Callable[[np.ndarray, int], float], tuple[str, ...]]] = {
    "pitch": (_pitch_measure, ("low", "mid", "high")),
    "brightness": (descriptors.spectral_centroid_hz, ("dark", "bright")),
    "tempo": (descriptors.onset_rate, ("slow", "fast")),
    "density": (descriptors.onset_rate, ("sparse", "dense")),
    "noise_colour": (descriptors.noise_slope_db_per_octave, ("brown", "pink", "white")),
    "envelope": (descriptors.envelope_slope, ("fading", "steady", "swelling")),
    "sweep": (lambda x, sr: descriptors.pitch_track_slope(x, sr) or 0.0, ("falling", "rising")),
    "length": (descriptors.effective_duration_s, ("short", "long")),
    "rhythm": (lambda x, sr: float(len(descriptors.onset_times(x, sr))), ("single", "repeated")),
    "texture": (descriptors.noisiness, ("tonal", "noisy")),
}


def ordering_holds(key: str, clips: Mapping[str, np.ndarray], sr: int) -> bool:
    """True if clips labelled with values of ``key`` (e.g. {"low": a, "high": b})
    measure in the order given by :data:`ORDERINGS` (strictly increasing)."""
    measure, order = ORDERINGS[key]
    values = [measure(np.asarray(clips[v], dtype=np.float64), sr) for v in order if v in clips]
    return all(a < b for a, b in zip(values, values[1:]))
