"""Text-to-audio through the one entry point, on tiny random models."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import soundfile as sf

from engine.audio_io import read_provenance
from engine.errors import Cancelled, InvalidRequest
from engine.pipeline import generate_waveforms, render
from engine.request import RenderRequest


def req(model_dir, **kw):
    base = dict(prompt="a low kick drum", duration_s=0.6, steps=2, seed=11, model=str(model_dir))
    base.update(kw)
    return RenderRequest(**base)


@pytest.mark.parametrize("rate,channels,duration,fmt", [(48000, 2, 0.6, "pcm24"), (44100, 1, 1.37, "float32"),
                                                        (22050, 1, 0.53, "pcm16")])
def test_exact_length_rate_channels(tiny_model_dir, models, tmp_path, rate, channels, duration, fmt):
    result = render(req(tiny_model_dir, sample_rate=rate, channels=channels, duration_s=duration,
                        sample_format=fmt), models, output=tmp_path / "o.wav")
    info = sf.info(str(result.clips[0].path))
    assert info.samplerate == rate and info.channels == channels
    assert info.frames == round(duration * rate)
    data, _ = sf.read(str(result.clips[0].path), dtype="float32")
    assert np.all(np.isfinite(data))
    assert abs(np.max(np.abs(data)) - 10 ** (-1 / 20)) < 2e-3  # default peak normalisation to -1 dBFS


def test_raw_is_the_model_waveform_untouched(tiny_model_dir, models, tmp_path):
    r = req(tiny_model_dir, raw=True, scheduler="ddim")
    result = render(r, models, output=tmp_path / "raw.wav")
    data, sr = sf.read(str(result.clips[0].path), dtype="float32")
    expected = generate_waveforms(models.get(r.model), r).audio[0]
    assert sr == 16000 and sf.info(str(result.clips[0].path)).subtype == "FLOAT"
    np.testing.assert_array_equal(data, expected)


def test_provenance_allows_an_exact_rerender(tiny_model_dir, models, tmp_path):
    r = req(tiny_model_dir, variations=2, candidates=2, raw=True)
    result = render(r, models, output=tmp_path / "v.wav")
    assert [c.path.name for c in result.clips] == ["v-v1.wav", "v-v2.wav"]
    for clip in result.clips:
        meta = read_provenance(clip.path)
        assert meta["seed"] == clip.seed and meta["prompt"] == r.prompt and meta["model"] == r.model
        again = generate_waveforms(models.get(r.model), r.replace(seed=meta["seed"], variations=1, candidates=1))
        data, _ = sf.read(str(clip.path), dtype="float32")
        np.testing.assert_array_equal(data, again.audio[0])


def test_clap_reranking_keeps_the_best_candidate(tiny_model_dir, models):
    from engine.sampling import clap_scores

    model = models.get(str(tiny_model_dir))
    r = req(tiny_model_dir, candidates=3, raw=True)
    result = generate_waveforms(model, r)
    singles = [generate_waveforms(model, r.replace(seed=r.seed + c, candidates=1)).audio[0] for c in range(3)]
    scores = clap_scores(model, r.prompt, np.stack(singles))
    best = int(np.argmax(scores))
    assert result.seeds == [r.seed + best]
    assert result.scores[0] == pytest.approx(float(scores[best]), abs=1e-5)
    np.testing.assert_array_equal(result.audio[0], singles[best])


def test_without_clap_candidates_warn_and_keep_the_first(tiny3_model_dir, models):
    r = req(tiny3_model_dir, candidates=2, raw=True)
    result = generate_waveforms(models.get(r.model), r)
    assert result.seeds == [r.seed] and "cannot be re-ranked" in result.warnings[0]


def test_progress_every_step_and_cancel_between_steps(tiny_model_dir, models):
    model = models.get(str(tiny_model_dir))
    seen = []
    generate_waveforms(model, req(tiny_model_dir, steps=4, variations=2), progress=seen.append)
    assert [s.step for s in seen] == list(range(1, 9)) and all(s.total == 8 for s in seen)
    assert seen[-1].eta_s == 0

    steps_run = []

    def cancel():
        return len(steps_run) >= 2

    with pytest.raises(Cancelled):
        generate_waveforms(model, req(tiny_model_dir, steps=6), progress=steps_run.append, cancel=cancel)
    assert len(steps_run) == 2  # stopped before the third step


def test_preview_waveforms_are_decoded_from_the_clean_estimate(tiny_model_dir, models):
    model = models.get(str(tiny_model_dir))
    seen = []
    generate_waveforms(model, req(tiny_model_dir, steps=4), progress=seen.append, preview_every=2)
    previews = [s.preview for s in seen if s.preview is not None]
    assert len(previews) == 1 and previews[0].shape == (int(0.6 * 16000),)
    assert np.all(np.isfinite(previews[0]))


def test_both_schedulers_and_durations_not_multiples_of_2_5(tiny3_model_dir, models):
    model = models.get(str(tiny3_model_dir))
    for scheduler in ("ddim", "dpmpp"):
        for duration in (0.5, 0.77, 3.1):
            out = generate_waveforms(model, req(tiny3_model_dir, scheduler=scheduler, duration_s=duration))
            assert out.audio[0].shape == (round(duration * 16000),)
            assert np.all(np.isfinite(out.audio[0])) and np.std(out.audio[0]) > 0


def test_duration_over_the_model_maximum_is_refused(tiny_model_dir, models):
    with pytest.raises(InvalidRequest, match="maximum of 10.24"):
        generate_waveforms(models.get(str(tiny_model_dir)), req(tiny_model_dir, duration_s=12))


def test_engine_never_imports_qt():
    import subprocess

    code = ("import sys, engine.cli, engine.pipeline, engine.loader, engine.sampling, engine.audio_io;"
            "bad=[m for m in sys.modules if m.split('.')[0] in ('PyQt6','PySide6','pyqtgraph')];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unset_steps_and_guidance_use_the_models_own_defaults(tiny_model_dir, model_root, models, tmp_path):
    import json
    import shutil

    folder = model_root / "tiny-with-sampler-defaults"
    if not folder.exists():
        shutil.copytree(tiny_model_dir, folder)
        meta_file = folder / "audioldm_bridge.json"
        meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        meta_file.write_text(json.dumps({**meta, "sampler": {"steps": 3, "guidance_scale": 1.5,
                                                             "guidance_low": 1.0}}))
    steps_seen = []
    r = req(folder, steps=None, guidance_scale=None, raw=True)
    result = render(r, models, output=tmp_path / "d.wav", progress=lambda info: steps_seen.append(info.total))
    meta = read_provenance(result.clips[0].path)
    assert (meta["steps"], meta["guidance_scale"], meta["guidance_low"]) == (3, 1.5, 1.0)
    assert set(steps_seen) == {3}
    explicit = render(r.replace(steps=3, guidance_scale=1.5, guidance_low=1.0), models, output=tmp_path / "e.wav")
    a, _ = sf.read(str(result.clips[0].path), dtype="float32")
    b, _ = sf.read(str(explicit.clips[0].path), dtype="float32")
    np.testing.assert_array_equal(a, b)
    # A model without its own settings falls back to 20 steps at guidance 2.5.
    assert models.get(str(tiny_model_dir)).sampler_defaults == {"steps": 20, "guidance_scale": 2.5,
                                                                "guidance_low": None, "guidance_until": None}


def test_a_text_to_audio_prior_maps_prompts_but_not_the_unconditional_empty_text(tiny_model_dir, models):
    import torch

    from engine.nets.clap_audio import TextToAudioPrior
    from engine.sampling import encode_text

    model = models.get(str(tiny_model_dir))
    assert model.text_prior is None
    plain = encode_text(model, ["", "a low kick drum"])
    dim = plain.shape[1]
    prior = TextToAudioPrior(dim, 16)
    torch.nn.init.normal_(prior.mlp[-1].weight)  # a prior that is not the identity
    model.text_prior = prior.eval()
    try:
        mapped = encode_text(model, ["", "a low kick drum"])
    finally:
        model.text_prior = None
    torch.testing.assert_close(mapped[0], plain[0])
    assert float(mapped[1] @ plain[1]) < 0.99
    with torch.inference_mode():
        expected = prior(plain[1:2].float())[0].to(mapped.dtype)
    torch.testing.assert_close(mapped[1], expected)


def test_frequency_decoupled_guidance_scales_the_spectral_tilt_apart_from_the_detail():
    import torch

    from engine.sampling import guide, mel_lowpass

    torch.manual_seed(0)
    uncond = torch.randn(1, 8, 10, 16)
    tilt = torch.linspace(-1, 1, 16).expand(1, 8, 10, 16)  # varies slowly along mel
    detail = torch.tensor([1.0, -1.0] * 8).expand(1, 8, 10, 16)  # alternates bin to bin
    torch.testing.assert_close(mel_lowpass(detail), torch.zeros_like(detail))
    # plain classifier-free guidance when no low scale is given, or the same one
    cond = uncond + tilt + detail
    plain = uncond + 3.0 * (tilt + detail)
    torch.testing.assert_close(guide(uncond, cond, 3.0), plain)
    torch.testing.assert_close(guide(uncond, cond, 3.0, 3.0), plain)
    # decoupled: the detail is guided at 3, a constant offset along mel at 1 (the conditional's own)
    offset = torch.full_like(uncond, 0.5)
    torch.testing.assert_close(guide(uncond, uncond + offset + detail, 3.0, 1.0), uncond + offset + 3.0 * detail)
    # and the tilt falls between: mostly low band, so guided far less than plain guidance
    tilted = guide(uncond, uncond + tilt, 3.0, 1.0) - uncond
    assert float(tilted.abs().mean()) < 0.6 * float((3.0 * tilt).abs().mean())


def test_guidance_until_guides_only_the_first_steps_at_half_the_unet_work_after(tiny_model_dir, models):
    import torch

    model = models.get(str(tiny_model_dir))
    from engine.sampling import encode_text

    batches: list[int] = []
    labels: list = []
    inner = model.unet

    class Counting:
        def __getattr__(self, name):
            return getattr(inner, name)

        def __call__(self, x, *args, **kwargs):
            batches.append(x.shape[0])
            labels.append(kwargs["class_labels"])
            return inner(x, *args, **kwargs)

    model.unet = Counting()
    try:
        full = generate_waveforms(model, req(tiny_model_dir, steps=10, guidance_scale=3.0)).audio[0]
        assert batches == [2] * 10
        batches.clear()
        labels.clear()
        part = generate_waveforms(model, req(tiny_model_dir, steps=10, guidance_scale=3.0, guidance_until=0.6)).audio[0]
        assert batches == [2] * 6 + [1] * 4
        # The unguided steps take the prompt's conditioning, not the unconditional one.
        uncond, cond = encode_text(model, ["", "a low kick drum"])
        for used in labels[6:]:
            torch.testing.assert_close(used[0], cond)
            assert not torch.allclose(used[0], uncond)
        batches.clear()
        every = generate_waveforms(model, req(tiny_model_dir, steps=10, guidance_scale=3.0, guidance_until=1.0)).audio[0]
    finally:
        model.unet = inner
    np.testing.assert_array_equal(every, full)  # 1 is every step, exactly as unset
    assert np.all(np.isfinite(part)) and not np.allclose(part, full)
