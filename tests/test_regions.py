"""engine.regions: reading regions exactly, and the pure DSP the edit modes are built from (no model)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import soxr

from engine import regions
from engine.errors import AudioInputError

RNG = np.random.default_rng(1234)


def pcm_values(frames: int, channels: int, bits: int) -> np.ndarray:
    """Random full-scale PCM values (as floats k / 2**(bits-1)), including both extremes."""
    k = RNG.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=(frames, channels))
    k[0, 0], k[1, 0] = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return k / 2.0 ** (bits - 1)


# --------------------------------------------------------------------------- reading

@pytest.mark.parametrize("fmt,subtype,bits", [
    ("WAV", "PCM_16", 16), ("WAV", "PCM_24", 24), ("WAV", "PCM_32", 32), ("WAV", "FLOAT", None),
    ("WAV", "DOUBLE", None), ("AIFF", "PCM_16", 16), ("AIFF", "PCM_24", 24), ("FLAC", "PCM_16", 16),
    ("FLAC", "PCM_24", 24), ("WAV", "PCM_U8", 8),
])
def test_read_region_returns_exact_sample_values(tmp_path, fmt, subtype, bits):
    sr = 44_100
    data = pcm_values(sr, 2, bits) if bits else RNG.uniform(-1, 1, (sr, 2)).astype(np.float32)
    path = tmp_path / f"src.{ {'WAV': 'wav', 'AIFF': 'aiff', 'FLAC': 'flac'}[fmt] }"
    sf.write(path, data, sr, format=fmt, subtype=subtype)
    region = regions.read_region(path, 0.25, 0.75)
    assert region.start_frame == round(0.25 * sr) and region.frames == round(0.5 * sr)
    assert region.audio.dtype == np.float64 and region.audio.shape == (round(0.5 * sr), 2)
    np.testing.assert_array_equal(region.audio, np.asarray(data, dtype=np.float64)[region.start_frame:region.end_frame])
    assert region.sample_format in ("pcm8", "pcm16", "pcm24", "pcm32", "float32", "float64")


def test_whole_file_when_region_omitted_and_mono_stays_mono(tmp_path):
    path = tmp_path / "mono.wav"
    sf.write(path, np.zeros(8000), 8000, subtype="PCM_16")
    region = regions.read_region(path)
    assert (region.start_frame, region.frames, region.channels) == (0, 8000, 1)
    assert region.sample_format == "pcm16"


def test_region_times_round_to_the_nearest_frame(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, np.zeros(48_000), 48_000)
    start, end = regions.region_frames(regions.probe(path), 0.1 + 0.4 / 48_000, 0.6 - 0.4 / 48_000)
    assert (start, end) == (4800, 28800)


@pytest.mark.parametrize("start,end,words", [
    (2.0, None, "outside the file"), (0.5, 1.5, "past the end"), (-0.1, 0.5, "before the file"),
    (0.5, 0.5, "not after"), (0.5, 0.55, "at least"),
])
def test_bad_regions_are_clear_errors(tmp_path, start, end, words):
    path = tmp_path / "one-second.wav"
    sf.write(path, np.zeros(16_000), 16_000)
    with pytest.raises(AudioInputError, match=words) as err:
        regions.read_region(path, start, end)
    assert "one-second.wav" in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------------------- windows and crossfades

@pytest.mark.parametrize("n,window,overlap", [(100, 100, 10), (1000, 300, 50), (10_007, 1024, 256), (301, 300, 50)])
def test_plan_windows_cover_everything_with_enough_overlap(n, window, overlap):
    plan = regions.plan_windows(n, window, overlap)
    assert plan[0][0] == 0 and plan[-1][1] == n
    assert all(b - a <= window for a, b in plan)
    for (a0, b0), (a1, b1) in zip(plan, plan[1:]):
        assert a1 > a0 and b0 - a1 >= overlap  # overlapping, never a hole
    if n <= window:
        assert plan == [(0, n)]


@pytest.mark.parametrize("rho", [0.0, 0.3, 1.0])
def test_crossfade_gains_keep_the_power_for_the_signals_correlation(rho):
    g_out, g_in = regions.crossfade_gains(500, rho)
    np.testing.assert_allclose(g_out**2 + g_in**2 + 2 * rho * g_out * g_in, 1.0, atol=1e-12)
    assert g_out[0] > 0.99 and g_in[-1] > 0.99 and np.all(np.diff(g_in) > 0)


def test_crossfade_of_identical_signals_is_the_signal_and_of_noise_keeps_its_level():
    x = RNG.standard_normal(4000)
    np.testing.assert_allclose(regions.crossfade(x, x), x, atol=1e-12)  # correlated: no +3 dB bump
    a, b = RNG.standard_normal(200_000), RNG.standard_normal(200_000)
    mid = regions.crossfade(a, b)[90_000:110_000]
    assert abs(np.sqrt(np.mean(mid**2)) - 1.0) < 0.03  # uncorrelated: no -3 dB dip


def test_splice_leaves_everything_outside_the_gap_untouched():
    src = RNG.standard_normal((10_000, 2))
    gen = RNG.standard_normal((10_000, 2))
    out = regions.splice(src, gen, 3000, 6000, fade=400)
    np.testing.assert_array_equal(out[:3000], src[:3000])
    np.testing.assert_array_equal(out[6000:], src[6000:])
    np.testing.assert_array_equal(out[3400:5600], gen[3400:5600])
    assert np.max(np.abs(out[3000] - src[3000])) < 0.02  # the fade starts at the source
    tiny = regions.splice(src, gen, 100, 103, fade=400)  # fade clamped to a third of the gap
    np.testing.assert_array_equal(tiny[:100], src[:100])
    np.testing.assert_array_equal(tiny[103:], src[103:])


# --------------------------------------------------------------------------- crossover

def _band_db(x, sr, lo, hi):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return 10 * np.log10(np.mean(spec[(f >= lo) & (f < hi)]) + 1e-30)


def test_band_filter_is_zero_phase_and_complementary():
    sr = 48_000
    x = RNG.standard_normal(sr)
    band = regions.band_filter(x, sr, 4000, 7800, 200)
    rest = x - band
    # Zero phase: the pass band comes out aligned with the input (no delay), the stop band is gone.
    tone = np.sin(2 * np.pi * 6000 * np.arange(sr) / sr)
    assert np.max(np.abs(regions.band_filter(tone, sr, 4000, 7800, 200) - tone)[2000:-2000]) < 1e-4
    assert _band_db(band, sr, 5000, 7000) - _band_db(x, sr, 5000, 7000) > -0.1
    assert _band_db(band, sr, 100, 3800) - _band_db(x, sr, 100, 3800) < -80
    assert _band_db(band, sr, 9000, 20000) - _band_db(x, sr, 9000, 20000) < -80
    assert abs(_band_db(rest, sr, 100, 3800) - _band_db(x, sr, 100, 3800)) < 0.01
    impulse = np.zeros(4001)
    impulse[2000] = 1.0
    response = regions.band_filter(impulse, sr, None, 3000, 200)
    assert int(np.argmax(response)) == 2000 and np.allclose(response, response[::-1], atol=1e-12)


def test_band_filter_of_a_stereo_signal_filters_each_channel():
    x = RNG.standard_normal((20_000, 2))
    y = regions.band_filter(x, 44_100, 2000, None)
    np.testing.assert_allclose(y[:, 1], regions.band_filter(x[:, 1], 44_100, 2000, None))


# --------------------------------------------------------------------------- cutoff detection

def lowpassed_noise(sr, cutoff, seconds=2.0, channels=1):
    """Noise band-limited the way a resampler does it (soxr to 2*cutoff and back)."""
    x = RNG.standard_normal((int(seconds * sr), channels)) * 0.1
    low = soxr.resample(x, sr, int(2 * cutoff))
    return soxr.resample(low, int(2 * cutoff), sr)[: len(x)]


@pytest.mark.parametrize("sr,cutoff", [(48_000, 4000), (44_100, 5512), (96_000, 3000), (22_050, 6000), (16_000, 3500)])
def test_detect_cutoff_finds_a_band_limit(sr, cutoff):
    est = regions.detect_cutoff(lowpassed_noise(sr, cutoff, channels=2), sr)
    assert est.band_limited
    assert abs(est.cutoff_hz - cutoff) < 0.06 * cutoff


def test_detect_cutoff_ignores_natural_rolloff_and_a_stray_whine():
    sr = 48_000
    n = 2 * sr
    spec = np.fft.rfft(RNG.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    spec[1:] /= f[1:] ** 0.8  # a steep natural roll-off: no band limit
    dark = np.fft.irfft(spec, n)
    assert not regions.detect_cutoff(dark / np.max(np.abs(dark)), sr).band_limited
    phone = lowpassed_noise(sr, 3400)[:, 0] + 1e-3 * np.sin(2 * np.pi * 15_000 * np.arange(len(dark)) / sr)
    est = regions.detect_cutoff(phone, sr)
    assert est.band_limited and abs(est.cutoff_hz - 3400) < 200


def test_detect_cutoff_at_the_nyquist_of_a_low_rate_file_is_not_a_band_limit():
    assert not regions.detect_cutoff(RNG.standard_normal(16_000), 8000).band_limited


def test_detect_cutoff_refuses_silence():
    with pytest.raises(AudioInputError, match="--cutoff"):
        regions.detect_cutoff(np.zeros(48_000), 48_000)


# --------------------------------------------------------------------------- stereo

def test_mid_side_round_trip():
    x = RNG.standard_normal((1000, 2))
    mid, side = regions.to_mid_side(x)
    np.testing.assert_allclose(regions.from_mid_side(mid, side), x, atol=1e-15)
