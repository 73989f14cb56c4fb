"""The region editor: a source file's waveform and spectrogram, a region (and an inpainting gap, an
upsampling cutoff, a style-transfer strength) chosen with the mouse or typed, the edit run as a
service job, the result under the source aligned in time, A/B with the playhead kept, and what
changed as a difference spectrogram.

Decoding and the spectrogram run off the GUI thread (a worker thread, then a Qt signal); the views
draw decimated overviews (pyqtgraph's peak downsampling on the visible range, a spectrogram of at
most ``MAX_COLUMNS`` columns), so a 10-minute 96 kHz stereo file never redraws sample by sample.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QObject, QTimer, pyqtSignal
from PyQt6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                             QProgressBar, QPushButton, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from engine.errors import BridgeError
from engine.request import RenderRequest, random_seed

from . import theme

MAX_COLUMNS = 2000
N_BANDS = 128
MODES = (("Inpaint a gap", "inpaint"), ("Style transfer", "style_transfer"), ("Upsample", "upsample"))


@dataclass
class Loaded:
    path: Path
    sample_rate: int
    channels: int
    frames: int
    mono: np.ndarray          # (frames,) float32, for drawing
    spec: np.ndarray          # (columns, bands) dB
    spec_hop_s: float
    band_hz: np.ndarray       # (bands,) centre frequencies
    cutoff_hz: float | None
    band_limited: bool
    seconds_to_load: float
    envelope: np.ndarray | None = None   # (blocks, 2) min / max per ENVELOPE_BLOCK samples


ENVELOPE_BLOCK = 512
#: Points a waveform draws at most; closer in than that, the samples themselves.
MAX_POINTS = 4000


def envelope_levels(mono: np.ndarray, block: int = ENVELOPE_BLOCK) -> np.ndarray:
    """Min and max of every ``block`` samples: what a zoomed-out waveform draws."""
    if len(mono) == 0:
        return np.zeros((0, 2), np.float32)
    starts = np.arange(0, len(mono), block)
    return np.stack([np.minimum.reduceat(mono, starts), np.maximum.reduceat(mono, starts)], axis=1)


def spectrogram(mono: np.ndarray, sr: int, max_columns: int = MAX_COLUMNS, bands: int = N_BANDS
                ) -> tuple[np.ndarray, float, np.ndarray]:
    """A power spectrogram in dB with at most ``max_columns`` frames and ``bands`` equal-width bands
    from 0 Hz to Nyquist (so the kHz axis and the cutoff line read true): (columns, bands), the hop
    in seconds, and the bands' centre frequencies. Pure NumPy (strided frames, rFFT)."""
    n_fft = 2048 if sr > 24_000 else 1024
    hop = max(n_fft // 4, int(np.ceil(len(mono) / max_columns)))
    if len(mono) < n_fft:
        mono = np.pad(mono, (0, n_fft - len(mono)))
    count = 1 + (len(mono) - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(mono, shape=(count, n_fft), strides=(mono.strides[0] * hop,
                                                                                  mono.strides[0]))
    window = np.hanning(n_fft).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    edges = np.linspace(0.0, sr / 2, bands + 1)
    idx = np.clip(np.searchsorted(freqs, edges), 1, len(freqs) - 1)
    out = np.empty((count, bands), np.float32)
    for b in range(bands):
        lo, hi = idx[b], max(idx[b + 1], idx[b] + 1)
        out[:, b] = power[:, lo:hi].mean(axis=1)
    centres = np.sqrt(edges[:-1] * edges[1:])
    return 10 * np.log10(out + 1e-12), hop / sr, centres


def load(path: str | Path) -> Loaded:
    """Read a source (the engine's checks: header first, absurd or non-finite refused) and compute
    what the views draw. Raises AudioInputError with the reason."""
    import soundfile as sf

    from engine import regions
    from engine.errors import AudioInputError

    t0 = time.perf_counter()
    info = regions.probe(path)  # header checks first: absurd rates, lengths, sizes are refused
    audio, sr = sf.read(str(info.path), dtype="float32", always_2d=True)  # for drawing: float32 is plenty
    mono = audio[:, 0].copy()
    for c in range(1, audio.shape[1]):  # a column sum: much faster than mean(axis=1) on interleaved data
        mono += audio[:, c]
    if audio.shape[1] > 1:
        mono *= 1.0 / audio.shape[1]
    if not np.isfinite(mono).all():  # NaN and inf in any channel reach the mix
        raise AudioInputError(f"{Path(path).name} holds NaN or infinite samples; it cannot be edited")
    spec, hop_s, centres = spectrogram(mono, sr)
    cutoff, limited = None, False
    try:
        # 8 s from the middle are enough to see a band limit, and keep a long file quick to show.
        mid = max(0, len(audio) // 2 - 4 * sr)
        est = regions.detect_cutoff(audio[mid:mid + 8 * sr].astype(np.float64), sr, min(8_000.0, sr / 2))
        cutoff, limited = float(est.cutoff_hz), bool(est.band_limited)
    except BridgeError:
        pass
    return Loaded(path=Path(path), sample_rate=sr, channels=audio.shape[1], frames=len(audio),
                  mono=mono, spec=spec, spec_hop_s=hop_s, band_hz=centres, cutoff_hz=cutoff, band_limited=limited,
                  seconds_to_load=time.perf_counter() - t0, envelope=envelope_levels(mono))


class _Loader(QObject):
    done = pyqtSignal(object, object)   # (Loaded or None, error text or None)


class WaveView(pg.PlotWidget):
    """A waveform that draws at most ``MAX_POINTS`` columns of the visible range: min / max from a
    precomputed envelope when zoomed out, the samples themselves when zoomed in."""

    def __init__(self, title: str) -> None:
        super().__init__(background="#1b1c1e")
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=True, y=False)
        self.hideButtons()
        self.getPlotItem().setLabel("left", title)
        self.curve = self.plot(pen=pg.mkPen(theme.ACCENT, width=1))
        self.setYRange(-1, 1)

    def show_audio(self, mono: np.ndarray, sr: int, offset_s: float = 0.0, envelope: np.ndarray | None = None
                   ) -> None:
        self._audio = (mono, sr, offset_s, envelope if envelope is not None else envelope_levels(mono))
        if not getattr(self, "_hooked", False):
            self.getPlotItem().getViewBox().sigXRangeChanged.connect(lambda *_: self._redraw())
            self._hooked = True
        self._redraw()

    def _redraw(self) -> None:
        audio = getattr(self, "_audio", None)
        if audio is None:
            return
        mono, sr, offset, env = audio
        (x0, x1), _ = self.getPlotItem().getViewBox().viewRange()
        a = max(0, int((x0 - offset) * sr))
        b = min(len(mono), int((x1 - offset) * sr) + 1)
        if b <= a:
            self.curve.setData([], [])
            return
        if (b - a) <= MAX_POINTS * 4:
            self.curve.setData(x=offset + np.arange(a, b) / sr, y=mono[a:b])
            return
        ea, eb = a // ENVELOPE_BLOCK, max(a // ENVELOPE_BLOCK + 1, b // ENVELOPE_BLOCK)
        seg = env[ea:eb]
        step = max(1, len(seg) // MAX_POINTS)
        starts = np.arange(0, len(seg), step)
        lo, hi = np.minimum.reduceat(seg[:, 0], starts), np.maximum.reduceat(seg[:, 1], starts)
        xs = offset + (ea + starts) * ENVELOPE_BLOCK / sr
        self.curve.setData(x=np.repeat(xs, 2), y=np.stack([lo, hi], axis=1).reshape(-1))

    def clear_audio(self) -> None:
        self._audio = None
        self.curve.setData([], [])


class RegionEditor(QWidget):
    loaded_signal = pyqtSignal()

    def __init__(self, service: Any, player: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.player = player
        self.source: Loaded | None = None
        self.result_path: Path | None = None
        self.result_mono: np.ndarray | None = None
        self.job: int | None = None
        self.listening = "source"
        self._loader = _Loader()
        self._loader.done.connect(self._on_loaded)
        self.setAcceptDrops(True)
        self._build()
        # The first file should not pay for importing the analysis libraries (scipy.signal: ~0.7 s).
        threading.Thread(target=_warm_imports, name="region-warm", daemon=True).start()
        self._playhead_timer = QTimer(self)
        self._playhead_timer.timeout.connect(self._move_playhead)
        self._playhead_timer.start(33)

    def _move_playhead(self) -> None:
        pid = self.player.playing_id or ""
        if self.player.playing and pid.startswith(("source:", "result:")):
            self.playhead.setValue(self.start.value() + self.player.position_s)

    # ================================================================== layout
    def _build(self) -> None:
        self.open_btn = QPushButton("Open…")
        self.open_btn.clicked.connect(self._open_dialog)
        self.file_label = QLabel("Drop a WAV, AIFF or FLAC file here, or open one")
        self.message = QLabel("", objectName="crash")
        self.message.setWordWrap(True)
        self.mode = QComboBox()
        for label, mode in MODES:
            self.mode.addItem(label, mode)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.prompt = QLineEdit(placeholderText="What the edited region should sound like (optional for inpaint)")
        self.start = QDoubleSpinBox(decimals=3, maximum=1e6, suffix=" s", singleStep=0.1)
        self.end = QDoubleSpinBox(decimals=3, maximum=1e6, suffix=" s", singleStep=0.1)
        self.gap_start = QDoubleSpinBox(decimals=3, maximum=1e6, suffix=" s", singleStep=0.05)
        self.gap_end = QDoubleSpinBox(decimals=3, maximum=1e6, suffix=" s", singleStep=0.05)
        self.strength = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05, value=0.5)
        self.cutoff = QDoubleSpinBox(decimals=0, minimum=500.0, maximum=7900.0, singleStep=100.0, value=4000.0,
                                     suffix=" Hz")
        self.steps = QSpinBox(minimum=0, maximum=200, value=0)
        self.steps.setSpecialValueText("model's")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 2, value=random_seed())
        self.run_btn = QPushButton("Run edit", objectName="render")
        self.run_btn.clicked.connect(self.run)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.ab = QToolButton(text="A: source", checkable=True, toolTip="switch source / result, keeping the playhead")
        self.ab.toggled.connect(self._ab_toggled)
        self.play_btn = QPushButton("Play region")
        self.play_btn.clicked.connect(self.toggle_play)
        self.loop = QToolButton(text="Loop", checkable=True, checked=True)

        self.wave = WaveView("source")
        self.spec = pg.PlotWidget(background="#1b1c1e")
        self.spec.setMenuEnabled(False)
        self.spec.hideButtons()
        self.spec.setMouseEnabled(x=True, y=False)
        self.spec.getPlotItem().setLabel("left", "kHz")
        self.diff_label = "changed (dB)"
        self.spec_img = pg.ImageItem()
        self.spec_img.setColorMap(pg.colormap.get("magma", source="matplotlib") if _has_matplotlib()
                                  else pg.colormap.get("viridis"))
        self.spec.addItem(self.spec_img)
        self.result_wave = WaveView("result")
        self.diff = pg.PlotWidget(background="#1b1c1e")
        self.diff.setMenuEnabled(False)
        self.diff.hideButtons()
        self.diff.getPlotItem().setLabel("left", "changed")
        self.diff_img = pg.ImageItem()
        self.diff_img.setColorMap(pg.colormap.get("inferno", source="matplotlib") if _has_matplotlib()
                                  else pg.colormap.get("plasma"))
        self.diff.addItem(self.diff_img)
        for view in (self.spec, self.result_wave, self.diff):
            view.setXLink(self.wave)

        self.region = pg.LinearRegionItem(values=(0, 1), brush=pg.mkBrush(224, 145, 58, 40),
                                          pen=pg.mkPen(theme.ACCENT, width=2))
        self.gap = pg.LinearRegionItem(values=(0.4, 0.6), brush=pg.mkBrush(224, 82, 82, 60),
                                       pen=pg.mkPen(theme.DANGER, width=2))
        self.cutoff_line = pg.InfiniteLine(pos=4.0, angle=0, movable=True, pen=pg.mkPen("#7fd0ff", width=2),
                                           label="cutoff {value:.2f} kHz",
                                           labelOpts={"color": "#7fd0ff", "position": 0.05})
        self.playhead = pg.InfiniteLine(pos=0, angle=90, movable=False, pen=pg.mkPen("#e6e6e6", width=1))
        self.wave.addItem(self.region)
        self.wave.addItem(self.gap)
        self.wave.addItem(self.playhead)
        self.spec.addItem(self.cutoff_line)
        self.region.sigRegionChanged.connect(self._region_dragged)
        self.gap.sigRegionChanged.connect(self._gap_dragged)
        self.cutoff_line.sigPositionChanged.connect(lambda: self.cutoff.setValue(self.cutoff_line.value() * 1000))
        for box in (self.start, self.end):
            box.valueChanged.connect(self._fields_changed)
        for box in (self.gap_start, self.gap_end):
            box.valueChanged.connect(self._gap_fields_changed)
        self.cutoff.valueChanged.connect(lambda v: self.cutoff_line.setValue(v / 1000))

        top = QHBoxLayout()
        top.addWidget(self.open_btn)
        top.addWidget(self.file_label, 1)
        grid = QGridLayout()
        grid.addWidget(QLabel("Mode"), 0, 0)
        grid.addWidget(self.mode, 0, 1)
        grid.addWidget(QLabel("Prompt"), 0, 2)
        grid.addWidget(self.prompt, 0, 3, 1, 5)
        self.labels: dict[str, QLabel] = {}
        for col, (name, box) in enumerate((("Region start", self.start), ("Region end", self.end),
                                           ("Gap start", self.gap_start), ("Gap end", self.gap_end))):
            self.labels[name] = QLabel(name)
            grid.addWidget(self.labels[name], 1, col * 2)
            grid.addWidget(box, 1, col * 2 + 1)
        for col, (name, box) in enumerate((("Strength", self.strength), ("Cutoff", self.cutoff),
                                           ("Steps", self.steps), ("Seed", self.seed))):
            self.labels[name] = QLabel(name)
            grid.addWidget(self.labels[name], 2, col * 2)
            grid.addWidget(box, 2, col * 2 + 1)
        for c in (1, 3, 5, 7):
            grid.setColumnStretch(c, 1)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_btn)
        run_row.addWidget(self.progress, 1)
        run_row.addWidget(self.play_btn)
        run_row.addWidget(self.loop)
        run_row.addWidget(self.ab)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.message)
        lay.addLayout(grid)
        lay.addLayout(run_row)
        lay.addWidget(self.wave, 3)
        lay.addWidget(self.spec, 3)
        lay.addWidget(self.result_wave, 2)
        lay.addWidget(self.diff, 2)
        self._mode_changed()

    # ================================================================== loading
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open(urls[0].toLocalFile())
            event.acceptProposedAction()

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a source", "", "Audio (*.wav *.aif *.aiff *.flac)")
        if path:
            self.open(path)

    def open(self, path: str | Path) -> None:
        """Decode on a worker thread; the window stays live and shows the outcome when it is done."""
        self.file_label.setText(f"loading {Path(path).name} …")
        self.message.setText("")

        def work() -> None:
            try:
                self._loader.done.emit(load(path), None)
            except BridgeError as exc:
                self._loader.done.emit(None, str(exc))
            except Exception as exc:  # anything else the file does to a decoder: a message, not a crash
                self._loader.done.emit(None, f"{Path(path).name}: cannot be read ({type(exc).__name__}: {exc})")

        threading.Thread(target=work, name="region-load", daemon=True).start()

    def _on_loaded(self, loaded: Loaded | None, error: str | None) -> None:
        if loaded is None:
            self.file_label.setText("no source")
            self.message.setText(error or "could not load the file")
            return
        self.source = loaded
        duration = loaded.frames / loaded.sample_rate
        self.file_label.setText(f"{loaded.path}  ·  {loaded.sample_rate} Hz, {loaded.channels} ch, "
                                f"{duration:.2f} s")
        self.wave.setXRange(0, duration, padding=0)
        self.wave.show_audio(loaded.mono, loaded.sample_rate, envelope=loaded.envelope)
        cols = loaded.spec.shape[0]
        lo, hi = np.percentile(loaded.spec, 5), np.percentile(loaded.spec, 99.5)
        self.spec_img.setImage(loaded.spec, levels=(lo, hi), autoLevels=False)
        self.spec_img.setRect(0, 0, cols * loaded.spec_hop_s, loaded.sample_rate / 2000)
        self.spec.setYRange(0, loaded.sample_rate / 2000, padding=0)
        for box in (self.start, self.end, self.gap_start, self.gap_end):
            box.setMaximum(duration)
        self.start.setValue(0.0)
        self.end.setValue(min(duration, 10.0))
        self.gap_start.setValue(min(duration, 10.0) * 0.4)
        self.gap_end.setValue(min(duration, 10.0) * 0.6)
        if loaded.cutoff_hz is not None and loaded.band_limited:
            self.cutoff.setValue(loaded.cutoff_hz)
            self.message.setText(f"detected cutoff {loaded.cutoff_hz:.0f} Hz: upsampling regenerates above it")
        self._clear_result()
        self.loaded_signal.emit()

    # ================================================================== selections
    def _mode_changed(self) -> None:
        mode = self.mode.currentData()
        self.gap.setVisible(mode == "inpaint")
        self.cutoff_line.setVisible(mode == "upsample")
        for name, on in (("Gap start", mode == "inpaint"), ("Gap end", mode == "inpaint"),
                         ("Strength", mode == "style_transfer"), ("Cutoff", mode == "upsample")):
            self.labels[name].setEnabled(on)
        self.gap_start.setEnabled(mode == "inpaint")
        self.gap_end.setEnabled(mode == "inpaint")
        self.strength.setEnabled(mode == "style_transfer")
        self.cutoff.setEnabled(mode == "upsample")

    def _region_dragged(self) -> None:
        a, b = self.region.getRegion()
        for box, v in ((self.start, a), (self.end, b)):
            box.blockSignals(True)
            box.setValue(max(0.0, v))
            box.blockSignals(False)

    def _gap_dragged(self) -> None:
        a, b = self.gap.getRegion()
        for box, v in ((self.gap_start, a), (self.gap_end, b)):
            box.blockSignals(True)
            box.setValue(max(0.0, v))
            box.blockSignals(False)

    def _fields_changed(self) -> None:
        self.region.setRegion((self.start.value(), self.end.value()))

    def _gap_fields_changed(self) -> None:
        self.gap.setRegion((self.gap_start.value(), self.gap_end.value()))

    def set_region(self, start: float, end: float) -> None:
        self.region.setRegion((start, end))

    def set_gap(self, start: float, end: float) -> None:
        self.gap.setRegion((start, end))

    # ================================================================== running
    def build_request(self) -> RenderRequest:
        if self.source is None:
            raise BridgeError("open a source file first (drop it on the editor)")
        mode = self.mode.currentData()
        fields: dict[str, Any] = dict(mode=mode, source_path=str(self.source.path), prompt=self.prompt.text().strip(),
                                      region_start_s=round(self.start.value(), 6),
                                      region_end_s=round(self.end.value(), 6), seed=self.seed.value(),
                                      steps=self.steps.value() or None)
        if mode == "inpaint":
            fields.update(gap_start_s=round(self.gap_start.value(), 6), gap_end_s=round(self.gap_end.value(), 6))
        elif mode == "style_transfer":
            fields["strength"] = round(self.strength.value(), 4)
        elif mode == "upsample":
            fields["cutoff_hz"] = round(self.cutoff.value(), 1)
        if fields["region_end_s"] - fields["region_start_s"] < 0.5:
            raise BridgeError(f"the region is {fields['region_end_s'] - fields['region_start_s']:.3f} s long; "
                              f"make it at least 0.5 s")
        return RenderRequest(**fields)

    def run(self) -> int | None:
        try:
            request = self.build_request()
            self.job = self.service.submit(request, lane="audition", key=f"gui:{uuid.uuid4().hex}")
        except BridgeError as exc:
            self.message.setText(str(exc))
            return None
        self.message.setText("")
        self.progress.setValue(0)
        self._clear_result()
        return self.job

    def on_event(self, e: Any) -> None:
        from engine.service import events as ev

        if getattr(e, "job_id", None) != self.job or self.job is None:
            return
        if isinstance(e, ev.JobProgress):
            self.progress.setValue(int(100 * e.step / max(e.total, 1)))
        elif isinstance(e, ev.JobDone) and e.outputs:
            self.progress.setValue(100)
            self.show_result(Path(e.outputs[0]))
            for w in e.warnings:
                self.message.setText(w)
        elif isinstance(e, ev.JobFailed):
            self.message.setText(f"the edit failed: {e.error}")
        elif isinstance(e, ev.JobCancelled):
            self.message.setText("the edit was cancelled")

    def show_result(self, path: Path) -> None:
        import soundfile as sf

        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
        self.result_path = path
        self.result_mono = audio.mean(axis=1)
        offset = self.start.value()
        self.result_wave.show_audio(self.result_mono, sr, offset)
        src = self.source
        a = int(round(offset * src.sample_rate))
        before = src.mono[a:a + len(self.result_mono)] if sr == src.sample_rate else None
        if before is not None and len(before) == len(self.result_mono):
            s0, hop, _ = spectrogram(before, sr, max_columns=600)
            s1, _, _ = spectrogram(self.result_mono, sr, max_columns=600)
            diff = np.abs(s1 - s0)
            self.diff_img.setImage(diff, levels=(0, 30), autoLevels=False)
            self.diff_img.setRect(offset, 0, diff.shape[0] * hop, sr / 2000)
            self.diff.setYRange(0, sr / 2000, padding=0)

    def _clear_result(self) -> None:
        self.result_path, self.result_mono = None, None
        self.result_wave.clear_audio()
        self.diff_img.clear()

    # ================================================================== listening
    def _ab_toggled(self, on: bool) -> None:
        self.ab.setText("B: result" if on else "A: source")
        if self.player.playing:
            self._play(keep_position=True)

    def toggle_play(self) -> None:
        if self.player.playing:
            self.player.stop()
            self.play_btn.setText("Play region")
            return
        self._play(keep_position=False)

    def _play(self, keep_position: bool) -> None:
        from daw_bridge.audition import AudioUnavailable

        if self.source is None:
            return
        pos = self.player.position_s if keep_position and self.player.playing else 0.0
        try:
            if self.ab.isChecked() and self.result_path is not None:
                import soundfile as sf

                audio, sr = sf.read(str(self.result_path), dtype="float32", always_2d=True)
                clip_id = f"result:{self.result_path}"
            else:
                import soundfile as sf

                sr = self.source.sample_rate
                a, b = int(self.start.value() * sr), int(self.end.value() * sr)
                audio, _ = sf.read(str(self.source.path), start=a, stop=b, dtype="float32", always_2d=True)
                clip_id = f"source:{self.source.path}"
            self.player.play(audio, sr, clip_id=clip_id, start_s=pos, loop=self.loop.isChecked())
            self.play_btn.setText("Stop")
        except AudioUnavailable as exc:
            self.message.setText(f"audition is off: {exc}")


def _warm_imports() -> None:
    import importlib

    for name in ("scipy.ndimage", "scipy.signal", "soundfile"):
        try:
            importlib.import_module(name)
        except Exception:
            pass


def _has_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None
