"""Pitch vocabulary and the random draws shared by the families: note names and MIDI
conversion, register ranges, round frequencies, and samplers for pitch, rhythm, note shape,
brightness and hit length.  Each returns part of a family's parameter dict.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

# ==========================================================================
# Pitch vocabulary
# ==========================================================================


NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def midi_to_hz(midi: float) -> float:
    """Equal-tempered frequency in Hz of a MIDI note number (A4 = 69 = 440 Hz)."""
    return float(440.0 * 2.0 ** ((midi - 69) / 12.0))


def hz_to_midi(hz: float) -> float:
    """Fractional MIDI note number of a frequency in Hz."""
    return float(69 + 12 * np.log2(hz / 440.0))


def note_name(midi: int) -> str:
    """Scientific pitch name of a MIDI note number, e.g. 69 -> 'A4'."""
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


# Register words are only used inside these ranges (Hz).  The gaps between
# them mean "low" and "mid" never describe nearly the same pitch.
TONE_REGISTERS = {"low": (40.0, 180.0), "mid": (220.0, 700.0), "high": (900.0, 4000.0)}

# Round numbers producers actually type ("a 440 Hz beep", "1 kHz tone").
COMMON_HZ = (
    50, 55, 60, 80, 100, 110, 120, 150, 200, 220, 250, 300, 400, 440, 500,
    600, 800, 880, 1000, 1200, 1500, 2000, 2500, 3000, 4000,
)


def _register_of(f0_hz: float, registers: Mapping[str, tuple[float, float]]) -> str | None:
    for name, (lo, hi) in registers.items():
        if lo <= f0_hz <= hi:
            return name
    return None


def _round_hz(hz: float) -> float:
    """Round to a number a person would write: 5 Hz steps below 100 Hz, 10 Hz
    below 1 kHz, 50 Hz above."""
    step = 5 if hz < 100 else 10 if hz < 1000 else 50
    return float(max(step, round(hz / step) * step))


def _sample_pitch(
    rng: np.random.Generator,
    lo_hz: float,
    hi_hz: float,
    sr: int,
    registers: Mapping[str, tuple[float, float]] = TONE_REGISTERS,
    modes: Sequence[str] = ("register", "note", "hz"),
) -> dict:
    """Draw a pitch and how the caption will name it.

    ``pitch_mode`` is "register" (continuous f0 inside a register range),
    "note" (an equal-tempered note, named like 'A4') or "hz" (a round
    number).  The register word is filled in whenever f0 lies in a range.
    """
    hi_hz = min(hi_hz, 0.3 * sr)  # keep a few partials below Nyquist
    mode = str(rng.choice(list(modes)))
    params: dict = {"pitch_mode": mode, "note": None}
    if mode == "register":
        usable = [
            (name, max(lo, lo_hz), min(hi, hi_hz))
            for name, (lo, hi) in registers.items()
            if min(hi, hi_hz) > max(lo, lo_hz) * 1.05
        ]
        name, lo, hi = usable[rng.integers(len(usable))]
        f0 = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    elif mode == "note":
        midi = int(rng.integers(int(np.ceil(hz_to_midi(lo_hz))), int(np.floor(hz_to_midi(hi_hz))) + 1))
        f0 = midi_to_hz(midi)
        params["note"] = note_name(midi)
    else:
        common = [h for h in COMMON_HZ if lo_hz <= h <= hi_hz]
        if common and rng.random() < 0.5:
            f0 = float(common[rng.integers(len(common))])
        else:
            f0 = _round_hz(float(np.exp(rng.uniform(np.log(lo_hz), np.log(hi_hz)))))
    params["f0_hz"] = f0
    params["pitch"] = _register_of(f0, registers)
    return params


# ==========================================================================
# Shared parameter samplers
# ==========================================================================


def _uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(*lo_hi))


def _choice(rng: np.random.Generator, options: Sequence):
    return options[int(rng.integers(len(options)))]


def _sample_rhythm(
    rng: np.random.Generator,
    duration_s: float,
    *,
    p_repeated: float = 0.5,
    fast_s: tuple[float, float] = (0.11, 0.2),
    slow_s: tuple[float, float] = (0.4, 0.7),
    tail_s: float = 0.12,
) -> dict:
    """Onset times for a single hit or an evenly spaced pattern.

    Returns ``rhythm`` ("single"/"repeated"), ``onsets_s`` and, for patterns,
    ``tempo`` ("fast"/"slow"), ``interval_s`` and ``n_hits``.  The first onset
    is 20-100 ms in: an onset at sample 0 would have no "before" to compare
    with, and the model should learn that sounds start near the beginning.
    """
    first = _uniform(rng, (0.02, 0.1))
    room = duration_s - tail_s - first
    if rng.random() < p_repeated and room > fast_s[0]:
        tempo = "fast" if rng.random() < 0.5 or room < 2 * slow_s[0] else "slow"
        interval = _uniform(rng, fast_s if tempo == "fast" else slow_s)
        n_hits = int(room // interval) + 1
        if n_hits >= 2:
            onsets = tuple(float(first + k * interval) for k in range(n_hits))
            return {
                "rhythm": "repeated", "tempo": tempo, "interval_s": interval, "n_hits": n_hits,
                "onsets_s": onsets,
            }
    return {"rhythm": "single", "onsets_s": (first,), "n_hits": 1}


ENVELOPES = ("steady", "fading", "swelling", "sharp")


def _sample_note_shape(rng: np.random.Generator, duration_s: float, *, allow_short: bool = True,
                       envelopes: Sequence[str] = ENVELOPES) -> dict:
    """Length and envelope of a single note that starts 10-40 ms in.

    Long notes (>= 1.2 s, only offered if the clip has room) are steady
    (held to the clip's end), fading, swelling or sharp-and-decaying; short
    notes (0.08-0.3 s) are sharp.  ``note_s`` is the note length in seconds.
    ``envelopes`` limits the long notes' shapes (a pad does not strike).
    """
    # 10-40 ms in: a sustained sound asked for as 0.5 s should sound for 90 % of it, not start 0.1 s late
    onset = _uniform(rng, (0.01, 0.04))
    room = duration_s - onset - 0.05
    if room >= 1.2 and (not allow_short or rng.random() < 0.7):
        envelope = _choice(rng, tuple(envelopes))
        # A steady long note is held to the end of the clip, its 15 ms release ending with it: a sustained
        # sound fills whatever length it is given (issue 20: it used to stop at 60-100 % of the clip).
        # Cut off at full level instead, the clip's last mel frames saw a click, and so did the model.
        note_s = duration_s - onset if envelope == "steady" else _uniform(rng, (max(1.2, 0.6 * room), room))
        p = {"length": "long", "envelope": envelope, "note_s": note_s, "onsets_s": (onset,)}
        if envelope == "sharp":
            # Decays over the whole note (reaching -30 to -40 dB at its end).
            p["decay_s"] = _uniform(rng, (1.5, 2.0)) * note_s
        if envelope == "swelling":
            p["swell_frac"] = _uniform(rng, (0.6, 0.9))
        return p
    note_s = _uniform(rng, (0.08, min(0.3, max(0.09, room))))
    return {"length": "short", "envelope": "sharp", "note_s": note_s, "onsets_s": (onset,)}


def _sample_brightness(rng: np.random.Generator, p_neutral: float = 0.2) -> str | None:
    """"bright", "dark", or None (in between; never mentioned)."""
    r = rng.random()
    if r < p_neutral:
        return None
    return "bright" if r < p_neutral + (1 - p_neutral) / 2 else "dark"


def _sample_hit_length(rng: np.random.Generator, short_s, long_s, rhythm: dict) -> dict:
    """Decay (T60, s) of a drum-like hit.  Length words are only used for
    single hits; patterns get decays that fit between the hits."""
    if rhythm["rhythm"] == "repeated":
        return {"decay_s": min(_uniform(rng, short_s), 0.9 * rhythm["interval_s"])}
    length = "short" if rng.random() < 0.5 else "long"
    return {"length": length, "decay_s": _uniform(rng, short_s if length == "short" else long_s)}
