"""Griffin-Lim as the vocoder of small models: it inverts our own front end faithfully enough."""

from __future__ import annotations

import json
import shutil

import numpy as np
import torch

from engine import descriptors, frontend, loader
from engine.griffinlim import GriffinLimVocoder
from engine.pipeline import generate_waveforms
from engine.request import RenderRequest


def test_nnls_inversion_smears_a_high_tone_less_than_the_pseudo_inverse():
    """Where mel filters are wide (3 kHz: ~250 Hz apart), NNLS concentrates a tone's energy near its
    frequency; the clamped pseudo-inverse smears it over the filters' support (measured: energy-weighted
    spread 80 Hz vs 128 Hz)."""
    sr, f = 16000, 3000.0
    t = np.arange(sr) / sr
    mel = frontend.log_mel(torch.from_numpy((0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)))[None, 10:60]
    hz = np.arange(frontend.N_FFT // 2 + 1) * sr / frontend.N_FFT

    def spread_hz(vocoder):
        mag = vocoder.magnitude(mel)[0].mean(-1).numpy()
        weights = mag / mag.sum()
        return float(np.sqrt((weights * (hz - f) ** 2).sum()))  # energy-weighted distance from f

    nnls, pinv = spread_hz(GriffinLimVocoder()), spread_hz(GriffinLimVocoder(nnls_iter=0))
    assert nnls < 0.8 * pinv, (nnls, pinv)


def test_resynthesis_keeps_pitch_and_spectrum():
    sr = 16000
    t = np.arange(2 * sr) / sr
    x = (0.4 * np.sin(2 * np.pi * 330 * t) * np.exp(-t)).astype(np.float32)
    mel = frontend.log_mel(torch.from_numpy(x))[None, :200]
    y = GriffinLimVocoder()(mel)[0].numpy()
    assert y.shape == (200 * 160,) and np.all(np.isfinite(y))
    f0 = descriptors.fundamental_hz(y, sr)
    assert f0 is not None and abs(12 * np.log2(f0 / 330)) < 0.5
    assert abs(descriptors.spectral_centroid_hz(y, sr) / descriptors.spectral_centroid_hz(x, sr) - 1) < 0.2
    again = frontend.log_mel(torch.from_numpy(y))[:200]
    active = mel[0] > -6  # compare where there is energy (log-mel units: 1.0 is about 8.7 dB)
    assert (again - mel[0]).abs()[active].mean() < 1.0


def _resynth_f0(f: float, **kwargs) -> float | None:
    sr = 16000
    t = np.arange(int(2.56 * sr)) / sr
    mel = frontend.log_mel(torch.from_numpy((0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)))[None, :256]
    return descriptors.fundamental_hz(GriffinLimVocoder(**kwargs)(mel)[0].numpy().astype(np.float64), sr)


def test_low_tones_keep_their_pitch():
    """Below 625 Hz a mel filter spans 3+ FFT bins; the sparse lobe inversion and the phase-locked start
    keep 55-110 Hz sines within a semitone. Without them (measured): 55 Hz came back at 44 Hz, 82 Hz at
    34 Hz."""
    for f in (55.0, 60.0, 82.41, 110.0):
        got = _resynth_f0(f)
        assert got is not None and abs(12 * np.log2(got / f)) < 1.0, (f, got)
    plain = _resynth_f0(55.0, low_hz=0, phase_lock=False)
    assert plain is None or abs(12 * np.log2(plain / 55.0)) > 2.0, plain  # the failure the change fixes


def test_phase_lock_alone_fixes_a_low_tone_that_zero_phase_breaks():
    got, zero = _resynth_f0(82.41, low_hz=0), _resynth_f0(82.41, low_hz=0, phase_lock=False)
    assert got is not None and abs(12 * np.log2(got / 82.41)) < 1.0, got
    assert zero is None or abs(12 * np.log2(zero / 82.41)) > 2.0, zero


def test_griffin_lim_is_deterministic():
    mel = torch.randn(1, 50, 64) - 4
    v = GriffinLimVocoder(n_iter=4)
    np.testing.assert_array_equal(v(mel).numpy(), v(mel).numpy())


def _griffin_lim_model_folder(tiny_model_dir, tmp_path, meta: dict):
    folder = tmp_path / "gl-model"
    shutil.copytree(tiny_model_dir, folder)
    shutil.rmtree(folder / "vocoder")
    (folder / "audioldm_bridge.json").write_text(json.dumps({"vocoder": "griffin-lim", **meta}))
    return folder


def test_model_folder_with_griffin_lim_loads_through_the_same_path(tiny_model_dir, tmp_path):
    folder = _griffin_lim_model_folder(tiny_model_dir, tmp_path, {"max_duration_s": 10.0})
    model = loader.load(str(folder), device="cpu")
    assert isinstance(model.vocoder, GriffinLimVocoder) and model.max_duration_s == 10.0
    out = generate_waveforms(model, RenderRequest(prompt="x", duration_s=0.73, steps=2, seed=0, raw=True))
    assert out.audio[0].shape == (round(0.73 * 16000),) and np.all(np.isfinite(out.audio[0]))


def test_an_untrained_mel_inverter_returns_a_flat_spectrum_exactly():
    """Its output layer starts at zero, so before training it is the fixed interpolation of the mel onto
    the linear axis, which gives a flat magnitude back where the filterbank covers it."""
    from engine.nets.mel_inverter import MelInverter

    basis = torch.from_numpy(frontend.mel_basis())
    flat = torch.full((frontend.N_FFT // 2 + 1, 20), 0.3)
    log_mel = torch.log(basis @ flat).T[None]  # (1, 20, 64)
    mag = torch.exp(MelInverter(32, 2)(log_mel))[0]
    covered = basis.sum(0) > 0
    assert torch.allclose(mag[covered], torch.full_like(mag[covered], 0.3), rtol=1e-4)


def test_a_magnitude_model_replaces_least_squares_and_round_trips_through_its_folder(tmp_path):
    from engine.nets.mel_inverter import MelInverter

    torch.manual_seed(0)
    net = MelInverter(32, 2)
    torch.nn.init.normal_(net.out.weight, std=0.05)  # something other than the interpolation
    mel = torch.randn(1, 40, 64) - 5
    vocoder = GriffinLimVocoder(n_iter=4, magnitude_model=net)
    with torch.no_grad():
        expected = torch.exp(net(mel))
    assert torch.allclose(vocoder.magnitude(mel), expected)
    assert not torch.allclose(GriffinLimVocoder().magnitude(mel), expected, rtol=0.1)
    wav = vocoder(mel)
    assert wav.shape == (1, 40 * 160) and torch.isfinite(wav).all()

    net.save_pretrained(tmp_path / "mel_inverter")
    again = MelInverter.from_pretrained(tmp_path / "mel_inverter")
    assert torch.allclose(again(mel), net(mel).detach(), atol=5e-2)  # stored in float16


def test_model_folder_with_a_mel_inverter_loads_it_into_the_vocoder(tiny_model_dir, tmp_path):
    from engine.nets.mel_inverter import MelInverter

    folder = _griffin_lim_model_folder(tiny_model_dir, tmp_path, {})
    MelInverter(16, 1).save_pretrained(folder / "mel_inverter")
    model = loader.load(str(folder), device="cpu")
    assert isinstance(model.vocoder.magnitude_model, MelInverter)
    assert model.vocoder.magnitude_model.config == {"channels": 16, "blocks": 1}
    out = generate_waveforms(model, RenderRequest(prompt="x", duration_s=0.5, steps=2, seed=0, raw=True))
    assert out.audio[0].shape == (8000,) and np.all(np.isfinite(out.audio[0]))
