"""The three edit modes on tiny random models: the structural promises of issue 4.

Random weights make noise, so these tests check what does not depend on the weights: bit-identity
outside an inpainting gap, exact length / rate / channels / sample format, the source's low band
kept by super-resolution, the strength trend of style transfer, seam-free windows, stereo handling,
provenance and the CLI. Renders are short (0.5-3 s) with 2-4 steps.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from engine import editing, regions, sampling
from engine.audio_io import read_bext, read_provenance
from engine.errors import AudioInputError, Cancelled, InvalidRequest
from engine.pipeline import render
from engine.request import RenderRequest

RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def model(models, tiny_model_dir):
    return models.get(str(tiny_model_dir))


def source_audio(sr: int, seconds: float, channels: int, seed: int = 0) -> np.ndarray:
    """Tones plus noise, different on each channel, peaking around -6 dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    chans = [0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))
             + 0.03 * rng.standard_normal(len(t)) for c in range(channels)]
    return np.stack(chans, axis=1)


def write_source(path, sr, seconds, channels, subtype="PCM_24", seed=0, audio=None):
    audio = source_audio(sr, seconds, channels, seed) if audio is None else audio
    sf.write(path, audio, sr, subtype=subtype)
    return path


def read_native(path, subtype):
    """Sample values as integers for PCM (what "bit-identical" means), floats otherwise."""
    dtype = {"PCM_16": "int16", "PCM_24": "int32", "PCM_32": "int32"}.get(subtype, "float64")
    return sf.read(path, dtype=dtype, always_2d=True)[0]


def run(model, mode_fn, path, start=None, end=None, **fields):
    region = regions.read_region(path, start, end)
    fields.setdefault("steps", 2)
    fields.setdefault("seed", 1)
    fields.setdefault("guidance_scale", 1.0)  # no CFG batch: half the work, same structure
    request = RenderRequest(mode=mode_fn.__name__, source_path=str(path), region_start_s=start,
                            region_end_s=end, **fields)
    cond = sampling.encode_prompt(model, request.prompt, "", request.guidance_scale)
    return region, mode_fn(model, region, request, seed=request.seed, cond=cond)


# --------------------------------------------------------------------------- inpainting

@pytest.mark.parametrize("sr,channels,subtype", [
    (44_100, 2, "PCM_16"), (48_000, 1, "PCM_24"), (96_000, 2, "FLOAT"), (22_050, 1, "PCM_32"),
])
def test_inpaint_is_bit_identical_outside_the_gap(tmp_path, models, tiny_model_dir, sr, channels, subtype):
    src = write_source(tmp_path / "take.wav", sr, 1.6, channels, subtype)
    request = RenderRequest(mode="inpaint", source_path=str(src), region_start_s=0.2, region_end_s=1.5,
                            gap_start_s=0.7, gap_end_s=1.0, steps=2, seed=3, model=str(tiny_model_dir),
                            prompt="room tone", guidance_scale=1.0)
    result = render(request, models, output=tmp_path / "out.wav")
    clip = result.clips[0]
    info = sf.info(clip.path)
    assert (info.samplerate, info.channels, info.subtype) == (sr, channels, subtype)
    a, b = round(0.2 * sr), round(1.5 * sr)
    assert info.frames == clip.frames == b - a
    out = read_native(clip.path, subtype)
    ref = read_native(src, subtype)[a:b]
    gs, ge = round(0.7 * sr) - a, round(1.0 * sr) - a
    np.testing.assert_array_equal(out[:gs], ref[:gs])
    np.testing.assert_array_equal(out[ge:], ref[ge:])
    changed = np.nonzero(np.any(out != ref, axis=1))[0]
    assert changed.min() >= gs and changed.max() < ge and len(changed) > 0.9 * (ge - gs)
    meta = read_provenance(clip.path)
    assert meta["mode"] == "inpaint" and meta["gap_frames"] == [gs + a, ge + a]
    assert meta["gap_fade_s"] <= 0.020 and meta["region_frames"] == [a, b]


def test_inpaint_level_follows_the_source_and_the_gap_depends_on_its_context(tmp_path, model):
    sr = 32_000
    base = source_audio(sr, 1.0, 1)
    loud = write_source(tmp_path / "loud.wav", sr, 0, 1, "FLOAT", audio=base)
    quiet = write_source(tmp_path / "quiet.wav", sr, 0, 1, "FLOAT", audio=0.25 * base)
    other = base.copy()
    other[: int(0.3 * sr)] = 0.3 * np.sign(np.sin(2 * np.pi * 90 * np.arange(int(0.3 * sr)) / sr))[:, None]
    changed_context = write_source(tmp_path / "other.wav", sr, 0, 1, "FLOAT", audio=other)
    gap = dict(gap_start_s=0.4, gap_end_s=0.6)
    _, a = run(model, editing.inpaint, loud, **gap)
    _, b = run(model, editing.inpaint, quiet, **gap)
    _, c = run(model, editing.inpaint, changed_context, **gap)
    g = slice(int(0.4 * sr), int(0.6 * sr))
    # The front end normalises each window and the gain is undone: the gap scales with its source.
    np.testing.assert_allclose(b.audio[g], 0.25 * a.audio[g], atol=2e-3 * np.max(np.abs(a.audio[g])))
    # Same gap content, different surroundings: the model continued the surroundings.
    assert np.max(np.abs(c.audio[g] - a.audio[g])) > 0.05 * np.max(np.abs(a.audio[g]))
    # And the join itself is continuous: the fade starts at the source's value.
    x = regions.read_region(loud).audio
    assert abs(a.audio[g.start, 0] - x[g.start, 0]) < 1e-3 * np.max(np.abs(x))


def test_a_long_gap_is_filled_window_by_window(tmp_path, model):
    sr = 16_000
    src = write_source(tmp_path / "long-gap.wav", sr, 2.0, 1, "PCM_16")
    region, windowed = run_with_windows(model, editing.inpaint, src, window_s=0.8, overlap_s=0.2,
                                        gap_start_s=0.6, gap_end_s=1.5)
    assert windowed.details["windows"] >= 2 and windowed.details["context_s"] == 0.25
    x = region.audio
    np.testing.assert_array_equal(windowed.audio[: int(0.6 * sr)], x[: int(0.6 * sr)])
    np.testing.assert_array_equal(windowed.audio[int(1.5 * sr):], x[int(1.5 * sr):])
    gap = windowed.audio[int(0.62 * sr):int(1.48 * sr)]
    assert np.all(np.isfinite(gap)) and np.min(np.sqrt(np.mean(gap.reshape(-1, 320) ** 2, axis=1))) > 0


def run_with_windows(model, mode_fn, path, window_s, overlap_s, **fields):
    region = regions.read_region(path)
    request = RenderRequest(mode=mode_fn.__name__, source_path=str(path), steps=2, seed=1, guidance_scale=1.0,
                            **fields)
    cond = sampling.encode_prompt(model, request.prompt, "", request.guidance_scale)
    return region, mode_fn(model, region, request, seed=1, cond=cond, window_s=window_s, overlap_s=overlap_s)


def test_gap_outside_the_region_is_a_clear_error(tmp_path, model):
    src = write_source(tmp_path / "s.wav", 16_000, 1.0, 1)
    with pytest.raises(InvalidRequest, match="not inside the region"):
        run(model, editing.inpaint, src, gap_start_s=0.9, gap_end_s=1.2)


# --------------------------------------------------------------------------- exact length, rate, channels

LENGTH_CASES = [  # every rate, mono and stereo, each of the three modes on several rates
    (8_000, 1, "inpaint"), (8_000, 2, "style_transfer"), (22_050, 1, "upsample"), (22_050, 2, "inpaint"),
    (44_100, 1, "style_transfer"), (44_100, 2, "upsample"), (48_000, 1, "inpaint"), (48_000, 2, "style_transfer"),
    (96_000, 1, "upsample"), (96_000, 2, "inpaint"),
]


@pytest.mark.parametrize("sr,channels,mode", LENGTH_CASES)
def test_output_has_the_regions_exact_length_rate_and_channels(tmp_path, models, tiny_model_dir, sr, channels, mode):
    src = write_source(tmp_path / "src.wav", sr, 1.0, channels, "PCM_16")
    start, end = 0.1234567, 0.7771234  # not on any sample boundary
    extra = {"inpaint": dict(gap_start_s=0.3, gap_end_s=0.5), "style_transfer": dict(prompt="a bell", strength=0.6),
             "upsample": dict(cutoff_hz=3000.0)}[mode]
    request = RenderRequest(mode=mode, source_path=str(src), region_start_s=start, region_end_s=end, steps=2,
                            seed=5, model=str(tiny_model_dir), timeline_position_s=12.5, guidance_scale=1.0,
                            **extra)
    clip = render(request, models, output=tmp_path / "out.wav").clips[0]
    frames = round(end * sr) - round(start * sr)
    info = sf.info(clip.path)
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (sr, channels, frames, "PCM_16")
    assert (clip.sample_rate, clip.channels, clip.frames) == (sr, channels, frames)
    assert read_bext(clip.path)["time_reference"] == round(12.5 * sr)
    meta = json.loads((tmp_path / "out.wav.json").read_text())
    assert meta["source_path"] == str(src.resolve()) and meta["region_frames"] == [round(start * sr), round(end * sr)]
    assert meta["time_reference"] == round(12.5 * sr) and meta["seed"] == 5
    assert np.all(np.isfinite(sf.read(clip.path)[0]))


# --------------------------------------------------------------------------- super-resolution

def band_limited(sr, seconds, cutoff, channels, seed=0):
    """Noise band-limited as a resampler does (soxr down to 2 x cutoff and back up)."""
    rng = np.random.default_rng(seed)
    x = 0.1 * rng.standard_normal((int(seconds * sr), channels))
    return soxr.resample(soxr.resample(x, sr, 2 * cutoff), 2 * cutoff, sr)[: len(x)]


def band_db(x, sr, lo, hi):
    from scipy.signal import welch

    f, p = welch(x, sr, nperseg=4096, axis=0)
    return 10 * np.log10(np.mean(p[(f >= lo) & (f < hi)], axis=0) + 1e-30)


def test_upsample_keeps_the_low_band_and_the_content_above_8khz_and_fills_the_band_between(tmp_path, models,
                                                                                             tiny_model_dir):
    sr = 48_000
    x = band_limited(sr, 1.2, 4000, 2)
    t = np.arange(len(x)) / sr
    x[:, 0] += 0.02 * np.sin(2 * np.pi * 12_000 * t)  # content the source already has above 8 kHz
    src = write_source(tmp_path / "phone.wav", sr, 0, 2, "FLOAT", audio=x)
    request = RenderRequest(mode="upsample", source_path=str(src), steps=2, seed=2, model=str(tiny_model_dir),
                            guidance_scale=1.0)
    result = render(request, models, output=tmp_path / "up.wav")
    assert any("detected cutoff" in w for w in result.warnings)
    meta = read_provenance(result.clips[0].path)
    assert meta["cutoff_detected"] is True and abs(meta["cutoff_hz"] - 4000) < 250
    y = sf.read(result.clips[0].path, always_2d=True)[0]
    assert y.shape == x.shape
    fc = meta["cutoff_hz"]
    # Below the cutoff: the source's own content (crossover, not resynthesis).
    low_x, low_y = x - regions.band_filter(x, sr, 0.9 * fc, None), y - regions.band_filter(y, sr, 0.9 * fc, None)
    inner = slice(int(0.05 * sr), -int(0.05 * sr))  # the measuring filter's own edge effects
    assert np.max(np.abs(low_y - low_x)[inner]) < 1e-3 * np.max(np.abs(low_x))
    np.testing.assert_allclose(band_db(y, sr, 100, 0.9 * fc), band_db(x, sr, 100, 0.9 * fc), atol=0.05)
    # Between the cutoff and 8 kHz: new content, where the source had (almost) none.
    assert np.all(band_db(y, sr, fc + 300, 7500) > band_db(x, sr, fc + 300, 7500) + 30)
    # Above 8 kHz: the source's 12 kHz tone kept at its level, nothing added.
    np.testing.assert_allclose(band_db(y, sr, 11_900, 12_100)[0], band_db(x, sr, 11_900, 12_100)[0], atol=0.1)
    assert band_db(y, sr, 9000, 11_000)[1] < band_db(x, sr, 100, 3000)[1] - 60


def test_upsample_of_an_8khz_file_comes_back_at_16khz_with_the_regions_length(tmp_path, model):
    x = band_limited(8000, 1.0, 3400, 1)
    src = write_source(tmp_path / "call.wav", 8000, 0, 1, "PCM_16", audio=x)
    region, out = run(model, editing.upsample, src, 0.25, 0.75)
    assert out.sample_rate == 16_000 and out.audio.shape == (8000, 1)
    assert any("16000 Hz" in w for w in out.warnings)
    assert abs(out.details["cutoff_hz"] - 3400) < 250
    up = soxr.resample(region.audio, 8000, 16_000)
    assert band_db(out.audio, 16_000, 4500, 7500)[0] > band_db(up, 16_000, 4500, 7500)[0] + 30


def test_upsample_of_a_full_band_source_returns_it_unchanged(tmp_path, model):
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (16_000, 1))
    src = write_source(tmp_path / "full.wav", 16_000, 0, 1, "PCM_24", audio=x)
    region, out = run(model, editing.upsample, src)
    np.testing.assert_array_equal(out.audio, region.audio)
    assert out.model_audio is None and any("no band limit" in w for w in out.warnings)


def test_upsample_of_silence_asks_for_a_cutoff(tmp_path, model):
    src = write_source(tmp_path / "silence.wav", 48_000, 0, 1, "PCM_16", audio=np.zeros((24_000, 1)))
    with pytest.raises(AudioInputError, match="silence.wav: .*--cutoff"):
        run(model, editing.upsample, src)


# --------------------------------------------------------------------------- style transfer

def test_style_transfer_distance_to_the_source_grows_with_strength(tmp_path, model, monkeypatch):
    src = write_source(tmp_path / "trumpet.wav", 22_050, 0.6, 1, "PCM_16")
    captured = []
    real_decode = editing.decode

    def spy(m, latents, n=None, times=None, **kw):
        captured.append(latents.clone())
        return real_decode(m, latents, n, times, **kw)

    monkeypatch.setattr(editing, "decode", spy)
    distances = []
    for strength in (0.25, 0.5, 0.75, 1.0):
        captured.clear()
        _, out = run(model, editing.style_transfer, src, prompt="children singing", strength=strength, steps=4)
        final, source_latent = captured[0], captured[1]  # the render, then the source's own rendering
        distances.append(float((final - source_latent).norm() / source_latent.norm()))
        assert np.sqrt(np.mean(out.audio**2)) > 0.1 * np.sqrt(np.mean(regions.read_region(src).audio**2))
    assert all(b > a for a, b in zip(distances, distances[1:])), distances
    # Strength 0: the source itself, sample for sample, and the model is not run at all.
    captured.clear()
    region, out = run(model, editing.style_transfer, src, prompt="children singing", strength=0.0)
    np.testing.assert_array_equal(out.audio, region.audio)
    assert not captured and out.warnings


def test_style_transfer_at_strength_1_is_a_fresh_render(tmp_path, model):
    a = write_source(tmp_path / "a.wav", 16_000, 0.6, 1, "FLOAT", seed=1)
    b = write_source(tmp_path / "b.wav", 16_000, 0, 1, "FLOAT",
                     audio=0.4 * np.sign(np.sin(np.arange(9600) * 0.05))[:, None])
    _, out_a = run(model, editing.style_transfer, a, prompt="a bell", strength=1.0)
    _, out_b = run(model, editing.style_transfer, b, prompt="a bell", strength=1.0)
    # Nothing of the source survives but its level: the two renders are the same sound.
    assert regions.correlation(out_a.audio, out_b.audio) > 0.999


def test_stereo_keeps_its_image_dual_mono_stays_dual_mono(tmp_path, model):
    mono = source_audio(16_000, 0.8, 1)
    dual = write_source(tmp_path / "dual.wav", 16_000, 0, 2, "FLOAT", audio=np.repeat(mono, 2, axis=1))
    wide = write_source(tmp_path / "wide.wav", 16_000, 0.8, 2, "FLOAT")
    _, out = run(model, editing.style_transfer, dual, prompt="rain", strength=0.7)
    np.testing.assert_allclose(out.audio[:, 0], out.audio[:, 1], atol=1e-5 * np.max(np.abs(out.audio)))
    _, out = run(model, editing.style_transfer, wide, prompt="rain", strength=0.7)
    assert out.audio.shape[1] == 2 and np.max(np.abs(out.audio[:, 0] - out.audio[:, 1])) > 0.01
    assert out.details["stereo"] == editing.STEREO_METHOD


# --------------------------------------------------------------------------- long regions

def _seam_stats(y, sr, joins):
    """Largest sample step and block-to-block level change (dB) near the joins and elsewhere."""
    step = np.max(np.abs(np.diff(y, axis=0)), axis=1)
    block = int(0.02 * sr)
    k = len(y) // block
    rms = np.sqrt(np.mean(y[: k * block].reshape(k, block, -1) ** 2, axis=(1, 2)))
    jump = np.abs(20 * np.log10(rms[1:] / rms[:-1]))
    near_step = np.zeros(len(step), dtype=bool)
    near_jump = np.zeros(len(jump), dtype=bool)
    for a, b in joins:
        near_step[int(a * sr):int(b * sr)] = True
        near_jump[max(0, int(a * sr) // block - 1):int(b * sr) // block + 1] = True
    return step[near_step].max(), step[~near_step].max(), jump[near_jump].max(), jump[~near_jump].max(), rms


@pytest.mark.parametrize("mode,fields", [
    ("style_transfer", dict(prompt="a dog barking", strength=0.7)),
    ("upsample", dict(cutoff_hz=3000.0)),
])
def test_long_regions_are_windowed_without_seams_or_silence(tmp_path, model, mode, fields):
    sr = 22_050
    src = write_source(tmp_path / "long.wav", sr, 2.4, 1, "FLOAT")
    _, out = run_with_windows(model, getattr(editing, mode), src, window_s=0.8, overlap_s=0.2, **fields)
    assert out.details["windows"] == 4 and out.audio.shape == (round(2.4 * sr), 1)
    plan = regions.plan_windows(38_400, 12_800, 3200)
    joins = [(a / 16_000, b / 16_000) for (a, _), (_, b) in zip(plan[1:], plan[:-1])]
    step_join, step_else, jump_join, jump_else, rms = _seam_stats(out.audio, sr, joins)
    assert step_join <= 1.25 * step_else, (step_join, step_else)   # no click at a join
    assert jump_join <= jump_else + 1.5, (jump_join, jump_else)    # no level jump at a join
    assert rms.min() > 0.2 * np.median(rms)                         # no silent stretch (AudioLDM#31)


# --------------------------------------------------------------------------- the entry point and the CLI

def test_candidates_are_reranked_by_clap_and_progress_spans_every_run(tmp_path, models, tiny_model_dir):
    src = write_source(tmp_path / "s.wav", 16_000, 0.6, 1)
    seen = []
    request = RenderRequest(mode="style_transfer", source_path=str(src), prompt="a bell", strength=0.5,
                            steps=4, candidates=2, seed=10, model=str(tiny_model_dir))
    result = render(request, models, output=tmp_path / "best.wav", progress=lambda i: seen.append((i.step, i.total)))
    clip = result.clips[0]
    assert clip.clap_score is not None and clip.seed in (10, 11)
    assert seen[-1] == (4, 4) and [s for s, _ in seen] == [1, 2, 3, 4]  # 2 candidates x 2 steps
    assert read_provenance(clip.path)["clap_score"] == pytest.approx(clip.clap_score)


def test_cancel_stops_the_render_and_writes_nothing(tmp_path, models, tiny_model_dir):
    src = write_source(tmp_path / "s.wav", 16_000, 0.6, 1)
    request = RenderRequest(mode="inpaint", source_path=str(src), gap_start_s=0.2, gap_end_s=0.4, steps=3,
                            seed=1, model=str(tiny_model_dir))
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        render(request, models, output=tmp_path / "never.wav", cancel=cancel)
    assert not (tmp_path / "never.wav").exists()


@pytest.mark.parametrize("argv,mode", [
    (["style-transfer", "{src}", "--prompt", "children singing", "--strength", "0.6"], "style_transfer"),
    (["inpaint", "{src}", "--gap", "0.5", "0.8", "--prompt", "room tone", "--start", "0.2", "--end", "1.0",
      "--timeline-position", "3.0"], "inpaint"),
    (["upsample", "{src}", "--cutoff", "3000"], "upsample"),
])
def test_cli_edit_commands(tmp_path, tiny_model_dir, capsys, argv, mode):
    from engine.cli import main

    src = write_source(tmp_path / "in.wav", 44_100, 1.2, 2, "PCM_24")
    out = tmp_path / "out.wav"
    args = [a.format(src=src) for a in argv] + ["--model", str(tiny_model_dir), "--steps", "2", "--seed", "9",
                                                "--device", "cpu", "-o", str(out)]
    assert main(args) == 0
    info = sf.info(out)
    meta = read_provenance(out)
    assert meta["mode"] == mode and meta["seed"] == 9 and meta["steps"] == 2
    assert (info.samplerate, info.channels, info.subtype) == (44_100, 2, "PCM_24")
    if mode == "inpaint":
        assert info.frames == round(1.0 * 44_100) - round(0.2 * 44_100)
        assert read_bext(out)["time_reference"] == round(3.0 * 44_100)
    else:
        assert info.frames == round(1.2 * 44_100)
    assert str(out) in capsys.readouterr().out


def test_edit_requests_need_their_inputs():
    with pytest.raises(InvalidRequest, match="gap"):
        RenderRequest(mode="inpaint", source_path="x.wav")
    with pytest.raises(InvalidRequest, match="prompt"):
        RenderRequest(mode="style_transfer", source_path="x.wav")
    with pytest.raises(InvalidRequest, match="cutoff"):
        RenderRequest(mode="upsample", source_path="x.wav", cutoff_hz=9000.0)


def test_channels_are_encoded_with_the_same_posterior_noise(model):
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    mel = torch.randn(2, 32, 64)
    z1, z2 = editing._encode_channels(model, mel, g1), editing._encode_channels(model, mel[[0, 0]], g2)
    torch.testing.assert_close(z1[0], z2[1])


VOICE = Path("/usr/share/sounds/alsa/Front_Center.wav")


@pytest.mark.skipif(not VOICE.is_file(), reason="alsa-utils' sounds not installed; .ci/run installs it")
def test_a_real_8khz_phone_recording_upsampled_to_the_sessions_rate(tmp_path):
    """The alsa-utils voice, as a phone line carries it (8 kHz): content up to its own Nyquist
    frequency is band-limited there, and it comes back at the DAW's 48 kHz with a new upper band."""
    from engine import cli

    audio, sr = sf.read(str(VOICE))
    call = tmp_path / "call.wav"
    sf.write(str(call), soxr.resample(audio, sr, 8000), 8000, subtype="PCM_16")
    out = tmp_path / "restored.wav"
    assert cli.main(["upsample", str(call), "--sample-rate", "48000", "--steps", "4", "--seed", "2",
                     "--device", "cpu", "-o", str(out)]) == 0
    info, src = sf.info(str(out)), sf.info(str(call))
    assert info.samplerate == 48_000 and info.frames == round(src.frames * 48_000 / 8000)  # exact length
    restored, _ = sf.read(str(out), always_2d=True)
    plain = soxr.resample(sf.read(str(call), always_2d=True)[0], 8000, 48_000)
    assert band_db(restored, 48_000, 4500, 7500)[0] > band_db(plain, 48_000, 4500, 7500)[0] + 20
    assert abs(band_db(restored, 48_000, 300, 3000)[0] - band_db(plain, 48_000, 300, 3000)[0]) < 0.5  # kept band
    from engine.loader import ModelCache
    from engine.request import RenderRequest

    model = ModelCache(device="cpu").get(None)
    too_low = RenderRequest(mode="upsample", source_path=str(call), sample_rate=11025)
    with pytest.raises(InvalidRequest, match="11025 Hz cannot hold the band"):
        editing.render_edit(model, too_low, output=tmp_path / "y.wav")
    above_nyquist = RenderRequest(mode="upsample", source_path=str(call), cutoff_hz=5000.0)
    with pytest.raises(InvalidRequest, match="Nyquist"):
        editing.render_edit(model, above_nyquist, output=tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "y.wav").exists()


def test_the_superres_check_measures_real_recordings_band_limited_at_4khz(tmp_path, models, tiny_model_dir):
    """eval-default's super-resolution check (issue 20): a real voice band-limited at 4 kHz loses its
    upper band (the check sees that), the upsampled output keeps the band below the cutoff, and a
    missing recording is listed, not fatal."""
    from engine.default_model import evaluate

    check = evaluate.superres_check(models.get(str(tiny_model_dir)), [VOICE, tmp_path / "absent.wav"],
                                    seeds=1, steps=2, workdir=tmp_path)
    assert check["missing"] == [str(tmp_path / "absent.wav")] and check["renders"] == 1
    row = check["rows"][0]
    assert row["limited_vs_original_db"] < -60  # the band-limiting really removed 4.5-7.5 kHz
    assert row["low_band_change_db"] < 1.0  # below the cutoff the source is kept
    assert np.isfinite(row["band_vs_original_db"]) and "within 6 dB" in evaluate.format_superres(check)
    assert not list(tmp_path.glob("tmp*"))  # its scratch files are gone


@pytest.mark.skipif(not VOICE.is_file(), reason="alsa-utils' sounds not installed; .ci/run installs it")
def test_an_edit_without_a_prompt_is_guided_by_the_sources_own_sound(tmp_path, model):
    """A model whose UNet was trained on CLAP audio embeddings and asks for it (unet_tune's output) guides
    an upsample with no prompt by the source's own embedding (a voice is extended as a voice),
    recorded in the provenance; the bundled model and a model without that audio encoder stay
    unconditional, and a prompt wins."""
    from engine import loader, paths

    bundled = loader.load(str(paths.default_model_dir()), device="cpu")
    region = regions.read_region(str(VOICE), 0.0, 1.0)
    assert editing.source_embedding(bundled, region) is None  # the bundled model does not ask for it
    default = dataclasses_replace(bundled, extra={**bundled.extra, "edit_condition": "source"})  # unet_tune's
    own = editing.source_embedding(default, region)
    assert own is not None and own.shape == (1, default.clap.head[-1].out_features)
    assert torch.allclose(own.float().norm(dim=-1), torch.ones(1), atol=1e-3)
    louder = regions.read_region(str(VOICE), 0.0, 1.0)
    louder = dataclasses_replace(louder, audio=louder.audio * 0.25)
    assert torch.allclose(editing.source_embedding(default, louder), own, atol=1e-3)  # level does not matter
    assert editing.source_embedding(model, region) is None  # the tiny random model: no audio encoder

    limited = tmp_path / "limited.wav"
    audio, sr = sf.read(str(VOICE), always_2d=True)
    sf.write(str(limited), regions.band_filter(audio[: sr], sr, None, 4000.0), sr, subtype="FLOAT")
    for m, prompt, expected in ((default, "", "source audio"), (default, "a voice", "prompt"), (bundled, "", "nothing")):
        req = RenderRequest(mode="upsample", source_path=str(limited), cutoff_hz=4000.0, steps=2, seed=0,
                            prompt=prompt)
        clip = editing.render_edit(m, req, output=tmp_path / f"up-{expected}.wav").clips[0]
        assert read_provenance(clip.path)["conditioned_on"] == expected


def dataclasses_replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


def test_instrument_samples_are_read_from_a_soundfont(tmp_path):
    from engine.default_model import evaluate

    if not Path(evaluate.SOUNDFONT).is_file():
        pytest.skip("timgm6mb-soundfont not installed")
    paths = evaluate.soundfont_samples(evaluate.SOUNDFONT, ("TubeBell", "Oboe C#", "no such sample"), tmp_path)
    assert sorted(Path(p).name for p in paths) == ["Oboe_C_.wav", "TubeBell.wav"]
    for p in paths:
        x, sr = sf.read(p)
        assert sr >= 22050 and len(x) > sr // 2 and 0.05 < np.max(np.abs(x)) <= 1.0  # real audio, not zeros
        assert evaluate._band_db(x, sr, 4500, 7500) > -100  # it reaches the band super-resolution adds
    not_sf2 = tmp_path / "x.sf2"
    not_sf2.write_bytes(b"RIFF\0\0\0\0WAVE")
    with pytest.raises(ValueError, match="not a SoundFont 2"):
        evaluate.soundfont_samples(str(not_sf2), ("TubeBell",), tmp_path)
    assert evaluate.soundfont_samples(str(tmp_path / "absent.sf2"), ("TubeBell",), tmp_path) == []


def test_the_guessed_upper_band_follows_the_kept_band_and_its_tilt():
    """engine.frontend.extend_log_mel on a made-up log-mel: a kept band falling 6 dB per octave
    below 4 kHz, the floor above; the guess continues the fall, frame by frame."""
    from engine import frontend

    centres = frontend.mel_bin_centres_hz()
    db = np.log(10) / 20
    level = np.where(centres < 4000, -2.0 - 6 * db * np.log2(np.maximum(centres, 50) / 1000), np.log(1e-5))
    frames = np.stack([level + (0.0 if t % 2 else -1.0) for t in range(6)])  # every other frame 8.7 dB down
    mel = torch.tensor(frames, dtype=torch.float32)[None]
    out = frontend.extend_log_mel(mel, 4000.0)[0].numpy()
    first = frontend.cutoff_to_mel_bin(4000.0)
    assert np.allclose(out[:, :first], frames[:, :first], atol=1e-6)  # the kept band is untouched
    expected = -2.0 - 6 * db * np.log2(centres[first:] / 1000)  # the same line, continued
    assert np.abs(out[1, first:] - expected).max() < 0.5 * 6 * db  # within half an octave's fall
    assert np.allclose(out[0, first:] - out[1, first:], -1.0, atol=1e-5)  # follows each frame's level
    rising = torch.tensor(np.where(centres < 4000, np.log2(np.maximum(centres, 50) / 1000), -11.5),
                          dtype=torch.float32)[None, None]
    up = frontend.extend_log_mel(rising, 4000.0)[0, 0].numpy()
    assert up[first:].max() <= rising[0, 0, :first].max().item() + 1e-5  # a rising band is not extrapolated up


@pytest.mark.skipif(not VOICE.is_file(), reason="alsa-utils' sounds not installed; .ci/run installs it")
def test_the_default_model_restores_a_voices_upper_band_near_its_level(tmp_path):
    """A real voice (alsa-utils' Front_Left) band-limited at 4 kHz: the bundled model, which starts its super-resolution from
    the guessed band half-way ("upsample_start": 0.5), brings 4.5-7.5 kHz back within 6 dB of the
    original's; started from noise (the paper's way) the same seed leaves it about 20 dB short."""
    from engine import loader, paths

    bundled = loader.load(str(paths.default_model_dir()), device="cpu")
    assert bundled.extra["upsample_start"] == 0.5
    audio, sr = sf.read(str(VOICE.with_name("Front_Left.wav")), always_2d=True)
    limited = tmp_path / "limited.wav"
    sf.write(str(limited), regions.band_filter(audio, sr, None, 4000.0), sr, subtype="FLOAT")
    original = band_db(audio, sr, 4500, 7500)[0]
    gaps = {}
    for name, start in (("guessed", 0.5), ("noise", 0.0)):
        m = dataclasses_replace(bundled, extra={**bundled.extra, "upsample_start": start})
        req = RenderRequest(mode="upsample", source_path=str(limited), cutoff_hz=4000.0, seed=1000)
        clip = editing.render_edit(m, req, output=tmp_path / f"{name}.wav").clips[0]
        out, _ = sf.read(str(clip.path), always_2d=True)
        gaps[name] = band_db(out, sr, 4500, 7500)[0] - original
        assert abs(band_db(out, sr, 300, 3600)[0] - band_db(sf.read(str(limited), always_2d=True)[0], sr, 300, 3600)[0]) < 1
        assert read_provenance(clip.path)["started_from"] == ("noise" if start == 0 else
                                                              "the source with its upper band guessed")
    assert abs(gaps["guessed"]) <= 6.0 and gaps["noise"] < gaps["guessed"] - 6.0, gaps
