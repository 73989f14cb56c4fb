"""The mel front end against an independent NumPy computation of AudioLDM's recipe."""

from __future__ import annotations

import numpy as np
import torch

from engine import frontend


def slaney_mel_reference(sr=16000, n_fft=1024, n_mels=64, fmin=0.0, fmax=8000.0):
    """librosa.filters.mel(htk=False, norm='slaney') written out from its definition."""
    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        f_sp = 200.0 / 3
        mels = f / f_sp
        min_log_hz = 1000.0
        min_log_mel = min_log_hz / f_sp
        logstep = np.log(6.4) / 27.0
        return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        f_sp = 200.0 / 3
        freqs = f_sp * m
        min_log_hz = 1000.0
        min_log_mel = min_log_hz / f_sp
        logstep = np.log(6.4) / 27.0
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)

    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    weights = np.zeros((n_mels, len(fftfreqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    return weights * enorm[:, None]


def test_filterbank_matches_librosa_definition():
    np.testing.assert_allclose(frontend.mel_basis(), slaney_mel_reference(), rtol=1e-4, atol=1e-7)


def test_log_mel_matches_numpy_recipe():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    wav = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(16000)).astype(np.float32)
    ours = frontend.log_mel(torch.from_numpy(wav)).numpy()

    padded = np.pad(wav.astype(np.float64), 512, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(1024) / 1024)  # periodic Hann
    n_frames = 1 + (len(padded) - 1024) // 160
    frames = np.stack([padded[i * 160:i * 160 + 1024] * window for i in range(n_frames)])
    mag = np.abs(np.fft.rfft(frames, axis=1))
    ref = np.log(np.maximum(mag @ slaney_mel_reference().T, 1e-5))

    assert ours.shape == (101, 64) == ref.shape
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_a_tone_lands_in_the_right_mel_bin():
    t = np.arange(16000) / 16000
    for hz in (200.0, 1000.0, 4000.0):
        mel = frontend.log_mel(torch.from_numpy(np.sin(2 * np.pi * hz * t).astype(np.float32))).numpy()
        peak_bin = int(np.argmax(mel[50]))
        assert abs(frontend.mel_bin_centres_hz()[peak_bin] - hz) / hz < 0.15


def test_preprocess_removes_mean_and_sets_peak():
    x = np.linspace(0, 1, 1000, dtype=np.float32) + 3.0
    y = frontend.preprocess_waveform(x)
    assert abs(y.mean()) < 1e-6 and abs(np.max(np.abs(y)) - 0.5) < 1e-6
    assert np.all(frontend.preprocess_waveform(np.zeros(100)) == 0)


def test_frames_and_cutoff_bins():
    assert frontend.frames_for_samples(16000) == 100
    assert frontend.frames_for_samples(16001, multiple=4) == 104
    assert frontend.cutoff_to_mel_bin(0) == 0
    assert frontend.cutoff_to_mel_bin(8000) in (63, 64)
    assert frontend.cutoff_to_mel_bin(2000) < frontend.cutoff_to_mel_bin(4000)
