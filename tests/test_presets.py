"""Presets and the finishing chain: every shipped preset rendered with the built-in model and
measured; broken presets named by file and field; save -> --preset re-renders bit-identically."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("pedalboard")

from engine import cli, dsp, finishing, presets  # noqa: E402
from engine.errors import InvalidRequest  # noqa: E402
from engine.pipeline import generate_waveforms, render  # noqa: E402
from engine.request import Effect, Finish, RenderRequest  # noqa: E402

VOICE = Path("/usr/share/sounds/alsa/Front_Center.wav")
SHIPPED = presets.load()


@pytest.fixture(scope="module")
def default_models():
    from engine.loader import ModelCache

    cache = ModelCache(device="cpu")
    cache.get(None)
    return cache


def _short(p: presets.Preset) -> dict:
    return {"duration_s": min(1.5, p.fields.get("duration_s", 1.5)), "seed": 11}


@pytest.mark.parametrize("name", sorted(n for n, p in SHIPPED.presets.items() if p.mode == "generate"))
def test_every_generate_preset_renders_finished(name, default_models, tmp_path):
    p = SHIPPED.presets[name]
    request = p.request(**_short(p))
    clip = render(request, default_models, output=tmp_path / f"{name}.wav").clips[0]
    audio, sr = sf.read(str(clip.path), always_2d=True)
    finish = request.finish
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) > 1e-3  # finite, not silent
    if finish.loudness_lufs is not None:
        assert abs(finishing.integrated_loudness(audio, sr) - finish.loudness_lufs) <= 0.5
    assert finishing.true_peak_db(audio, sr) <= finish.true_peak_dbtp + 0.1  # 24-bit rounding
    meta = json.loads(clip.path.with_name(clip.path.name + ".json").read_text())
    assert meta["finish"] == finish.to_dict() and meta["request"]["finish"] == finish.to_dict()
    # Each effect of the chain does something measurable: the chain without it sounds different.
    model = default_models.get(None)
    wav = generate_waveforms(model, request).audio[0]
    n = int(round(request.duration_s * request.sample_rate))
    x = dsp.finalise_clip(wav, sample_rate=request.sample_rate, channels=request.channels, n_frames=n,
                          peak_dbfs=request.peak_dbfs)
    full, _ = finishing.apply(x, request.sample_rate, finish)
    assert np.allclose(full, audio, atol=2e-5 * max(1.0, np.max(np.abs(audio)) * 10))  # what was written
    for i, effect in enumerate(finish.fx):
        without = Finish.from_dict({**finish.to_dict(), "fx": [e.to_dict() for j, e in enumerate(finish.fx) if j != i]})
        other, _ = finishing.apply(x, request.sample_rate, without)
        m = min(len(other), len(full))
        change = np.sqrt(np.mean((full[:m] - other[:m]) ** 2)) / (np.sqrt(np.mean(full[:m] ** 2)) + 1e-12)
        assert change > 0.01, f"{name}: {effect.name} changes the sound by only {change:.4f}"


@pytest.mark.skipif(not VOICE.is_file(), reason="alsa-utils' sounds not installed; .ci/run installs it")
@pytest.mark.parametrize("name", sorted(n for n, p in SHIPPED.presets.items() if p.mode != "generate"))
def test_every_edit_preset_renders_on_a_real_recording(name, default_models, tmp_path):
    p = SHIPPED.presets[name]
    extra = {"gap_start_s": 0.5, "gap_end_s": 0.8} if p.mode == "inpaint" else {}
    request = p.request(source_path=str(VOICE), seed=3, steps=4, **extra)
    clip = render(request, default_models, output=tmp_path / f"{name}.wav").clips[0]
    audio, sr = sf.read(str(clip.path), always_2d=True)
    assert (sr, len(audio)) == (sf.info(str(VOICE)).samplerate, sf.info(str(VOICE)).frames)
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) > 1e-3


def test_at_least_24_curated_presets_across_the_categories():
    assert not SHIPPED.problems, SHIPPED.problems
    assert len(SHIPPED.presets) >= 24
    assert {p.category for p in SHIPPED.presets.values()} == set(presets.CATEGORIES)
    docs = (Path(__file__).resolve().parents[1] / "docs" / "presets.md").read_text()
    for name in SHIPPED.presets:
        assert f"`{name}`" in docs, f"docs/presets.md does not describe {name}"


# --------------------------------------------------------------------------- the chain itself

def _tone(sr=48_000, seconds=1.0, f=220.0):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.4 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 7 * f * t)
    return x.astype(np.float32)[:, None]


def _band(x, sr, lo, hi):
    spec = np.abs(np.fft.rfft(x[:, 0])) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return float(spec[(f >= lo) & (f < hi)].sum())


def test_effects_do_what_they_say():
    sr, x = 48_000, _tone()
    hp, _ = finishing.apply(x, sr, Finish(fx=(Effect("highpass", (("cutoff_frequency_hz", 1000.0),)),)))
    assert _band(hp, sr, 200, 240) < 0.1 * _band(x, sr, 200, 240)
    lp, _ = finishing.apply(x, sr, Finish(fx=(Effect("lowpass", (("cutoff_frequency_hz", 500.0),)),)))
    assert _band(lp, sr, 1500, 1600) < 0.1 * _band(x, sr, 1500, 1600)
    burst = np.zeros((sr, 1), np.float32)
    burst[:2000] = _tone(seconds=2000 / sr)
    rv, _ = finishing.apply(burst, sr, Finish(fx=(Effect("reverb", (("room_size", 0.9), ("wet_level", 0.6))),),
                                              tail_s=1.0))
    assert len(rv) == 2 * sr and np.sqrt(np.mean(rv[sr // 2:] ** 2)) > 1e-3  # a tail where there was silence
    dist, _ = finishing.apply(x * 0.2, sr, Finish(fx=(Effect("distortion", (("drive_db", 30.0),)),)))
    assert _band(dist, sr, 640, 680) > 10 * _band(x * 0.2, sr, 640, 680)  # new harmonics (3 x 220 Hz)


def test_loudness_target_and_true_peak_ceiling_hold_together():
    sr = 48_000
    rng = np.random.default_rng(0)
    clicks = np.zeros((sr * 2, 2), np.float32)
    clicks[::4800] = 0.9  # peaky: the loudness gain alone would clip
    clicks += 0.01 * rng.standard_normal(clicks.shape).astype(np.float32)
    y, report = finishing.apply(clicks, sr, Finish(loudness_lufs=-9.0, true_peak_dbtp=-1.0))
    assert abs(finishing.integrated_loudness(y, sr) + 9.0) <= 0.5
    assert finishing.true_peak_db(y, sr) <= -1.0 and report.true_peak_dbtp <= -1.0
    assert np.max(np.abs(y)) < 1.0  # held by the limiter, not clipped


def test_trim_and_fades():
    sr = 48_000
    x = np.zeros((sr, 1), np.float32)
    x[20_000:30_000] = 0.5
    y, report = finishing.apply(x, sr, Finish(trim_silence_db=-60.0, fade_in_s=0.01, fade_out_s=0.01))
    margin = int(finishing.TRIM_MARGIN_S * sr)
    assert report.frames_out == 10_000 + 2 * margin and abs(y[0, 0]) < 1e-6 and abs(y[-1, 0]) < 1e-6


@pytest.mark.parametrize("fx,needle", [
    ({"name": "reverbb"}, "unknown effect 'reverbb'"),
    ({"name": "reverb", "roomsize": 0.3}, "reverb has no parameter 'roomsize'"),
    ({"name": "reverb", "room_size": 3.0}, "room_size must be between 0 and 1"),
    ({"name": "plugin", "path": "/nonexistent/Valhalla.vst3"}, "does not exist"),
])
def test_bad_effects_are_named(fx, needle):
    with pytest.raises(InvalidRequest, match=needle.replace("(", r"\(").replace(")", r"\)")):
        finishing.check(Finish.from_dict({"fx": [fx]}))


def test_a_plugin_file_that_is_not_a_plugin_is_a_clear_error(tmp_path):
    fake = tmp_path / "Fake.vst3"
    fake.write_bytes(b"not a plugin")
    with pytest.raises(InvalidRequest, match="could not be loaded as a VST3 or AU plugin"):
        finishing.check(Finish.from_dict({"fx": [{"name": "plugin", "path": str(fake)}]}))


# --------------------------------------------------------------------------- broken presets

GOOD = """category = "music"
[request]
mode = "generate"
prompt = "a low kick drum"
duration_s = 1.0
"""


@pytest.mark.parametrize("text,field", [
    (GOOD + "volume = 3\n", "request: unknown request field(s) volume"),
    ("colour = 'red'\n" + GOOD, "colour: unknown field"),
    (GOOD.replace("duration_s = 1.0", "duration_s = \"long\""), "duration_s must be a number"),
    (GOOD.replace("duration_s = 1.0", "duration_s = 9000.0"), "duration must be between"),
    (GOOD.replace('category = "music"', 'category = "jazz"'), "category: must be one of"),
    (GOOD + "[request.finish]\n[[request.finish.fx]]\nname = \"plugin\"\npath = \"/no/such.vst3\"\n",
     "request.finish: finish.fx[0]: the plugin file /no/such.vst3 does not exist"),
    (GOOD + "[request.finish]\n[[request.finish.fx]]\nname = \"flanger\"\n", "unknown effect 'flanger'"),
    (GOOD + "[request.finish]\n[[request.finish.fx]]\nname = \"delay\"\ndelay_time = 1.0\n",
     "delay has no parameter 'delay_time'"),
    ("seed = -4\n" + GOOD, "seed: must be"),
    (GOOD.replace("[request]", "[request]\nsource_path = \"/etc/passwd\""), "request.source_path: a preset cannot"),
    ("category = [\n", "not valid TOML"),
])
def test_broken_presets_name_file_and_field(tmp_path, text, field):
    path = tmp_path / "bad-one.toml"
    path.write_text(text)
    with pytest.raises(presets.PresetError) as err:
        presets.parse(path)
    assert str(path) in str(err.value) and field in str(err.value), str(err.value)


def test_a_broken_user_preset_never_hides_the_shipped_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUDIOLDM_BRIDGE_CONFIG", str(tmp_path / "config"))
    user = tmp_path / "config" / "presets"
    user.mkdir(parents=True)
    (user / "kick-deep.toml").write_text(GOOD.replace("duration_s = 1.0", "duration_s = -2.0"))
    (user / "my-kick.toml").write_text(GOOD)
    lib = presets.load()
    assert "hat-closed" in lib.presets and "my-kick" in lib.presets and lib.presets["my-kick"].user
    assert any("kick-deep.toml" in p and "duration" in p for p in lib.problems)
    with pytest.raises(presets.PresetError, match="kick-deep.toml.*fix or remove that file"):
        lib.get("kick-deep")
    assert cli.main(["presets", "list"]) == 0
    captured = capsys.readouterr()
    assert "hat-closed" in captured.out and "my-kick" in captured.out and "kick-deep.toml" in captured.err
    assert cli.main(["presets", "check"]) == 1
    assert cli.main(["generate", "--preset", "kick-deep", "-o", str(tmp_path / "x.wav")]) == 2
    assert "fix or remove" in capsys.readouterr().err


def test_unknown_preset_and_wrong_mode_are_clear(capsys, tmp_path):
    assert cli.main(["generate", "--preset", "kik-deep", "-o", str(tmp_path / "x.wav")]) == 2
    assert "unknown preset 'kik-deep'" in capsys.readouterr().err
    assert cli.main(["generate", "--preset", "restore-upsample", "-o", str(tmp_path / "x.wav")]) == 2
    assert "use it with: audioldm-bridge upsample --preset restore-upsample" in capsys.readouterr().err


def test_list_and_show(capsys):
    assert cli.main(["presets", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(SHIPPED.presets) and all(line.split()[0] in SHIPPED.presets for line in lines)
    assert cli.main(["presets", "show", "kick-deep"]) == 0
    out = capsys.readouterr().out
    assert 'prompt = "a deep low kick drum"' in out and "[[request.finish.fx]]" in out


# --------------------------------------------------------------------------- save and re-render

def test_save_then_preset_rerenders_the_clip_bit_identically(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUDIOLDM_BRIDGE_CONFIG", str(tmp_path / "config"))
    first = tmp_path / "first.wav"
    assert cli.main(["generate", "--preset", "pluck-echo", "--duration", "1.0", "--seed", "1234",
                     "--device", "cpu", "-o", str(first)]) == 0
    assert cli.main(["presets", "save", "my-pluck", "--from", str(first)]) == 0
    assert "my-pluck" in capsys.readouterr().out
    saved = presets.load().get("my-pluck")
    assert saved.user and saved.seed == 1234 and saved.fields["finish"]["fx"][0]["name"] == "delay"
    again = tmp_path / "again.wav"
    assert cli.main(["generate", "--preset", "my-pluck", "--device", "cpu", "-o", str(again)]) == 0
    a, sa = sf.read(str(first), dtype="int32")
    b, sb = sf.read(str(again), dtype="int32")
    assert sa == sb and np.array_equal(a, b)
    # Explicit options override the preset; defaults do not.
    other = tmp_path / "other.wav"
    assert cli.main(["generate", "--preset", "my-pluck", "--seed", "99", "--sample-rate", "44100",
                     "--device", "cpu", "-o", str(other)]) == 0
    meta = json.loads(other.with_name(other.name + ".json").read_text())
    assert (meta["seed"], meta["sample_rate"], meta["duration_s"]) == (99, 44100, 1.0)
    # Saving again over the user's preset keeps the old one as a backup.
    assert cli.main(["presets", "save", "my-pluck", "--from", str(other)]) == 0
    backups = list((tmp_path / "config" / "presets").glob("my-pluck.toml.bak-*"))
    assert len(backups) == 1


def test_a_clip_without_provenance_cannot_become_a_preset(tmp_path):
    bare = tmp_path / "bare.wav"
    sf.write(str(bare), np.zeros(1600), 16000)
    with pytest.raises(presets.PresetError, match="no provenance sidecar"):
        presets.save_from_clip("x", bare, folder=tmp_path)


def test_finish_is_refused_where_the_mode_keeps_the_source():
    with pytest.raises(InvalidRequest, match="finish does not apply to mode inpaint"):
        RenderRequest(mode="inpaint", source_path="a.wav", gap_start_s=0.1, gap_end_s=0.2,
                      finish={"loudness_lufs": -14.0})
    with pytest.raises(InvalidRequest, match="raw render"):
        RenderRequest(prompt="x", raw=True, finish={"loudness_lufs": -14.0})
    assert math.isclose(RenderRequest(prompt="x", finish={"loudness_lufs": -14}).finish.loudness_lufs, -14)


def test_jobs_add_takes_a_preset(tmp_path, capsys):
    from engine.service import Journal

    journal = tmp_path / "jobs.sqlite3"
    assert cli.main(["jobs", "--journal", str(journal), "add", "--preset", "laser-zap", "--duration", "0.6"]) == 0
    j = Journal(journal)
    try:
        request = j.get(1).request
    finally:
        j.close()
    assert (request.prompt, request.duration_s) == ("a laser zap", 0.6)
    assert request.finish.fx[0].name == "delay" and request.finish.tail_s == 0.4


def test_an_upsample_preset_can_name_the_sessions_rate_and_an_inpaint_preset_cannot(tmp_path):
    up = tmp_path / "phone-to-48k.toml"
    up.write_text('category = "restoration"\n[request]\nschema = 4\nmode = "upsample"\nsample_rate = 48000\n')
    request = presets.parse(up).request(source_path="/music/call.wav")
    assert request.mode == "upsample" and request.sample_rate == 48_000
    assert RenderRequest.from_json(request.to_json()).sample_rate == 48_000  # kept through the journal
    bad = tmp_path / "fill-48k.toml"
    bad.write_text('category = "restoration"\n[request]\nschema = 4\nmode = "inpaint"\nsample_rate = 48000\n')
    with pytest.raises(presets.PresetError, match="sample_rate does not apply to mode inpaint"):
        presets.parse(bad)
