"""The one training command runs end to end on a tiny budget, resumes, and exports a model the
engine loads through the checkpoint code path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine import loader
from engine.default_model import train
from engine.default_model.corpus import augment
from engine.pipeline import generate_waveforms
from engine.request import RenderRequest

TINY = ["--n-clips", "48", "--vae-steps", "2", "--vae-batch", "4", "--clap-steps", "2", "--clap-batch", "8",
        "--unet-steps", "3", "--unet-batch", "4", "--unet-channels", "32,32", "--text-vocab", "300", "--prior-steps", "2",
        "--vocoder-clips", "8", "--vocoder-steps", "2", "--vocoder-batch", "2", "--vocoder-channels", "16", "--vocoder-blocks", "1",
        "--ckpt-every", "1", "--device", "cpu"]


def test_train_export_load_and_render(tmp_path, capsys, monkeypatch):
    work, out = tmp_path / "work", tmp_path / "model"

    def never(*_):
        raise AssertionError("the full recipe drew a v2 batch plan")

    monkeypatch.setattr(train, "batch_plan", never)  # full stays the bundled recipe: same random streams
    train.main(["--work", str(work), "--out", str(out), *TINY])
    log = capsys.readouterr().out
    for stage in ("corpus", "vae", "clap", "prior", "vocoder", "unet", "export"):
        assert f"stage {stage} finished" in log
    assert "pure-noise check" in log

    meta = json.loads((out / "audioldm_bridge.json").read_text())
    assert meta["vocoder"] == "griffin-lim" and meta["training"]["n_clips"] == 48
    model = loader.load(str(out), device="cpu")
    assert model.text_prior is not None and "held-out text/audio cosine" in log
    assert model.vocoder.magnitude_model is not None and "held-out log-magnitude L1" in log
    wave = generate_waveforms(model, RenderRequest(prompt="a kick drum", duration_s=0.5, steps=2, seed=0,
                                                   raw=True, model=str(out))).audio[0]
    assert wave.shape == (8000,) and np.all(np.isfinite(wave))

    # A second run finds every stage done and trains nothing again.
    finished = {p: p.stat().st_mtime_ns for p in (work / "vae" / "config.json", work / "unet-audio-32-32" / "config.json")}
    train.main(["--work", str(work), "--out", str(out), "--stages", "corpus,vae,clap,prior,vocoder,unet", *TINY])
    again = capsys.readouterr().out
    assert "synthesising" not in again and "params" not in again and "prior:" not in again and "vocoder:" not in again
    assert {p: p.stat().st_mtime_ns for p in finished} == finished
    train.main(["--work", str(work), "--out", str(out), "--stages", "export", *TINY])
    assert (out.with_name("model.previous") / "unet" / "config.json").is_file()  # the replaced export is kept
    capsys.readouterr()

    # A stage killed before it finished resumes from its last checkpoint (step 3 of now 4).
    shutil.rmtree(work / "unet-audio-32-32")
    longer = list(TINY)
    longer[longer.index("--unet-steps") + 1] = "4"
    train.main(["--work", str(work), "--stages", "unet", *longer])
    log = capsys.readouterr().out
    assert "resumed unet-audio-32-32.ckpt at step 3" in log
    assert "was made with other settings (unet_steps)" in log
    assert (work / "unet-audio-32-32" / "config.json").is_file()


@pytest.mark.skipif(not (Path(augment.WORDNET_DIR) / "data.adj").is_file(), reason="wordnet-base not installed")
def test_the_v2_recipe_trains_on_long_clips_crops_and_rewritten_captions(tmp_path, capsys, monkeypatch):
    """Preset v2's three additions run end to end at a tiny size: 5.12 s clips, sustained crops
    each encoded on their own, and CLAP batches with captions in other words."""
    seen_plans, seen_texts = [], []
    plan = train.batch_plan
    monkeypatch.setattr(train, "batch_plan", lambda rng: seen_plans.append(plan(rng)) or seen_plans[-1])
    real_rewriter = train.rewriter

    def spying_rewriter(cfg):
        aug, forbidden = real_rewriter(cfg)
        return (None if aug is None else (lambda c, rng: seen_texts.append((c, aug(c, rng))) or seen_texts[-1][1])), forbidden

    monkeypatch.setattr(train, "rewriter", spying_rewriter)
    work, out = tmp_path / "work", tmp_path / "model"
    tiny = [a if a != "48" else "64" for a in TINY]  # enough clips for a few sustained ones to crop
    train.main(["--work", str(work), "--out", str(out), *tiny, "--unet-steps", "12", "--long-clips", "8",
                "--unet-crops", "yes", "--clap-rewrites", "0.5"])
    log = capsys.readouterr().out
    assert "8 clips of 5.12 s" in log and "8 long clips" in log and "sustained clips cropped" in log
    long = np.load(work / "corpus-long.npz")
    assert long["mels"].shape == (8, 512, 64) and len(long["captions"]) == 8
    data = __import__("torch").load(work / "unet_data.pt")
    assert data["long"]["mean"].shape[-2] == 128 and data["long"]["text"].shape == (8, 128)
    for width in train.CROP_WIDTHS:
        assert data["crops"][width]["mean"].shape[-2] == width
    assert {k for k, _ in seen_plans} == {"short", "long", "crop"}
    assert any(c != r for c, r in seen_texts)  # captions did reach the CLAP (and the prior) in other words
    model = loader.load(str(out), device="cpu")
    wave = generate_waveforms(model, RenderRequest(prompt="a steady hum", duration_s=1.0, steps=2, seed=0,
                                                   raw=True, model=str(out))).audio[0]
    assert wave.shape == (16000,) and np.all(np.isfinite(wave))


def test_presets_set_defaults_that_explicit_flags_override():
    args, full = train.parse([])
    assert full == train.Config() and args.work.name == "train-default"
    args, cpu = train.parse(["--preset", "cpu-2h"])
    assert args.work.name == "train-default-cpu-2h"
    assert (cpu.vae_batch, cpu.clap_batch, cpu.unet_channels, cpu.unet_steps) == (8, 64, (32, 64, 128), 3600)
    assert cpu.n_clips == full.n_clips and cpu.seed == full.seed  # the same corpus
    _, mixed = train.parse(["--preset", "cpu-2h", "--unet-steps", "10", "--unet-channels", "32,32"])
    assert (mixed.unet_steps, mixed.unet_channels, mixed.vae_batch) == (10, (32, 32), 8)
    args, v2 = train.parse(["--preset", "v2"])
    assert args.work.name == "train-default-v2" and (v2.long_clips, v2.unet_crops, v2.clap_rewrites) == (1500, True, 0.5)
    assert (full.long_clips, full.unet_crops, full.clap_rewrites) == (0, False, 0.0)  # the bundled recipe as it was
    assert train.parse(["--preset", "v2", "--unet-crops", "no"])[1].unet_crops is False


def test_training_never_writes_into_the_installed_package_unless_asked(tmp_path):
    from pathlib import Path

    import engine
    from engine import paths

    package = paths.default_model_dir().resolve()
    installed = Path(engine.__file__).resolve().parent
    for argv in ([], ["--preset", "cpu-2h"]):
        args, _ = train.parse(argv)
        out = args.out.resolve()
        assert out != package and package not in out.parents and installed not in out.parents, argv
        assert out == (args.work / "model").resolve()  # next to the stages, in the user cache
        assert not train.is_bundled(args.out)
    assert train.parse(["--preset", "cpu-2h"])[0].out.parent.name == "train-default-cpu-2h"
    # Replacing the shipped model is explicit, by name or by folder.
    assert train.parse(["--out", train.BUILTIN_OUT])[0].out == paths.default_model_dir()
    assert train.is_bundled(train.parse(["--out", str(paths.default_model_dir())])[0].out)
    assert train.parse(["--work", str(tmp_path), "--out", str(tmp_path / "m")])[0].out == tmp_path / "m"
    # The end of a run says how to use the export and how to make it the bundled model.
    text = train.usage_after_export(tmp_path / "model")
    assert f"--model {tmp_path / 'model'}" in text and f"--out {train.BUILTIN_OUT}" in text


def test_training_uses_the_engines_device_picker():
    import pytest
    import torch

    from engine import loader

    assert not hasattr(train, "pick_device") or train.pick_device is loader.pick_device
    assert train.training_device("cpu") == torch.device("cpu")
    assert train.training_device("auto") == loader.pick_device("auto")
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="no CUDA GPU"):
            train.main(["--device", "cuda", "--stages", ""])


def test_attribute_targets_supervise_text_only_with_what_the_caption_says():
    from engine.default_model.train import HEAD_ATTRIBUTES, attribute_targets

    meta = {
        "captions": ["a sine tone at 440 Hz", "a sine tone", "a kick with rain in the background", "a low sine"],
        "families": [["sine_tone"], ["sine_tone"], ["kick", "rain"], ["sine_tone"]],
        "attributes": [{"f0_hz": 440.0, "pitch_mode": "hz", "envelope": "steady"},
                       {"f0_hz": 220.0, "pitch_mode": "hz", "envelope": "fading"},
                       {"envelope": "sharp"},
                       {"f0_hz": 110.0, "pitch_mode": "register", "pitch": "low"}],
        "mentioned": [["pitch"], [], [], ["pitch"]],
    }
    t = attribute_targets(meta)
    env = HEAD_ATTRIBUTES.index("envelope")
    fam = HEAD_ATTRIBUTES.index("family")
    # audio side: every attribute of single-family clips; the mix only gets its foreground family
    assert t["audio"][0, env] >= 0 and t["audio"][1, env] >= 0 and t["audio"][2, env] == -1
    assert t["vocab"]["family"][t["audio"][2, fam]] == "kick"
    # text side: the family always, an envelope only where the caption says one (none here)
    assert (t["text"][:, fam] >= 0).all() and (t["text"][:, env] == -1).all()
    # f0: audio wherever known; text only where an exact pitch is named
    assert t["f0_audio"].tolist() == [True, True, False, True]
    assert t["f0_text"].tolist() == [True, False, False, False]
    assert abs(t["f0"][0]) < 1e-6 and abs(t["f0"][1] + 1.0) < 1e-6  # log2(f0 / 440)


def test_text_to_audio_prior_starts_as_the_identity_and_learns_a_mapping(tmp_path):
    import torch

    from engine.nets.clap_audio import TextToAudioPrior

    torch.manual_seed(0)
    text = torch.nn.functional.normalize(torch.randn(64, 16), dim=-1)
    prior = TextToAudioPrior(16, 32)
    assert torch.allclose(prior(text), text, atol=1e-6)  # untrained: sample from the text itself
    # a fixed rotation stands in for the text -> audio gap; the prior learns to cross it
    rotation = torch.linalg.qr(torch.randn(16, 16))[0]
    audio = text @ rotation
    opt = torch.optim.Adam(prior.parameters(), lr=3e-3)
    for _ in range(300):
        loss = 1 - (prior(text) * audio).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    before = (text * audio).sum(-1).mean()
    after = (prior(text) * audio).sum(-1).mean()
    assert after > 0.9 and after > before + 0.3
    prior.save_pretrained(tmp_path / "prior")
    again = TextToAudioPrior.from_pretrained(tmp_path / "prior")
    assert torch.allclose(again(text), prior(text), atol=2e-2)  # stored in float16
