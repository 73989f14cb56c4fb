"""Pitched families: sine/square/saw tones, beeps and alarms, sweeps, siren, laser zap,
bells, chimes, plucked strings, pads and chords (parameter ranges, samplers and synths;
registered in :data:`.families.FAMILIES`).
"""

from __future__ import annotations

import numpy as np

from .synth import (
    _as_float32, _fade, _filter, _fm, _karplus_strong, _note_envelope, _oscillator, _place,
    _saw_from_freq, _sine_from_freq, _square_from_freq, _t60_decay, _times,
)
from .params import (
    ENVELOPES, _choice, hz_to_midi, midi_to_hz, NOTE_NAMES, _register_of, _sample_brightness, _sample_hit_length,
    _sample_note_shape, _sample_pitch, _sample_rhythm, TONE_REGISTERS, _uniform,
)

# ---------------------------------------------------------------- tones ---

_TONE_RANGES = {
    "f0_hz": (40.0, 4000.0), "note_s_short": (0.08, 0.3), "note_s_long": (1.2, 2.4),
    "dark_lowpass_x_f0": (1.3, 2.0), "neutral_lowpass_x_f0": (5.0, 8.0),
}


def _tone_params(waveform: str):
    def sample(rng, duration_s, sr):
        p = _sample_pitch(rng, *_TONE_RANGES["f0_hz"], sr)
        p.update(_sample_note_shape(rng, duration_s))
        p["waveform"] = waveform
        # Brightness only means something when there are harmonics to remove.
        if waveform != "sine" and p["f0_hz"] <= sr / 16:
            p["brightness"] = _sample_brightness(rng)
            key = "dark_lowpass_x_f0" if p["brightness"] == "dark" else "neutral_lowpass_x_f0"
            p["lowpass_x_f0"] = _uniform(rng, _TONE_RANGES[key])
        p["texture"] = _tone_texture(p["f0_hz"], p["note_s"])
        return p

    return sample


def _tone_texture(f0_hz: float, note_s: float) -> str:
    """A note is labelled tonal when it lasts at least 15 cycles; a 0.1 s
    blip at 55 Hz (5 cycles) is too short to be heard or measured as a
    pitched tone rather than a thump."""
    return "tonal" if f0_hz * note_s >= 15 else "mixed"


def _shape_tone(x: np.ndarray, p: dict, sr: int) -> np.ndarray:
    """Apply the brightness filter of a harmonic tone."""
    brightness = p.get("brightness")
    if brightness == "dark":
        return _filter(x, sr, "lowpass", p["lowpass_x_f0"] * p["f0_hz"], order=4)
    if brightness is None and "lowpass_x_f0" in p:
        return _filter(x, sr, "lowpass", p["lowpass_x_f0"] * p["f0_hz"], order=2)
    return x


def _tone_synth(rng, p, sr, n):
    def note(_):
        m = int(p["note_s"] * sr)
        x = _shape_tone(_oscillator(p["waveform"], p["f0_hz"], m, sr, rng), p, sr)
        return x * _note_envelope(p, m, sr)

    return _as_float32(_place(n, sr, p["onsets_s"], note), n)


_BEEP_RANGES = {"f0_hz": (250.0, 4000.0), "beep_s": (0.06, 0.3)}


def _beep_params(rng, duration_s, sr):
    p = _sample_pitch(rng, *_BEEP_RANGES["f0_hz"], sr, modes=("register", "note", "hz", "hz"))
    p.update(_sample_rhythm(rng, duration_s, fast_s=(0.12, 0.2), slow_s=(0.4, 0.7)))
    beep_max = _BEEP_RANGES["beep_s"][1] if p["rhythm"] == "single" else 0.6 * p["interval_s"]
    p.update(note_s=_uniform(rng, (_BEEP_RANGES["beep_s"][0], beep_max)), envelope="sharp")
    p["texture"] = _tone_texture(p["f0_hz"], p["note_s"])
    p["waveform"] = _choice(rng, ("sine", "sine", "square"))
    if p["rhythm"] == "single":
        p["length"] = "short"
    p["lowpass_x_f0"] = 3.0  # tames square beeps; harmless for sines
    p["brightness"] = None
    return p


_ALARM_RANGES = {
    "f0_hz": (800.0, 3500.0), "fast_interval_s": (0.1, 0.16), "slow_interval_s": (0.4, 0.7), "duty": (0.4, 0.6),
}


def _alarm_params(rng, duration_s, sr):
    r = _ALARM_RANGES
    p = _sample_pitch(rng, *r["f0_hz"], sr, modes=("register", "hz", "hz"))
    p.update(
        _sample_rhythm(rng, duration_s, p_repeated=1.0, fast_s=r["fast_interval_s"], slow_s=r["slow_interval_s"])
    )
    if p["rhythm"] == "single":  # clip too short for a pattern: still one beep
        p["interval_s"] = 0.3
    p.update(
        note_s=_uniform(rng, r["duty"]) * p["interval_s"], envelope="sharp", waveform="square", texture="tonal"
    )
    p["brightness"] = None
    return p


# -------------------------------------------------------- pitch movement ---

_NICE_SWEEP_HZ = (50, 60, 80, 100, 150, 200, 250, 300, 400, 500, 600, 800, 1000, 1500, 2000, 2500, 3000, 4000)
_SWEEP_RANGES = {
    "endpoints_hz": (50.0, 4000.0), "min_ratio": 2.0, "max_octaves_per_s": 10.0,
    "sweep_s_short": (0.15, 0.3), "sweep_s_long": (1.4, 2.3),
}


def _sweep_params(direction: str):
    def sample(rng, duration_s, sr):
        r = _SWEEP_RANGES
        onset = _uniform(rng, (0.02, 0.1))
        room = duration_s - onset - 0.05
        long_ok = room >= r["sweep_s_long"][0]
        length = "long" if long_ok and rng.random() < 0.5 else "short"
        lo, hi = r["sweep_s_" + length]
        # A long sweep spans the clip (issue 20: a 3 s riser that ends at 2 s is not what was asked for).
        sweep_s = duration_s - onset if length == "long" else _uniform(rng, (min(lo, room), min(hi, room)))
        # At most 10 octaves per second: faster than that, a pitch tracker
        # (or a listener) no longer follows the pitch; it is just a click.
        max_ratio = max(r["min_ratio"], 2 ** (r["max_octaves_per_s"] * sweep_s))
        nice = [h for h in _NICE_SWEEP_HZ if h <= 0.3 * sr]
        pairs = [(a, b) for a in nice for b in nice if r["min_ratio"] * a <= b <= max_ratio * a]
        a, b = pairs[int(rng.integers(len(pairs)))]
        start, end = (a, b) if direction == "rising" else (b, a)
        waveform = _choice(rng, ("sine", "saw"))
        # A short saw sweep smears its harmonics across the spectrum faster
        # than any analysis window can follow, and a short one dipping below
        # 100 Hz has too few cycles: neither is measurably tonal.
        short_ok = waveform == "sine" and min(a, b) >= 100
        texture = "tonal" if length == "long" or short_ok else "mixed"
        return {
            "sweep": direction, "sweep_start_hz": float(start), "sweep_end_hz": float(end),
            "note_s": sweep_s, "length": length, "onsets_s": (onset,),
            "waveform": waveform, "texture": texture,
        }

    return sample


def _sweep_synth(rng, p, sr, n):
    def note(_):
        m = int(p["note_s"] * sr)
        u = np.arange(m) / max(1, m - 1)
        # Exponential: a constant number of semitones per second.
        freq = p["sweep_start_hz"] * (p["sweep_end_hz"] / p["sweep_start_hz"]) ** u
        if p["waveform"] == "saw":
            x = _filter(_saw_from_freq(freq, m, sr), sr, "lowpass", 0.3 * sr, order=4)
        else:
            x = _sine_from_freq(freq, m, sr)
        return _fade(x, sr, 0.02, 0.03)

    return _as_float32(_place(n, sr, p["onsets_s"], note), n)


_SIREN_RANGES = {
    "centre_hz": (500.0, 1300.0), "depth_semitones": (3.0, 6.0),
    "slow_rate_hz": (0.3, 0.6), "fast_rate_hz": (3.0, 6.0),
}


def _siren_params(rng, duration_s, sr):
    r = _SIREN_RANGES
    tempo = "fast" if rng.random() < 0.5 else "slow"
    centre = _uniform(rng, r["centre_hz"])
    depth = _uniform(rng, r["depth_semitones"])
    lo, hi = centre * 2 ** (-depth / 12), centre * 2 ** (depth / 12)
    return {
        "tempo": tempo, "lfo_hz": _uniform(rng, r[tempo + "_rate_hz"]), "centre_hz": centre,
        "depth_semitones": depth, "f0_range_hz": (lo, hi), "pitch": _register_of(centre, TONE_REGISTERS),
        "lfo_phase": float(rng.random()), "waveform": _choice(rng, ("sine", "saw")), "texture": "tonal",
    }


def _siren_synth(rng, p, sr, n):
    t = _times(n, sr)
    lfo = np.sin(2 * np.pi * (p["lfo_hz"] * t + p["lfo_phase"]))
    freq = p["centre_hz"] * 2 ** (p["depth_semitones"] * lfo / 12)
    if p["waveform"] == "saw":
        x = _filter(_saw_from_freq(freq, n, sr), sr, "lowpass", 2.5 * p["centre_hz"], order=2)
    else:
        x = _sine_from_freq(freq, n, sr)
    return _as_float32(_fade(x, sr, 0.05, 0.05), n)


_ZAP_RANGES = {"start_hz": (1500.0, 3500.0), "end_hz": (100.0, 300.0), "zap_s": (0.15, 0.35)}


def _zap_params(rng, duration_s, sr):
    r = _ZAP_RANGES
    zap_s = _uniform(rng, r["zap_s"])
    fast_s, slow_s = (max(0.2, zap_s + 0.03), zap_s + 0.12), (zap_s + 0.25, zap_s + 0.5)
    p = _sample_rhythm(rng, duration_s, fast_s=fast_s, slow_s=slow_s)
    p.update(
        sweep="falling", sweep_start_hz=min(_uniform(rng, r["start_hz"]), 0.3 * sr),
        sweep_end_hz=_uniform(rng, r["end_hz"]),
        note_s=zap_s, waveform=_choice(rng, ("square", "saw")), envelope="sharp", texture="tonal",
    )
    return p


def _zap_synth(rng, p, sr, n):
    def zap(_):
        m = int(p["note_s"] * sr)
        u = np.arange(m) / max(1, m - 1)
        freq = p["sweep_start_hz"] * (p["sweep_end_hz"] / p["sweep_start_hz"]) ** u
        osc = _square_from_freq if p["waveform"] == "square" else _saw_from_freq
        x = _filter(osc(freq, m, sr, rng.random()), sr, "lowpass", 0.3 * sr, order=4)
        return _fade(x * _t60_decay(m, sr, 2.5 * p["note_s"]), sr, 0.002, 0.01)

    return _as_float32(_place(n, sr, p["onsets_s"], zap), n)


# ------------------------------------------------------- bells & strings ---

_BELL_RANGES = {
    "f0_hz": (250.0, 2100.0), "ratio": (1.0, 2.0, 3.0), "inharmonic_partial": (2.4, 2.76, 5.4),
    "index_bright": (3.0, 5.0), "index_dark": (0.4, 0.9),
    "decay_s_short": (0.3, 0.6), "decay_s_long": (1.5, 3.0),
}


def _bell_params(rng, duration_s, sr):
    r = _BELL_RANGES
    registers = {"mid": (250.0, 700.0), "high": (900.0, 2100.0)}
    p = _sample_pitch(rng, *r["f0_hz"], sr, registers=registers, modes=("note", "note", "register", "hz"))
    p.update(_sample_rhythm(rng, duration_s, p_repeated=0.3, fast_s=(0.2, 0.3), slow_s=(0.5, 0.8)))
    p.update(_sample_hit_length(rng, r["decay_s_short"], r["decay_s_long"], p))
    p.update(ratio=float(_choice(rng, r["ratio"])), envelope="sharp", texture="tonal")
    # FM side bands reach about fc + (index + 1) * fm; keep them under Nyquist.
    max_index = (0.45 * sr - p["f0_hz"]) / (p["ratio"] * p["f0_hz"]) - 1
    brightness = _sample_brightness(rng)
    if brightness == "bright" and max_index < r["index_bright"][0]:
        brightness = None
    p["brightness"] = brightness
    index_range = {"bright": r["index_bright"], "dark": r["index_dark"], None: (1.5, 2.5)}[brightness]
    p["index"] = float(max(0.2, min(_uniform(rng, index_range), max_index)))
    # The metallic partial is what makes a bell sound bright, so dark bells
    # get a quieter and lower one.
    partials = r["inharmonic_partial"][:2] if brightness == "dark" else r["inharmonic_partial"]
    p["partial"] = float(_choice(rng, partials))
    if brightness == "dark":  # a high modulator ratio puts side bands far up
        p["ratio"] = min(p["ratio"], 2.0)
    p["partial_level"] = 0.12 if brightness == "dark" else 0.35
    return p


def _bell_voice(
    f0: float, ratio: float, partial: float, partial_level: float, index: float, t60: float, m: int, sr: int
) -> np.ndarray:
    """FM bell: a harmonic FM core (so the strike note is the carrier, and
    measurable as the pitch) plus a quieter, faster-decaying inharmonic FM
    partial at ``partial`` x f0 for the metallic shimmer."""
    t = _times(m, sr)
    core = _fm(f0, ratio, index * np.exp(-t / (0.5 * t60)), m, sr) * _t60_decay(m, sr, t60)
    fp = f0 * partial
    if fp < 0.4 * sr:
        core += partial_level * _fm(fp, 1.0, 0.5 * np.exp(-t / 0.2), m, sr) * _t60_decay(m, sr, 0.5 * t60)
    return _fade(core, sr, 0.001, 0.02)


def _bell_synth(rng, p, sr, n):
    def strike(_):
        m = min(n, int(p["decay_s"] * sr))
        return _bell_voice(
            p["f0_hz"], p["ratio"], p["partial"], p["partial_level"], p["index"], p["decay_s"], m, sr
        )

    return _as_float32(_place(n, sr, p["onsets_s"], strike), n)


_CHIME_PENTATONIC = (0, 2, 4, 7, 9)
_CHIME_RANGES = {
    "midi": (72, 96), "n_strikes": (3, 8), "decay_s": (0.6, 1.5), "ratio": 3.5, "index": (0.8, 2.0),
}


def _chimes_params(rng, duration_s, sr):
    r = _CHIME_RANGES
    n_strikes = int(rng.integers(r["n_strikes"][0], r["n_strikes"][1] + 1))
    top = min(r["midi"][1], int(hz_to_midi(0.2 * sr)))
    notes = [m for m in range(r["midi"][0], top + 1) if m % 12 in _CHIME_PENTATONIC]
    onsets = np.sort(rng.uniform(0.02, max(0.1, 0.75 * duration_s), n_strikes))
    # Keep strikes at least 60 ms apart so each one is a distinct event.
    onsets = onsets[np.concatenate([[True], np.diff(onsets) > 0.06])]
    return {
        "onsets_s": tuple(float(o) for o in onsets),
        "notes_midi": tuple(int(_choice(rng, notes)) for _ in onsets),
        "decay_s": _uniform(rng, r["decay_s"]), "index": _uniform(rng, r["index"]), "pitch": "high",
        "rhythm": "repeated", "n_hits": len(onsets), "texture": "tonal",
    }


def _chimes_synth(rng, p, sr, n):
    def strike(i):
        m = min(n, int(p["decay_s"] * sr))
        f0 = midi_to_hz(p["notes_midi"][i])
        index = min(p["index"], max(0.2, (0.45 * sr - f0) / (3.5 * f0) - 1))
        level = rng.uniform(0.5, 1.0)
        return level * _bell_voice(f0, _CHIME_RANGES["ratio"], 2.76, 0.35, index, p["decay_s"], m, sr)

    return _as_float32(_place(n, sr, p["onsets_s"], strike), n)


_PLUCK_RANGES = {
    "f0_hz": (100.0, 700.0), "decay_s_short": (0.3, 0.6), "decay_s_long": (1.5, 3.0),
    "tilt_bright": (0.9, 1.2), "tilt_dark": (1.8, 2.4),
}


def _pluck_params(rng, duration_s, sr):
    r = _PLUCK_RANGES
    registers = {"low": (100.0, 180.0), "mid": (220.0, 700.0)}
    p = _sample_pitch(rng, *r["f0_hz"], sr, registers=registers, modes=("note", "note", "register", "hz"))
    p.update(_sample_rhythm(rng, duration_s, p_repeated=0.3, fast_s=(0.15, 0.25), slow_s=(0.45, 0.75)))
    p.update(_sample_hit_length(rng, r["decay_s_short"], r["decay_s_long"], p))
    if p["rhythm"] == "repeated":  # re-plucked strings ring on under the next pluck
        p["decay_s"] = _uniform(rng, r["decay_s_short"])
    brightness = _sample_brightness(rng, p_neutral=0.0)
    p.update(brightness=brightness, envelope="sharp", tilt=_uniform(rng, _PLUCK_RANGES["tilt_" + brightness]))
    # Short low plucks are mostly attack transient; only ringing ones are
    # measurably tonal.
    p["texture"] = "tonal" if p["decay_s"] >= 1.0 else "mixed"
    return p


def _pluck_synth(rng, p, sr, n):
    def pluck(_):
        m = min(n, int(p["decay_s"] * sr) + 1)
        x = _karplus_strong(rng, p["f0_hz"], p["decay_s"], p["tilt"], m, sr)
        if p["brightness"] == "dark":
            # The loop filter shapes a string's spectrum more than the pick
            # does, so a dark tone also needs an output low-pass.
            x = _filter(x, sr, "lowpass", 2.5 * p["f0_hz"], order=2)
        return _fade(x, sr, 0.0005, 0.02)

    return _as_float32(_place(n, sr, p["onsets_s"], pluck), n)


# ---------------------------------------------------------------- chords ---

_CHORD_INTERVALS = {"major": (0, 4, 7, 12), "minor": (0, 3, 7, 12)}
_PAD_RANGES = {
    "root_midi": (48, 62), "detune_cents": (4.0, 12.0), "cutoff_dark_hz": (450.0, 800.0),
    "cutoff_hz": (1200.0, 1800.0), "cutoff_bright_hz": (2500.0, 4500.0), "swell_frac": (0.6, 0.9),
}


def _chord_common(rng, sr) -> dict:
    r = _PAD_RANGES
    root = int(rng.integers(r["root_midi"][0], r["root_midi"][1] + 1))
    quality = _choice(rng, ("major", "minor"))
    brightness = _sample_brightness(rng)
    cutoff_key = {"dark": "cutoff_dark_hz", "bright": "cutoff_bright_hz", None: "cutoff_hz"}[brightness]
    cutoff = _uniform(rng, r[cutoff_key])
    return {
        "chord": quality, "root": NOTE_NAMES[root % 12], "root_midi": root, "root_hz": midi_to_hz(root),
        "brightness": brightness, "cutoff_hz": cutoff, "texture": "tonal",
    }


def _pad_params(rng, duration_s, sr):
    p = _chord_common(rng, sr)
    p.update(_sample_note_shape(rng, duration_s, allow_short=False, envelopes=ENVELOPES[:3]))  # pads do not strike
    if p["envelope"] == "swelling":
        p["swell_frac"] = _uniform(rng, _PAD_RANGES["swell_frac"])
    p["detune_cents"] = _uniform(rng, _PAD_RANGES["detune_cents"])
    return p


def _chord_voices(rng, p: dict, m: int, sr: int, detune_cents: float, waveform: str) -> np.ndarray:
    x = np.zeros(m)
    for interval in _CHORD_INTERVALS[p["chord"]]:
        f = midi_to_hz(p["root_midi"] + interval)
        for cents in (-detune_cents, detune_cents) if detune_cents else (0.0,):
            x += _oscillator(waveform, f * 2 ** (cents / 1200), m, sr, rng)
    return _filter(x, sr, "lowpass", p["cutoff_hz"], order=2)


def _pad_synth(rng, p, sr, n):
    def chord(_):
        m = int(p["note_s"] * sr)
        return _chord_voices(rng, p, m, sr, p["detune_cents"], "saw") * _note_envelope(p, m, sr)

    return _as_float32(_place(n, sr, p["onsets_s"], chord), n)


def _chord_params(rng, duration_s, sr):
    p = _chord_common(rng, sr)
    p.update(_sample_rhythm(rng, duration_s, p_repeated=0.4, fast_s=(0.25, 0.35), slow_s=(0.5, 0.8)))
    if p["rhythm"] == "single":
        p.update(_sample_note_shape(rng, duration_s))  # one chord: any length/envelope
        p["waveform"] = _choice(rng, ("organ", "square"))  # saw chords are the pad's job
    else:
        # Stabs: organ-like (few partials) so that even a 0.2 s chord is
        # measurably tonal; a dense saw chord that short reads as noise.
        interval = p["interval_s"]
        p.update(envelope="sharp", note_s=0.9 * interval, decay_s=0.7 * interval, waveform="organ")
    # A chord shorter than about a second blurs partials 50-70 Hz apart in
    # any analysis window, so it is only labelled tonal when held.
    p["texture"] = "tonal" if p.get("length") == "long" else "mixed"
    return p


def _chord_synth(rng, p, sr, n):
    m = int(p["note_s"] * sr)
    # Every stab of a pattern is the same chord: render it once.
    chord = _chord_voices(rng, p, m, sr, 0.0, p["waveform"]) * _note_envelope(p, m, sr)
    if p.get("rhythm") == "repeated":
        chord = _fade(chord, sr, 0.008, 0.015)  # a softer 8 ms attack: no click
    return _as_float32(_place(n, sr, p["onsets_s"], lambda _: chord), n)
