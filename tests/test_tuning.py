"""Per-model memory-format choice (engine.tuning, issue 21 item 1): measured once, stored, reused."""

from __future__ import annotations

import json
import math

import pytest
import torch

from engine import tuning
from engine.errors import BridgeError


@pytest.fixture()
def unet(tiny_model_dir):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_pretrained(tiny_model_dir / "unet").eval()


def _layout(unet) -> str:
    w = next(m.weight for m in unet.modules() if isinstance(m, torch.nn.Conv2d))
    return "channels_last" if w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() \
        else "contiguous"


def test_the_faster_format_is_chosen_stored_and_reused(unet, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOLDM_BRIDGE_CACHE", str(tmp_path))
    monkeypatch.delenv(tuning.ENV, raising=False)
    calls = []

    def contiguous_faster(u, width, device, dtype):
        calls.append(width)
        return {"channels_last": 0.30, "contiguous": 0.20}

    cpu = torch.device("cpu")
    (tmp_path / "m").mkdir()
    (tmp_path / "other").mkdir()
    first = tuning.choose_memory_format(unet, 16, tmp_path / "m", cpu, torch.float32, contiguous_faster)
    assert first == {"memory_format": "contiguous", "source": "measured",
                     "step_s": {"channels_last": 0.30, "contiguous": 0.20}} and _layout(unet) == "contiguous"
    again = tuning.choose_memory_format(unet, 16, tmp_path / "m", cpu, torch.float32, contiguous_faster)
    assert again["source"] == "stored" and again["memory_format"] == "contiguous" and calls == [16]
    # Another model is measured on its own; a damaged store is measured again, not fatal.
    tuning.choose_memory_format(unet, 16, tmp_path / "other", cpu, torch.float32,
                                lambda *a: {"channels_last": 0.1, "contiguous": 0.2})
    assert _layout(unet) == "channels_last" and len(json.loads((tmp_path / "tuning.json").read_text())) == 2
    # A model folder that is gone is dropped from the store at the next write.
    (tmp_path / "other").rmdir()
    (tmp_path / "third").mkdir()
    tuning.choose_memory_format(unet, 16, tmp_path / "third", cpu, torch.float32, contiguous_faster)
    assert not any("other" in k for k in json.loads((tmp_path / "tuning.json").read_text()))

    def broken(*a):
        raise RuntimeError("shape mismatch")

    odd = tuning.choose_memory_format(unet, 16, tmp_path / "odd", cpu, torch.float32, broken)
    assert odd["memory_format"] == "contiguous" and "shape mismatch" in odd["source"] and _layout(unet) == "contiguous"
    (tmp_path / "tuning.json").write_text("{not json")
    assert tuning.choose_memory_format(unet, 16, tmp_path / "m", cpu, torch.float32,
                                       contiguous_faster)["source"] == "measured"


def test_the_override_wins_and_a_wrong_one_says_what_to_use(unet, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOLDM_BRIDGE_CACHE", str(tmp_path))
    monkeypatch.setenv(tuning.ENV, "channels_last")
    never = lambda *a: pytest.fail("measured despite the override")  # noqa: E731
    assert tuning.choose_memory_format(unet, 16, tmp_path, torch.device("cpu"), torch.float32, never)["source"] == "override"
    assert _layout(unet) == "channels_last"
    monkeypatch.setenv(tuning.ENV, "nhwc")
    with pytest.raises(BridgeError, match="AUDIOLDM_BRIDGE_MEMORY_FORMAT='nhwc'.*channels_last, contiguous"):
        tuning.choose_memory_format(unet, 16, tmp_path, torch.device("cpu"), torch.float32, never)


def test_a_real_measurement_times_both_formats(unet):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    step_s = tuning.measure(unet, 16, torch.device("cpu"), torch.float32, reps=1)
    assert torch.equal(torch.rand(3), expected)  # the global random stream is untouched
    assert set(step_s) == {"channels_last", "contiguous"} and all(0 < v < 60 and math.isfinite(v) for v in step_s.values())


def test_a_loaded_model_reports_its_choice(tiny_model_dir, tmp_path, monkeypatch):
    from engine import loader
    from engine.request import RenderRequest
    from engine.results import provenance

    monkeypatch.setenv("AUDIOLDM_BRIDGE_CACHE", str(tmp_path))
    monkeypatch.delenv(tuning.ENV, raising=False)
    model = loader.load(str(tiny_model_dir), device="cpu")
    assert model.extra["tuning"]["source"] == "measured"
    assert model.extra["tuning"]["memory_format"] == _layout(model.unet)
    assert provenance(RenderRequest(prompt="x"), model, 1, None)["memory_format"] == _layout(model.unet)
    assert loader.load(str(tiny_model_dir), device="cpu").extra["tuning"]["source"] == "stored"


def test_the_vae_is_measured_and_stored_apart_from_the_unet(tiny_model_dir, tmp_path, monkeypatch):
    from diffusers import AutoencoderKL

    monkeypatch.setenv("AUDIOLDM_BRIDGE_CACHE", str(tmp_path))
    monkeypatch.delenv(tuning.ENV, raising=False)
    vae = AutoencoderKL.from_pretrained(tiny_model_dir / "vae").eval()
    (tmp_path / "m").mkdir()
    cpu = torch.device("cpu")
    real = tuning.measure_vae(vae, 4, cpu, torch.float32, reps=1)  # a real decode in both formats
    assert set(real) == set(tuning.FORMATS) and all(0 < v < 60 for v in real.values())
    tuning.choose_memory_format(vae, 4, tmp_path / "m", cpu, torch.float32,
                                lambda *a: {"channels_last": 0.1, "contiguous": 0.2}, part="vae")
    stored = json.loads((tmp_path / "tuning.json").read_text())
    assert len(stored) == 1 and next(iter(stored)).endswith("|vae")
    wide = [m.weight for m in vae.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1
            and m.kernel_size != (1, 1)]
    assert wide and all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() for w in wide)


def test_the_attention_implementation_is_measured_stored_and_applied(unet, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOLDM_BRIDGE_CACHE", str(tmp_path))
    (tmp_path / "m").mkdir()
    cpu = torch.device("cpu")
    if not unet.attn_processors:
        assert tuning.choose_attention(unet, 16, tmp_path / "m", cpu, torch.float32)["attention"] == "none"
        return
    real = tuning.measure_attention(unet, 16, cpu, torch.float32, reps=1)
    assert set(real) == {"sdpa", "default"} and all(0 < v < 60 for v in real.values())
    first = tuning.choose_attention(unet, 16, tmp_path / "m", cpu, torch.float32,
                                    lambda *a: {"sdpa": 0.3, "default": 0.2})
    assert (first["attention"], first["source"]) == ("default", "measured")
    assert {type(p).__name__ for p in unet.attn_processors.values()} == {"AttnProcessor"}
    again = tuning.choose_attention(unet, 16, tmp_path / "m", cpu, torch.float32,
                                    lambda *a: pytest.fail("measured twice"))
    assert (again["attention"], again["source"]) == ("default", "stored")


@pytest.fixture()
def vocoder(tiny_model_dir):
    from transformers import SpeechT5HifiGan

    return SpeechT5HifiGan.from_pretrained(tiny_model_dir / "vocoder").eval()


@pytest.mark.parametrize("normalize_before", [False, True])
def test_the_planar_vocoder_computes_what_transformers_does(vocoder, normalize_before):
    from engine.nets.hifigan import planar_forward

    vocoder.config.normalize_before = normalize_before
    vocoder.mean.normal_(0, 0.5)
    vocoder.scale.uniform_(0.5, 2.0)
    g = torch.Generator().manual_seed(3)
    n_mels = vocoder.config.model_in_dim
    with torch.inference_mode():
        for frames in (1, 37, 256):
            mel = torch.randn(2, frames, n_mels, generator=g)
            ref, ours = vocoder(mel), planar_forward(vocoder, mel)
            assert ours.shape == ref.shape and ours.is_contiguous()
            assert (ours - ref).abs().max() <= 1e-5 * ref.abs().max()
        single = torch.randn(50, n_mels, generator=g)  # an unbatched mel gives an unbatched waveform
        ref, ours = vocoder(single), planar_forward(vocoder, single)
        assert ours.shape == ref.shape and ours.dim() == 1
        assert (ours - ref).abs().max() <= 1e-5 * ref.abs().max()


def test_the_vocoder_layout_is_measured_stored_and_reported(tiny_model_dir, vocoder, tmp_path, monkeypatch):
    from engine import loader
    from engine.request import RenderRequest
    from engine.results import provenance

    monkeypatch.setenv("AUDIOLDM_BRIDGE_CACHE", str(tmp_path))
    (tmp_path / "m").mkdir()
    cpu = torch.device("cpu")
    real = tuning.measure_vocoder(vocoder, vocoder.config.model_in_dim, cpu, torch.float32)
    assert set(real) == set(tuning.VOCODER_LAYOUTS) and all(0 < v < 60 for v in real.values())
    first = tuning.choose_vocoder(vocoder, 64, tmp_path / "m", cpu, torch.float32,
                                  lambda *a: {"planar": 0.3, "module": 0.2})
    assert (first["vocoder_layout"], first["source"]) == ("module", "measured")
    again = tuning.choose_vocoder(vocoder, 64, tmp_path / "m", cpu, torch.float32,
                                  lambda *a: pytest.fail("measured twice"))
    assert (again["vocoder_layout"], again["source"]) == ("module", "stored")
    broken = tuning.choose_vocoder(vocoder, 64, tmp_path / "odd", cpu, torch.float32,
                                   lambda *a: (_ for _ in ()).throw(RuntimeError("no kernel")))
    assert broken["vocoder_layout"] == "module" and "no kernel" in broken["source"]

    model = loader.load(str(tiny_model_dir), device="cpu")  # measured for real at load
    assert model.vocoder_layout == model.extra["tuning"]["vocoder_layout"] in tuning.VOCODER_LAYOUTS
    assert provenance(RenderRequest(prompt="x"), model, 1, None)["vocoder_layout"] == model.vocoder_layout
    mel = torch.randn(1, 40, model.mel_bins)
    with torch.inference_mode():
        by_layout = {}
        for layout in tuning.VOCODER_LAYOUTS:
            model.vocoder_layout = layout
            by_layout[layout] = model.vocode(mel)
    assert (by_layout["planar"] - by_layout["module"]).abs().max() <= 1e-5 * by_layout["module"].abs().max()


def test_a_griffin_lim_vocoder_runs_as_it_is(tmp_path):
    from engine.griffinlim import GriffinLimVocoder

    choice = tuning.choose_vocoder(GriffinLimVocoder(), 64, tmp_path, torch.device("cpu"), torch.float32,
                                   lambda *a: pytest.fail("a Griffin-Lim vocoder is not measured"))
    assert choice == {"vocoder_layout": "module", "source": "not a HiFi-GAN", "step_s": None}
