"""Named pitches and tuning a render to one (engine/pitch.py, finish.tune_to): parsing, the DSP on
synthetic tones and a real recorded instrument, what is left alone and why, and the whole path
through a render of the built-in model."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from engine import descriptors as D
from engine import finishing, paths, pitch
from engine.errors import InvalidRequest
from engine.request import Finish, RenderRequest, migrate

SR = 48_000


def sine(hz: float, seconds: float = 2.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)[:, None]


def peak_hz(x: np.ndarray, sr: int = SR) -> float:
    """The strongest spectral peak, parabolically interpolated: a pitch reading that is not YIN."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1).mean(axis=1)
    n = len(x)
    mag = np.abs(np.fft.rfft(x * np.hanning(n), 8 * n))
    k = int(np.argmax(mag[1:-1])) + 1
    a, b, c = np.log(mag[k - 1:k + 2] + 1e-12)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / (8 * n)


def log_spectrum_shift(before: np.ndarray, after: np.ndarray, sr: int) -> float:
    """How far, in semitones, ``after``'s spectrum sits from ``before``'s: the lag of the best
    cross-correlation of their log-frequency magnitude spectra (independent of any f0 tracker)."""
    def logspec(x):
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1).mean(axis=1)
        mag = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        freqs = np.fft.rfftfreq(len(x), 1 / sr)
        grid = 100.0 * 2 ** (np.arange(0, 12 * 6 * 10) / 120.0)  # 100 Hz .. 6.4 kHz, 10 points a semitone
        return np.log1p(np.interp(grid, freqs, mag) / mag.max() * 1e3)

    a, b = logspec(before), logspec(after)
    a, b = a - a.mean(), b - b.mean()
    lags = range(-60, 61)
    scores = [np.dot(a[max(0, -k):len(a) - max(0, k)], b[max(0, k):len(b) - max(0, -k)]) for k in lags]
    return list(lags)[int(np.argmax(scores))] / 10.0


# ------------------------------------------------------------------ parsing

@pytest.mark.parametrize("name,hz", [("A4", 440.0), ("A3", 220.0), ("C4", 261.63), ("C#4", 277.18),
                                     ("Bb2", 116.54), ("F sharp 3", 185.0), ("E flat 2", 77.78), ("C-1", 8.18)])
def test_note_names(name, hz):
    assert pitch.note_hz(name) == pytest.approx(hz, abs=0.01)


def test_nearest_note_name():
    assert [pitch.note_name(h) for h in (440.0, 261.0, 82.4, 1046.5)] == ["A4", "C4", "E2", "C6"]


@pytest.mark.parametrize("prompt,hz", [
    ("a square wave tone tuned to A3, held for a long time", 220.0),
    ("a sine tone at 440 Hz", 440.0), ("a quiet sine tone at 2 kHz", 2000.0), ("a beep at 1.5kHz.", 1500.0),
    ("give me a sine wave at four hundred and forty hertz", 440.0), ("I want a beep of one kilohertz", 1000.0),
    ("electric hum, fifty hertz", 50.0), ("a tone at a thousand hertz", 1000.0),
    ("one point five kilohertz whistle", 1500.0), ("a bell ringing an E4", 329.63), ("a C#4 pluck.", 277.18),
])
def test_the_pitch_a_prompt_names(prompt, hz):
    found, why = pitch.prompt_pitch(prompt)
    assert found == pytest.approx(hz, abs=0.01) and why == ""


@pytest.mark.parametrize("prompt", ["a B2 bomber flyover", "C4 explosive blast", "G5 jet taking off",
                                    "A4 paper crumpling", "A sharp 2 second snare hit", "A flat 4 bar loop"])
def test_letters_and_digits_that_are_not_notes_are_not_read_as_notes(prompt):
    assert pitch.named_pitches(prompt) == []


@pytest.mark.parametrize("prompt,hz", [("a sine at 1,000 Hz", 1000.0), ("a 440-Hz tone", 440.0),
                                       ("middle C4 (261.63 Hz)", 261.63), ("a piano note tuned to C4 (261.63 Hz)", 261.63)])
def test_frequencies_as_people_write_them(prompt, hz):
    assert pitch.prompt_pitch(prompt)[0] == pytest.approx(hz, abs=0.01)


@pytest.mark.parametrize("prompt,reason", [
    ("pink noise", "names no pitch"), ("A 5 second drone", "names no pitch"), ("a 6 kHz whistle", "outside"),
    ("a sweep from 200 Hz to 2 kHz", "more than one pitch"), ("a rising sweep up to 2 kHz", "more than one pitch"),
    ("a C major chord in C4", "more than one pitch"), ("a rumble at 5 Hz", "outside"),
])
def test_prompts_with_nothing_to_tune_to_say_why(prompt, reason):
    found, why = pitch.prompt_pitch(prompt)
    assert found is None and reason in why


def test_frequencies_in_words_are_written_in_digits_and_nothing_else_changes():
    assert pitch.frequencies_in_digits("give me a sine wave at four hundred and forty hertz") == \
        "give me a sine wave at 440 Hz"
    assert pitch.frequencies_in_digits("a tone at a thousand hertz, three times") == "a tone at 1 kHz, three times"
    assert pitch.frequencies_in_digits("one point five kilohertz whistle") == "1.5 kHz whistle"
    assert pitch.frequencies_in_digits("four kicks and a snare") == "four kicks and a snare"


@pytest.mark.parametrize("value,hz", [("prompt", "prompt"), ("A3", 220.0), ("440 Hz", 440.0), (440, 440.0),
                                      ("2 kHz", 2000.0), ("123.5", 123.5)])
def test_tune_to_values(value, hz):
    got = pitch.parse_target(value)
    assert got == hz if isinstance(hz, str) else got == pytest.approx(hz, abs=0.01)


@pytest.mark.parametrize("value,words", [("H7", "not a pitch"), (5, "between 30 and 5000"), (True, "text or a number"),
                                         ("C12", "not a pitch"), (float("nan"), "between")])
def test_a_bad_tune_to_is_refused_by_the_request_with_what_to_give(value, words):
    with pytest.raises(InvalidRequest) as err:
        RenderRequest(prompt="x", finish={"tune_to": value})
    assert "finish.tune_to" in str(err.value) and words in str(err.value) and "note name" in str(err.value)


def test_requests_of_schema_5_read_as_they_were():
    data = migrate({"schema": 5, "mode": "generate", "prompt": "a bell", "finish": {"tail_s": 1.0}})
    assert RenderRequest(**data).finish == Finish(tail_s=1.0)


# ------------------------------------------------------------------ the DSP

def test_a_sharp_sine_is_tuned_keeping_its_length_and_timing():
    x = sine(470.0)
    y, report = pitch.tune(x, SR, 440.0)
    assert y.shape == x.shape and y.dtype == np.float32 and np.all(np.isfinite(y))
    assert abs(12 * np.log2(peak_hz(y[SR // 4:-SR // 4]) / 440.0)) < 0.1  # within 10 cents, by another reading
    assert report.shift_semitones == pytest.approx(12 * np.log2(440 / 470), abs=0.02)
    assert report.result_hz == pytest.approx(440.0, rel=0.01) and report.skipped == ""
    onset = np.argmax(np.abs(y[:, 0]) > 0.1) / SR
    assert onset < 0.01  # the shifter's latency is compensated: the sound does not start late


def test_a_recorded_instrument_is_tuned_by_the_interval_asked(tmp_path):
    """A real oboe sample (Debian's timgm6mb-soundfont): tuned 1.5 semitones up, its whole
    spectrum moves by that interval (read by cross-correlating log spectra, not by YIN)."""
    from engine.default_model import evaluate

    if not __import__("pathlib").Path(evaluate.SOUNDFONT).is_file():
        pytest.skip("timgm6mb-soundfont not installed")
    (path,) = evaluate.soundfont_samples(evaluate.SOUNDFONT, ("Oboe C#",), tmp_path)
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    f0 = D.fundamental_hz(x[:, 0], sr)
    assert f0 is not None
    target = f0 * 2 ** (1.5 / 12)
    y, report = pitch.tune(x, sr, target)
    assert y.shape == x.shape and report.skipped == ""
    assert log_spectrum_shift(x, y, sr) == pytest.approx(1.5, abs=0.25)
    assert abs(12 * np.log2(report.result_hz / target)) < 0.25


def test_tuning_keeps_the_peak_where_it_was():
    """Shifting moves a square wave's partials against each other (its peak rose from -1 to +5 dBFS
    before the level was held): the tuned sound peaks where the sound it was given did."""
    t = np.arange(SR) / SR
    square = (0.891 * np.sign(np.sin(2 * np.pi * 233.0 * t))).astype(np.float32)[:, None]
    y, report = pitch.tune(square, SR, 220.0)
    assert report.skipped == "" and np.abs(y).max() <= 0.891 + 1e-4


def test_a_drooping_note_that_jumps_is_tuned_along_its_length():
    """The default model's held notes droop and sometimes jump: the correction follows the track."""
    t = np.arange(int(2.0 * SR)) / SR
    f = np.where(t < 1.0, 240.0 * 2 ** (-0.5 * t / 12), 262.0)  # droops half a semitone, then jumps up
    x = (0.5 * np.sin(2 * np.pi * np.cumsum(f) / SR)).astype(np.float32)[:, None]
    y, report = pitch.tune(x, SR, 220.0)
    assert report.skipped == "" and report.shift_range[0] < report.shift_range[1] - 1.0
    for a, b in ((0.2, 0.5), (0.5, 0.8), (1.3, 1.8)):  # each part of it lands on 220 Hz
        part = y[int(a * SR):int(b * SR)]
        assert abs(12 * np.log2(peak_hz(part) / 220.0)) < 0.15, (a, peak_hz(part))
    assert y.shape == x.shape


def test_a_result_the_tracker_does_not_read_at_the_target_is_not_kept(monkeypatch):
    x = sine(233.0)
    readings = iter([(233.0, ""), (150.0, "")])  # before, then a misread after
    monkeypatch.setattr(pitch, "measure", lambda audio, sr, target=None: next(readings))
    out, report = pitch.tune(x, SR, 220.0)
    assert out is x and "measured 150.0 Hz, not 220.0 Hz: left as rendered" in report.skipped


def test_nothing_is_shifted_where_there_is_no_steady_pitch_or_it_is_too_far():
    rng = np.random.default_rng(0)
    noise = (0.3 * rng.standard_normal((SR, 1))).astype(np.float32)
    out, report = pitch.tune(noise, SR, 440.0)
    assert out is noise and "no steady pitch" in report.skipped
    t = np.arange(2 * SR) / SR
    sweep = np.sin(2 * np.pi * np.cumsum(np.geomspace(200, 2000, len(t))) / SR).astype(np.float32)[:, None]
    out, report = pitch.tune(sweep, SR, 440.0)
    assert out is sweep and "glides" in report.skipped
    low = sine(100.0)
    out, report = pitch.tune(low, SR, 440.0)  # 25.7 semitones
    assert out is low and "semitones from the target" in report.skipped and report.measured_hz == pytest.approx(100, rel=0.01)
    exact = sine(440.0)
    out, report = pitch.tune(exact, SR, 440.2)  # under a cent: left alone
    assert out is exact and report.shift_semitones == 0.0 and report.skipped == ""


def test_the_finishing_chain_tunes_first_and_reports_it():
    x = sine(233.0, 1.0)
    y, report = finishing.apply(x, SR, Finish(tune_to="prompt", fade_out_s=0.1), prompt="a square wave tuned to A3")
    assert report.tuning["target_hz"] == pytest.approx(220.0) and report.tuning["skipped"] == ""
    assert abs(12 * np.log2(peak_hz(y[:SR // 2]) / 220.0)) < 0.1
    assert np.abs(y[-50:]).max() < 0.01  # the fade came after the tuning
    same, report = finishing.apply(x, SR, Finish(tune_to="prompt"), prompt="a warm pad")
    assert np.array_equal(same, x) and report.tuning["target_hz"] is None and "names no pitch" in report.tuning["skipped"]


# ------------------------------------------------------------------ a render, end to end

bundled = pytest.mark.skipif(not (paths.default_model_dir() / "model_index.json").is_file(),
                             reason="the trained default model is not bundled in this checkout")


@bundled
def test_a_render_of_the_built_in_model_comes_back_at_the_named_note(tmp_path):
    from engine.audio_io import read_provenance
    from engine.loader import ModelCache
    from engine.pipeline import render

    models = ModelCache(device="cpu")
    prompt = "a square wave tone tuned to A3, held for a long time"
    raw = []
    for seed in (1000, 1003):  # rendered 1.0 and 1.9 semitones sharp
        result = render(RenderRequest(prompt=prompt, duration_s=2.56, seed=seed, finish={"tune_to": "prompt"}),
                        models, output=tmp_path / f"a3-{seed}.wav")
        (clip,) = result.clips
        audio, sr = sf.read(clip.path, dtype="float32")
        assert sr == 48_000 and len(audio) == 122_880 and np.all(np.isfinite(audio))
        tuning = read_provenance(clip.path)["finished"]["tuning"]
        raw.append(abs(12 * np.log2(tuning["measured_hz"] / 220.0)))
        f0 = D.fundamental_hz(audio, sr)
        assert tuning["skipped"] == "" and abs(12 * np.log2(f0 / 220.0)) < 0.3, (seed, tuning, f0)
        assert not result.warnings
    assert max(raw) > 0.5  # as rendered, at least one was audibly out of tune
    # An explicit note on a sound with no pitch: rendered as it is, and the user is told why.
    result = render(RenderRequest(prompt="constant white noise static", duration_s=1.0, seed=0,
                                  finish={"tune_to": "A3"}), models, output=tmp_path / "noise.wav")
    assert any("not tuned" in w and "no steady pitch" in w for w in result.warnings)


@bundled
def test_the_built_in_model_reads_frequencies_written_in_words_as_digits():
    import torch

    from engine import loader
    from engine.sampling import encode_text

    model = loader.load("builtin:default", device="cpu")
    assert model.extra.get("prompt_numbers") == "digits"
    words, digits = encode_text(model, ["a sine wave at four hundred and forty hertz", "a sine wave at 440 Hz"])
    assert torch.allclose(words, digits)
    model.extra.pop("prompt_numbers")
    words, digits = encode_text(model, ["a sine wave at four hundred and forty hertz", "a sine wave at 440 Hz"])
    assert not torch.allclose(words, digits, atol=1e-3)  # the flag is what made them the same


def test_the_results_list_says_how_a_clip_was_tuned(tmp_path):
    """The workstation's result line (gui/library.py, Qt-free) names the note a clip was tuned to and
    how far off it was rendered; an untuned clip says nothing, one the tuner left says so."""
    from gui.library import ClipInfo

    tuned = ClipInfo(tmp_path / "a.wav", {"seed": 1, "finished": {"tuning": {
        "target_hz": 220.0, "measured_hz": 246.0, "shift_semitones": -1.93, "skipped": ""}}})
    assert tuned.summary().endswith("tuned to A3 from +1.9 st")
    left = ClipInfo(tmp_path / "b.wav", {"seed": 2, "finished": {"tuning": {"target_hz": 440.0, "skipped": "no pitch"}}})
    assert left.summary().endswith("not tuned")
    assert "tun" not in ClipInfo(tmp_path / "c.wav", {"seed": 3}).summary()
    no_pitch = ClipInfo(tmp_path / "d.wav", {"seed": 4, "finished": {"tuning": {"target_hz": None, "skipped": "names no pitch"}}})
    assert "tun" not in no_pitch.summary()
