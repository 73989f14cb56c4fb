"""Drum families: kick, snare, hi-hats, clap, rim shot, tom (parameter ranges, samplers
and synths; registered in :data:`.families.FAMILIES`).
"""

from __future__ import annotations

import numpy as np

from .synth import _as_float32, _fade, _filter, _LN1000, _place, _square_from_freq, _t60_decay, _times
from .params import _sample_brightness, _sample_hit_length, _sample_pitch, _sample_rhythm, _uniform

# ---------------------------------------------------------------- drums ---

_KICK_RANGES = {
    "f_end_hz": (42.0, 65.0), "f_start_hz": (110.0, 220.0), "pitch_tau_s": (0.02, 0.05),
    "decay_s_short": (0.2, 0.4), "decay_s_long": (1.0, 1.8), "click_bright": (0.3, 0.6),
}


def _kick_params(rng, duration_s, sr):
    r = _KICK_RANGES
    p = _sample_rhythm(rng, duration_s, fast_s=(0.2, 0.3), slow_s=(0.45, 0.75))
    p.update(_sample_hit_length(rng, r["decay_s_short"], r["decay_s_long"], p))
    p.update(
        f_end_hz=_uniform(rng, r["f_end_hz"]), f_start_hz=_uniform(rng, r["f_start_hz"]),
        pitch_tau_s=_uniform(rng, r["pitch_tau_s"]), brightness=_sample_brightness(rng),
        envelope="sharp",
    )
    p["click"] = {"bright": _uniform(rng, r["click_bright"]), None: 0.1, "dark": 0.0}[p["brightness"]]
    return p


def _kick_synth(rng, p, sr, n):
    def hit(_):
        m = int(p["decay_s"] * sr)
        t = _times(m, sr)
        freq = p["f_end_hz"] + (p["f_start_hz"] - p["f_end_hz"]) * np.exp(-t / p["pitch_tau_s"])
        x = np.sin(2 * np.pi * np.cumsum(freq) / sr) * _t60_decay(m, sr, p["decay_s"])
        if p["click"] > 0:
            click = _filter(rng.standard_normal(m), sr, "highpass", 1500) * np.exp(-t / 0.004)
            x += p["click"] * click
        if p["brightness"] == "dark":
            x = _filter(x, sr, "lowpass", 180, order=2)
        return _fade(x, sr, 0.0005, 0.02)

    return _as_float32(_place(n, sr, p["onsets_s"], hit), n)


_SNARE_RANGES = {
    "body_hz": (170.0, 240.0), "decay_s_short": (0.15, 0.3), "decay_s_long": (1.0, 1.6),
    "bright_highpass_hz": (1500.0, 2500.0), "dark_lowpass_hz": (1800.0, 2800.0),
}


def _snare_params(rng, duration_s, sr):
    r = _SNARE_RANGES
    p = _sample_rhythm(rng, duration_s, fast_s=(0.14, 0.22), slow_s=(0.45, 0.75))
    p.update(_sample_hit_length(rng, r["decay_s_short"], r["decay_s_long"], p))
    p.update(body_hz=_uniform(rng, r["body_hz"]), brightness=_sample_brightness(rng), envelope="sharp")
    p["bright_highpass_hz"] = _uniform(rng, r["bright_highpass_hz"])
    p["dark_lowpass_hz"] = _uniform(rng, r["dark_lowpass_hz"])
    return p


def _snare_synth(rng, p, sr, n):
    def hit(_):
        m = int(p["decay_s"] * sr)
        t = _times(m, sr)
        body = np.sin(2 * np.pi * p["body_hz"] * (t + 0.01 * np.exp(-t / 0.01))) * _t60_decay(m, sr, 0.12)
        noise = rng.standard_normal(m) * _t60_decay(m, sr, p["decay_s"])
        if p["brightness"] == "bright":
            noise = _filter(noise, sr, "highpass", p["bright_highpass_hz"])
        elif p["brightness"] == "dark":
            noise = _filter(noise, sr, "bandpass", [200, p["dark_lowpass_hz"]])
        else:
            noise = _filter(noise, sr, "bandpass", [600, 6000])
        return _fade(0.5 * body + noise, sr, 0.0005, 0.02)

    return _as_float32(_place(n, sr, p["onsets_s"], hit), n)


# Ratios of the six square oscillators of the classic analogue hi-hat.
_HAT_PARTIALS = np.array([205.3, 304.4, 369.6, 522.7, 540.0, 800.0]) / 205.3

_HAT_RANGES = {
    "closed_decay_s": (0.04, 0.12), "open_decay_s_short": (0.3, 0.55), "open_decay_s_long": (1.0, 1.8),
    "metal_base_hz": (300.0, 450.0), "bright_highpass_frac_of_sr": 0.36, "dark_band_hz": (2500.0, 4800.0),
}


def _hat_params(open_hat: bool):
    def sample(rng, duration_s, sr):
        r = _HAT_RANGES
        if open_hat:
            p = _sample_rhythm(rng, duration_s, fast_s=(0.2, 0.3), slow_s=(0.45, 0.75))
            p.update(_sample_hit_length(rng, r["open_decay_s_short"], r["open_decay_s_long"], p))
        else:
            p = _sample_rhythm(rng, duration_s, p_repeated=0.6, fast_s=(0.1, 0.16), slow_s=(0.3, 0.5))
            p["decay_s"] = _uniform(rng, r["closed_decay_s"])
            if p["rhythm"] == "single":
                p["length"] = "short"
        p.update(
            brightness=_sample_brightness(rng), metal_base_hz=_uniform(rng, r["metal_base_hz"]), envelope="sharp"
        )
        return p

    return sample


def _hat_synth(rng, p, sr, n):
    m = int(p["decay_s"] * sr) + 1
    # The metallic partials are the same cymbal on every hit: render once.
    metal = sum(_square_from_freq(p["metal_base_hz"] * ratio, m, sr, rng.random()) for ratio in _HAT_PARTIALS)

    def hit(_):
        x = rng.standard_normal(m) + 0.3 * metal
        if p["brightness"] == "dark":
            x = _filter(x, sr, "bandpass", list(_HAT_RANGES["dark_band_hz"]), order=2)
        elif p["brightness"] == "bright":
            x = _filter(x, sr, "highpass", _HAT_RANGES["bright_highpass_frac_of_sr"] * sr, order=3)
        else:
            x = _filter(x, sr, "highpass", 0.25 * sr, order=2)
        return _fade(x * _t60_decay(m, sr, p["decay_s"]), sr, 0.0005, 0.005)

    return _as_float32(_place(n, sr, p["onsets_s"], hit), n)


_CLAP_RANGES = {
    "n_bursts": (3, 4), "burst_gap_s": (0.008, 0.012), "decay_s_short": (0.15, 0.3), "decay_s_long": (1.2, 1.8),
    "centre_bright_hz": (1800.0, 2500.0), "centre_dark_hz": (700.0, 1100.0), "centre_hz": (1100.0, 1600.0),
}


def _clap_params(rng, duration_s, sr):
    r = _CLAP_RANGES
    p = _sample_rhythm(rng, duration_s, fast_s=(0.16, 0.25), slow_s=(0.45, 0.75))
    p.update(_sample_hit_length(rng, r["decay_s_short"], r["decay_s_long"], p))
    p.update(brightness=_sample_brightness(rng), envelope="sharp")
    p["n_bursts"] = int(rng.integers(r["n_bursts"][0], r["n_bursts"][1] + 1))
    p["burst_gap_s"] = _uniform(rng, r["burst_gap_s"])
    key = {"bright": "centre_bright_hz", "dark": "centre_dark_hz", None: "centre_hz"}[p["brightness"]]
    p["centre_hz"] = _uniform(rng, r[key])
    return p


def _clap_synth(rng, p, sr, n):
    def hit(_):
        m = int((p["decay_s"] + p["n_bursts"] * p["burst_gap_s"]) * sr)
        t = _times(m, sr)
        env = np.zeros(m)
        for k in range(p["n_bursts"]):  # the flams of several hands, the first loudest
            shifted = t - k * p["burst_gap_s"]
            env += 0.7**k * np.where(shifted >= 0, np.exp(-np.maximum(shifted, 0) / 0.003), 0.0)
        tail_start = (p["n_bursts"] - 1) * p["burst_gap_s"]
        tail = np.exp(-_LN1000 * np.maximum(t - tail_start, 0) / p["decay_s"])
        env += 0.3 * np.where(t >= tail_start, tail, 0.0)
        x = rng.standard_normal(m) * env
        x = _filter(x, sr, "bandpass", [p["centre_hz"] / 1.6, p["centre_hz"] * 1.6])
        return _fade(x, sr, 0.0005, 0.01)

    return _as_float32(_place(n, sr, p["onsets_s"], hit), n)


_RIM_RANGES = {"tone_hz": (450.0, 560.0), "overtone_ratio": (3.2, 3.6), "decay_s": (0.05, 0.1)}


def _rim_params(rng, duration_s, sr):
    r = _RIM_RANGES
    p = _sample_rhythm(rng, duration_s, fast_s=(0.12, 0.2), slow_s=(0.4, 0.7))
    p.update(
        tone_hz=_uniform(rng, r["tone_hz"]), overtone_ratio=_uniform(rng, r["overtone_ratio"]),
        decay_s=_uniform(rng, r["decay_s"]), brightness=_sample_brightness(rng), envelope="sharp",
    )
    if p["rhythm"] == "single":
        p["length"] = "short"
    return p


def _rim_synth(rng, p, sr, n):
    def hit(_):
        m = int(0.15 * sr)
        t = _times(m, sr)
        env = _t60_decay(m, sr, p["decay_s"])
        overtone_level = {"bright": 0.8, None: 0.5, "dark": 0.1}[p["brightness"]]
        overtone_hz = p["tone_hz"] * p["overtone_ratio"]
        x = np.sin(2 * np.pi * p["tone_hz"] * t) + overtone_level * np.sin(2 * np.pi * overtone_hz * t)
        click = _filter(rng.standard_normal(m), sr, "highpass", 2000) * np.exp(-t / 0.002)
        x = x * env + (0.5 if p["brightness"] != "dark" else 0.0) * click
        return _fade(x, sr, 0.0005, 0.01)

    return _as_float32(_place(n, sr, p["onsets_s"], hit), n)


_TOM_REGISTERS = {"low": (70.0, 100.0), "mid": (120.0, 160.0), "high": (190.0, 260.0)}
_TOM_RANGES = {"f0_hz": _TOM_REGISTERS, "glide": 1.12, "decay_s_short": (0.3, 0.5), "decay_s_long": (1.1, 1.8)}


def _tom_params(rng, duration_s, sr):
    p = _sample_rhythm(rng, duration_s, fast_s=(0.15, 0.25), slow_s=(0.45, 0.75))
    p.update(_sample_hit_length(rng, _TOM_RANGES["decay_s_short"], _TOM_RANGES["decay_s_long"], p))
    p.update(_sample_pitch(rng, 70.0, 260.0, sr, registers=_TOM_REGISTERS, modes=("register",)))
    p.update(brightness=_sample_brightness(rng), envelope="sharp")
    return p


def _tom_synth(rng, p, sr, n):
    def hit(_):
        m = int(p["decay_s"] * sr)
        t = _times(m, sr)
        # A small, fast downward glide (12 %, 25 ms) like a real drum head.
        freq = p["f0_hz"] * (1 + (_TOM_RANGES["glide"] - 1) * np.exp(-t / 0.025))
        phase = 2 * np.pi * np.cumsum(freq) / sr
        # Second membrane mode at 1.59 x f0 (a circular drum head is
        # inharmonic), dying faster than the fundamental as on a real drum.
        x = np.sin(phase) * _t60_decay(m, sr, p["decay_s"])
        x += 0.2 * np.sin(1.59 * phase) * _t60_decay(m, sr, 0.4 * p["decay_s"])
        if p["brightness"] == "bright":
            x += 0.3 * _filter(rng.standard_normal(m), sr, "highpass", 1500) * np.exp(-t / 0.006)
        elif p["brightness"] == "dark":
            x = _filter(x, sr, "lowpass", 1.6 * p["f0_hz"], order=2)
        return _fade(x, sr, 0.0005, 0.02)

    return _as_float32(_place(n, sr, p["onsets_s"], hit), n)
