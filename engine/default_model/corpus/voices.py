"""Voice-like families (issue 20, item 2): talking voices, sung and hummed notes, whispers and crowd
babble, formant-synthesised so that the model has broadband acoustic material with a realistic upper
band to learn from (super-resolution of real recordings extends what it has heard).

The source is a harmonic series at a moving f0 with a speech-like spectral tilt (about -6 dB per
octave after lip radiation, steeper for soft voices) plus aspiration noise, shaped by a cascade of
Klatt formant resonators (F1-F5 of the vowel and two fixed higher ones, so the band above 4 kHz has
the slow roll-off of a real voice rather than nothing). Consonants are noise: /s/ (4.5-7.8 kHz),
/sh/ (2.2-6 kHz), /f/ (broadband, weak), /h/ (the next vowel's formants) and short plosive bursts.
Speech is syllables (consonant + vowel) at 3-6 per second with intonation and declination.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from .params import _choice, _uniform
from .synth import _as_float32, _fade, _filter, _smooth_random, _times

# Formants (Hz) of an adult male voice (Hillenbrand et al. 1995, rounded); female voices scale them.
_VOWELS = {
    "a": (730, 1090, 2440), "ae": (660, 1720, 2410), "e": (530, 1840, 2480), "i": (270, 2290, 3010),
    "o": (570, 840, 2410), "u": (300, 870, 2240), "uh": (640, 1190, 2390), "er": (490, 1350, 1690),
}
_HIGH_FORMANTS = (3400.0, 4300.0, 5600.0, 7000.0)  # F4, F5 and two weak ones above
_BANDWIDTHS = (70.0, 100.0, 150.0, 250.0, 350.0, 600.0, 900.0)
_FRICATIVES = {"s": ("bandpass", (4500.0, 7800.0), 0.5), "sh": ("bandpass", (2200.0, 6000.0), 0.45),
               "f": ("highpass", 1500.0, 0.15), "th": ("highpass", 3000.0, 0.12)}
_PLOSIVES = ("t", "k", "p", "d", "b", "g")
_VOICE_RANGES = {"f0_male_hz": (85.0, 150.0), "f0_female_hz": (165.0, 260.0), "syllables_per_s": (3.0, 6.0),
                 "tilt_db_per_oct": (-9.0, -5.0), "aspiration_db": (-32.0, -20.0)}
_SING_RANGES = {"note_s": (0.5, 1.4), "vibrato_hz": (4.5, 6.5), "vibrato_cents": (20.0, 60.0)}
_CROWD_RANGES = {"voices": (5, 10)}


def _klatt(x: np.ndarray, sr: int, f: float, bw: float) -> np.ndarray:
    """Klatt's two-pole formant resonator, unity gain at DC (cascade-able)."""
    f = min(f, 0.47 * sr)
    c = -np.exp(-2 * np.pi * bw / sr)
    b = 2 * np.exp(-np.pi * bw / sr) * np.cos(2 * np.pi * f / sr)
    return signal.lfilter([1 - b - c], [1, -b, -c], x)


def _formant_filter(x: np.ndarray, sr: int, vowel: str, scale: float) -> np.ndarray:
    freqs = tuple(f * scale for f in _VOWELS[vowel]) + tuple(f * (1 + 0.5 * (scale - 1)) for f in _HIGH_FORMANTS)
    for f, bw in zip(freqs, _BANDWIDTHS):
        x = _klatt(x, sr, f, bw * scale)
    return x


def _voiced_source(rng, f0: np.ndarray, sr: int, tilt_db: float) -> np.ndarray:
    """Harmonics of a time-varying f0 up to 0.47 * sr, amplitudes k ** (tilt / 6.02), random phases.
    Through the formant cascade this gives the alsa-utils test voices' band balance (1-4 kHz 15 dB
    and 4.5-7.5 kHz 30 dB under 0.1-1 kHz, against 18-26 and 21-40 dB for the recordings)."""
    phase = np.cumsum(f0) / sr
    out = np.zeros(len(f0))
    alpha = tilt_db / 6.02
    for k in range(1, int(0.47 * sr / max(1.0, f0.min())) + 1):
        audible = k * f0 < 0.47 * sr
        if not audible.any():
            break
        out += audible * k ** alpha * np.sin(2 * np.pi * (k * phase + rng.random()))
    return out / (np.sqrt(np.mean(out**2)) + 1e-12)


def _f0_contour(rng, n: int, sr: int, base: float, sung: bool, p: dict) -> np.ndarray:
    t = _times(n, sr)
    if sung:
        vib = p["vibrato_cents"] * np.sin(2 * np.pi * p["vibrato_hz"] * t + rng.random() * 6.3)
        return base * 2 ** ((vib + 8 * _smooth_random(rng, n, sr, 3.0)) / 1200)
    intonation = 0.12 * _smooth_random(rng, n, sr, 2.5) - 0.08 * t / max(t[-1], 1e-9)  # rises, falls, declines
    jitter = 0.01 * _smooth_random(rng, n, sr, 40.0)
    return base * (1 + intonation + jitter)


def _noise_band(rng, m: int, sr: int, kind: str) -> np.ndarray:
    btype, cutoff, gain = _FRICATIVES[kind]
    return gain * _filter(rng.standard_normal(m), sr, btype, cutoff, order=4)


def _syllables(rng, p: dict, n: int, sr: int, whisper: bool = False) -> np.ndarray:
    """A stream of consonant-vowel syllables (with pauses between phrases) filling ``n`` samples."""
    scale = p["formant_scale"]
    f0 = _f0_contour(rng, n, sr, p["f0_hz"], False, p)
    source = (rng.standard_normal(n) if whisper
              else _voiced_source(rng, f0, sr, p["tilt_db"]) + 10 ** (p["aspiration_db"] / 20) * rng.standard_normal(n))
    out = np.zeros(n)
    pos = int(_uniform(rng, (0.02, 0.1)) * sr)
    while pos < n:
        syl = int(sr / _uniform(rng, (0.8, 1.25)) / p["syllables_per_s"])
        m = min(syl, n - pos)
        cons = _choice(rng, tuple(_FRICATIVES) + _PLOSIVES + ("h", "", ""))
        vowel = _choice(rng, tuple(_VOWELS))
        c_len = 0 if cons == "" else int((_uniform(rng, (0.05, 0.12)) if cons in _FRICATIVES or cons == "h"
                                          else 0.015) * sr)
        c_len = min(c_len, m // 2)
        seg = np.zeros(m)
        v = _formant_filter(source[pos + c_len:pos + m], sr, vowel, scale)
        env = _fade(np.ones(m - c_len), sr, 0.02, 0.04) * (0.6 + 0.4 * rng.random())
        seg[c_len:] = v * env
        if c_len:
            if cons in _FRICATIVES:
                seg[:c_len] += _noise_band(rng, c_len, sr, cons) * _fade(np.ones(c_len), sr, 0.01, 0.01)
            elif cons == "h":
                seg[:c_len] += 0.3 * _formant_filter(rng.standard_normal(c_len), sr, vowel, scale) * _fade(
                    np.ones(c_len), sr, 0.01, 0.005)
            else:  # a plosive burst: broadband click, then a little aspiration
                burst = _filter(rng.standard_normal(c_len), sr, "highpass", 800.0) * np.exp(-np.arange(c_len) / (0.004 * sr))
                seg[:c_len] += 0.8 * burst
        out[pos:pos + m] += seg
        pos += m
        if rng.random() < 0.12:  # a pause between phrases
            pos += int(_uniform(rng, (0.12, 0.4)) * sr)
    return out


def _voice_common(rng) -> dict:
    r = _VOICE_RANGES
    speaker = _choice(rng, ("male", "female"))
    f0 = _uniform(rng, r["f0_male_hz"] if speaker == "male" else r["f0_female_hz"])
    return {"speaker": speaker, "f0_hz_voice": f0, "f0_hz": None,
            "formant_scale": 1.0 if speaker == "male" else _uniform(rng, (1.12, 1.22)),
            "tilt_db": _uniform(rng, r["tilt_db_per_oct"]), "aspiration_db": _uniform(rng, r["aspiration_db"])}


def _talk_params(rng, duration_s, sr):
    p = _voice_common(rng)
    p.update(syllables_per_s=_uniform(rng, _VOICE_RANGES["syllables_per_s"]), texture="mixed")
    return p


def _talk_synth(rng, p, sr, n):
    return _as_float32(_syllables(rng, {**p, "f0_hz": p["f0_hz_voice"]}, n, sr), n)


def _whisper_synth(rng, p, sr, n):
    return _as_float32(_syllables(rng, {**p, "f0_hz": p["f0_hz_voice"]}, n, sr, whisper=True), n)


def _whisper_params(rng, duration_s, sr):
    return _talk_params(rng, duration_s, sr)  # voiceless, but its vowels' formants keep it from "noisy"


def _sung_params(rng, duration_s, sr):
    p = _voice_common(rng)
    r = _SING_RANGES
    p.update(hummed=bool(rng.random() < 0.4), vibrato_hz=_uniform(rng, r["vibrato_hz"]),
             vibrato_cents=_uniform(rng, r["vibrato_cents"]), note_s_range=r["note_s"], texture="tonal")
    return p


def _sung_synth(rng, p, sr, n):
    """Held notes (a short melody) on one vowel each; hummed ones through a nasal /m/ shape (a low
    first formant, the upper ones damped), sung ones with vibrato on open vowels."""
    out = np.zeros(n)
    pos = int(_uniform(rng, (0.02, 0.1)) * sr)
    base = p["f0_hz_voice"]
    while pos < n:
        m = min(int(_uniform(rng, p["note_s_range"]) * sr), n - pos)
        semis = _choice(rng, (-5, -3, -2, 0, 0, 2, 3, 4, 5, 7))
        f0 = _f0_contour(rng, m, sr, base * 2 ** (semis / 12), True, p)
        src = _voiced_source(rng, f0, sr, p["tilt_db"] - (4.0 if p["hummed"] else 0.0))
        src += 10 ** ((p["aspiration_db"] + 10) / 20) * rng.standard_normal(m)  # breath in a held note
        if p["hummed"]:
            note = _filter(_formant_filter(src, sr, "u", p["formant_scale"]), sr, "lowpass", 3000.0, order=2)
        else:
            note = _formant_filter(src, sr, _choice(rng, ("a", "o", "e", "u", "i")), p["formant_scale"])
        out[pos:pos + m] += note * _fade(np.ones(m), sr, 0.04, 0.06)
        pos += m + int(_uniform(rng, (0.0, 0.08)) * sr)
    return _as_float32(out, n)


def _crowd_params(rng, duration_s, sr):
    r = _CROWD_RANGES
    voices = [dict(_talk_params(rng, duration_s, sr), gain_db=_uniform(rng, (-12.0, 0.0)))
              for _ in range(int(rng.integers(r["voices"][0], r["voices"][1] + 1)))]
    return {"voices": voices, "texture": "mixed"}


def _crowd_synth(rng, p, sr, n):
    out = np.zeros(n)
    for v in p["voices"]:
        out += 10 ** (v["gain_db"] / 20) * _syllables(rng, {**v, "f0_hz": v["f0_hz_voice"]}, n, sr)
    # a room: a little smear so the babble blends
    tail = np.exp(-np.arange(int(0.08 * sr)) / (0.02 * sr)) * rng.standard_normal(int(0.08 * sr))
    return _as_float32(out + 0.3 * signal.fftconvolve(out, tail / np.sqrt(np.sum(tail**2)), mode="full")[:n], n)


def _speaker_mentions(p: dict):
    from .phrases import Mention, _phrases

    word = {"male": ("a man", "a male speaker"), "female": ("a woman", "a female speaker")}[p["speaker"]]
    return [Mention("extra", _phrases([], [f"from {w}" for w in word]))]
