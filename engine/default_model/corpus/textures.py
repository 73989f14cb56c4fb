"""Noise and texture families: white/pink/brown noise, rain, wind, surf, rumble,
thunder, engine and mains hum (parameter ranges, samplers and synths; registered in
:data:`.families.FAMILIES`).
"""

from __future__ import annotations

import numpy as np

from .synth import (
    _as_float32, _coloured_noise, _fade, _filter, _harmonic_tone, _moving_band_noise, _note_envelope,
    _place, _resonator, _saw_from_freq, _smooth_random, _t60_decay, _times,
)
from .params import ENVELOPES, _choice, _sample_brightness, _sample_note_shape, TONE_REGISTERS, _uniform

# ---------------------------------------------------------------- noise ---


def _noise_params(colour: str):
    def sample(rng, duration_s, sr):
        # Brown noise's level wanders so much within 20 ms that a sharp onset cannot be told from a
        # fast fade-in: its long notes are never sharp, its short ones (sharp) do not claim it.
        p = _sample_note_shape(rng, duration_s, envelopes=ENVELOPES[:3] if colour == "brown" else ENVELOPES)
        p.update(noise_colour=colour, texture="noisy")
        if colour == "brown" and p["envelope"] == "sharp":
            p["envelope_shape"] = p.pop("envelope")
        return p

    return sample


_NOISE_EXPONENT = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def _noise_synth(rng, p, sr, n):
    def burst(_):
        m = int(p["note_s"] * sr)
        return _coloured_noise(rng, m, sr, _NOISE_EXPONENT[p["noise_colour"]]) * _note_envelope(p, m, sr)

    return _as_float32(_place(n, sr, p["onsets_s"], burst), n)


_RAIN_RANGES = {
    "drops_per_s_light": (15.0, 40.0), "drops_per_s_heavy": (200.0, 500.0),
    "bed_db_light": (-40.0, -30.0), "bed_db_heavy": (-14.0, -8.0), "drop_hz": (1500.0, 5000.0),
}


def _rain_params(rng, duration_s, sr):
    r = _RAIN_RANGES
    intensity = "heavy" if rng.random() < 0.5 else "light"
    return {
        "intensity": intensity, "drops_per_s": _uniform(rng, r["drops_per_s_" + intensity]),
        "bed_db": _uniform(rng, r["bed_db_" + intensity]), "texture": "noisy", "envelope": "steady",
    }


def _rain_synth(rng, p, sr, n):
    # Drops: Poisson impulses with random levels, rung through a few short
    # resonators at random pitches (each drop goes to one of them).
    n_drops = rng.poisson(p["drops_per_s"] * n / sr)
    out = np.zeros(n)
    positions = rng.integers(0, n, n_drops)
    levels = 10 ** (rng.uniform(-20, 0, n_drops) / 20)
    n_res = 4
    which = rng.integers(0, n_res, n_drops)
    for k in range(n_res):
        impulses = np.zeros(n)
        np.add.at(impulses, positions[which == k], levels[which == k])
        out += _resonator(impulses, sr, _uniform(rng, _RAIN_RANGES["drop_hz"]), q=_uniform(rng, (8.0, 20.0)))
    out /= np.max(np.abs(out)) + 1e-12
    bed = _filter(_coloured_noise(rng, n, sr, 0.7), sr, "highpass", 300)
    out += 10 ** (p["bed_db"] / 20) * bed / 3  # /3: noise peak is ~3x its RMS
    return _as_float32(_fade(out, sr, 0.05, 0.05), n)


_WIND_RANGES = {
    "centre_hz": (250.0, 900.0), "gust_rate_hz_gusty": (0.8, 1.5), "gust_rate_hz_steady": (0.2, 0.5),
    "depth_gusty": (0.8, 0.95), "depth_steady": (0.05, 0.15),
}


def _wind_params(rng, duration_s, sr):
    r = _WIND_RANGES
    gusts = "gusty" if rng.random() < 0.5 else "steady"
    return {
        "gusts": gusts, "centre_hz": _uniform(rng, r["centre_hz"]),
        "gust_rate_hz": _uniform(rng, r["gust_rate_hz_" + gusts]),
        "depth": _uniform(rng, r["depth_" + gusts]), "texture": "noisy",
    }


def _wind_synth(rng, p, sr, n):
    motion = _smooth_random(rng, n, sr, p["gust_rate_hz"], alternate=p["gusts"] == "gusty")
    centre = p["centre_hz"] * 2 ** (0.8 * motion * p["depth"])  # gusts also raise the pitch
    x = _moving_band_noise(rng, n, sr, centre, width_oct=0.6)
    x += 0.5 * _filter(_coloured_noise(rng, n, sr, 2.0), sr, "lowpass", 400)
    amp = 1 - p["depth"] * (0.5 - 0.5 * motion)  # in [1 - depth, 1]
    return _as_float32(_fade(x * amp, sr, 0.1, 0.1), n)


_SURF_RANGES = {"wave_period_s": (2.2, 4.0), "crash_s": (0.4, 0.9)}


def _surf_params(rng, duration_s, sr):
    r = _SURF_RANGES
    return {
        "wave_period_s": _uniform(rng, r["wave_period_s"]), "crash_s": _uniform(rng, r["crash_s"]),
        "wave_phase": float(rng.random()), "texture": "noisy",
    }


def _surf_synth(rng, p, sr, n):
    t = _times(n, sr)
    cycle = (t / p["wave_period_s"] + p["wave_phase"]) % 1.0
    # Each wave: slow build to the break at 60 % of the cycle, then wash out.
    wash_out = np.exp(-(cycle - 0.6) * p["wave_period_s"] / p["crash_s"])
    swell = np.where(cycle < 0.6, (cycle / 0.6) ** 2, wash_out)
    body = _coloured_noise(rng, n, sr, 1.6)
    foam = _filter(rng.standard_normal(n), sr, "highpass", 1500)
    x = (0.15 + swell) * body + 0.25 * swell**2 * foam
    return _as_float32(_fade(x, sr, 0.1, 0.1), n)


_RUMBLE_RANGES = {"cutoff_hz": (60.0, 150.0), "wobble_hz": (0.2, 1.0)}


def _rumble_params(rng, duration_s, sr):
    # a rumble has no attack to speak of
    p = _sample_note_shape(rng, duration_s, allow_short=False, envelopes=ENVELOPES[:3])
    p.update(
        cutoff_hz=_uniform(rng, _RUMBLE_RANGES["cutoff_hz"]),
        wobble_hz=_uniform(rng, _RUMBLE_RANGES["wobble_hz"]),
        pitch="low", texture="noisy",
    )
    return p


def _rumble_synth(rng, p, sr, n):
    def body(_):
        m = int(p["note_s"] * sr)
        x = _filter(_coloured_noise(rng, m, sr, 2.0), sr, "lowpass", p["cutoff_hz"], order=4)
        wobble = 1 + 0.3 * _smooth_random(rng, m, sr, p["wobble_hz"])
        return x * wobble * _note_envelope(p, m, sr)

    return _as_float32(_place(n, sr, p["onsets_s"], body), n)


_THUNDER_RANGES = {
    "rumble_t60_s": (1.5, 3.0), "crack_t60_s": (0.15, 0.4), "distant_attack_s": (0.3, 0.6),
    "close_cutoff_hz": 250.0, "distant_cutoff_hz": 120.0,
}


def _thunder_params(rng, duration_s, sr):
    r = _THUNDER_RANGES
    distance = "close" if rng.random() < 0.5 else "distant"
    p = {
        "distance": distance, "onsets_s": (_uniform(rng, (0.02, 0.15)),),
        "rumble_t60_s": _uniform(rng, r["rumble_t60_s"]), "texture": "noisy",
    }
    if distance == "close":
        p.update(crack_t60_s=_uniform(rng, r["crack_t60_s"]), envelope="sharp")
    else:
        p.update(attack_s=_uniform(rng, r["distant_attack_s"]))
    return p


def _thunder_synth(rng, p, sr, n):
    def strike(_):
        m = n
        t = _times(m, sr)
        close = p["distance"] == "close"
        cutoff = _THUNDER_RANGES["close_cutoff_hz" if close else "distant_cutoff_hz"]
        rumble = _filter(_coloured_noise(rng, m, sr, 2.0), sr, "lowpass", cutoff, order=2)
        rumble *= (1 + 0.4 * _smooth_random(rng, m, sr, 1.5)) * _t60_decay(m, sr, p["rumble_t60_s"])
        if close:
            crack = _filter(rng.standard_normal(m), sr, "highpass", 400) * _t60_decay(m, sr, p["crack_t60_s"])
            return _fade(0.6 * rumble + crack, sr, 0.001, 0.05)
        attack = 1 - np.exp(-t / (p["attack_s"] / 3))
        return _fade(rumble * attack, sr, 0.01, 0.05)

    return _as_float32(_place(n, sr, p["onsets_s"], strike), n)


# ------------------------------------------------------------- machines ---

_ENGINE_RANGES = {
    "f0_hz": (40.0, 120.0), "lowpass_x_f0": (6.0, 10.0), "noise_db": (-40.0, -30.0), "wander": 0.003,
}


def _engine_params(rng, duration_s, sr):
    r = _ENGINE_RANGES
    f0 = float(np.exp(rng.uniform(*np.log(r["f0_hz"]))))
    return {
        "f0_hz": f0, "pitch": "low" if f0 <= TONE_REGISTERS["low"][1] else None, "pitch_mode": "register",
        "lowpass_x_f0": _uniform(rng, r["lowpass_x_f0"]), "noise_db": _uniform(rng, r["noise_db"]),
        "envelope": "steady", "texture": "tonal",
    }


def _engine_synth(rng, p, sr, n):
    # Slight slow speed wander, as an idling engine never holds exactly still.
    freq = p["f0_hz"] * (1 + _ENGINE_RANGES["wander"] * _smooth_random(rng, n, sr, 0.5))
    saw = _saw_from_freq(freq, n, sr, rng.random())
    x = _filter(saw, sr, "lowpass", p["lowpass_x_f0"] * p["f0_hz"], order=2)
    x /= np.sqrt(np.mean(x**2)) + 1e-12
    noise = _filter(_coloured_noise(rng, n, sr, 1.0), sr, "lowpass", 2000)
    x += 10 ** (p["noise_db"] / 20) * noise
    return _as_float32(_fade(x, sr, 0.05, 0.05), n)


def _mains_params(rng, duration_s, sr):
    f0 = float(_choice(rng, (50.0, 60.0)))
    return {
        "f0_hz": f0, "pitch_mode": "hz", "pitch": "low", "note": None,
        "brightness": _sample_brightness(rng, p_neutral=0.0),
        "envelope": "steady", "texture": "tonal",
    }


def _mains_synth(rng, p, sr, n):
    k = np.arange(1, 41)
    if p["brightness"] == "bright":
        amps = np.where(k % 2 == 1, 1.0, 0.3) / k**0.6  # rectifier buzz: rich odd harmonics
    else:
        amps = np.where(k <= 3, 1.0 / k**2, 0.0)
    x = _harmonic_tone(p["f0_hz"], amps, n, sr, float(rng.random()))
    return _as_float32(_fade(x, sr, 0.05, 0.05), n)
