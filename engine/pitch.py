"""Named pitches, and tuning a rendered sound to one (pure functions on arrays; no torch).

A producer who asks for "a square wave tone tuned to A3" or "a sine tone at 440 Hz" wants that
pitch: a sample 40 cents or three semitones off is unusable against a track. The model follows a
named pitch only to within a few semitones (docs/default-model.md), so the finishing chain can tune
the render: ``finish.tune_to`` (``"prompt"``, a note name, or a frequency) measures the sound's
fundamental along its length (YIN, :mod:`engine.descriptors`) and shifts it there with pedalboard's
offline time-preserving pitch shifter (Rubber Band), following the pitch track where the note
droops or jumps, so the clip keeps its exact length; then it measures the result again.

Nothing is shifted when there is nothing to tune: a prompt naming no pitch (or two: a sweep "from
200 Hz to 2 kHz", a chord), a sound with no steady pitch (noise, drums, a chord), a pitch that
glides (a siren, a sweep), one more than :data:`MAX_SHIFT_SEMITONES` away, or a result the tracker
does not read at the target (never worse than as rendered); the report says why.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

import numpy as np

#: Note names: A4 = 440 Hz, equal temperament; C4 is middle C (scientific pitch notation).
A4_HZ = 440.0
_SEMITONE = {"C": -9, "D": -7, "E": -5, "F": -4, "G": -2, "A": 0, "B": 2}
_ACCIDENTAL = {"": 0, "#": 1, "♯": 1, "sharp": 1, "b": -1, "♭": -1, "flat": -1}
#: "A3", "C#4", "Bb2", "F sharp 3", "E flat2": an upper-case letter, an accidental, an octave -1..9.
_NOTE = re.compile(r"(?<![\w#♯♭])([A-G])(#|♯|b|♭|\s+sharp\s*|\s+flat\s*)?(-1|\d)(?!\w|\.\d)")
#: A note name without an accidental sign ("B2", "C4", "F sharp 3") is only a note after one of these
#: words ("tuned to A3", "the note G3", "an E4", "bass on A1"): "a B2 bomber", "C4 explosive", "A4
#: paper" and "A sharp 2 second hit" are not notes.
_NOTE_CUES = frozenset({"to", "at", "on", "in", "an", "of", "note", "pitch", "key", "tuned", "pitched", "playing",
                        "plays", "sings", "singing", "hum", "hums", "humming"})
#: "440 Hz", "440hz", "440-Hz", "1.5 kHz", "1,000 Hz", "2 kilohertz", "55 hertz".
_FREQ = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*-?\s*(khz|kilohertz|hz|hertz)\b", re.IGNORECASE)
#: Numbers written in words, up to the thousands ("four hundred and forty", "one point five").
_UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                     "fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i > 1}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, "hundred", "thousand", "and", "point", "a"], key=len, reverse=True))
_WORDS_FREQ = re.compile(rf"\b((?:(?:{_NUMBER_WORD})[\s-]+)+)(kilohertz|hertz|khz|hz)\b", re.IGNORECASE)
#: Words that say the sound has more than one pitch, or a moving one: nothing to tune to.
_MANY_PITCHES = re.compile(r"\b(chords?|arpeggio\w*|sweep\w*|glid\w*|sliding|slides?|risers?)\b", re.IGNORECASE)

#: Pitches the finishing chain tunes to: the range its pitch tracker reads (YIN,
#: :data:`engine.descriptors.F0_MIN_HZ` .. ``F0_MAX_HZ``); outside it a result could not be checked.
MIN_HZ, MAX_HZ = 30.0, 5000.0
#: A tuned sound must read within this of its target, or it is left as rendered.
LANDED_SEMITONES = 1.0
#: The largest correction applied; the model is rarely further off than this, and a bigger shift
#: changes a sound's character (formants, attack) more than a producer expects of "tuning".
MAX_SHIFT_SEMITONES = 12.0
#: The correction follows the sound's pitch track smoothed over this long (a running median): slow
#: drift and jumps between notes are taken out, vibrato (4-7 per second) is kept.
FOLLOW_S = 0.25
#: A correction that varies less than this along the sound is applied as one shift (which keeps
#: every sample's timing exactly); a larger range follows the curve (onsets move by up to ~6 ms).
STEADY_RANGE_SEMITONES = 0.25
VARYING_PAD_S = 0.2
#: The curve is followed only when this share of the loud frames has a pitch near the note's.
RELIABLE_TRACK = 0.8
#: Corrections smaller than this (5 cents) are left alone: below what anyone hears.
MIN_SHIFT_SEMITONES = 0.05
#: A pitch track moving faster than this (semitones per second, on average) is a glide, not a note
#: (the default model's held notes droop by up to ~5 per second; a sweep or siren moves 10-40).
MAX_GLIDE_ST_PER_S = 6.0


def note_hz(name: str) -> float:
    """The frequency of a note name ("A4" = 440 Hz, "C#3", "Bb2", "F sharp 3"); ValueError if it is not one."""
    m = _NOTE.fullmatch(name.strip())
    if not m:
        raise ValueError(f"{name!r} is not a note name (a letter A-G, an optional # or b, an octave: A3, C#4, Bb2)")
    letter, accidental, octave = m.group(1), (m.group(2) or "").strip(), int(m.group(3))
    semis = _SEMITONE[letter] + _ACCIDENTAL[accidental] + 12 * (octave - 4)
    return A4_HZ * 2.0 ** (semis / 12.0)


def note_name(hz: float) -> str:
    """The nearest note to ``hz``, with sharps ("A3", "C#5")."""
    n = int(round(12 * math.log2(hz / A4_HZ))) + 57  # semitones above C0
    return ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"][n % 12] + str(n // 12)


def words_to_number(text: str) -> float | None:
    """ "four hundred and forty" -> 440, "one point five" -> 1.5, "a" -> 1; None if not a number."""
    words = [w for w in re.split(r"[\s-]+", text.lower().strip()) if w and w != "and"]
    if not words:
        return None
    if "point" in words:
        i = words.index("point")
        whole = words_to_number(" ".join(words[:i])) if i else 0.0
        digits = words[i + 1:]
        if whole is None or not digits or any(d not in _UNITS or _UNITS[d] > 9 for d in digits):
            return None
        return whole + float("0." + "".join(str(_UNITS[d]) for d in digits))
    total = current = 0
    for w in words:
        if w == "a" and current == 0:
            current = 1
        elif w in _UNITS:
            current += _UNITS[w]
        elif w in _TENS:
            current += _TENS[w]
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w == "thousand":
            total, current = total + max(current, 1) * 1000, 0
        else:
            return None
    return float(total + current)


def _hz(number: float, unit: str) -> float:
    return number * (1000.0 if unit.lower() in ("khz", "kilohertz") else 1.0)


def named_pitches(prompt: str) -> list[float]:
    """Every pitch a prompt names, in Hz, in order: note names, and frequencies in digits or in
    words ("four hundred and forty hertz", "one kilohertz")."""
    prompt = frequencies_in_digits(prompt)
    found = []
    for m in _NOTE.finditer(prompt):
        sign = (m.group(2) or "").strip() in ("#", "♯", "b", "♭")
        before = re.findall(r"[\w']+", prompt[:m.start()].lower())
        if sign or (before and before[-1] in _NOTE_CUES):
            found.append((m.start(), note_hz(m.group(0))))
    for m in _FREQ.finditer(prompt):
        found.append((m.start(), _hz(float(m.group(1).replace(",", "")), m.group(2))))
    return [hz for _, hz in sorted(found)]


def digits_hz(hz: float) -> str:
    """A frequency as the default model's captions write it: "440 Hz", "1.5 kHz"."""
    return f"{hz / 1000:g} kHz" if hz >= 1000 else f"{hz:g} Hz"


def frequencies_in_digits(text: str) -> str:
    """``text`` with frequencies written in words put in digits ("a sine at four hundred and forty
    hertz" -> "a sine at 440 Hz"); everything else is left as it is. For a text encoder whose
    vocabulary only ever saw digits (the default model's: ``"prompt_numbers": "digits"``)."""
    def digits(m: re.Match) -> str:
        words = m.group(1).split()
        lead = []
        while len(words) > 1 and words[0].lower() in ("a", "and") and not (
                words[0].lower() == "a" and words[1].lower() in ("hundred", "thousand")):
            lead.append(words.pop(0))
        value = words_to_number(" ".join(words))
        if value is None:
            return m.group(0)
        return " ".join([*lead, digits_hz(_hz(value, m.group(2)))])

    return _WORDS_FREQ.sub(digits, text)


def prompt_pitch(prompt: str) -> tuple[float | None, str]:
    """The one pitch a prompt asks for, or ``(None, why not)``."""
    pitches = named_pitches(prompt)
    if not pitches:
        return None, "the prompt names no pitch (a note such as A3, or a frequency such as 440 Hz)"
    outside = [p for p in pitches if not MIN_HZ <= p <= MAX_HZ]
    if outside:
        return None, f"the prompt's pitch {outside[0]:g} Hz is outside {MIN_HZ:g}-{MAX_HZ:g} Hz"
    # One pitch may be named twice ("C4 (261.63 Hz)"); two apart, or a moving one, is not one note.
    if max(abs(12.0 * math.log2(p / pitches[0])) for p in pitches) > 0.5 or _MANY_PITCHES.search(prompt):
        return None, "the prompt asks for more than one pitch or a moving one (a chord, a sweep)"
    return pitches[0], ""


def parse_target(value) -> float | str:
    """``finish.tune_to`` as given: ``"prompt"``, a frequency in Hz (a number, or text such as
    "440 Hz"), or a note name. Returns "prompt" or the frequency; ValueError says what is accepted."""
    accepted = ('use "prompt" (the pitch the prompt names), a note name such as "A3" or "C#4", '
                'or a frequency in Hz such as 440')
    if isinstance(value, bool):
        raise ValueError(f"tune_to must be text or a number, got {value!r}; {accepted}")
    if isinstance(value, (int, float)):
        hz = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.lower() == "prompt":
            return "prompt"
        freq = _FREQ.fullmatch(text)
        try:
            hz = (_hz(float(freq.group(1).replace(",", "")), freq.group(2)) if freq
                  else float(text) if _is_number(text) else note_hz(text))
        except ValueError:
            raise ValueError(f"tune_to {value!r} is not a pitch; {accepted}") from None
    else:
        raise ValueError(f"tune_to must be text or a number, got {value!r}; {accepted}")
    if not (math.isfinite(hz) and MIN_HZ <= hz <= MAX_HZ):
        raise ValueError(f"tune_to must be between {MIN_HZ:g} and {MAX_HZ:g} Hz, got {value!r}; {accepted}")
    return hz


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Tuning:
    """What :func:`tune` did, for provenance: the target, the pitch measured before and after, the
    shift applied (0 when nothing was), and why nothing was when it was not."""

    target_hz: float | None
    measured_hz: float | None = None
    shift_semitones: float = 0.0
    result_hz: float | None = None
    skipped: str = ""
    #: The smallest and largest shift along the sound (it follows drift and jumps between notes).
    shift_range: tuple[float, float] | None = None

    def to_dict(self) -> dict:
        def rounded(v):
            return round(v, 3) if isinstance(v, float) else [rounded(u) for u in v] if isinstance(v, tuple) else v

        return {k: rounded(v) for k, v in asdict(self).items()}


#: Pitch is read at this rate when the target allows (YIN's cost grows with the square of the rate:
#: a 2.5 s clip at 48 kHz took 0.29 s to tune, most of it reading pitch three times).
ANALYSIS_SR = 16_000


def _mono(audio: np.ndarray, sr: int, target_hz: float | None = None) -> tuple[np.ndarray, int]:
    """The mono mix to read pitch from, at :data:`ANALYSIS_SR` when the rate is higher and the target
    is well inside that rate's pitch range (YIN reads up to a third of the rate), else as it is."""
    from .dsp import resample

    x = np.asarray(audio, dtype=np.float32)
    x = x.mean(axis=1) if x.ndim == 2 else x
    if sr > ANALYSIS_SR and (target_hz is None or target_hz <= ANALYSIS_SR / 5):
        return resample(x, sr, ANALYSIS_SR).astype(np.float64), ANALYSIS_SR
    return x.astype(np.float64), sr


def measure(audio: np.ndarray, sr: int, target_hz: float | None = None) -> tuple[float | None, str]:
    """The steady fundamental of (frames,) or (frames, channels) audio, or ``(None, why not)``."""
    from . import descriptors

    mono, sr = _mono(audio, sr, target_hz)
    f0 = descriptors.fundamental_hz(mono, sr)
    if f0 is None:
        return None, "no steady pitch found in the sound (noise, a drum, a chord?)"
    slope = descriptors.pitch_track_slope(mono, sr)
    if slope is not None and abs(slope) > MAX_GLIDE_ST_PER_S:
        return None, f"the pitch glides ({slope:+.1f} semitones per second): a sweep, not a note"
    return f0, ""


def correction(audio: np.ndarray, sr: int, target_hz: float, follow_s: float = FOLLOW_S):
    """The shift, in semitones, that puts the sound on ``target_hz`` at every 10 ms frame:
    ``(frame_times_s, semitones, measured_hz, "")``, or ``(None, None, measured_hz or None, why not)``.

    It follows the sound's own pitch track (YIN), so a note that droops or jumps is corrected along
    its length, not only on average; frames an octave-error away from the note (over 7 semitones
    from its median) are left out, and the curve is smoothed by a running median over ``follow_s``
    so that vibrato, quicker than that, is kept."""
    from scipy.ndimage import median_filter

    from . import descriptors

    f0_hz, why = measure(audio, sr, target_hz)
    if f0_hz is None:
        return None, None, None, why
    semis = 12.0 * math.log2(target_hz / f0_hz)
    if abs(semis) > MAX_SHIFT_SEMITONES:
        return None, None, f0_hz, (f"the sound is {semis:+.1f} semitones from the target (more than "
                             f"{MAX_SHIFT_SEMITONES:g}): render another seed")
    times, track, rms = descriptors.pitch_track(*_mono(audio, sr, target_hz))
    loud = rms >= rms.max() * 10 ** (-25 / 20)
    ok = loud & np.isfinite(track)
    ok[ok] &= np.abs(12.0 * np.log2(track[ok] / f0_hz)) <= 7.0
    frames = np.flatnonzero(ok)
    if len(frames) < RELIABLE_TRACK * loud.sum():  # too few frames to follow: one shift, the median's
        return times, np.full(len(times), semis), f0_hz, ""
    per_frame = np.interp(np.arange(len(times)), frames, 12.0 * np.log2(target_hz / track[frames]))
    size = max(1, int(round(follow_s / (times[1] - times[0] if len(times) > 1 else 0.01))) | 1)
    return times, median_filter(per_frame, size=size, mode="nearest"), f0_hz, ""


def shift(audio: np.ndarray, sr: int, semitones) -> np.ndarray:
    """(frames, channels) float32 audio shifted by ``semitones`` (a number, or one per sample) with
    its length kept: pedalboard's offline Rubber Band (``time_stretch`` at speed 1, high quality).
    Measured first: the real-time ``PitchShift`` plugin left a 470 Hz sine tuned to 440 Hz wavering
    at 440-456 Hz (spectral peak 445 Hz), this gives 440.0 Hz throughout; with formants preserved,
    a 1.5 kHz beep tuned to 1 kHz gained a -52 dB line at 500 Hz that pitch trackers then read as
    its fundamental (without: -82 dB), so formants move with the pitch, as they do on a varispeed."""
    import pedalboard

    x = np.asarray(audio, dtype=np.float32)
    # Rubber Band garbles samples beyond full scale (a raw render peaking at 3.3 came back at 0.4,
    # an octave down): shifted at full scale, then given its level back.
    gain = max(1.0, float(np.abs(x).max()))
    x = x / gain
    if np.isscalar(semitones):
        pad, amount = 0, float(semitones)
    else:  # a varying shift starts muted for ~30 ms: that start-up goes into silence put in front
        pad = int(round(VARYING_PAD_S * sr))
        amount = np.concatenate([np.full(pad, semitones[0]), semitones]).astype(np.float64)
    y = pedalboard.time_stretch(np.ascontiguousarray(np.pad(x, ((pad, 0), (0, 0))).T), float(sr),
                                stretch_factor=1.0, pitch_shift_in_semitones=amount, high_quality=True,
                                preserve_formants=False).T[pad:]
    out = np.zeros_like(x)
    out[:min(len(x), len(y))] = y[:len(x)]  # a varying shift leaves a few ms more at the end
    return out * np.float32(gain)


def tune(audio: np.ndarray, sr: int, target_hz: float) -> tuple[np.ndarray, Tuning]:
    """(frames, channels) audio with its fundamental moved to ``target_hz`` along its length
    (:func:`correction`); unchanged, with the reason in the report, when it has no steady pitch,
    glides, or is more than :data:`MAX_SHIFT_SEMITONES` away."""
    x = np.asarray(audio, dtype=np.float32)
    x = x[:, None] if x.ndim == 1 else x
    times, per_frame, measured, why = correction(x, sr, target_hz)
    if times is None:
        return audio, Tuning(target_hz, measured, skipped=why)
    median_shift = 12.0 * math.log2(target_hz / measured)
    if np.abs(per_frame).max() < MIN_SHIFT_SEMITONES:
        return audio, Tuning(target_hz, measured, 0.0, measured)
    steady = np.ptp(per_frame) < STEADY_RANGE_SEMITONES
    out = shift(x, sr, float(np.median(per_frame)) if steady else np.interp(np.arange(len(x)) / sr, times, per_frame))
    out = out[:, 0] if np.asarray(audio).ndim == 1 else out
    # A shift moves partials against each other: a square wave at -1 dBFS came back peaking at
    # +5 dBFS. The peak is held where it was (the level the chain was given, normalised or not).
    peak_in, peak_out = float(np.abs(x).max()), float(np.abs(out).max())
    if peak_out > peak_in > 0:
        out = out * np.float32(peak_in / peak_out)
    after, _ = measure(out, sr, target_hz)
    if after is None or abs(12.0 * math.log2(after / target_hz)) > LANDED_SEMITONES:
        # It did not land (a sound whose pitch the tracker misreads): never worse than as rendered.
        return audio, Tuning(target_hz, measured, skipped=f"the tuned sound measured "
                             f"{'no pitch' if after is None else f'{after:.1f} Hz'}, not {target_hz:.1f} Hz: "
                             f"left as rendered")
    return out, Tuning(target_hz, measured, median_shift, after,
                       shift_range=(float(per_frame.min()), float(per_frame.max())))
