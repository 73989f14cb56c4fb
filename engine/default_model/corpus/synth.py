"""DSP building blocks of the synthetic corpus: oscillators (band-limited saw and square,
additive harmonics, FM), filters and resonators, coloured noise, envelopes (T60 decays, fades,
note envelopes), placing hits on a timeline, Karplus-Strong strings, and the corpus's audio format
(sample rate, clip length, peak level).

All functions are plain NumPy/SciPy on float64 arrays; the families in :mod:`.drums`,
:mod:`.tones`, :mod:`.textures` and :mod:`.effects` build their sounds from them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
from scipy import signal

from ... import descriptors

DEFAULT_SR = 16000
DEFAULT_DURATION_S = 2.56  # AudioLDM's 1024 mel frames at 16 kHz / 160 hop
DEFAULT_MIX_SHARE = 0.15
PEAK_LEVEL = 0.5  # AudioLDM front end: x - mean, then 0.5 * x / max|x|

_LN1000 = np.log(1000.0)  # exp(-ln(1000) t / T60) reaches -60 dB at T60


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


def _as_float32(x: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    m = min(n, len(x))
    out[:m] = x[:m]
    return out
