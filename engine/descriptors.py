"""DSP descriptors for judging whether generated audio matches its prompt.

Every public function takes a mono signal ``x`` (1-D array-like of floats,
any scale) and its sample rate ``sr`` in Hz, and returns plain Python/NumPy
values in the units stated in its docstring.  They are pure NumPy/SciPy (no
torch) so they can run in tests, in evaluation scripts and inside the corpus
generator alike.  Analysis sizes are given in seconds and converted to samples
per call, so the same code works at AudioLDM's 16 kHz and at any other rate.

Conventions shared by all functions:

* "Active" frames are those whose RMS is within a stated number of dB of the
  loudest frame; silence and reverb tails below that are ignored so that the
  descriptors describe the sound, not the padding around it.
* Silent input never raises: functions return ``0.0``/empty arrays, or
  ``None`` where the docstring says the quantity is undefined.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sp_fft
from scipy import signal

__all__ = [
    "fundamental_hz",
    "pitch_track",
    "pitch_track_slope",
    "spectral_centroid_hz",
    "spectral_flatness",
    "noisiness",
    "onset_times",
    "onset_rate",
    "envelope",
    "effective_duration_s",
    "envelope_slope",
    "attack_time_s",
    "noise_slope_db_per_octave",
    "band_energy_ratio",
]

# Pitch search range.  30 Hz is below the lowest note producers ask for (E1 is
# 41 Hz); 5 kHz is above the top of the range we promise (4 kHz).
F0_MIN_HZ = 30.0
F0_MAX_HZ = 5000.0
# YIN integration window.  Shorter than the period of the lowest notes, which
# YIN tolerates (the lag still spans a full period), and short enough that a
# sweep of ~350 semitones/s (a laser zap) still looks periodic inside it;
# a 50 ms window loses everything faster than ~100 semitones/s.
_YIN_WINDOW_S = 0.015
# YIN "absolute threshold" on the cumulative-mean-normalised difference.  The
# paper uses 0.1-0.15; 0.2 keeps strongly inharmonic-but-pitched sounds (FM
# bells, tones near Nyquist with non-integer periods) voiced while white,
# pink and brown noise stay well above it (checked in the tests).
_YIN_THRESHOLD = 0.2

_TINY = 1e-20  # guards logs/divisions against exact digital silence


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------


def _as_mono(x) -> np.ndarray:
    """Return ``x`` as a 1-D float64 array, rejecting multichannel input."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"expected mono 1-D audio, got array of shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("audio contains NaN or inf")
    return a


def _pow2_near(n_samples: float) -> int:
    """Power of two closest (in log terms) to ``n_samples``, at least 16."""
    return max(16, 1 << int(round(np.log2(max(n_samples, 1.0)))))


def _frames(x: np.ndarray, frame_len: int, hop: int) -> np.ndarray:
    """Centred frames: frame ``k`` is centred on sample ``k * hop``.

    Returns a read-only view of shape ``(n_frames, frame_len)`` with
    ``n_frames = ceil(len(x) / hop)`` (at least one frame).
    """
    n_frames = max(1, -(-len(x) // hop))
    half = frame_len // 2
    # Pad enough that the last centred frame is complete.
    tail = (n_frames - 1) * hop + frame_len - half - len(x)
    padded = np.pad(x, (half, max(0, tail)))
    return sliding_window_view(padded, frame_len)[::hop][:n_frames]


def _power_spectrogram(x: np.ndarray, sr: float, frame_s: float, hop_s: float):
    """Hann-windowed power spectrogram.

    Returns ``(freqs_hz, power)`` with ``power`` of shape
    ``(n_frames, n_bins)`` in squared sample units.
    """
    n_fft = _pow2_near(frame_s * sr)
    hop = max(1, int(round(hop_s * sr)))
    frames = _frames(x, n_fft, hop) * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return np.fft.rfftfreq(n_fft, 1.0 / sr), power


def _db(power_or_energy, floor: float = _TINY) -> np.ndarray:
    """10*log10 of an energy-like quantity, floored to avoid -inf."""
    return 10.0 * np.log10(np.maximum(power_or_energy, floor))


def _theil_sen_slope(t: np.ndarray, y: np.ndarray, max_points: int = 400) -> float:
    """Median of pairwise slopes: a line fit that ignores a minority of outliers
    (e.g. the odd octave error in a pitch track).  Long inputs are thinned to
    ``max_points`` evenly spaced points, as the pair count grows quadratically."""
    if len(t) > max_points:
        keep = np.linspace(0, len(t) - 1, max_points).astype(int)
        t, y = t[keep], y[keep]
    i, j = np.triu_indices(len(t), k=1)
    dt = t[j] - t[i]
    keep = dt > 0
    return float(np.median((y[j] - y[i])[keep] / dt[keep]))


# --------------------------------------------------------------------------
# pitch
# --------------------------------------------------------------------------


def _yin(frames: np.ndarray, sr: float, tau_min: int, tau_max: int, win: int):
    """YIN f0 (Hz, ``nan`` if unvoiced) for each row of ``frames``.

    Each row must hold ``win + tau_max + 1`` samples: the integration window
    plus the largest lag.
    """
    n_frames = frames.shape[0]
    seg_len = frames.shape[1]
    # Lags are evaluated on a grid finer than one sample when the shortest
    # period is only a few samples long (high notes at 16 kHz): a 3.5 kHz
    # tone has a 4.57-sample period, and at integer lags its true dip is
    # invisible, which makes plain YIN report the octave below.  The same
    # holds for low notes with strong partials near Nyquist, so the grid is
    # always at least twice as fine as the sample grid, and fine enough that
    # the shortest period spans at least 8 steps.
    up = max(2, int(np.ceil(8 / tau_min)))
    n_lags = up * tau_max + 1  # lag index i means a lag of i / up samples

    # Autocorrelation r(tau) = sum_{j<win} x[j] x[j+tau] via FFT.  nfft >=
    # seg_len is enough: the lags we read never wrap.  Zero-padding the
    # cross-spectrum by ``up`` band-limitedly interpolates r at fractional lags
    # (irfft's 1/n normalisation then needs the factor ``up`` back).
    n_fft = sp_fft.next_fast_len(seg_len, real=True)
    spec_head = sp_fft.rfft(frames[:, :win], n_fft, axis=1)
    spec_full = sp_fft.rfft(frames, n_fft, axis=1)
    r = sp_fft.irfft(np.conj(spec_head) * spec_full, up * n_fft, axis=1)[:, :n_lags]
    r *= up

    # Energy of x[tau : tau+win] for every integer lag from a running sum of
    # squares, linearly interpolated onto the fine lag grid (it varies slowly).
    csum = np.concatenate(
        [np.zeros((n_frames, 1)), np.cumsum(frames**2, axis=1)], axis=1
    )
    int_lags = np.arange(tau_max + 1)
    energy_int = csum[:, int_lags + win] - csum[:, int_lags]
    fine = np.arange(n_lags)
    base, frac = fine // up, (fine % up) / up
    energy = energy_int[:, base] * (1 - frac)
    energy += energy_int[:, np.minimum(base + 1, tau_max)] * frac
    diff = np.maximum(energy[:, :1] + energy - 2.0 * r, 0.0)

    # Cumulative-mean-normalised difference d'(tau); d'(0) := 1.  The grid
    # spacing cancels, so the formula is the same in lag-index units.
    cum = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * fine[1:] / np.maximum(cum, _TINY)

    # Candidate periods are the local minima ("dips") of d', each refined by
    # a parabola through it and its neighbours (sub-grid position and depth).
    lo, hi = up * tau_min, up * tau_max  # dips are searched at indices lo..hi-1
    prev, mid, nxt = cmnd[:, lo - 1 : hi - 1], cmnd[:, lo:hi], cmnd[:, lo + 1 : hi + 1]
    is_dip = (mid < prev) & (mid <= nxt)
    curvature = prev - 2.0 * mid + nxt
    safe = np.where(curvature > 0, curvature, 1.0)
    shift = np.where(curvature > 0, np.clip(0.5 * (prev - nxt) / safe, -0.5, 0.5), 0.0)
    depth = np.where(is_dip, mid - 0.25 * (prev - nxt) * shift, np.inf)

    # Classic YIN takes the first dip under an absolute threshold.  That picks
    # a harmonic when one harmonic dominates (e.g. FM tones whose 5th partial
    # is strongest).  So the threshold is also tied to the best dip of the
    # frame: the earliest dip within 0.05 of the best wins.  Dips at multiples
    # of the true period are about as deep as the true one for a periodic
    # signal, so preferring the earliest qualifying dip avoids octave-down
    # errors as well.
    best = depth.min(axis=1)
    threshold = np.minimum(_YIN_THRESHOLD, best + 0.05)
    qualifies = depth <= threshold[:, None]
    voiced = best < _YIN_THRESHOLD
    first = np.argmax(qualifies, axis=1)
    period = (lo + first + shift[np.arange(n_frames), first]) / up
    return np.where(voiced, sr / np.maximum(period, 1.0), np.nan)


def _pitch_frames(x, sr: float, hop_s: float, min_level_db: float, max_frames=None):
    """YIN on the frames within ``min_level_db`` (negative) of the loudest.

    Returns ``(times_s, f0_hz, rms)`` for all frames; frames that are too
    quiet, or skipped because ``max_frames`` evenly spaced loud frames were
    enough, have ``f0 = nan``.
    """
    x = _as_mono(x)
    f0_max = min(F0_MAX_HZ, sr / 3.0)
    tau_min = max(2, int(np.floor(sr / f0_max)))
    tau_max = int(np.ceil(sr / F0_MIN_HZ))
    win = max(4, int(_YIN_WINDOW_S * sr))
    hop = max(1, int(round(hop_s * sr)))
    frames = _frames(x, win + tau_max + 1, hop)
    n_frames = frames.shape[0]
    # RMS of the integration window, to skip quiet frames before the FFTs.
    rms = np.sqrt(np.mean(frames[:, :win] ** 2, axis=1))
    f0 = np.full(n_frames, np.nan)
    if rms.max() > _TINY:
        chosen = np.flatnonzero(rms >= rms.max() * 10 ** (min_level_db / 20))
        if max_frames is not None and len(chosen) > max_frames:
            chosen = chosen[np.linspace(0, len(chosen) - 1, max_frames).astype(int)]
        # In chunks: the lag-domain arrays are ~1600 values per frame.
        for start in range(0, len(chosen), 256):
            part = chosen[start : start + 256]
            f0[part] = _yin(frames[part], sr, tau_min, tau_max, win)
    times = np.arange(n_frames) * hop / sr
    return times, f0, rms


def pitch_track(x, sr: float, hop_s: float = 0.01):
    """Frame-wise fundamental frequency using the YIN algorithm.

    Returns ``(times_s, f0_hz, rms)``: frame centre times in seconds, the f0 in
    Hz (``nan`` where the frame is unvoiced) and each frame's RMS (linear, in
    sample units).  Search range is 30 Hz to ``min(5 kHz, sr / 3)``.  Frames
    quieter than 40 dB below the loudest frame are reported unvoiced.
    """
    return _pitch_frames(x, sr, hop_s, -40.0)


def fundamental_hz(x, sr: float) -> float | None:
    """Robust fundamental frequency of a (mostly) pitched sound, in Hz.

    YIN is run on 10 ms hops; only the loud part of the sound (frames within
    25 dB of the loudest) is considered, and the result is the median (in log
    frequency) of the voiced frames there.  Returns ``None`` when fewer than
    half of those frames are voiced, i.e. the sound is unpitched (noise,
    chords whose notes share no short period, clicks).
    """
    # 64 evenly spaced loud frames are plenty for a median, and cap the cost.
    _, f0, rms = _pitch_frames(x, sr, 0.01, -25.0, max_frames=64)
    if rms.max() <= _TINY:
        return None
    active = rms >= rms.max() * 10 ** (-25 / 20)
    analysed = min(int(active.sum()), 64)
    voiced = active & np.isfinite(f0)
    if voiced.sum() < max(3, 0.5 * analysed):
        return None
    return float(2.0 ** np.median(np.log2(f0[voiced])))


def pitch_track_slope(x, sr: float) -> float | None:
    """Average rate of pitch change, in semitones per second.

    Positive for rising sweeps, negative for falling ones, ~0 for steady or
    vibrato tones.  The f0 track (see :func:`pitch_track`) is restricted to
    frames within 30 dB of the loudest, split into continuous voiced runs
    (a gap or a jump of more than 7 semitones between 10 ms frames starts a
    new run, so octave errors and separate zaps do not get joined), a robust
    Theil-Sen line is fitted to each run of at least 4 frames, and the
    run slopes are averaged weighted by run length.  Returns ``None`` if
    fewer than 5 frames (or under 30 % of the active frames) are voiced.
    """
    times, f0, rms = _pitch_frames(x, sr, 0.01, -30.0)
    if rms.max() <= _TINY:
        return None
    active = rms >= rms.max() * 10 ** (-30 / 20)
    voiced = active & np.isfinite(f0)
    if voiced.sum() < max(5, 0.3 * active.sum()):
        return None
    semitones = np.full_like(f0, np.nan)
    semitones[voiced] = 12.0 * np.log2(f0[voiced] / 440.0)

    slopes, weights = [], []
    run: list[int] = []
    for k in range(len(f0) + 1):
        continues = (
            k < len(f0)
            and voiced[k]
            and (not run or abs(semitones[k] - semitones[run[-1]]) <= 7.0)
            and (not run or k == run[-1] + 1)
        )
        if continues:
            run.append(k)
            continue
        if len(run) >= 4:
            idx = np.asarray(run)
            slopes.append(_theil_sen_slope(times[idx], semitones[idx]))
            weights.append(len(run))
        run = [k] if k < len(f0) and voiced[k] else []
    if not slopes:
        return None
    return float(np.average(slopes, weights=weights))


# --------------------------------------------------------------------------
# spectrum shape
# --------------------------------------------------------------------------


def spectral_centroid_hz(x, sr: float) -> float:
    """Spectral centroid in Hz ("brightness").

    Per 64 ms frame (10 ms hop) the magnitude-weighted mean frequency is
    computed; frames are then averaged weighted by their energy, so loud parts
    dominate and silence does not count.  Returns 0.0 for silence.
    """
    x = _as_mono(x)
    freqs, power = _power_spectrogram(x, sr, 0.064, 0.01)
    mag = np.sqrt(power)
    frame_mag = mag.sum(axis=1)
    frame_energy = power.sum(axis=1)
    ok = frame_mag > _TINY
    if not ok.any():
        return 0.0
    centroids = (mag[ok] @ freqs) / frame_mag[ok]
    return float(np.average(centroids, weights=frame_energy[ok]))


def spectral_flatness(x, sr: float) -> float:
    """Spectral flatness (Wiener entropy), dimensionless in [0, 1].

    Per 32 ms frame: geometric mean / arithmetic mean of the power spectrum
    (DC excluded), averaged over non-silent frames (within 60 dB of the
    loudest).  Pure tones give ~0; white noise gives ~0.56 rather than 1,
    because a single periodogram frame of noise is exponentially distributed
    (E[log] is lower than log E by Euler's gamma).  Use it to compare or
    threshold (tonal < ~0.1 < noisy), not as an absolute percentage.
    """
    x = _as_mono(x)
    _, power = _power_spectrogram(x, sr, 0.032, 0.01)
    power = power[:, 1:]
    frame_energy = power.sum(axis=1)
    if frame_energy.max() <= _TINY:
        return 0.0
    active = frame_energy >= frame_energy.max() * 1e-6
    # A floor relative to the loudest bin keeps ideal synthetic tones (exact
    # zeros between partials) finite: their flatness comes out ~1e-4, not 0/0.
    p = power[active] + power.max() * 1e-10
    geometric = np.exp(np.mean(np.log(p), axis=1))
    arithmetic = np.mean(p, axis=1)
    return float(np.mean(geometric / arithmetic))


def _banded_flatness(x: np.ndarray, sr: float, frame_s: float) -> tuple[float, float]:
    """Energy-weighted flatness of the whitened spectrum in octave bands (see
    :func:`noisiness`), and the fraction of the energy those bands cover."""
    _, power = _power_spectrogram(x, sr, frame_s, frame_s / 4)
    frame_energy = power[:, 1:].sum(axis=1)
    active = frame_energy >= frame_energy.max() * 1e-6
    p = power[active][:, 1:] + power.max() * 1e-10  # DC dropped
    n_bins = p.shape[1]
    # Whiten: divide each bin by the mean power of the octave around it (at
    # least +-4 bins).  Any smooth spectral shape - brown noise, a low-pass
    # rumble - becomes flat, while a partial stays a narrow peak over a deep
    # floor, because its own energy is spread over the whole window.
    k = np.arange(n_bins)
    lo = np.clip(np.minimum(k - 4, np.floor(k / np.sqrt(2))).astype(int), 0, n_bins - 1)
    hi = np.clip(np.maximum(k + 4, np.ceil(k * np.sqrt(2))).astype(int), 0, n_bins - 1)
    csum = np.concatenate([np.zeros((p.shape[0], 1)), np.cumsum(p, axis=1)], axis=1)
    ratio = p / ((csum[:, hi + 1] - csum[:, lo]) / (hi - lo + 1))
    # Octave bands (at least 8 bins: twice a Hann main lobe) from the 4th
    # bin up (p starts at bin 1); lower bins are too coarse at this frame
    # length to tell a partial from a noise band.
    edges = [3]
    while True:
        nxt = max(2 * edges[-1], edges[-1] + 8)
        if nxt + 8 > n_bins:  # too little left for another band: extend this one
            edges.append(n_bins)
            break
        edges.append(nxt)
    flat_sum = np.zeros(p.shape[0])
    weight_sum = np.zeros(p.shape[0])
    for b_lo, b_hi in zip(edges[:-1], edges[1:]):
        band = ratio[:, b_lo:b_hi]
        energy = p[:, b_lo:b_hi].sum(axis=1)
        flat_sum += energy * np.exp(np.mean(np.log(band), axis=1)) / band.mean(axis=1)
        weight_sum += energy
    covered = weight_sum.sum() / p.sum()
    flatness = float(np.average(flat_sum / weight_sum, weights=frame_energy[active]))
    return flatness, covered


def noisiness(x, sr: float) -> float:
    """How noise-like a sound is, dimensionless: ~0 for tonal sounds, ~0.5 for
    noise of any colour or bandwidth.

    Unlike :func:`spectral_flatness`, which band-limited noise (a hi-hat, a
    rumble) fails because most of its spectrum is empty, this whitens the
    spectrum (each bin divided by the mean power of the octave around it),
    measures flatness inside octave bands, averages it weighted by band energy,
    then over non-silent frames weighted by frame energy.  Bins below the
    4th (under 250 Hz at 16 ms, 31 Hz at 128 ms) are left out because they
    are too coarse.  It is computed with 16, 32 and 128 ms frames and the
    smallest reading among those whose bands hold at least half the energy
    is returned: fast chirps only look tonal in short frames and dense low
    drones (30 Hz harmonics) only in long ones, while noise looks flat in all
    of them.  Returns 0.0 for silence.
    """
    x = _as_mono(x)
    if not np.any(x):
        return 0.0
    readings = [_banded_flatness(x, sr, frame_s) for frame_s in (0.016, 0.032, 0.128)]
    # A frame length only gets a say if its bands hold most of the energy:
    # 16 ms frames cannot resolve anything below ~250 Hz.
    valid = [flatness for flatness, covered in readings if covered >= 0.5]
    return min(valid) if valid else readings[-1][0]


def noise_slope_db_per_octave(x, sr: float) -> float:
    """Slope of the power spectrum in dB per octave between 100 Hz and 7 kHz.

    Welch PSD (~128 ms Hann segments) is averaged in 1/3-octave bands (so
    every octave gets equal weight despite the linear FFT bin spacing) and a
    least-squares line of dB vs log2(frequency) is fitted.  White noise ~0,
    pink ~-3, brown/red ~-6 dB/octave.  The upper edge is lowered to
    0.45 * sr for low sample rates.  Returns 0.0 for silence.
    """
    x = _as_mono(x)
    if not np.any(x):
        return 0.0
    nperseg = min(len(x), _pow2_near(0.128 * sr))
    freqs, psd = signal.welch(x, sr, window="hann", nperseg=nperseg)
    f_lo, f_hi = 100.0, min(7000.0, 0.45 * sr)
    n_bands = max(2, int(round(3 * np.log2(f_hi / f_lo))))
    edges = f_lo * (f_hi / f_lo) ** (np.arange(n_bands + 1) / n_bands)
    centres, levels = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (freqs >= lo) & (freqs < hi)
        if sel.any():
            centres.append(np.sqrt(lo * hi))
            levels.append(_db(psd[sel].mean()))
    if len(centres) < 2:
        return 0.0
    slope, _ = np.polyfit(np.log2(centres), levels, 1)
    return float(slope)


def band_energy_ratio(x, sr: float, cutoff_hz: float) -> float:
    """Fraction (0..1) of the signal's energy above ``cutoff_hz`` (Hz).

    Computed exactly from the full-length FFT (Parseval), excluding DC.
    Returns 0.0 for silence.
    """
    x = _as_mono(x)
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / sr)
    total = power[1:].sum()
    if total <= _TINY:
        return 0.0
    return float(power[1:][freqs[1:] >= cutoff_hz].sum() / total)


# --------------------------------------------------------------------------
# time structure
# --------------------------------------------------------------------------


def envelope(x, sr: float, hop_s: float = 0.01) -> np.ndarray:
    """RMS amplitude envelope (linear, in sample units), DC removed.

    One value per ``hop_s`` seconds; value ``k`` is the RMS of a window of
    ``2 * hop_s`` centred on ``k * hop_s`` seconds.
    """
    x = _as_mono(x)
    # A DC offset is inaudible but would read as a constant floor of "sound"
    # (mean removal, as in AudioLDM's front end, leaves one under silence).
    x = x - x.mean() if len(x) else x
    hop = max(1, int(round(hop_s * sr)))
    frames = _frames(x, 2 * hop, hop)
    return np.sqrt(np.mean(frames**2, axis=1))


def effective_duration_s(x, sr: float, threshold_db: float = -30.0) -> float:
    """Total time, in seconds, that the sound is within ``threshold_db`` dB
    (a negative number) of its peak RMS.

    This counts sounding time, not the span from first to last crossing: a
    short hit repeated four times lasts about four hit lengths.  Uses a 10 ms
    RMS envelope, so the resolution is 10 ms.  Returns 0.0 for silence.
    """
    hop_s = 0.01
    env = envelope(x, sr, hop_s)
    if env.max() <= _TINY:
        return 0.0
    above = _db(env**2) >= _db(env.max() ** 2) + threshold_db
    return float(above.sum() * hop_s)


def envelope_slope(x, sr: float, range_db: float = 40.0) -> float:
    """Overall loudness trend in dB per second: negative for decaying or
    fading sounds, positive for swelling ones, ~0 for steady ones.

    A least-squares line is fitted to the 10 ms RMS envelope in dB over the
    active region (from the first to the last frame within ``range_db`` of the
    peak); frames inside that region that fall below the range are clamped to
    it, so silent gaps count as "quiet" rather than -inf.  Returns 0.0 for
    silence or sounds shorter than three frames.
    """
    hop_s = 0.01
    env = envelope(x, sr, hop_s)
    if env.max() <= _TINY:
        return 0.0
    level = _db(env**2)
    floor = level.max() - range_db
    idx = np.flatnonzero(level >= floor)
    start, stop = idx[0], idx[-1] + 1
    if stop - start < 3:
        return 0.0
    t = np.arange(start, stop) * hop_s
    slope, _ = np.polyfit(t, np.maximum(level[start:stop], floor), 1)
    return float(slope)


def attack_time_s(x, sr: float) -> float:
    """Rise time of the loudest event, in seconds.

    On a 10 ms-hop RMS envelope (20 ms windows): from the last time before the
    peak that the level was under 10 % of the peak, to the first time after
    that it reaches 50 % of it.  Looking back from the loudest event (rather
    than forward from the start) keeps a pattern of hits with slightly
    different levels from counting the gaps as attack; stopping at 50 %
    rather than the usual 90 % keeps noisy sounds, whose short-time level
    wanders by more than 10 %, from reading as slow.  Drum hits, plucks and
    beeps give 0-20 ms; swells and fade-ins hundreds of milliseconds or more.
    Returns 0.0 for silence.
    """
    hop_s = 0.01
    env = envelope(x, sr, hop_s)
    peak_idx = int(np.argmax(env))
    peak = env[peak_idx]
    if peak <= _TINY:
        return 0.0
    quiet = np.flatnonzero(env[:peak_idx] < 0.1 * peak)
    start = int(quiet[-1]) if len(quiet) else 0
    reach = start + int(np.argmax(env[start:] >= 0.5 * peak))
    return float((reach - start) * hop_s)


def _band_starts(n_bins: int, n_bands: int = 24, min_bins: int = 4) -> np.ndarray:
    """First FFT bin of each analysis band for onset detection.

    Bands are contiguous, start at bin 1 (DC is skipped) and reach Nyquist;
    each holds at least ``min_bins`` bins and, where the resolution allows,
    they widen geometrically towards high frequencies.  Pooling several bins
    per band is what keeps the flux of stationary noise small (see
    _onset_strength).
    """
    starts = [1]
    while len(starts) < n_bands:
        remaining = n_bands - len(starts) + 1
        ratio = (n_bins / starts[-1]) ** (1.0 / remaining)
        nxt = max(int(round(starts[-1] * ratio)), starts[-1] + min_bins)
        if nxt + min_bins > n_bins:
            break
        starts.append(nxt)
    return np.asarray(starts)


def _onset_strength(x: np.ndarray, sr: float, hop_s: float):
    """Band-wise log spectral flux (mean positive dB change per frame).

    Power is pooled into ~24 log-spaced bands before taking dB: pooling many
    bins averages out the random frame-to-frame fluctuation of noise, so
    stationary noise gives a low, flat novelty curve while real onsets stand
    out.  Returns ``(flux_db, frame_level_db)``.
    """
    # Sub-sonic drift (DC steps, the 1/f tail of pink noise) leaks into the
    # lowest band through the short window and would read as onsets.
    x = signal.sosfilt(signal.butter(2, 30.0, "highpass", fs=sr, output="sos"), x)
    _, power = _power_spectrogram(x, sr, 0.016, hop_s)
    band_power = np.add.reduceat(power, _band_starts(power.shape[1]), axis=1)
    # Levels are floored 50 dB under the loudest band value: a sound rising
    # out of digital silence then jumps by at most 50 dB, which keeps the
    # first hit of a pattern from dwarfing the later ones.
    band_db = _db(band_power)
    band_db = np.maximum(band_db, band_db.max() - 50.0)
    # Each band is compared with the loudest value of itself and its two
    # neighbouring bands over the previous five frames ("SuperFlux" style).
    # The neighbours stop a tone gliding into the next band (a sweep, a zap)
    # from reading as a new onset; the five frames stop level wobbles with a
    # period under 50 ms (a 45 Hz kick tail seen through 16 ms windows,
    # beating partials in a chord) from doing the same.
    lookback = 5
    lagged = np.concatenate([np.repeat(band_db[:1], lookback, axis=0), band_db[:-1]], axis=0)
    previous = sliding_window_view(lagged, lookback, axis=0).max(axis=-1)
    padded = np.pad(previous, ((0, 0), (1, 1)), mode="edge")
    previous_max = np.maximum(np.maximum(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])
    rise = np.maximum(band_db - previous_max, 0.0)
    # Rises are weighted by each band's share of the frame's energy: a 50 Hz
    # heartbeat living in one band counts fully, while random wobbles of
    # faint bands (noise tails, spectral splatter at a note's end) barely
    # count.
    share = band_power / np.maximum(band_power.sum(axis=1, keepdims=True), _TINY)
    return (rise * share).sum(axis=1), _db(power.sum(axis=1))


def onset_times(x, sr: float) -> np.ndarray:
    """Onset times in seconds (ascending), from band-wise log spectral flux.

    Peak picking: a frame (10 ms hop, 16 ms window) is an onset if its flux
    is the maximum within +-30 ms, exceeds the mean flux of the surrounding
    +-100 ms by an adaptive margin (max of 4 dB and 8 % of the largest flux),
    is at least 50 ms after the previous onset, and the frame is within 40 dB
    of the loudest frame.  Times are frame centres, so they can be early by up
    to half a window (~8 ms).
    """
    x = _as_mono(x)
    if not np.any(x):
        return np.zeros(0)
    hop_s = 0.01
    flux, level = _onset_strength(x, sr, hop_s)
    n = len(flux)
    peak_w = 3  # +-30 ms
    mean_w = 10  # +-100 ms
    padded = np.pad(flux, (peak_w, peak_w), constant_values=-np.inf)
    local_max = sliding_window_view(padded, 2 * peak_w + 1).max(axis=1)
    kernel = np.ones(2 * mean_w + 1) / (2 * mean_w + 1)
    local_mean = np.convolve(np.pad(flux, mean_w, mode="edge"), kernel, "valid")
    margin = max(4.0, 0.08 * flux.max())
    candidates = np.flatnonzero(
        (flux >= local_max)
        & (flux > 0)
        & (flux >= local_mean + margin)
        & (level >= level.max() - 40.0)
    )
    min_gap = int(round(0.05 / hop_s))
    onsets: list[int] = []
    for k in candidates:
        if not onsets or k - onsets[-1] >= min_gap:
            onsets.append(int(k))
    return np.asarray(onsets, dtype=np.float64) * hop_s


def onset_rate(x, sr: float) -> float:
    """Onsets per second over the whole signal (see :func:`onset_times`)."""
    x = _as_mono(x)
    if len(x) == 0:
        return 0.0
    return float(len(onset_times(x, sr)) / (len(x) / sr))
