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
