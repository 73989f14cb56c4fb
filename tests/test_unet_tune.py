"""The UNet fine-tune (issue 20) runs end to end on a tiny budget, resumes, keeps what it replaces,
and writes a model the engine loads and renders with."""

from __future__ import annotations

import json

import numpy as np
import torch

from engine import loader, paths
from engine.default_model import unet_tune
from engine.pipeline import generate_waveforms
from engine.request import RenderRequest

TINY = ["--clips", "24", "--long-clips", "6", "--steps", "3", "--batch", "4", "--prior-steps", "4",
        "--clap-steps", "0"]


def test_unet_tune_writes_a_model_with_a_new_unet_and_prior_and_resumes(tmp_path, capsys):
    work, out = tmp_path / "work", tmp_path / "tuned"
    out.mkdir()
    (out / "mine.txt").write_text("an earlier export")
    unet_tune.main(["--work", str(work), "--out", str(out), *TINY])
    log = capsys.readouterr().out
    assert "24 clips of 2.56 s" in log and "6 clips of 5.12 s" in log and "held-out text/audio cosine" in log
    assert (tmp_path / "tuned.previous" / "mine.txt").is_file()  # what was there is kept, not lost

    meta = json.loads((out / "audioldm_bridge.json").read_text())
    assert meta["unet_tune"]["steps"] == 3 and meta["unet_tune"]["long_clips"] == 6 and meta["sampler"]
    assert meta["edit_condition"] == "source"
    bundled = paths.default_model_dir()
    for same in ("text_encoder/model.safetensors", "vae/diffusion_pytorch_model.safetensors"):
        assert (out / same).read_bytes() == (bundled / same).read_bytes()
    for changed in ("unet/diffusion_pytorch_model.safetensors", "clap_prior/model.safetensors"):
        assert (out / changed).read_bytes() != (bundled / changed).read_bytes()
    model = loader.load(str(out), device="cpu")
    wave = generate_waveforms(model, RenderRequest(prompt="a steady sine tone", duration_s=0.7, steps=2, seed=0,
                                                   raw=True, model=str(out))).audio[0]
    assert wave.shape == (11200,) and np.all(np.isfinite(wave))

    # Stages already done are skipped; a longer UNet run resumes from the last checkpoint (step 3).
    longer = list(TINY)
    longer[longer.index("--steps") + 1] = "5"
    import shutil

    shutil.rmtree(work / "unet")
    unet_tune.main(["--work", str(work), "--out", str(out), *longer])
    log = capsys.readouterr().out
    assert "clips of" not in log and "held-out text/audio cosine" not in log
    assert "resumed unet.ckpt at step 3" in log
    assert json.loads((out / "audioldm_bridge.json").read_text())["unet_tune"]["steps"] == 5


def test_batches_cover_whole_clips_long_clips_and_every_short_length():
    rng = np.random.default_rng(0)
    plans = [unet_tune.batch_plan(rng) for _ in range(2000)]
    kinds = {k for k, _ in plans}
    assert kinds == {"short", "long", "crop"}
    widths = {w for k, w in plans if k == "crop"}
    assert widths == set(unet_tune.CROP_WIDTHS)  # 0.52-2.04 s of latent frames
    assert 0.3 < sum(k == "crop" for k, _ in plans) / len(plans) < 0.8


def test_only_sustained_clips_are_cropped():
    assert unet_tune.sustained({"envelope": "steady", "family": "sine_tone"})
    assert unet_tune.sustained({"family": "rain"}) and unet_tune.sustained({"family": "talking"})
    assert not unet_tune.sustained({"envelope": "fading", "family": "sine_tone"})  # a crop would lose the fade
    assert not unet_tune.sustained({"rhythm": "repeated", "family": "kick"})  # a crop would change the count


def test_the_clap_stage_continues_both_encoders_and_the_export_carries_them(tmp_path, capsys):
    work, out = tmp_path / "work", tmp_path / "tuned"
    work.mkdir()
    bundled = paths.default_model_dir()
    unet_tune.stage_corpus(work, 5, 24, 2)
    corpus = json.loads((work / "corpus.json").read_text())
    assert len(corpus["short"]["families"]) == 24 and len(corpus["short"]["mentioned"]) == 24
    # A corpus written before this stage (no families or mentioned attributes) gets them from its seeds.
    expected = corpus["short"]["families"], corpus["short"]["mentioned"]
    for key in ("families", "mentioned"):
        for part in corpus.values():
            part.pop(key)
    (work / "corpus.json").write_text(json.dumps(corpus))
    assert unet_tune.encoders_dir(work, bundled) == bundled
    unet_tune.stage_clap(work, bundled, 3, seed=0, batch=8)
    short = json.loads((work / "corpus.json").read_text())["short"]
    assert (short["families"], short["mentioned"]) == tuple(map(list, expected))
    assert "1 head steps, then 3 steps" in capsys.readouterr().out
    assert unet_tune.encoders_dir(work, bundled) == work / "clap"
    for name in ("text_encoder", "clap_audio"):
        assert (work / "clap" / name / "model.safetensors").read_bytes() != \
            (bundled / name / "model.safetensors").read_bytes()

    unet_tune.main(["--work", str(work), "--out", str(out), *TINY[:-1], "3"])  # the CLAP stage is done: skipped
    meta = json.loads((out / "audioldm_bridge.json").read_text())
    assert meta["unet_tune"]["clap_steps"] == 3
    model = loader.load(str(out), device="cpu")
    assert model.text_encoder.dtype == torch.float32  # stored in float16 like the bundled one, run in float32
    from safetensors import safe_open

    with safe_open(str(out / "text_encoder" / "model.safetensors"), "pt") as f:
        assert f.get_tensor(next(iter(f.keys()))).dtype == torch.float16
    assert (out / "clap_audio" / "model.safetensors").read_bytes() == \
        (work / "clap" / "clap_audio" / "model.safetensors").read_bytes()
    wave = generate_waveforms(model, RenderRequest(prompt="a steady sine tone", duration_s=0.7, steps=2, seed=0,
                                                   raw=True, model=str(out))).audio[0]
    assert wave.shape == (11200,) and np.all(np.isfinite(wave))
