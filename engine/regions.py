"""Regions of audio files from outside, and the pure DSP the edit modes are built from.

Reading is defensive (shared/reference/reliability.md, "Audio files from outside"): libsndfile has had
header-parsing and codec bugs, so :func:`probe` checks the file size and ``soundfile.info`` (format,
codec, rate, channels, length) before a single sample is decoded, compressed codecs other than FLAC
are refused, and :func:`read_region` rejects NaN/inf samples. Every refusal is an
:class:`~engine.errors.AudioInputError` whose one-line message names the file, the problem and
what to do.

Samples are read as float64, which holds every 8/16/24/32-bit PCM and 32/64-bit float value
exactly, so audio the edit leaves alone can be written back bit-identical with the source's own
sample format (:func:`output_format`).

The DSP below works on NumPy arrays, (frames,) or (frames, channels), and knows nothing about the
model: window planning, power-preserving crossfades, the in-gap splice, a zero-phase crossover,
band-limit (cutoff) detection and mid/side helpers.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AudioInputError

# --------------------------------------------------------------------------- limits

MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000
#: Mono and stereo are edited; more channels are refused (bounce to stereo in the DAW first).
MAX_CHANNELS = 2
#: Longest region one request edits (the request's own ceiling); longer files are fine.
MAX_REGION_S = 600.0
#: Shortest region: below this there is not one latent frame of context to work with.
MIN_REGION_S = 0.1
#: A source file longer than this (24 h) or bigger than this (16 GiB) is treated as a bogus header.
MAX_FILE_S = 24 * 3600.0
MAX_FILE_BYTES = 16 * 2**30
#: Containers the DAWs hand over. RF64/W64 are WAV for files past 4 GiB.
FORMATS = ("WAV", "WAVEX", "RF64", "W64", "AIFF", "FLAC")
#: Uncompressed PCM/float (and FLAC's PCM). ADPCM and friends are refused: that is where libsndfile's
#: crafted-file bugs were (CVE-2021-3246, MS-ADPCM), and no DAW writes them for a project.
SUBTYPE_FORMATS = {
    "PCM_U8": "pcm8", "PCM_S8": "pcm16", "PCM_16": "pcm16", "PCM_24": "pcm24", "PCM_32": "pcm32",
    "FLOAT": "float32", "DOUBLE": "float64",
}
#: Bytes per sample of each subtype, to check that an uncompressed file holds what its header claims.
_BYTES = {"PCM_U8": 1, "PCM_S8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}


@dataclass(frozen=True)
class SourceInfo:
    """What ``soundfile.info`` says about a source file, after the sanity checks."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str
    file_bytes: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


@dataclass(frozen=True)
class Region:
    """A span of a source file: exact sample values, as float64 (frames, channels)."""

    info: SourceInfo
    start_frame: int
    audio: np.ndarray

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def sample_rate(self) -> int:
        return self.info.sample_rate

    @property
    def channels(self) -> int:
        return int(self.audio.shape[1])

    @property
    def frames(self) -> int:
        return int(self.audio.shape[0])

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.frames

    @property
    def start_s(self) -> float:
        return self.start_frame / self.sample_rate

    @property
    def end_s(self) -> float:
        return self.end_frame / self.sample_rate

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def sample_format(self) -> str:
        """The audio_io format that writes these samples back unchanged."""
        return output_format(self.info.subtype)

    def frame_of(self, t_s: float) -> int:
        """Region-relative frame index of a source-file time in seconds."""
        return seconds_to_frame(t_s, self.sample_rate) - self.start_frame


def output_format(subtype: str) -> str:
    """audio_io sample format for a source subtype; 8-bit signed goes to 16-bit (same values)."""
    return SUBTYPE_FORMATS[subtype]


def seconds_to_frame(t_s: float, sample_rate: int) -> int:
    """Nearest frame to a time; the DAW's seconds are rounded, never truncated."""
    return int(round(t_s * sample_rate))


def _bad(path: Path, problem: str, todo: str) -> AudioInputError:
    return AudioInputError(f"{path.name}: {problem}; {todo}")


# --------------------------------------------------------------------------- reading

def probe(path: str | os.PathLike) -> SourceInfo:
    """Check a source file without decoding it: size, container, codec, rate, channels, length."""
    import soundfile as sf

    path = Path(path).expanduser()
    if not path.exists():
        raise AudioInputError(f"{path}: no such file; check the path the DAW handed over")
    if not path.is_file():
        raise _bad(path, "is not a regular file", "give the path of a WAV, AIFF or FLAC file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _bad(path, f"cannot be read ({exc.strerror})", "check its permissions") from exc
    if size == 0:
        raise _bad(path, "is empty (0 bytes)", "export the region again from the DAW")
    if size > MAX_FILE_BYTES:
        raise _bad(path, f"is {size / 2**30:.1f} GiB, over the {MAX_FILE_BYTES // 2**30} GiB limit",
                   "export just the region you want to edit")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # LibsndfileError, RuntimeError, OSError: all mean "not readable audio"
        reason = str(exc).split(":", 1)[-1].strip().rstrip(".") or type(exc).__name__
        raise _bad(path, f"is not a readable audio file ({reason})",
                   "give a WAV, AIFF or FLAC file (a renamed or truncated file cannot be read)") from exc
    fmt, subtype = str(info.format), str(info.subtype)
    if fmt not in FORMATS:
        raise _bad(path, f"is in the {fmt} format", "convert it to WAV, AIFF or FLAC")
    if subtype not in SUBTYPE_FORMATS:
        raise _bad(path, f"uses the {subtype} codec", "convert it to 16/24/32-bit PCM or float WAV")
    rate, channels, frames = int(info.samplerate), int(info.channels), int(info.frames)
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise _bad(path, f"claims a sample rate of {rate} Hz",
                   f"only {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz is accepted; resample it or re-export it")
    if channels < 1:
        raise _bad(path, "claims to have no channels", "export it again from the DAW")
    if channels > MAX_CHANNELS:
        raise _bad(path, f"has {channels} channels; mono and stereo are supported",
                   "bounce or downmix it to stereo or mono in the DAW first")
    if frames <= 0:
        raise _bad(path, "has no audio (0 frames)", "export the region again from the DAW")
    if frames / rate > MAX_FILE_S:
        raise _bad(path, f"claims a length of {frames / rate / 3600:.1f} h (a damaged header?)",
                   "export just the region you want to edit")
    if fmt != "FLAC" and frames * channels * _BYTES[subtype] > size:
        raise _bad(path, f"is truncated: its header claims {frames} frames but the file holds fewer",
                   "export it again from the DAW")
    return SourceInfo(path=path, sample_rate=rate, channels=channels, frames=frames, format=fmt,
                      subtype=subtype, file_bytes=size)


def region_frames(info: SourceInfo, start_s: float | None, end_s: float | None) -> tuple[int, int]:
    """[start, end) frames of a region of ``info``'s file (the whole file when omitted), checked."""
    sr, path = info.sample_rate, info.path
    for name, value in (("start", start_s), ("end", end_s)):
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise _bad(path, f"region {name} {value!r} is not a finite number of seconds", "give seconds")
    start = 0 if start_s is None else seconds_to_frame(start_s, sr)
    end = info.frames if end_s is None else seconds_to_frame(end_s, sr)
    length = f"{info.duration_s:.3f} s long"
    if start < 0:
        raise _bad(path, f"region start {start_s:g} s is before the file's start", "use a start >= 0 s")
    if start >= info.frames:
        raise _bad(path, f"region start {start_s:g} s is outside the file, which is {length}",
                   "select a region inside the file")
    if end > info.frames:
        raise _bad(path, f"region end {end_s:g} s is past the end of the file, which is {length}",
                   "select a region inside the file (or leave --end out for the rest of the file)")
    if end <= start:
        raise _bad(path, f"region end ({end / sr:g} s) is not after its start ({start / sr:g} s)",
                   "give an end after the start")
    if (end - start) / sr < MIN_REGION_S:
        raise _bad(path, f"region is {(end - start) / sr * 1000:.0f} ms long",
                   f"select at least {MIN_REGION_S * 1000:.0f} ms")
    if (end - start) / sr > MAX_REGION_S + 1e-9:
        raise _bad(path, f"region is {(end - start) / sr:.1f} s long, over the {MAX_REGION_S:.0f} s limit",
                   "edit it in shorter regions")
    return start, end


def read_region(path: str | os.PathLike, start_s: float | None = None, end_s: float | None = None) -> Region:
    """Read ``[start_s, end_s)`` (source-file seconds; whole file when omitted) after :func:`probe`.

    Returns the exact sample values as float64 (frames, channels). Raises
    :class:`~engine.errors.AudioInputError` for anything absurd, truncated or non-finite.
    """
    import soundfile as sf

    info = probe(path)
    start, end = region_frames(info, start_s, end_s)
    try:
        with sf.SoundFile(str(info.path)) as f:
            f.seek(start)
            audio = f.read(end - start, dtype="float64", always_2d=True)
    except Exception as exc:
        raise _bad(info.path, f"cannot be decoded ({str(exc).strip()[:200] or type(exc).__name__})",
                   "export it again from the DAW as WAV") from exc
    if audio.shape[0] != end - start or audio.shape[1] != info.channels:
        raise _bad(info.path, f"is truncated: {audio.shape[0]} of the {end - start} frames of the region "
                   f"could be read", "export it again from the DAW")
    finite = np.isfinite(audio)
    if not finite.all():
        first = int(np.argmin(finite.all(axis=1)))
        raise _bad(info.path, f"contains NaN/inf samples (first at {(start + first) / info.sample_rate:.3f} s)",
                   "fix or re-render the file in the DAW")
    return Region(info=info, start_frame=start, audio=audio)


# --------------------------------------------------------------------------- windows

def plan_windows(n: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) windows of at most ``window`` samples covering ``[0, n)``, each overlapping the
    next by at least ``overlap``; one window when ``n <= window``. Starts are spread evenly."""
    if n <= 0:
        return []
    if n <= window:
        return [(0, n)]
    if not 0 <= overlap < window:
        raise ValueError("overlap must be shorter than the window")
    hop = window - overlap
    count = 1 + -(-(n - window) // hop)
    starts = [round(k * (n - window) / (count - 1)) for k in range(count)]
    return [(s, s + window) for s in starts]


# --------------------------------------------------------------------------- crossfades

def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised correlation of two equally shaped signals (0 when either is silent)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / den if den > 1e-20 else 0.0


def crossfade_gains(n: int, rho: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(fade_out, fade_in) gains over ``n`` samples that keep the power of the mix constant.

    For two signals of equal power with correlation ``rho``, ``g_out**2 + g_in**2 + 2*rho*g_out*g_in
    == 1`` at every sample: ``rho = 0`` is the equal-power fade (uncorrelated signals: sources and
    generated audio), ``rho = 1`` the linear one (identical signals sum to the signal, no +3 dB bump).
    The shape is a raised cosine, so the gains have no corner at either end.
    """
    rho = min(max(float(rho), 0.0), 1.0)
    w = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n) if n > 0 else np.zeros(0)
    norm = np.sqrt((1 - w) ** 2 + w**2 + 2 * rho * w * (1 - w))
    return (1 - w) / norm, w / norm


def crossfade(a: np.ndarray, b: np.ndarray, rho: float | None = None) -> np.ndarray:
    """Fade from ``a`` to ``b`` (same shape, time on axis 0); ``rho`` measured from them when None."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if rho is None:
        rho = correlation(a, b)
    g_out, g_in = crossfade_gains(len(a), rho)
    shape = (-1,) + (1,) * (a.ndim - 1)
    return a * g_out.reshape(shape) + b * g_in.reshape(shape)


def splice(source: np.ndarray, generated: np.ndarray, start: int, end: int, fade: int) -> np.ndarray:
    """``source`` with ``[start, end)`` replaced by ``generated[start:end]``.

    The crossfades (``fade`` samples each, clamped to a third of the gap) lie *inside* the gap, so
    every sample outside ``[start, end)`` is the source's own value, untouched.
    """
    out = np.array(source, dtype=np.float64, copy=True)
    gen = np.asarray(generated, dtype=np.float64)
    if end <= start:
        return out
    fade = max(0, min(int(fade), (end - start) // 3))
    out[start:end] = gen[start:end]
    if fade:
        head = slice(start, start + fade)
        tail = slice(end - fade, end)
        out[head] = crossfade(source[head], gen[head])
        out[tail] = crossfade(gen[tail], source[tail])
    return out


# --------------------------------------------------------------------------- filters

def _kaiser_lowpass(sample_rate: int, cutoff_hz: float, transition_hz: float, numtaps: int) -> np.ndarray:
    from scipy.signal import firwin

    return firwin(numtaps, cutoff_hz, width=transition_hz, window=("kaiser", _kaiser_beta()),
                  fs=sample_rate)


def _kaiser_beta(atten_db: float = 90.0) -> float:
    from scipy.signal import kaiser_beta

    return float(kaiser_beta(atten_db))


def _numtaps(sample_rate: int, transition_hz: float, atten_db: float = 90.0) -> int:
    from scipy.signal import kaiserord

    n, _ = kaiserord(atten_db, transition_hz / (0.5 * sample_rate))
    return n | 1  # odd: a symmetric FIR with an integer delay, removed exactly by mode="same"


def _lowpass_kernel(sample_rate: int, cutoff_hz: float | None, transition_hz: float, taps: int) -> np.ndarray:
    """Low-pass kernel of ``taps`` taps; None (or at/above Nyquist) is all-pass, <= 0 Hz nothing."""
    nyq = 0.5 * sample_rate
    if cutoff_hz is None or cutoff_hz >= nyq - transition_hz / 2:
        h = np.zeros(taps)
        h[taps // 2] = 1.0
        return h
    if cutoff_hz <= transition_hz / 2:
        return np.zeros(taps)
    return _kaiser_lowpass(sample_rate, cutoff_hz, transition_hz, taps)


def band_filter(audio: np.ndarray, sample_rate: int, low_hz: float | None, high_hz: float | None,
                transition_hz: float = 200.0) -> np.ndarray:
    """Zero-phase linear-phase FIR band-pass along axis 0 (Kaiser, 90 dB stopband).

    ``low_hz=None`` is a low-pass at ``high_hz``; ``high_hz=None`` a high-pass at ``low_hz``. Each
    edge's transition band is centred on it. ``x - band_filter(x, ...)`` is the exact complement, so
    a crossover built as ``x + band_filter(y - x)`` passes ``x`` unchanged outside the band.
    """
    from scipy.signal import oaconvolve

    x = np.asarray(audio, dtype=np.float64)
    taps = _numtaps(sample_rate, transition_hz)
    h = (_lowpass_kernel(sample_rate, high_hz, transition_hz, taps)
         - (np.zeros(taps) if low_hz is None else _lowpass_kernel(sample_rate, low_hz, transition_hz, taps)))
    if len(x) == 0 or not np.any(h):
        return np.zeros_like(x)
    h = h.reshape((-1,) + (1,) * (x.ndim - 1))
    pad = [(taps, taps)] + [(0, 0)] * (x.ndim - 1)
    # Zero padding keeps "same" mode centred on the kernel for signals shorter than it, too.
    return oaconvolve(np.pad(x, pad), h, mode="same", axes=0)[taps:taps + len(x)]


def crossover_transition_hz(cutoff_hz: float) -> float:
    """Width of the crossover transition at a cutoff: 5 % of it, between 100 and 400 Hz."""
    return float(min(max(0.05 * cutoff_hz, 100.0), 400.0))


# --------------------------------------------------------------------------- cutoff detection

@dataclass(frozen=True)
class CutoffEstimate:
    """Where a source's content ends. ``band_limited`` is False when it reaches ``ceiling_hz`` (the
    model's 8 kHz) or the source's Nyquist frequency: then there is nothing to regenerate."""

    cutoff_hz: float
    band_limited: bool


def detect_cutoff(audio: np.ndarray, sample_rate: int, ceiling_hz: float = 8_000.0) -> CutoffEstimate:
    """Estimate where a source's spectrum ends (the band limit of a phone or low-rate recording).

    Looks for a cliff, not a slope: on the Welch power spectrum (~10 Hz bins,
    smoothed over 50 Hz), a frequency f is a band limit when the 300 Hz just below it lie at least
    25 dB above *everything* from max(500 Hz, f/10) above it to Nyquist (a 300 Hz median ignores
    isolated tones such as a monitor whine), and that band is within 60 dB of the spectrum's peak.
    Natural roll-offs (a bass-heavy mix) never drop 25 dB within a tenth of their frequency, so
    they are not mistaken for a limit. Of the limits found, the lowest is taken (a noise floor can
    have its own edge further up), and the cutoff is placed where the spectrum has fallen 10 dB
    below that band. Channels are averaged in power, so out-of-phase content does not cancel.
    """
    from scipy.ndimage import median_filter
    from scipy.signal import welch

    x = np.asarray(audio, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    x = x - x.mean(axis=0)
    nyq = sample_rate / 2
    limit = min(ceiling_hz, nyq)
    nperseg = min(len(x), 1 << max(8, int(math.ceil(math.log2(sample_rate / 10)))))
    if nperseg < 256 or not np.any(x):
        raise AudioInputError("the region is silent or too short to find a cutoff in; give it with --cutoff HZ")
    freqs, psd = welch(x, fs=sample_rate, nperseg=nperseg, axis=0)
    db = 10 * np.log10(psd.mean(axis=1) + 1e-30)
    df = freqs[1] - freqs[0]
    fine = _moving_mean(db, max(1, int(round(50 / df))))
    coarse = median_filter(fine, size=max(1, int(round(300 / df))) | 1, mode="nearest")
    w = max(1, int(round(300 / df)))
    n = len(fine)
    suffix_max = np.maximum.accumulate(coarse[::-1])[::-1]      # max of coarse[i:]
    csum = np.concatenate([[0.0], np.cumsum(fine)])
    peak = float(np.max(fine))
    for i in range(max(w, int(200 / df)), n - 1):
        g = max(500.0, 0.1 * freqs[i]) / df      # the cliff: a drop within 500 Hz or a tenth of f
        if i + g >= n:
            break
        below = (csum[i] - csum[i - w]) / w
        if below - suffix_max[int(i + g)] >= 25.0 and below >= peak - 60.0:
            j = i - w
            while j < n - 1 and fine[j] > below - 10.0:
                j += 1
            cutoff = float(freqs[j])
            return CutoffEstimate(cutoff_hz=round(cutoff), band_limited=cutoff < 0.97 * limit)
    return CutoffEstimate(cutoff_hz=round(nyq), band_limited=nyq < 0.97 * limit)


def _moving_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Centred moving average that averages only the samples that exist at the edges."""
    ones = np.ones(k)
    return np.convolve(x, ones, mode="same") / np.convolve(np.ones_like(x), ones, mode="same")


# --------------------------------------------------------------------------- stereo

def to_mid_side(stereo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames, 2) -> mid, side, with ``L = mid + side`` and ``R = mid - side``."""
    x = np.asarray(stereo, dtype=np.float64)
    return 0.5 * (x[:, 0] + x[:, 1]), 0.5 * (x[:, 0] - x[:, 1])


def from_mid_side(mid: np.ndarray, side: np.ndarray) -> np.ndarray:
    return np.stack([mid + side, mid - side], axis=1)
