"""Griffin-Lim as a drop-in for the HiFi-GAN vocoder: log-mel (B, T, 64) -> 16 kHz waveform.

Used by models whose ``audioldm_bridge.json`` says ``"vocoder": "griffin-lim"`` (the small default
model, when a trained vocoder does not beat it). It inverts AudioLDM's own front end
(:mod:`engine.frontend`):

1. mel -> linear magnitude by non-negative least squares (multiplicative updates started from the
   pseudo-inverse of the slaney filterbank, as librosa's ``mel_to_stft``);
2. below ``low_hz`` (625 Hz), where a mel filter is three FFT bins wide or more and a low tone's
   energy would be smeared over all of them, the magnitude is instead a sparse non-negative sum of
   Hann-window lobes on a half-bin grid (L1-penalised multiplicative updates): a 55 Hz sine comes
   back at 53 Hz instead of 44 Hz;
3. phases start locked to the nearest spectral peak (each bin advances at its peak's frequency,
   identity phase locking as in Laroche & Dolson's phase vocoder) instead of zero, so low partials are
   coherent from the first iteration; then fast Griffin-Lim (momentum 0.99, Perraudin et al. 2013).

With a ``magnitude_model`` (the default model's trained :class:`~engine.nets.mel_inverter.MelInverter`,
``mel_inverter/`` in its folder) steps 1 and 2 are replaced by that network's estimate.

Everything is deterministic, so a render depends only on its seed.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from . import frontend


class GriffinLimVocoder(torch.nn.Module):
    """Duck-types ``SpeechT5HifiGan`` where the engine uses it: ``config`` and ``forward(mel)``."""

    def __init__(self, n_iter: int = 16, momentum: float = 0.99, nnls_iter: int = 50, low_hz: float = 625.0,
                 low_sparsity: float = 0.05, low_iter: int = 200, phase_lock: bool = True,
                 magnitude_model: torch.nn.Module | None = None) -> None:
        super().__init__()
        self.magnitude_model = magnitude_model
        self.config = SimpleNamespace(sampling_rate=frontend.SAMPLE_RATE, upsample_rates=[frontend.HOP],
                                      model_in_dim=frontend.N_MELS)
        self.n_iter = n_iter
        self.momentum = momentum
        self.nnls_iter = nnls_iter
        self.low_sparsity = low_sparsity
        self.low_iter = low_iter if low_hz > 0 else 0
        self.phase_lock = phase_lock
        low_bin = low_hz * frontend.N_FFT / frontend.SAMPLE_RATE
        lobes = _window_lobes(low_bin + 24)  # (513, K): atoms up to 1.5 crossover widths past it
        basis = frontend.mel_basis().astype(np.float64)  # (64, 513)
        mel_lobes = basis @ lobes  # (64, K)
        self.register_buffer("lobes", torch.from_numpy(lobes.astype(np.float32)), persistent=False)
        self.register_buffer("mel_lobes_t", torch.from_numpy(mel_lobes.T.astype(np.float32)), persistent=False)
        self.register_buffer("lobe_gram", torch.from_numpy((mel_lobes.T @ mel_lobes).astype(np.float32)),
                             persistent=False)
        self.register_buffer("lobe_pinv", torch.from_numpy(np.linalg.pinv(mel_lobes).astype(np.float32)),
                             persistent=False)
        # 0 up to 8 bins (125 Hz) below the crossover, 1 from 8 bins above it, linear in between.
        high = np.clip((np.arange(frontend.N_FFT // 2 + 1) - low_bin) / 16.0 + 0.5, 0.0, 1.0)
        self.register_buffer("high_weight", torch.from_numpy(high.astype(np.float32))[:, None], persistent=False)
        pinv = np.linalg.pinv(basis).astype(np.float32)
        # NNLS terms that depend only on the filterbank: the basis (64, 513) and its transpose. The Gram
        # product basis^T basis mag is taken as basis^T (basis mag): 64-wide products instead of 513.
        self.register_buffer("mel_basis", torch.from_numpy(basis.astype(np.float32)), persistent=False)
        self.register_buffer("mel_basis_t", torch.from_numpy(basis.T.astype(np.float32)), persistent=False)
        self.register_buffer("mel_pinv", torch.from_numpy(pinv), persistent=False)  # (513, 64)
        self.register_buffer("window", torch.hann_window(frontend.N_FFT), persistent=False)

    @property
    def device(self) -> torch.device:  # as ModelMixin / PreTrainedModel, for pipelines that ask
        return self.window.device

    @property
    def dtype(self) -> torch.dtype:
        return self.window.dtype

    def magnitude(self, log_mel: torch.Tensor) -> torch.Tensor:
        """(B, T, 64) log-mel -> (B, 513, T) linear magnitude, non-negative.

        Non-negative least squares (as librosa's ``mel_to_stft``) by multiplicative updates from the
        clamped pseudo-inverse, which is not itself a non-negative solution. The gain is where mel
        filters are wide: a 3 kHz tone's energy-weighted spread falls from 128 Hz to 80 Hz (at 330 Hz
        and below it barely changes). On 40 corpus clips the descriptor checks after resynthesis went
        from 93 % to 95 % (2 checks).

        With a ``magnitude_model``, its estimate instead, used as it is: forcing it back to the mel by
        the same least-squares updates (20 of them) made its MR-STFT distance to corpus clips
        0.97 -> 1.93 and passed fewer of the held-out checks (89.4 % against 91.2 %, on a first inverter).
        """
        if self.magnitude_model is not None:
            dtype = next(self.magnitude_model.parameters()).dtype
            return torch.exp(self.magnitude_model(log_mel.to(dtype)).float().clamp(max=10.0))
        mel = torch.exp(log_mel.float()).transpose(1, 2)
        mag = torch.clamp(self.mel_pinv @ mel, min=0.0) + 1e-6
        numerator = self.mel_basis_t @ mel
        for _ in range(self.nnls_iter):
            mag = mag * numerator / (self.mel_basis_t @ (self.mel_basis @ mag) + 1e-10)
        if self.low_iter:
            mag = self.high_weight * mag + (1 - self.high_weight) * self._sparse_low(mel)
        return mag

    def _sparse_low(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, 64, T) linear mel -> (B, 513, T) magnitude as a sparse sum of window lobes (valid below
        the crossover only). Multiplicative updates for min ||mel - M w||^2 + lambda * scale * |w|_1, w >= 0."""
        w = torch.clamp(self.lobe_pinv @ mel, min=0.0) + 1e-6
        numerator = self.mel_lobes_t @ mel
        penalty = self.low_sparsity * numerator.amax(dim=1, keepdim=True) + 1e-10
        for _ in range(self.low_iter):
            w = w * numerator / (self.lobe_gram @ w + penalty)
        return self.lobes @ w

    def initial_phase(self, mag: torch.Tensor) -> torch.Tensor:
        """Unit phasors for the first Griffin-Lim iteration: zero phase, or (``phase_lock``) every bin
        advancing hop by hop at the frequency of its nearest magnitude peak (parabolic interpolation),
        with the (-1)^k sign of a centred window, so a stationary partial starts coherent."""
        if not self.phase_lock:
            return torch.ones_like(mag, dtype=torch.complex64)
        log_mag = torch.log(mag + 1e-9)
        n_bins = mag.shape[1]
        left = F.pad(log_mag[:, :-1], (0, 0, 1, 0), value=-1e9)
        right = F.pad(log_mag[:, 1:], (0, 0, 0, 1), value=-1e9)
        peak = (log_mag > left) & (log_mag >= right)
        curvature = left - 2 * log_mag + right
        offset = torch.where(peak & (curvature.abs() > 1e-9), 0.5 * (left - right) / curvature,
                             torch.zeros_like(log_mag)).clamp(-0.5, 0.5)
        k = torch.arange(n_bins, device=mag.device).view(1, -1, 1).expand_as(mag)
        far = torch.full_like(k, 10 ** 6)
        before = torch.cummax(torch.where(peak, k, -far), dim=1).values
        after = -torch.flip(torch.cummax(torch.flip(torch.where(peak, -k, -far), [1]), dim=1).values, [1])
        nearest = torch.where(after - k < k - before, after, before)
        has_peak = (nearest >= 0) & (nearest < n_bins)
        nearest = nearest.clamp(0, n_bins - 1)
        freq_bins = torch.where(has_peak, nearest + torch.gather(offset, 1, nearest), k.to(mag.dtype))
        phase = torch.cumsum(2 * np.pi * freq_bins * frontend.HOP / frontend.N_FFT, dim=2) + np.pi * k
        return torch.polar(torch.ones_like(phase), phase)

    def _stft(self, wav: torch.Tensor) -> torch.Tensor:
        return torch.stft(wav, frontend.N_FFT, frontend.HOP, window=self.window, center=True,
                          pad_mode="reflect", return_complex=True)

    def _istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        return torch.istft(spec, frontend.N_FFT, frontend.HOP, window=self.window, center=True, length=length)

    @torch.inference_mode()
    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        mag = self.magnitude(log_mel)
        frames = mag.shape[-1]
        length = (frames - 1) * frontend.HOP  # centred STFT of this length has exactly `frames` frames
        angles = self.initial_phase(mag)
        previous = torch.zeros_like(angles)
        wav = self._istft(mag * angles, length)
        for _ in range(self.n_iter):
            rebuilt = self._stft(wav)
            accelerated = rebuilt - (self.momentum / (1 + self.momentum)) * previous
            angles = accelerated / (accelerated.abs() + 1e-8)
            previous = rebuilt
            wav = self._istft(mag * angles, length)
        # HiFi-GAN returns frames * hop samples; match it so callers crop the same way.
        return torch.nn.functional.pad(wav, (0, frontend.HOP))


def _window_lobes(max_bin: float, step: float = 0.5) -> np.ndarray:
    """(513, K) magnitude spectra of a unit sinusoid at bins 0, step, 2 step, ... max_bin seen through
    the front end's periodic Hann window (with the mirror image a real signal has near 0 Hz)."""
    n = frontend.N_FFT
    oversample = 16
    window = np.zeros(n * oversample)
    window[:n] = np.hanning(n + 1)[:-1]
    response = np.abs(np.fft.fft(window))  # response at offset d bins = response[d * oversample]
    offsets = np.fft.fftfreq(n * oversample, 1 / n)  # in bins
    order = np.argsort(offsets)
    offsets, response = offsets[order], response[order]
    bins = np.arange(n // 2 + 1)[:, None]
    centres = np.arange(0.0, max_bin + 1e-9, step)[None, :]

    def at(d):
        return np.interp(d, offsets, response, left=0.0, right=0.0) * (np.abs(d) < 8)

    return at(bins - centres) + at(bins + centres)
