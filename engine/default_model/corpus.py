"""Captioned synthetic sound corpus for training the built-in default model.

Nothing here is stored as audio: every example is synthesised on demand from
an integer seed, so the corpus is reproducible, unlimited and tiny to ship.

How an example is made (``make_example``):

1. A :class:`Family` (kick, pink noise, FM bell, ...) is drawn from
   :data:`FAMILIES`; with probability ``mix_share`` a second, background
   family is drawn as well ("a kick drum with rain in the background").
2. The family samples a parameter dict.  The dict is the single source of
   truth: the synth function turns it into audio and the caption builder turns
   the same values into words, so every attribute a caption states (pitch,
   brightness, length, envelope, rhythm, texture, noise colour, sweep
   direction, chord quality, ...) is true of the audio by construction.  The
   test-suite re-measures them with :mod:`engine.descriptors`.
3. The caption is assembled from phrase banks with several paraphrases per
   attribute value, in random order and with a random subset of the optional
   attributes, so the model sees many wordings of the same facts.
4. Audio is mean-removed and peak-normalised to 0.5, matching AudioLDM's
   front-end preprocessing.

Parameters and captions come from a random stream separate from the audio's,
so :func:`make_caption` gives an example's caption and attributes without
synthesising it.  The ``texture`` attribute is "tonal" or "noisy" only where
:func:`engine.descriptors.noisiness` agrees robustly; short chord stabs,
short low plucks, fast saw sweeps, bubbles and glitches are "mixed".

Evaluation uses :func:`held_out_prompts`: prompts whose wording is never
produced by the training captions (each contains a term from
:data:`HELD_OUT_TERMS`, which no phrase bank uses), with machine-checkable
expectations.  :func:`check_expectations` and :func:`ordering_holds` turn
those expectations into pass/fail using the DSP descriptors.

All synthesis is NumPy/SciPy, works at any sample rate, and takes a few
milliseconds per 2.56 s example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
from scipy import signal

from .. import descriptors

__all__ = [
    "Example",
    "Family",
    "Noun",
    "FAMILIES",
    "BACKGROUND_FAMILIES",
    "FOREGROUND_FAMILIES",
    "HELD_OUT_TERMS",
    "make_example",
    "make_caption",
    "make_corpus",
    "example_seed",
    "synthesize",
    "held_out_prompts",
    "unseen_vocabulary_prompts",
    "is_training_caption",
    "training_phrases",
    "check_expectations",
    "ordering_holds",
    "ORDERINGS",
    "midi_to_hz",
    "note_name",
]

DEFAULT_SR = 16000
DEFAULT_DURATION_S = 2.56  # AudioLDM's 1024 mel frames at 16 kHz / 160 hop
DEFAULT_MIX_SHARE = 0.15
PEAK_LEVEL = 0.5  # AudioLDM front end: x - mean, then 0.5 * x / max|x|

_LN1000 = np.log(1000.0)  # exp(-ln(1000) t / T60) reaches -60 dB at T60

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

_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


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


def _format_hz(hz: float, rng: np.random.Generator) -> str:
    """Paraphrase a frequency: '440 Hz', '440Hz', '440 hertz', '1.5 kHz'."""
    if hz >= 1000 and rng.random() < 0.6:
        k = hz / 1000.0
        text = f"{k:g}"
        return str(rng.choice([f"{text} kHz", f"{text}kHz"]))
    n = int(round(hz))
    return str(rng.choice([f"{n} Hz", f"{n}Hz", f"{n} hertz"]))


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
# DSP building blocks (all return float64 arrays; families cast at the end)
# ==========================================================================


def _times(n: int, sr: int) -> np.ndarray:
    return np.arange(n) / sr


def _t60_decay(n: int, sr: int, t60_s: float) -> np.ndarray:
    """Exponential decay reaching -60 dB after ``t60_s`` seconds."""
    return np.exp(-_LN1000 * _times(n, sr) / t60_s)


@lru_cache(maxsize=512)
def _butter_sos(order: int, btype: str, cutoff: tuple[float, ...], sr: int) -> np.ndarray:
    # Cached: patterns of hits re-use the same filters many times per clip.
    wn = cutoff if btype in ("bandpass", "bandstop") else cutoff[0]
    return signal.butter(order, wn, btype=btype, fs=sr, output="sos")


def _filter(x: np.ndarray, sr: int, btype: str, cutoff, order: int = 2) -> np.ndarray:
    """Butterworth filter; cutoffs are clipped into (20 Hz, 0.45 * sr)."""
    cutoff = np.clip(np.atleast_1d(np.asarray(cutoff, dtype=float)), 20.0, 0.45 * sr)
    if btype == "bandpass" and cutoff[1] <= cutoff[0] * 1.05:
        cutoff = np.array([cutoff[0], cutoff[0] * 1.05])
    key = tuple(round(float(c), 3) for c in cutoff)
    return signal.sosfilt(_butter_sos(order, btype, key, int(sr)), x)


def _resonator(x: np.ndarray, sr: int, freq_hz: float, q: float) -> np.ndarray:
    """Two-pole resonant band-pass (rings for about q / (pi * f) seconds)."""
    b, a = signal.iirpeak(min(freq_hz, 0.45 * sr), q, fs=sr)
    return signal.lfilter(b, a, x)


def _coloured_noise(rng: np.random.Generator, n: int, sr: int, exponent: float) -> np.ndarray:
    """Noise with power spectral density proportional to 1/f**exponent.

    exponent 0 = white, 1 = pink (-3 dB/octave), 2 = brown (-6 dB/octave).
    Shaped exactly in the frequency domain; below 20 Hz the spectrum is held
    flat so brown noise does not drift.  Unit RMS.
    """
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    spectrum *= np.maximum(freqs, 20.0) ** (-exponent / 2.0)
    spectrum[0] = 0.0
    x = np.fft.irfft(spectrum, n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def _polyblep(phase: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Polynomial band-limited step correction for a unit ramp wrapping at 1."""
    out = np.zeros_like(phase)
    dt = np.broadcast_to(dt, phase.shape)
    lo = phase < dt
    u = phase[lo] / dt[lo]
    out[lo] = u + u - u * u - 1.0
    hi = phase > 1.0 - dt
    u = (phase[hi] - 1.0) / dt[hi]
    out[hi] = u * u + u + u + 1.0
    return out


def _saw_from_freq(freq_hz, n: int, sr: int, phase0: float = 0.0) -> np.ndarray:
    """PolyBLEP sawtooth for a constant or per-sample frequency (Hz)."""
    freq = np.broadcast_to(np.asarray(freq_hz, dtype=float), (n,))
    dt = freq / sr
    phase = (phase0 + np.cumsum(dt) - dt[0]) % 1.0
    return 2.0 * phase - 1.0 - _polyblep(phase, dt)


def _square_from_freq(freq_hz, n: int, sr: int, phase0: float = 0.0) -> np.ndarray:
    """PolyBLEP square: the difference of two saws half a cycle apart."""
    return 0.5 * (
        _saw_from_freq(freq_hz, n, sr, phase0) - _saw_from_freq(freq_hz, n, sr, phase0 + 0.5)
    )


def _sine_from_freq(freq_hz, n: int, sr: int, phase0: float = 0.0) -> np.ndarray:
    freq = np.broadcast_to(np.asarray(freq_hz, dtype=float), (n,))
    return np.sin(2 * np.pi * (phase0 + np.cumsum(freq) / sr - freq[0] / sr))


def _harmonic_tone(f0_hz: float, amps: np.ndarray, n: int, sr: int, phase0: float) -> np.ndarray:
    """Additive tone with harmonic k at amplitude ``amps[k-1]``; harmonics at
    or above 0.45 * sr are dropped, so the result is alias-free."""
    k_max = min(len(amps), int(0.45 * sr / f0_hz))
    base = np.exp(1j * (2 * np.pi * f0_hz * _times(n, sr) + 2 * np.pi * phase0))
    out = np.zeros(n)
    power = np.ones(n, dtype=complex)
    for k in range(k_max):
        power *= base  # base**(k+1) by repeated multiplication: cheaper than sin()
        out += amps[k] * power.imag
    return out


def _oscillator(waveform: str, f0_hz: float, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Constant-pitch 'sine' / 'organ' / 'square' / 'saw', random start phase.

    High notes (few harmonics below Nyquist) are built additively, low notes
    with PolyBLEP; both keep aliasing far enough down that the f0 stays
    unambiguous.
    """
    phase0 = float(rng.random())
    if waveform == "sine":
        return np.sin(2 * np.pi * (f0_hz * _times(n, sr) + phase0))
    if waveform == "organ":  # a few drawbar-like partials
        return _harmonic_tone(f0_hz, np.array([1.0, 0.5, 0.3, 0.2]), n, sr, phase0)
    n_harm = int(0.45 * sr / f0_hz)
    if n_harm <= 24:
        k = np.arange(1, n_harm + 1)
        if waveform == "square":
            amps = np.where(k % 2 == 1, 1.0 / k, 0.0) * (4 / np.pi)
        else:
            amps = (2 / np.pi) / k
        return _harmonic_tone(f0_hz, amps, n, sr, phase0)
    if waveform == "square":
        return _square_from_freq(f0_hz, n, sr, phase0)
    return _saw_from_freq(f0_hz, n, sr, phase0)


def _fade(x: np.ndarray, sr: int, fade_in_s: float = 0.005, fade_out_s: float = 0.01) -> np.ndarray:
    """Raised-cosine fades so that segments start and end without clicks."""
    n = len(x)
    for length_s, sl in ((fade_in_s, slice(None)), (fade_out_s, slice(None, None, -1))):
        m = min(n, max(1, int(length_s * sr)))
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(m) / m)
        view = x[sl]
        view[:m] *= ramp
    return x


def _place(n: int, sr: int, onsets_s: Sequence[float], make_hit: Callable[[int], np.ndarray]) -> np.ndarray:
    """Overlap-add ``make_hit(i)`` at each onset; hits are cut at the clip end."""
    out = np.zeros(n)
    for i, onset in enumerate(onsets_s):
        start = int(round(onset * sr))
        if start >= n:
            continue
        hit = make_hit(i)
        m = min(len(hit), n - start)
        out[start : start + m] += hit[:m]
    return out


def _note_envelope(p: dict, n_note: int, sr: int) -> np.ndarray:
    """Amplitude envelope of a note according to ``p['envelope']`` (or
    ``p['envelope_shape']`` when the shape is used but not claimed).

    * sharp: 2 ms attack, exponential decay with T60 ``p['decay_s']`` (short
      notes instead hold and release in 15 ms);
    * steady: 15 ms raised-cosine fades;
    * fading: 10 ms attack, then a straight line in dB down to -45 dB at the
      end of the note;
    * swelling: a straight line in dB from -45 dB up to full level over
      ``p['swell_frac']`` of the note, then hold and a 30 ms release.
    """
    kind = p.get("envelope", p.get("envelope_shape"))
    u = np.arange(n_note) / max(1, n_note - 1)
    if kind == "sharp":
        env = _t60_decay(n_note, sr, p["decay_s"]) if "decay_s" in p else np.ones(n_note)
        return _fade(env, sr, 0.002, 0.015)
    if kind == "steady":
        return _fade(np.ones(n_note), sr, 0.015, 0.015)
    if kind == "fading":
        return _fade(10 ** (-45 * u / 20), sr, 0.01, 0.01)
    if kind == "swelling":
        frac = p.get("swell_frac", 0.8)
        env = 10 ** (-45 * np.clip(1 - u / frac, 0, 1) / 20)
        return _fade(env, sr, 0.01, 0.03)
    raise ValueError(f"unknown envelope {kind!r}")


def _moving_band_noise(
    rng: np.random.Generator, n: int, sr: int, centre_hz: np.ndarray, width_oct: float = 0.8
) -> np.ndarray:
    """Noise whose pass band follows ``centre_hz`` (per-sample, Hz).

    A time-varying filter is approximated by cross-fading a bank of fixed
    half-octave bands with Gaussian weights around the current centre: cheap,
    click-free and good enough for wind and whooshes.
    """
    band_centres = np.geomspace(100.0, 0.4 * sr, int(np.log2(0.4 * sr / 100.0) * 2) + 1)
    white = rng.standard_normal(n)
    # The centre moves slowly, so band weights are computed every 32 samples
    # and interpolated: an exp() per sample per band would dominate the cost.
    coarse = np.arange(0, n + 32, 32)
    log_centre = np.log2(np.maximum(np.interp(coarse, np.arange(n), centre_hz), 20.0))
    out = np.zeros(n)
    for fc in band_centres:
        coarse_weight = np.exp(-0.5 * ((np.log2(fc) - log_centre) / width_oct) ** 2)
        if coarse_weight.max() < 1e-3:
            continue
        weight = np.interp(np.arange(n), coarse, coarse_weight)
        band = _filter(white, sr, "bandpass", [fc / 2**0.25, fc * 2**0.25], order=1)
        out += weight * band
    return out


def _smooth_random(
    rng: np.random.Generator, n: int, sr: int, rate_hz: float, alternate: bool = False
) -> np.ndarray:
    """Smooth random curve in [-1, 1] through ``rate_hz`` random knots per
    second.  With ``alternate`` the knots swing between high (0.5..1) and low
    (-1..-0.5) values, so the curve is guaranteed to move."""
    n_knots = max(2, int(np.ceil(n / sr * rate_hz)) + 2)
    knots = rng.uniform(-1, 1, n_knots)
    if alternate:
        knots = np.abs(knots) * 0.5 + 0.5
        knots[int(rng.integers(2)) :: 2] *= -1
    x = np.linspace(0, n_knots - 1, n)
    i = np.minimum(x.astype(int), n_knots - 2)
    frac = x - i
    w = 0.5 - 0.5 * np.cos(np.pi * frac)  # cosine interpolation: no corners
    return knots[i] * (1 - w) + knots[i + 1] * w


def _fm(fc: float, ratio: float, index: np.ndarray, n: int, sr: int) -> np.ndarray:
    """Two-operator FM: sin(2 pi fc t + I(t) sin(2 pi ratio fc t))."""
    t = _times(n, sr)
    return np.sin(2 * np.pi * fc * t + index * np.sin(2 * np.pi * fc * ratio * t))


def _karplus_strong(
    rng: np.random.Generator, f0_hz: float, t60_s: float, tilt: float, n: int, sr: int
) -> np.ndarray:
    """Karplus-Strong plucked string.

    y[k] = x[k] + rho/2 (y[k-N] + y[k-N-1]): a delay line of N samples
    closed by a two-point average (half a sample of extra delay, so the pitch
    is sr / (N + 0.5)).  Because the feedback reaches back at least N
    samples, a whole block of N samples can be computed at once.

    The excitation is one period whose harmonic k has amplitude k**-tilt and
    a random phase (small tilt = bright pick).  The textbook white-noise
    burst instead puts most of its energy in treble that dies within a few
    milliseconds, so the "pluck" would mostly be a click 15 dB above the
    string tone that follows.
    """
    period = max(2, int(round(sr / f0_hz - 0.5)))
    # Loop gain per period so that the fundamental decays by 60 dB in t60_s:
    # rho * |cos(pi f0 / sr)| raised to (t60_s * f0) periods equals 1e-3.
    loop_gain = 10 ** (-3.0 / (t60_s * f0_hz))
    rho = min(0.9999, loop_gain / max(np.cos(np.pi * f0_hz / sr), 1e-3))
    k = np.arange(1, period // 2 + 1)
    spectrum = np.zeros(period // 2 + 1, dtype=complex)
    spectrum[1:] = k**-tilt * np.exp(2j * np.pi * rng.random(len(k)))
    burst = np.fft.irfft(spectrum, period)
    burst /= np.max(np.abs(burst)) + 1e-12
    y = np.zeros(n + 1)  # y[0] is a zero "previous sample" for the first block
    y[1 : period + 1] = burst[: min(period, n)]
    for start in range(period + 1, n + 1, period):
        stop = min(start + period, n + 1)
        m = stop - start
        back = start - period
        y[start:stop] = 0.5 * rho * (y[back : back + m] + y[back - 1 : back - 1 + m])
    return y[1:]


def _active_rms(x: np.ndarray, sr: int) -> float:
    """RMS over the frames within 30 dB of the loudest: the level of the sound
    while it sounds, independent of how much silence surrounds it."""
    env = descriptors.envelope(x, sr)
    if env.max() <= 0:
        return 0.0
    active = env >= env.max() * 10 ** (-30 / 20)
    return float(np.sqrt(np.mean(env[active] ** 2)))


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


def _sample_note_shape(rng: np.random.Generator, duration_s: float, *, allow_short: bool = True) -> dict:
    """Length and envelope of a single note that starts 20-100 ms in.

    Long notes (>= 1.2 s, only offered if the clip has room) are steady,
    fading, swelling or sharp-and-decaying; short notes (0.08-0.3 s) are
    sharp.  ``note_s`` is the note length in seconds.
    """
    onset = _uniform(rng, (0.02, 0.1))
    room = duration_s - onset - 0.05
    if room >= 1.2 and (not allow_short or rng.random() < 0.7):
        note_s = _uniform(rng, (max(1.2, 0.6 * room), room))
        envelope = _choice(rng, ("steady", "fading", "swelling", "sharp"))
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


# ==========================================================================
# Families
# ==========================================================================


@dataclass(frozen=True)
class Noun:
    """One way to name a family's sound.  ``mass`` nouns ("rain", "white
    noise") take no article and have no plural."""

    singular: str
    plural: str = ""
    mass: bool = False

    def form(self, plural: bool) -> str:
        if self.mass or not plural:
            return self.singular
        return self.plural or self.singular + "s"


@dataclass(frozen=True)
class Mention:
    """Candidate phrases expressing one attribute.  Slots: "pre" (adjective
    before the noun), "post" (clause after it), "count" (number word; makes
    the noun plural), "plural_pre" (adjective that makes the noun plural)."""

    key: str
    options: tuple[tuple[str, str], ...]  # (slot, text)
    required: bool = False


@dataclass(frozen=True)
class Family:
    """A kind of sound: how to draw its parameters, synthesise it and name it.

    ``param_ranges`` documents the numeric ranges the sampler draws from
    (seconds, Hz, dB); ``sample_params(rng, duration_s, sr)`` returns the
    parameter dict; ``synth(rng, params, sr, n_samples)`` returns float32
    audio of exactly ``n_samples``; ``mentions(params)`` adds family-specific
    phrases (chord names, rain intensity, ...) to the shared attribute
    phrases.  ``role`` says whether it can be the main sound or the
    background of a mix; ``kind`` ("hit", "tone" or "texture") selects
    wording such as "hit once" vs "played once".
    """

    name: str
    nouns: tuple[Noun, ...]
    param_ranges: Mapping[str, object]
    sample_params: Callable[[np.random.Generator, float, int], dict]
    synth: Callable[[np.random.Generator, dict, int, int], np.ndarray]
    kind: str = "hit"
    texture: str = "mixed"  # "tonal" | "noisy" | "mixed"
    role: str = "foreground"  # "foreground" | "background"
    mentions: Callable[[dict], list[Mention]] | None = None
    generic_rhythm: bool = True  # use the shared single/repeated phrases
    mention_texture: bool = False


def _as_float32(x: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    m = min(n, len(x))
    out[:m] = x[:m]
    return out


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
        sweep_s = _uniform(rng, (min(lo, room), min(hi, room)))
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


# ---------------------------------------------------------------- noise ---


def _noise_params(colour: str):
    def sample(rng, duration_s, sr):
        p = _sample_note_shape(rng, duration_s)
        p.update(noise_colour=colour, texture="noisy")
        if colour == "brown" and p["envelope"] == "sharp":
            # Brown noise's level wanders so much within 20 ms that a sharp
            # onset cannot be told from a fast fade-in; do not claim one.
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
    p = _sample_note_shape(rng, duration_s, allow_short=False)
    p.update(
        cutoff_hz=_uniform(rng, _RUMBLE_RANGES["cutoff_hz"]),
        wobble_hz=_uniform(rng, _RUMBLE_RANGES["wobble_hz"]),
        pitch="low", texture="noisy",
    )
    if p["envelope"] == "sharp":  # a rumble has no attack to speak of
        p["envelope"] = "steady"
        p.pop("decay_s", None)
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
    p.update(_sample_note_shape(rng, duration_s, allow_short=False))
    if p["envelope"] == "sharp":  # pads do not strike
        p["envelope"] = "steady"
        p.pop("decay_s", None)
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


# ==========================================================================
# Phrase banks
# ==========================================================================

Phrases = tuple[tuple[str, str], ...]  # (slot, text) pairs; see Mention


def _phrases(pre: Sequence[str] = (), post: Sequence[str] = ()) -> Phrases:
    """Adjectives that go before the noun and clauses that go after it."""
    return tuple(("pre", t) for t in pre) + tuple(("post", t) for t in post)


_PITCH_PHRASES = {
    "low": _phrases(["low", "low-pitched", "bassy"], ["in a low register", "with a low pitch"]),
    "mid": _phrases(["mid-range", "mid-pitched"], ["in the middle register", "at a medium pitch"]),
    "high": _phrases(["high", "high-pitched"], ["in a high register", "with a high pitch"]),
}
_NOTE_PHRASES = _phrases(["{note}"], ["at {note}", "tuned to {note}", "playing {note}", "on the note {note}"])
_HZ_PHRASES = _phrases(["{hz}"], ["at {hz}", "of {hz}", "with a frequency of {hz}"])
_BRIGHTNESS_PHRASES = {
    "bright": _phrases(["bright", "crisp", "brilliant"], ["with a bright tone", "with lots of high end"]),
    "dark": _phrases(["dark", "muffled", "dull", "mellow", "low-passed"],
                     ["with a dark tone", "with the highs rolled off"]),
}
_LENGTH_PHRASES = {
    "hit": {
        "short": _phrases(["short", "tight", "brief"], ["with a short decay", "that ends quickly"]),
        "long": _phrases(["long", "long-decaying"],
                         ["with a long decay", "with a long tail", "that rings out"]),
    },
    "tone": {
        "short": _phrases(["short", "brief"], ["lasting a fraction of a second", "that stops quickly"]),
        "long": _phrases(["long", "long-held"], ["held for a long time", "that goes on for a while"]),
    },
}
_LENGTH_PHRASES["texture"] = _LENGTH_PHRASES["tone"]
_ENVELOPE_PHRASES = {
    "sharp": _phrases(["punchy", "snappy", "percussive"],
                      ["with a sharp attack", "with a fast attack", "with a hard transient"]),
    "fading": _phrases(["fading", "decaying"],
                       ["that fades out", "fading away", "that slowly dies away", "with a fade-out"]),
    "swelling": _phrases(["swelling"], ["that swells up", "that fades in", "growing louder",
                                        "with a slow fade-in", "getting louder"]),
    "steady": _phrases(["steady", "constant"], ["at a constant volume", "held steady"]),
}
_SINGLE_PHRASES = {
    "hit": _phrases(["single", "lone", "isolated"], ["hit once", "played once", "just once"]),
    "tone": _phrases(["single", "lone"], ["played once", "just once"]),
}
_REPEATED_PHRASES = (
    ("count", "{n}"), ("plural_pre", "repeated"), ("plural_pre", "repeating"),
    *_phrases(post=["played {n} times", "{n} times in a row", "over and over", "in a steady rhythm"]),
)
_TEMPO_PHRASES = {
    "fast": _phrases(["fast", "rapid"], ["at a fast tempo", "in quick succession", "at a fast pace"]),
    "slow": _phrases(["slow"], ["at a slow tempo", "at a slow pace", "with long gaps in between"]),
}
_TEXTURE_PHRASES = {
    "tonal": _phrases(["pure", "clean", "tonal"]),
    "noisy": _phrases(["noisy", "hissy", "grainy"]),
}

# Order of pre-noun modifiers ("four fast short bright pure fading low 220 Hz saw tones").
_PRE_ORDER = (
    "rhythm", "tempo", "density", "intensity", "distance", "gusts", "length", "brightness",
    "texture", "envelope", "sweep", "pitch", "chord", "extra",
)


def _standard_mentions(fam: Family, p: dict, rng: np.random.Generator) -> list[Mention]:
    """Mentions for the attributes shared by many families."""
    out: list[Mention] = []
    kind = fam.kind
    if p.get("f0_hz") is not None and fam.name not in ("engine_hum",):
        mode = p.get("pitch_mode")
        # A pitch drawn as a note or a round Hz value is drawn to be named: always say it. (Optional,
        # it was named in 4 captions of 10, and a named pitch was in only 7 % of the corpus.)
        if mode == "note" and p.get("note"):
            out.append(Mention("pitch", tuple((s, t.format(note=p["note"])) for s, t in _NOTE_PHRASES), True))
        elif mode == "hz":
            hz = _format_hz(p["f0_hz"], rng)
            out.append(Mention("pitch", tuple((s, t.format(hz=hz)) for s, t in _HZ_PHRASES), True))
        elif p.get("pitch"):
            out.append(Mention("pitch", _PITCH_PHRASES[p["pitch"]]))
    elif p.get("pitch"):
        out.append(Mention("pitch", _PITCH_PHRASES[p["pitch"]]))
    if p.get("brightness") in _BRIGHTNESS_PHRASES:
        out.append(Mention("brightness", _BRIGHTNESS_PHRASES[p["brightness"]]))
    if p.get("length") in ("short", "long"):
        out.append(Mention("length", _LENGTH_PHRASES[kind][p["length"]]))
    if p.get("envelope") in _ENVELOPE_PHRASES:
        out.append(Mention("envelope", _ENVELOPE_PHRASES[p["envelope"]]))
    if fam.generic_rhythm and p.get("rhythm") == "single":
        out.append(Mention("rhythm", _SINGLE_PHRASES["hit" if kind == "hit" else "tone"]))
    if fam.generic_rhythm and p.get("rhythm") == "repeated":
        n_hits = p["n_hits"]
        options = [
            (s, t) for s, t in _REPEATED_PHRASES if "{n}" not in t or n_hits <= 8
        ]
        number = _NUMBER_WORDS.get(n_hits, str(n_hits)) if rng.random() < 0.7 else str(n_hits)
        out.append(Mention("rhythm", tuple((s, t.format(n=number)) for s, t in options)))
    if p.get("tempo") in _TEMPO_PHRASES and fam.generic_rhythm:
        out.append(Mention("tempo", _TEMPO_PHRASES[p["tempo"]]))
    if fam.mention_texture and p.get("texture") in _TEXTURE_PHRASES:
        out.append(Mention("texture", _TEXTURE_PHRASES[p["texture"]]))
    return out


def _sweep_mentions(p: dict) -> list[Mention]:
    if p["sweep"] == "rising":
        words = _phrases(["rising", "upward", "ascending"],
                         ["sweeping up", "going up in pitch", "rising in pitch"])
    else:
        words = _phrases(["falling", "downward", "descending"],
                         ["sweeping down", "going down in pitch", "dropping in pitch"])
    return [Mention("sweep", words, required=True)]


def _sweep_range_mention(p: dict) -> list[Mention]:
    def fmt(hz: float) -> str:
        return f"{hz / 1000:g} kHz" if hz >= 1000 else f"{int(hz)} Hz"

    text = f"from {fmt(p['sweep_start_hz'])} to {fmt(p['sweep_end_hz'])}"
    return _sweep_mentions(p) + [Mention("extra", _phrases(post=[text]))]


def _zap_mentions(p: dict) -> list[Mention]:
    return [Mention("sweep", _phrases(["falling", "downward"], ["dropping in pitch", "sweeping down"]))]


def _siren_mentions(p: dict) -> list[Mention]:
    if p["tempo"] == "fast":
        words = _phrases(["fast", "yelping"], ["wobbling quickly", "with a fast warble"])
    else:
        words = _phrases(["slow", "wailing"], ["rising and falling slowly", "with a slow wail"])
    return [Mention("tempo", words)]


def _rain_mentions(p: dict) -> list[Mention]:
    if p["intensity"] == "heavy":
        words = _phrases(["heavy", "pouring", "torrential"], ["pouring down hard"])
    else:
        words = _phrases(["light", "sparse", "drizzly"], ["with a few scattered drops"])
    return [Mention("intensity", words)]


def _wind_mentions(p: dict) -> list[Mention]:
    if p["gusts"] == "gusty":
        words = _phrases(["gusty", "blustery"], ["blowing in gusts", "with strong gusts"])
    else:
        words = _phrases(["steady", "constant"], ["blowing steadily", "without gusts"])
    return [Mention("gusts", words)]


def _thunder_mentions(p: dict) -> list[Mention]:
    if p["distance"] == "close":
        words = _phrases(["close", "nearby", "cracking"], ["right overhead", "with a sharp crack"])
    else:
        words = _phrases(["distant", "remote"], ["in the distance", "from miles away"])
    return [Mention("distance", words)]


def _mains_mentions(p: dict) -> list[Mention]:
    hz = int(p["f0_hz"])
    return [Mention("pitch", _phrases([f"{hz} Hz", f"{hz}Hz"], [f"at {hz} Hz"]), required=True)]


def _chord_mentions(p: dict) -> list[Mention]:
    name = f"{p['root']} {p['chord']}"
    return [Mention("chord", _phrases([name, p["chord"]], [f"playing {name}", f"in {name}"]), required=True)]


def _steps_mentions(p: dict) -> list[Mention]:
    if p["tempo"] == "fast":
        words = _phrases(["running", "fast"], ["at a running pace", "in quick succession"])
    else:
        words = _phrases(["walking", "slow"], ["at a walking pace", "at a slow pace"])
    return [Mention("tempo", words)]


def _heart_mentions(p: dict) -> list[Mention]:
    bpm = int(round(p["bpm"] / 5) * 5)
    if p["tempo"] == "fast":
        words = _phrases(["fast", "rapid"], ["beating fast"])
    else:
        words = _phrases(["slow", "calm"], ["beating slowly"])
    rate = _phrases(post=[f"at about {bpm} bpm", f"around {bpm} beats per minute"])
    return [Mention("tempo", words), Mention("extra", rate)]


def _clock_mentions(p: dict) -> list[Mention]:
    if p["tempo"] == "fast":
        words = _phrases(["fast", "rapid"], ["with rapid ticks", "at a fast pace"])
    else:
        words = _phrases(["slow"], ["with slow ticks", "at a slow pace"])
    return [Mention("tempo", words)]


def _bubble_mentions(p: dict) -> list[Mention]:
    if p["density"] == "dense":
        words = _phrases(["lots of", "many"], ["bubbling constantly"])
    else:
        words = _phrases(["a few", "occasional"], ["popping now and then"])
    return [Mention("density", words)]


def _chimes_mentions(p: dict) -> list[Mention]:
    return [Mention("extra", _phrases(["tuned"], ["ringing randomly", "moving in the breeze"]))]


# ==========================================================================
# Registry
# ==========================================================================


def _nouns(*names: str) -> tuple[Noun, ...]:
    """Countable nouns ("kick drum" / "kick drums")."""
    return tuple(Noun(name) for name in names)


def _mass(*names: str) -> tuple[Noun, ...]:
    """Uncountable or inherently plural nouns ("rain", "footsteps"): no
    article, no plural."""
    return tuple(Noun(name, mass=True) for name in names)


def _alarm_mentions(p: dict) -> list[Mention]:
    return [Mention("tempo", _TEMPO_PHRASES[p["tempo"]])] if "tempo" in p else []


# Keyword arguments: kind (wording), texture, role (mix side), family-specific
# mentions, whether the shared single/repeated phrases apply.
_TONE = {"kind": "tone", "texture": "tonal"}
_BED = {"kind": "texture", "texture": "noisy", "role": "background"}
FAMILIES: dict[str, Family] = {f.name: f for f in (
    # drums
    Family("kick", _nouns("kick drum", "kick", "bass drum", "kick hit"), _KICK_RANGES, _kick_params,
           _kick_synth),
    Family("snare", _nouns("snare drum", "snare", "snare hit"), _SNARE_RANGES, _snare_params, _snare_synth),
    Family("closed_hihat", _nouns("closed hi-hat", "closed hihat", "closed hat", "hi-hat tick"), _HAT_RANGES,
           _hat_params(False), _hat_synth, texture="noisy", mention_texture=True),
    Family("open_hihat", _nouns("open hi-hat", "open hihat", "open hat"), _HAT_RANGES,
           _hat_params(True), _hat_synth, texture="noisy", mention_texture=True),
    Family("clap", _nouns("clap", "hand clap", "handclap"), _CLAP_RANGES, _clap_params, _clap_synth,
           texture="noisy"),
    Family("rimshot", _nouns("rim shot", "rimshot", "rim click", "side stick"), _RIM_RANGES, _rim_params,
           _rim_synth),
    Family("tom", _nouns("tom", "tom drum", "tom-tom", "tom hit"), _TOM_RANGES, _tom_params, _tom_synth),
    # tones
    Family("sine_tone", _nouns("sine tone", "sine wave", "sine", "test tone"), _TONE_RANGES,
           _tone_params("sine"), _tone_synth, mention_texture=True, **_TONE),
    Family("square_tone", _nouns("square wave", "square tone", "square-wave synth tone", "chiptune square"),
           _TONE_RANGES, _tone_params("square"), _tone_synth, **_TONE),
    Family("saw_tone", _nouns("sawtooth wave", "saw tone", "sawtooth synth", "saw wave"), _TONE_RANGES,
           _tone_params("saw"), _tone_synth, **_TONE),
    Family("beep", _nouns("beep", "bleep", "electronic beep", "tone beep"), _BEEP_RANGES, _beep_params,
           _tone_synth, **_TONE),
    Family("alarm", _mass("alarm beeps", "warning beeps", "alert beeps") + _nouns("beeping alarm"),
           _ALARM_RANGES, _alarm_params, _tone_synth, generic_rhythm=False, mentions=_alarm_mentions, **_TONE),
    # pitch movement
    Family("rising_sweep", _nouns("sweep", "pitch sweep", "riser", "uplifter", "tone sweep"), _SWEEP_RANGES,
           _sweep_params("rising"), _sweep_synth, mentions=_sweep_range_mention, **_TONE),
    Family("falling_sweep", _nouns("sweep", "pitch sweep", "pitch drop", "downlifter", "tone sweep"),
           _SWEEP_RANGES, _sweep_params("falling"), _sweep_synth, mentions=_sweep_range_mention, **_TONE),
    Family("siren", _nouns("siren", "police siren", "emergency siren", "alarm siren"), _SIREN_RANGES,
           _siren_params, _siren_synth, mentions=_siren_mentions, generic_rhythm=False, **_TONE),
    Family("laser_zap", _nouns("laser zap", "laser shot", "sci-fi zap", "zap", "pew laser"), _ZAP_RANGES,
           _zap_params, _zap_synth, texture="tonal", mentions=_zap_mentions),
    # noise
    Family("white_noise", _mass("white noise", "static", "white noise hiss"), {"exponent": 0.0},
           _noise_params("white"), _noise_synth, **_BED),
    Family("pink_noise", _mass("pink noise", "1/f noise"), {"exponent": 1.0}, _noise_params("pink"),
           _noise_synth, **_BED),
    Family("brown_noise", _mass("brown noise", "brownian noise", "red noise"), {"exponent": 2.0},
           _noise_params("brown"), _noise_synth, **_BED),
    # nature textures
    Family("rain", _mass("rain", "falling rain", "raindrops") + _nouns("rain shower"), _RAIN_RANGES,
           _rain_params, _rain_synth, mentions=_rain_mentions, **_BED),
    Family("wind", _mass("wind", "blowing wind", "wind noise"), _WIND_RANGES, _wind_params, _wind_synth,
           mentions=_wind_mentions, **_BED),
    Family("surf", _mass("ocean waves", "surf", "waves breaking on a beach", "sea waves"), _SURF_RANGES,
           _surf_params, _surf_synth, **_BED),
    Family("rumble", _nouns("rumble", "low-frequency rumble", "sub rumble", "earth rumble"), _RUMBLE_RANGES,
           _rumble_params, _rumble_synth, **_BED),
    Family("thunder", _mass("thunder") + _nouns("thunderclap", "thunder strike", "thunderstorm rumble"),
           _THUNDER_RANGES, _thunder_params, _thunder_synth, kind="texture", texture="noisy",
           mentions=_thunder_mentions),
    # machines
    Family("engine_hum", _nouns("engine hum", "idling engine", "motor hum", "machine hum"), _ENGINE_RANGES,
           _engine_params, _engine_synth, kind="texture", texture="tonal", role="background"),
    Family("mains_hum", _nouns("electrical hum", "mains hum", "ground loop hum", "transformer hum"),
           {"f0_hz": (50.0, 60.0)}, _mains_params, _mains_synth, kind="texture", texture="tonal",
           role="background", mentions=_mains_mentions),
    # bells & strings
    Family("bell", _nouns("bell", "FM bell", "bell strike", "metallic bell"), _BELL_RANGES, _bell_params,
           _bell_synth, texture="tonal"),
    Family("chimes", _mass("wind chimes", "chimes", "metal chimes"), _CHIME_RANGES, _chimes_params,
           _chimes_synth, texture="tonal", generic_rhythm=False, mentions=_chimes_mentions),
    Family("pluck", _nouns("plucked string", "pluck", "guitar-like pluck", "harp-like pluck", "string pluck"),
           _PLUCK_RANGES, _pluck_params, _pluck_synth, texture="tonal"),
    Family("pad", _nouns("pad", "synth pad", "pad chord", "ambient pad"), _PAD_RANGES, _pad_params,
           _pad_synth, role="background", mentions=_chord_mentions, **_TONE),
    Family("chord", _nouns("chord", "synth chord", "chord stab", "organ-like chord"), _PAD_RANGES,
           _chord_params, _chord_synth, mentions=_chord_mentions, **_TONE),
    # sound effects
    Family("whoosh", _nouns("whoosh", "swoosh", "swish", "woosh"), _WHOOSH_RANGES, _whoosh_params,
           _whoosh_synth, kind="tone", texture="noisy"),
    Family("footsteps", _mass("footsteps", "steps", "footfalls"), _STEP_RANGES, _steps_params, _steps_synth,
           texture="noisy", generic_rhythm=False, mentions=_steps_mentions),
    Family("heartbeat", _nouns("heartbeat", "heartbeat thump") + _mass("heart beating"), _HEART_RANGES,
           _heart_params, _heart_synth, generic_rhythm=False, mentions=_heart_mentions),
    Family("clock_ticking", _mass("clock ticking") + _nouns("ticking clock", "clock tick-tock", "clock"),
           _CLOCK_RANGES, _clock_params, _clock_synth, generic_rhythm=False, mentions=_clock_mentions),
    Family("bubbles", _mass("bubbles", "air bubbles", "underwater bubbles"), _BUBBLE_RANGES, _bubbles_params,
           _bubbles_synth, generic_rhythm=False, mentions=_bubble_mentions),
    Family("glitch", _nouns("glitch", "digital glitch", "bitcrushed glitch", "glitchy stutter",
                            "lo-fi bitcrushed texture"), _GLITCH_RANGES, _glitch_params, _glitch_synth),
)}

BACKGROUND_FAMILIES = tuple(name for name, f in FAMILIES.items() if f.role == "background")
FOREGROUND_FAMILIES = tuple(name for name, f in FAMILIES.items() if f.role == "foreground")

# Short noun phrases for a family heard in the background of a mix.
_BACKGROUND_PHRASES = {
    "white_noise": ("white noise", "static"), "pink_noise": ("pink noise",),
    "brown_noise": ("brown noise", "brownian noise"),
    "rain": ("rain", "falling rain"), "wind": ("wind", "blowing wind"), "surf": ("ocean waves", "surf"),
    "rumble": ("a low rumble", "rumble"), "engine_hum": ("an engine hum", "a motor hum"),
    "mains_hum": ("electrical hum", "mains hum"), "pad": ("a synth pad", "a pad"),
}
_MIX_TEMPLATES = (
    "{fg} with {bg} in the background", "{fg} over {bg}", "{fg}, with {bg} behind it",
    "{fg} on top of {bg}", "{fg} and some quiet {bg}", "{fg} with {bg} underneath",
)
_MIX_RANGES = {"background_db": (-18.0, -9.0)}


# ==========================================================================
# Captions
# ==========================================================================


def _article(word: str) -> str:
    """'a' or 'an' by the sound of the first word ('an A4 ...', 'an 880 Hz ...')."""
    w = word.lower()
    if re.match(r"^[aeiou]", w) and not w.startswith(("uni", "one", "eu")):
        return "an"
    if re.match(r"^(8|11\D|11$|18\D|18$)", w):
        return "an"
    first = w.split()[0] if w.split() else w
    if re.match(r"^[aef][#b]?\d", first) or first == "fm":  # A4, E3, F#2, FM read "ay", "ee", "ef"
        return "an"
    return "a"


def _caption(rng: np.random.Generator, fam: Family, p: dict) -> tuple[str, tuple[str, ...]]:
    """Build a caption for ``p``.  Returns (caption, keys of the attributes
    it mentions)."""
    mentions = _standard_mentions(fam, p, rng) + (fam.mentions(p) if fam.mentions else [])
    # A family-specific mention replaces a generic one with the same key.
    by_key: dict[str, Mention] = {}
    for m in mentions:
        by_key[m.key] = m
    mentions = list(by_key.values())
    required = [m for m in mentions if m.required]
    optional = [m for m in mentions if not m.required]
    k = int(rng.integers(0, min(3, len(optional)) + 1))
    chosen = sorted(rng.choice(len(optional), k, replace=False)) if optional else []
    picked = required + [optional[i] for i in chosen]

    pre: list[tuple[int, str]] = []
    post: list[str] = []
    count: str | None = None
    plural = p.get("rhythm") == "repeated" and fam.generic_rhythm
    for m in picked:
        slot, text = m.options[int(rng.integers(len(m.options)))]
        if slot == "count":
            count = text
        elif slot == "post":
            post.append(text)
            if m.key == "rhythm":
                plural = False  # "a kick played four times"
        else:
            pre.append((_PRE_ORDER.index(m.key), text))
    noun = fam.nouns[int(rng.integers(len(fam.nouns)))]
    words = [t for _, t in sorted(pre, key=lambda item: item[0])] + [noun.form(plural)]
    phrase = " ".join(words)
    if count:
        phrase = f"{count} {phrase}"
    elif not (noun.mass or plural) and rng.random() < 0.75:
        phrase = f"{_article(phrase)} {phrase}"
    order = rng.permutation(len(post))
    for i in order:
        phrase += (", " if rng.random() < 0.3 else " ") + post[i]
    if rng.random() < 0.15:
        phrase = "the sound of " + phrase
    return phrase, tuple(m.key for m in picked)


def _background_phrase(rng: np.random.Generator, name: str) -> str:
    return str(_choice(rng, _BACKGROUND_PHRASES[name]))


def _mixed_caption(rng: np.random.Generator, foreground: str, background: str) -> str:
    """A mix's caption: the foreground caption placed in a template that names the background."""
    return str(_choice(rng, _MIX_TEMPLATES)).format(fg=foreground, bg=_background_phrase(rng, background))


# ==========================================================================
# Public API
# ==========================================================================


@dataclass(frozen=True)
class Example:
    """One captioned training example.

    ``audio`` is float32 mono at ``sr`` Hz, mean-removed and peak-normalised
    to 0.5.  ``families`` is ``(family,)`` or ``(foreground, background)``.
    ``attributes`` holds the machine-readable truth (e.g. ``f0_hz``,
    ``brightness``, ``rhythm``, ``n_hits``, ``noise_colour``, ``sweep``,
    ``chord``); ``mentioned`` lists which of those the caption states.
    """

    audio: np.ndarray
    sr: int
    families: tuple[str, ...]
    caption: str
    attributes: dict
    mentioned: tuple[str, ...] = field(default=())
    seed: int = 0


# Parameters exported as attributes (the rest are synthesis details).
ATTRIBUTE_KEYS = (
    "f0_hz", "pitch", "pitch_mode", "note", "brightness", "length", "envelope", "rhythm", "n_hits",
    "tempo", "interval_s", "texture", "noise_colour", "sweep", "sweep_start_hz", "sweep_end_hz",
    "chord", "root", "root_hz", "intensity", "gusts", "distance", "density", "bpm", "n_beats",
    "f0_range_hz", "note_s", "decay_s", "onsets_s", "waveform",
)


def _attributes(fam: Family, p: dict) -> dict:
    attrs = {k: p[k] for k in ATTRIBUTE_KEYS if p.get(k) is not None}
    attrs["family"] = fam.name
    attrs.setdefault("texture", fam.texture)
    return attrs


def synthesize(family: str, params: dict, sr: int, n_samples: int, seed: int = 0) -> np.ndarray:
    """Render ``params`` (as drawn by ``FAMILIES[family].sample_params``) to
    float32 audio of exactly ``n_samples``.  Handy for controlled tests
    (change one parameter, keep the rest)."""
    return FAMILIES[family].synth(np.random.default_rng(seed), params, sr, n_samples)


def _normalise(x: np.ndarray, sr: int) -> np.ndarray:
    """AudioLDM front-end normalisation (mean removal, peak 0.5).

    Sub-sonic content is removed first (20 Hz high-pass): a burst of coloured
    noise has a non-zero mean, and subtracting the clip mean would otherwise
    leave a DC level where there should be silence.
    """
    x = _filter(x.astype(np.float64), sr, "highpass", 20.0, order=2)
    x = x - float(np.mean(x))
    peak = float(np.max(np.abs(x)))
    if peak > 0:
        x *= PEAK_LEVEL / peak
    return x.astype(np.float32)


@dataclass(frozen=True)
class _Plan:
    """Everything about an example except its audio."""

    family: str
    params: dict
    caption: str
    mentioned: tuple[str, ...]
    attributes: dict
    background: str | None = None
    background_params: dict | None = None
    background_db: float = 0.0


def _plan(seed: int, sr: int, duration_s: float, mix_share: float, family: str | None) -> _Plan:
    rng = _streams(seed)[0]
    mix = rng.random() < mix_share
    if family is None:
        family = str(_choice(rng, FOREGROUND_FAMILIES if mix else tuple(FAMILIES)))
    elif mix and FAMILIES[family].role != "foreground":
        mix = False
    fam = FAMILIES[family]
    params = fam.sample_params(rng, duration_s, sr)
    caption, mentioned = _caption(rng, fam, params)
    attributes = _attributes(fam, params)
    if not mix:
        return _Plan(family, params, caption, mentioned, attributes)
    bg_name = str(_choice(rng, BACKGROUND_FAMILIES))
    bg = FAMILIES[bg_name]
    bg_params = bg.sample_params(rng, duration_s, sr)
    gain_db = _uniform(rng, _MIX_RANGES["background_db"])
    caption = _mixed_caption(rng, caption, bg_name)
    attributes.update(
        background=bg_name, background_db=gain_db, background_attributes=_attributes(bg, bg_params)
    )
    return _Plan(family, params, caption, mentioned, attributes, bg_name, bg_params, gain_db)


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators for (parameters + caption, audio samples), so
    captions can be regenerated without synthesising audio."""
    plan_seq, audio_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(plan_seq), np.random.default_rng(audio_seq)


def make_caption(
    seed: int,
    sr: int = DEFAULT_SR,
    duration_s: float = DEFAULT_DURATION_S,
    mix_share: float = DEFAULT_MIX_SHARE,
    family: str | None = None,
) -> tuple[str, dict]:
    """The ``(caption, attributes)`` that ``make_example`` would produce for
    the same arguments, without synthesising audio (~0.1 ms)."""
    plan = _plan(seed, sr, duration_s, mix_share, family)
    return plan.caption, plan.attributes


def caption_variants(
    seed: int,
    n: int,
    sr: int = DEFAULT_SR,
    duration_s: float = DEFAULT_DURATION_S,
    mix_share: float = DEFAULT_MIX_SHARE,
    family: str | None = None,
) -> list[str]:
    """``n`` further captions of the clip ``make_example`` makes from the same arguments: the same
    sound, other wordings and other choices of what to mention (drawn from their own streams, so
    the clip's own caption and audio are unchanged). Held-out evaluation prompts are never returned."""
    plan = _plan(seed, sr, duration_s, mix_share, family)
    fam = FAMILIES[plan.family]
    out = []
    for j in range(n):
        rng = np.random.default_rng([seed, 0x70A2, j])
        caption, _ = _caption(rng, fam, plan.params)
        if plan.background is not None:
            caption = _mixed_caption(rng, caption, plan.background)
        if caption.lower() not in _evaluation_prompts():
            out.append(caption)
    return out


@lru_cache(maxsize=1)
def _evaluation_prompts() -> frozenset[str]:
    """Every evaluation prompt, lower-cased: training text must never contain one."""
    return frozenset(item["prompt"].lower() for item in held_out_prompts() + unseen_vocabulary_prompts())


def make_example(
    seed: int,
    sr: int = DEFAULT_SR,
    duration_s: float = DEFAULT_DURATION_S,
    mix_share: float = DEFAULT_MIX_SHARE,
    family: str | None = None,
) -> Example:
    """Deterministically synthesise one captioned example from ``seed``.

    ``mix_share`` is the probability of a foreground + background mix.
    ``family`` forces the (foreground) family, e.g. for tests; otherwise
    families are drawn uniformly.
    """
    plan = _plan(seed, sr, duration_s, mix_share, family)
    rng = _streams(seed)[1]
    n = int(round(sr * duration_s))
    audio = FAMILIES[plan.family].synth(rng, plan.params, sr, n).astype(np.float64)
    families: tuple[str, ...] = (plan.family,)
    if plan.background is not None:
        bg_audio = FAMILIES[plan.background].synth(rng, plan.background_params, sr, n).astype(np.float64)
        # Levels are compared while each sound is actually sounding, so a
        # short kick is not drowned by a continuous background.
        fg_level, bg_level = _active_rms(audio, sr), _active_rms(bg_audio, sr)
        if fg_level > 0 and bg_level > 0:
            audio = audio + bg_audio * (fg_level / bg_level) * 10 ** (plan.background_db / 20)
        families = (plan.family, plan.background)
    return Example(
        audio=_normalise(audio, sr), sr=sr, families=families, caption=plan.caption,
        attributes=plan.attributes, mentioned=plan.mentioned, seed=seed,
    )


def example_seed(corpus_seed: int, index: int) -> int:
    """Seed of example ``index`` in the corpus drawn with ``corpus_seed``."""
    return int(np.random.SeedSequence([corpus_seed, index]).generate_state(1)[0])


def make_corpus(
    n: int,
    seed: int,
    sr: int = DEFAULT_SR,
    duration_s: float = DEFAULT_DURATION_S,
    mix_share: float = DEFAULT_MIX_SHARE,
) -> Iterator[Example]:
    """Yield ``n`` examples; example ``i`` is ``make_example(example_seed(seed, i))``,
    so any slice of the corpus can be regenerated independently."""
    for i in range(n):
        yield make_example(example_seed(seed, i), sr=sr, duration_s=duration_s, mix_share=mix_share)


# ==========================================================================
# Held-out evaluation prompts
# ==========================================================================

# Words and phrases that no training caption contains.  Every held-out
# prompt uses at least one, so none of them can be a training caption.
HELD_OUT_TERMS = (
    "deep", "piercing", "warm", "drone", "shrill", "gentle", "glassy", "humming", "whistle",
    "booming", "little", "tv", "wash", "waterfall", "solitary", "again and again", "tapering",
    "blooming", "roar", "climbing", "plunging", "blast", "sparkling", "murky", "sizzling",
    "lead", "frantic", "leisurely", "staccato", "blip", "lingering", "breathy", "crystal-clear",
    "thumping", "rainfall", "far away", "rolling", "sub-bass", "triad", "sad", "chiming", "bed",
)


def _prompt(text: str, family: str, pair: str | None = None, **expect) -> dict:
    item = {"prompt": text, "family": family, "expect": expect}
    if pair is not None:
        item["pair"] = pair
    return item


def unseen_vocabulary_prompts() -> list[dict]:
    """Evaluation prompts whose key words never occur in training captions (zero-shot vocabulary).

    A text encoder trained only on this corpus cannot know what "murky" or "frantic" mean; this set
    measures that gap honestly. :func:`held_out_prompts` is the main evaluation set.

    Fixed evaluation prompts with machine-checkable expectations.

    Each item is ``{"prompt": str, "family": str, "expect": dict}`` and
    optionally ``"pair": id`` (items sharing an id should be ordered by the
    attribute in ``expect``; see :data:`ORDERINGS`).  ``family`` names the
    closest training family, for per-family reporting.  Expectation keys are
    those of :func:`check_expectations` ("f0_hz", "noise_colour", "rhythm",
    "envelope", "sweep", "texture", "length", "chord" + "root") plus the
    relative ones ("pitch", "brightness", "tempo").
    """
    return [
        # absolute pitch
        _prompt("a deep sine hum at 110 Hz", "sine_tone", f0_hz=110.0, texture="tonal"),
        _prompt("a piercing sine tone at 2 kHz", "sine_tone", f0_hz=2000.0),
        _prompt("a warm square wave tuned to A3", "square_tone", f0_hz=220.0),
        _prompt("a buzzy sawtooth drone on E2", "saw_tone", f0_hz=82.41),
        _prompt("a shrill beep at 1.5 kHz", "beep", f0_hz=1500.0),
        _prompt("a gentle string pluck on D4", "pluck", f0_hz=293.66),
        _prompt("a glassy bell chiming on C6", "bell", f0_hz=1046.5),
        _prompt("a 60 Hz electrical buzz humming steadily", "mains_hum", f0_hz=60.0),
        _prompt("a sub-bass sine at 55 Hz", "sine_tone", f0_hz=55.0),
        _prompt("a staccato blip at 880 Hz", "beep", f0_hz=880.0, length="short"),
        # low vs high
        _prompt("a deep sine drone", "sine_tone", pitch="low", pair="pitch-sine"),
        _prompt("a shrill sine whistle", "sine_tone", pitch="high", pair="pitch-sine"),
        _prompt("a deep booming tom", "tom", pitch="low", pair="pitch-tom"),
        _prompt("a little high tom with a shrill ring", "tom", pitch="high", pair="pitch-tom"),
        # noise colour
        _prompt("a flat hiss of white noise, like TV static", "white_noise", noise_colour="white",
                pair="noise-colour"),
        _prompt("a gentle pink noise wash", "pink_noise", noise_colour="pink", pair="noise-colour"),
        _prompt("brownian noise like a waterfall far away", "brown_noise", noise_colour="brown",
                pair="noise-colour"),
        # single vs repeated
        _prompt("a solitary snare hit", "snare", rhythm="single", pair="rhythm-snare"),
        _prompt("a snare hit again and again", "snare", rhythm="repeated", pair="rhythm-snare"),
        _prompt("a solitary hand clap", "clap", rhythm="single", pair="rhythm-clap"),
        _prompt("claps again and again", "clap", rhythm="repeated", pair="rhythm-clap"),
        # fading vs swelling
        _prompt("a pad tapering into silence", "pad", envelope="fading", pair="envelope-pad"),
        _prompt("a pad blooming out of silence", "pad", envelope="swelling", pair="envelope-pad"),
        _prompt("pink noise tapering off", "pink_noise", envelope="fading", noise_colour="pink",
                pair="envelope-noise"),
        _prompt("white noise blooming into a roar", "white_noise", envelope="swelling", noise_colour="white",
                pair="envelope-noise"),
        # rising vs falling
        _prompt("a tone climbing steadily in pitch", "rising_sweep", sweep="rising", pair="sweep-tone"),
        _prompt("a tone plunging in pitch", "falling_sweep", sweep="falling", pair="sweep-tone"),
        _prompt("a laser blast plunging in pitch", "laser_zap", sweep="falling"),
        # bright vs dark
        _prompt("a glassy, sparkling hi-hat", "closed_hihat", brightness="bright", pair="brightness-hat"),
        _prompt("a murky hi-hat", "closed_hihat", brightness="dark", pair="brightness-hat"),
        _prompt("a sawtooth lead with a sizzling top end", "saw_tone", brightness="bright",
                pair="brightness-saw"),
        _prompt("a murky sawtooth lead", "saw_tone", brightness="dark", pair="brightness-saw"),
        # fast vs slow
        _prompt("frantic alarm beeps", "alarm", tempo="fast", rhythm="repeated", pair="tempo-alarm"),
        _prompt("leisurely alarm beeps", "alarm", tempo="slow", rhythm="repeated", pair="tempo-alarm"),
        _prompt("a frantic thumping heartbeat", "heartbeat", tempo="fast", pair="tempo-heart"),
        _prompt("a leisurely thumping heartbeat", "heartbeat", tempo="slow", pair="tempo-heart"),
        # short vs long
        _prompt("a staccato bell", "bell", length="short", pair="length-bell"),
        _prompt("a lingering bell", "bell", length="long", pair="length-bell"),
        # tonal vs noisy
        _prompt("a breathy burst of noise", "white_noise", texture="noisy", pair="texture"),
        _prompt("a crystal-clear sine", "sine_tone", texture="tonal", pair="texture"),
        # chords
        _prompt("a major triad pad in C", "pad", chord="major", root="C"),
        _prompt("a sad minor triad in A", "pad", chord="minor", root="A"),
        # mixes
        _prompt("a kick drum thumping under steady rainfall", "kick", rhythm="repeated"),
        _prompt("rolling thunder far away", "thunder", texture="noisy", envelope="fading"),
        _prompt("a drone of brown noise as a sleep bed", "brown_noise", noise_colour="brown"),
    ]


def held_out_prompts() -> list[dict]:
    """The main evaluation set: new sentences and combinations in the training vocabulary.

    No prompt here is a caption the generator produces (checked over tens of thousands of
    seeds by the tests), but every word is one the training captions use, so a text encoder
    trained on this corpus alone can understand it. Same item format as
    :func:`unseen_vocabulary_prompts`.
    """
    return [
        # absolute pitch
        {"prompt": "a steady sine tone at 110 Hz held for a long time", "family": "sine_tone",
         "expect": {"f0_hz": 110.0, "texture": "tonal"}},
        {"prompt": "a quiet sine tone at 2 kHz", "family": "sine_tone", "expect": {"f0_hz": 2000.0}},
        {"prompt": "a square wave tone tuned to A3, held for a long time", "family": "square_tone",
         "expect": {"f0_hz": 220.0}},
        {"prompt": "a sawtooth synth note tuned to E2", "family": "saw_tone", "expect": {"f0_hz": 82.41}},
        {"prompt": "a high-pitched beep at 1.5 kHz played once", "family": "beep", "expect": {"f0_hz": 1500.0}},
        {"prompt": "a plucked string note tuned to D4", "family": "pluck", "expect": {"f0_hz": 293.66}},
        {"prompt": "a metallic bell tuned to C6", "family": "bell", "expect": {"f0_hz": 1046.5}},
        {"prompt": "a constant electrical hum at 60 Hz held for a long time", "family": "mains_hum", "expect": {"f0_hz": 60.0}},
        {"prompt": "a pure low sine tone at 55 Hz", "family": "sine_tone", "expect": {"f0_hz": 55.0}},
        {"prompt": "a short beep at 880 Hz", "family": "beep", "expect": {"f0_hz": 880.0, "length": "short"}},
        # low vs high
        {"prompt": "a low-pitched sine tone held steadily", "family": "sine_tone", "expect": {"pitch": "low"},
         "pair": "pitch-sine"},
        {"prompt": "a high-pitched sine tone held steadily", "family": "sine_tone", "expect": {"pitch": "high"},
         "pair": "pitch-sine"},
        {"prompt": "a low tom hit once", "family": "tom", "expect": {"pitch": "low"}, "pair": "pitch-tom"},
        {"prompt": "a high tom hit once", "family": "tom", "expect": {"pitch": "high"}, "pair": "pitch-tom"},
        # noise colour
        {"prompt": "constant white noise static", "family": "white_noise", "expect": {"noise_colour": "white"},
         "pair": "noise-colour"},
        {"prompt": "constant pink noise hiss", "family": "pink_noise", "expect": {"noise_colour": "pink"},
         "pair": "noise-colour"},
        {"prompt": "constant brownian noise", "family": "brown_noise", "expect": {"noise_colour": "brown"},
         "pair": "noise-colour"},
        # single vs repeated
        {"prompt": "an isolated snare hit played once", "family": "snare", "expect": {"rhythm": "single"}, "pair": "rhythm-snare"},
        {"prompt": "snare hits repeating in a steady rhythm", "family": "snare", "expect": {"rhythm": "repeated"},
         "pair": "rhythm-snare"},
        {"prompt": "a single handclap, just once", "family": "clap", "expect": {"rhythm": "single"},
         "pair": "rhythm-clap"},
        {"prompt": "handclaps repeating many times", "family": "clap", "expect": {"rhythm": "repeated"},
         "pair": "rhythm-clap"},
        # fading vs swelling
        {"prompt": "a minor pad that slowly fades out", "family": "pad", "expect": {"envelope": "fading"},
         "pair": "envelope-pad"},
        {"prompt": "a minor pad that slowly swells in", "family": "pad", "expect": {"envelope": "swelling"},
         "pair": "envelope-pad"},
        {"prompt": "pink noise fading out slowly", "family": "pink_noise",
         "expect": {"envelope": "fading", "noise_colour": "pink"}, "pair": "envelope-noise"},
        {"prompt": "white noise swelling up slowly", "family": "white_noise",
         "expect": {"envelope": "swelling", "noise_colour": "white"}, "pair": "envelope-noise"},
        # rising vs falling
        {"prompt": "a sine sweep going upward in pitch", "family": "rising_sweep", "expect": {"sweep": "rising"},
         "pair": "sweep-tone"},
        {"prompt": "a sine sweep going downward in pitch", "family": "falling_sweep", "expect": {"sweep": "falling"},
         "pair": "sweep-tone"},
        {"prompt": "a sci-fi laser zap falling in pitch", "family": "laser_zap", "expect": {"sweep": "falling"}},
        # bright vs dark
        {"prompt": "a crisp open hihat, bright with lots of high end", "family": "open_hihat",
         "expect": {"brightness": "bright"}, "pair": "brightness-hat"},
        {"prompt": "a dull muffled open hihat", "family": "open_hihat", "expect": {"brightness": "dark"},
         "pair": "brightness-hat"},
        {"prompt": "a bright sawtooth synth with lots of high end", "family": "saw_tone",
         "expect": {"brightness": "bright"}, "pair": "brightness-saw"},
        {"prompt": "a dark low-passed sawtooth synth", "family": "saw_tone", "expect": {"brightness": "dark"},
         "pair": "brightness-saw"},
        # fast vs slow
        {"prompt": "a warning alarm beeping quickly", "family": "alarm",
         "expect": {"tempo": "fast", "rhythm": "repeated"}, "pair": "tempo-alarm"},
        {"prompt": "a warning alarm beeping slowly", "family": "alarm",
         "expect": {"tempo": "slow", "rhythm": "repeated"}, "pair": "tempo-alarm"},
        {"prompt": "a fast heartbeat beating quickly", "family": "heartbeat", "expect": {"tempo": "fast"}, "pair": "tempo-heart"},
        {"prompt": "a slow heartbeat beating slowly", "family": "heartbeat", "expect": {"tempo": "slow"}, "pair": "tempo-heart"},
        # short vs long
        {"prompt": "a bell strike with a short decay", "family": "bell", "expect": {"length": "short"},
         "pair": "length-bell"},
        {"prompt": "a bell strike with a long decay", "family": "bell", "expect": {"length": "long"},
         "pair": "length-bell"},
        # tonal vs noisy
        {"prompt": "a short white noise hiss", "family": "white_noise", "expect": {"texture": "noisy"},
         "pair": "texture"},
        {"prompt": "a clean pure sine tone", "family": "sine_tone", "expect": {"texture": "tonal"}, "pair": "texture"},
        # chords
        {"prompt": "a pad playing a C major chord", "family": "chord", "expect": {"chord": "major", "root": "C"}},
        {"prompt": "a pad playing an A minor chord", "family": "chord", "expect": {"chord": "minor", "root": "A"}},
        # mixes and textures
        {"prompt": "kick drums in a steady rhythm with rain in the background", "family": "kick",
         "expect": {"rhythm": "repeated"}},
        {"prompt": "distant thunder rumble", "family": "thunder", "expect": {"texture": "noisy"}},
        {"prompt": "steady brown noise at a constant volume", "family": "brown_noise",
         "expect": {"noise_colour": "brown"}},
    ]


def training_phrases() -> list[str]:
    """Every literal phrase the caption builder can emit (phrase banks, nouns,
    templates); numbers and note names are filled in at run time."""
    texts: list[str] = []

    def add_options(options):
        texts.extend(t for _, t in options)

    banks = (
        _PITCH_PHRASES, _BRIGHTNESS_PHRASES, _ENVELOPE_PHRASES, _TEMPO_PHRASES, _TEXTURE_PHRASES, _SINGLE_PHRASES,
    )
    for bank in banks:
        for options in bank.values():
            add_options(options)
    for kind in _LENGTH_PHRASES.values():
        for options in kind.values():
            add_options(options)
    for options in (_NOTE_PHRASES, _HZ_PHRASES, _REPEATED_PHRASES):
        add_options(options)
    for fam in FAMILIES.values():
        for noun in fam.nouns:
            texts += [noun.singular, noun.form(True)]
    for phrases in _BACKGROUND_PHRASES.values():
        texts += list(phrases)
    texts += list(_MIX_TEMPLATES) + ["the sound of"]
    # Family-specific phrases depend on parameters: collect them from many
    # sampled parameter sets so every branch is seen.
    for fam in FAMILIES.values():
        if fam.mentions is None:
            continue
        rng = np.random.default_rng(0)
        for _ in range(40):
            for m in fam.mentions(fam.sample_params(rng, DEFAULT_DURATION_S, DEFAULT_SR)):
                add_options(m.options)
    return sorted(set(texts))


# Whole words only: "deep" must not match "deeper-lying" text fragments, and
# hyphenated words count as one word ("sub-bass" is not "bass").
_HELD_OUT_RE = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(t) for t in HELD_OUT_TERMS) + r")(?![\w-])")


def is_training_caption(text: str) -> bool:
    """False if ``text`` contains a held-out term, which training captions
    never do (by construction; the tests check it on many seeds).  True does
    not mean the exact caption was generated, only that it could be."""
    return _HELD_OUT_RE.search(text.lower()) is None


# ==========================================================================
# Checking audio against attributes
# ==========================================================================

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
