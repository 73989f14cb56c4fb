"""Sound-effect families: whoosh, footsteps, heartbeat, clock ticking, bubbles,
glitch (parameter ranges, samplers and synths; registered in :data:`.families.FAMILIES`).
"""

from __future__ import annotations

import numpy as np

from .synth import (
    _as_float32, _fade, _filter, _moving_band_noise, _place, _resonator, _sine_from_freq,
    _square_from_freq, _t60_decay, _times,
)
from .params import _sample_rhythm, _uniform

# ------------------------------------------------------------ sound fx ---

_WHOOSH_RANGES = {
    "whoosh_s_short": (0.2, 0.38), "whoosh_s_long": (1.2, 2.2), "low_hz": (200.0, 500.0),
    "high_hz": (2000.0, 5000.0), "peak_at": (0.45, 0.65),
}


def _whoosh_params(rng, duration_s, sr):
    r = _WHOOSH_RANGES
    onset = _uniform(rng, (0.02, 0.1))
    room = duration_s - onset - 0.05
    length = "long" if room >= r["whoosh_s_long"][0] and rng.random() < 0.5 else "short"
    lo, hi = r["whoosh_s_" + length]
    return {
        "length": length, "note_s": _uniform(rng, (min(lo, room), min(hi, room))), "onsets_s": (onset,),
        "low_hz": _uniform(rng, r["low_hz"]), "high_hz": min(_uniform(rng, r["high_hz"]), 0.35 * sr),
        "peak_at": _uniform(rng, r["peak_at"]), "texture": "noisy",
    }


def _whoosh_synth(rng, p, sr, n):
    def whoosh(_):
        m = int(p["note_s"] * sr)
        u = np.arange(m) / max(1, m - 1)
        # Triangle in log-frequency and a raised-cosine bump in level, both
        # peaking at ``peak_at``: the sound passes by.
        closeness = np.where(u < p["peak_at"], u / p["peak_at"], (1 - u) / (1 - p["peak_at"]))
        centre = p["low_hz"] * (p["high_hz"] / p["low_hz"]) ** closeness
        level = np.sin(0.5 * np.pi * closeness) ** 2
        return _moving_band_noise(rng, m, sr, centre, width_oct=0.7) * level

    return _as_float32(_place(n, sr, p["onsets_s"], whoosh), n)


_STEP_RANGES = {
    "slow_interval_s": (0.45, 0.6), "fast_interval_s": (0.25, 0.33), "thud_hz": (200.0, 400.0),
    "scuff_hz": (1000.0, 3000.0),
}


def _steps_params(rng, duration_s, sr):
    r = _STEP_RANGES
    p = _sample_rhythm(rng, duration_s, p_repeated=1.0, fast_s=r["fast_interval_s"], slow_s=r["slow_interval_s"])
    p.update(
        thud_hz=_uniform(rng, r["thud_hz"]), scuff_hz=_uniform(rng, r["scuff_hz"]),
        texture="noisy", envelope="sharp",
    )
    return p


def _steps_synth(rng, p, sr, n):
    def step(_):
        m = int(0.2 * sr)
        t = _times(m, sr)
        thud = _filter(rng.standard_normal(m), sr, "lowpass", p["thud_hz"], order=2) * np.exp(-t / 0.025)
        band = [p["scuff_hz"] / 1.5, p["scuff_hz"] * 1.5]
        scuff = _filter(rng.standard_normal(m), sr, "bandpass", band) * np.exp(-t / 0.015)
        x = 3.0 * thud + 0.4 * scuff
        # Heel then toe, 20-35 ms apart: close enough to read as one step.
        toe = int(rng.uniform(0.02, 0.035) * sr)
        x[toe:] += 0.5 * x[: m - toe]
        return _fade(x * 10 ** (rng.uniform(-2, 2) / 20), sr, 0.001, 0.02)

    return _as_float32(_place(n, sr, p["onsets_s"], step), n)


_HEART_RANGES = {"bpm_slow": (50.0, 70.0), "bpm_fast": (110.0, 150.0), "thump_hz": (45.0, 65.0)}


def _heart_params(rng, duration_s, sr):
    r = _HEART_RANGES
    tempo = "fast" if rng.random() < 0.5 else "slow"
    bpm = _uniform(rng, r["bpm_" + tempo])
    period = 60.0 / bpm
    first = _uniform(rng, (0.02, 0.15))
    n_beats = max(1, int((duration_s - 0.3 - first) // period) + 1)
    return {
        "tempo": tempo, "bpm": bpm, "n_beats": n_beats,
        "beats_s": tuple(first + k * period for k in range(n_beats)),
        "dub_delay_s": min(0.3, 0.35 * period), "thump_hz": _uniform(rng, r["thump_hz"]), "rhythm": "repeated",
        "pitch": "low",
    }


def _heart_synth(rng, p, sr, n):
    def thump(level: float) -> np.ndarray:
        m = int(0.12 * sr)
        t = _times(m, sr)
        body = np.sin(2 * np.pi * p["thump_hz"] * t) * np.sin(np.pi * t / t[-1]) ** 2
        return level * body

    onsets = []
    for beat in p["beats_s"]:
        onsets += [beat, beat + p["dub_delay_s"]]
    hits = [thump(1.0), thump(0.6)]  # "lub" is louder than "dub"
    return _as_float32(_place(n, sr, onsets, lambda i: hits[i % 2]), n)


_CLOCK_RANGES = {"slow_interval_s": (0.5, 1.0), "fast_interval_s": (0.12, 0.25), "tick_hz": (2500.0, 4000.0)}


def _clock_params(rng, duration_s, sr):
    r = _CLOCK_RANGES
    p = _sample_rhythm(rng, duration_s, p_repeated=1.0, fast_s=r["fast_interval_s"], slow_s=r["slow_interval_s"])
    p.update(tick_hz=min(_uniform(rng, r["tick_hz"]), 0.35 * sr), envelope="sharp")
    return p


def _clock_synth(rng, p, sr, n):
    def tick(i):
        m = int(0.06 * sr)
        t = _times(m, sr)
        f = p["tick_hz"] * (1.0 if i % 2 == 0 else 0.85)  # tick ... tock
        click = rng.standard_normal(m) * np.exp(-t / 0.002)
        x = _resonator(click, sr, f, q=15) + 0.5 * np.sin(2 * np.pi * f * t) * np.exp(-t / 0.008)
        return _fade(x, sr, 0.0003, 0.005)

    return _as_float32(_place(n, sr, p["onsets_s"], tick), n)


_BUBBLE_RANGES = {
    "n_sparse": (4, 8), "n_dense": (25, 50), "f_hz": (300.0, 1200.0), "rise": (1.3, 1.8), "life_s": (0.03, 0.09),
}


def _bubbles_params(rng, duration_s, sr):
    r = _BUBBLE_RANGES
    density = "dense" if rng.random() < 0.5 else "sparse"
    lo, hi = r["n_" + density]
    count = int(rng.integers(lo, hi + 1))
    onsets = np.sort(rng.uniform(0.02, duration_s - 0.1, count))
    # Texture "mixed": each bubble is a sine, but it glides so fast that short
    # analysis frames see a smear, so "tonal" would not be measurably true.
    return {
        "density": density, "n_bubbles": count, "onsets_s": tuple(float(o) for o in onsets),
        "texture": "mixed", "rhythm": "repeated",
    }


def _bubbles_synth(rng, p, sr, n):
    r = _BUBBLE_RANGES

    def bubble(_):
        life = _uniform(rng, r["life_s"])
        m = int(life * sr)
        t = _times(m, sr)
        # A bubble's resonance rises as it nears the surface.
        freq = _uniform(rng, r["f_hz"]) * _uniform(rng, r["rise"]) ** (t / life)
        x = _sine_from_freq(freq, m, sr) * _t60_decay(m, sr, life)
        return _fade(x * rng.uniform(0.4, 1.0), sr, 0.001, 0.003)

    return _as_float32(_place(n, sr, p["onsets_s"], bubble), n)


_GLITCH_RANGES = {"slice_s": (0.03, 0.12), "repeats": (2, 6), "bits": (3, 6), "hold": (3, 12)}


def _glitch_params(rng, duration_s, sr):
    r = _GLITCH_RANGES
    return {
        "slice_s": _uniform(rng, r["slice_s"]), "bits": int(rng.integers(r["bits"][0], r["bits"][1] + 1)),
        # Texture "mixed": crushed square-wave fragments alternate with noise.
        "hold": int(rng.integers(r["hold"][0], r["hold"][1] + 1)), "texture": "mixed",
    }


def _glitch_synth(rng, p, sr, n):
    out = np.zeros(n)
    pos = int(0.02 * sr)
    while pos < n:
        m = int(p["slice_s"] * sr * rng.uniform(0.6, 1.4))
        source = rng.random()
        if source < 0.4:
            piece = _square_from_freq(_uniform(rng, (100.0, 2000.0)), m, sr, rng.random())
        elif source < 0.85:
            piece = rng.standard_normal(m) * 0.5
        else:
            piece = np.zeros(m)  # dropouts are part of the style
        for _ in range(int(rng.integers(*_GLITCH_RANGES["repeats"]))):  # stutter
            stop = min(n, pos + m)
            out[pos:stop] = piece[: stop - pos]
            pos = stop
            if pos >= n:
                break
    # Sample-rate reduction (hold every k-th sample) and bit crushing.
    held = np.repeat(out[:: p["hold"]], p["hold"])[:n]
    levels = 2 ** (p["bits"] - 1)
    crushed = np.round(np.clip(held, -1, 1) * levels) / levels
    return _as_float32(crushed, n)
