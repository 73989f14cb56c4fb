"""The workstation window: prompt area, queue, results library, engine status.

Everything the window does to the engine goes through the service API (which never waits on the
engine); everything it learns arrives as events (:class:`gui.service_qt.ServiceSignals`).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import QMimeData, QProcess, QSettings, QSize, QStringListModel, Qt, QUrl
from PyQt6.QtGui import QColor, QDesktopServices, QIcon, QKeySequence, QPainter, QPen, QPixmap, QShortcut
from PyQt6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QCompleter, QDoubleSpinBox, QFormLayout,
                             QGridLayout, QGroupBox, QHBoxLayout, QHeaderView, QInputDialog, QLabel, QLineEdit, QListWidget,
                             QListWidgetItem, QMainWindow, QMessageBox, QProgressBar, QPushButton, QSpinBox,
                             QSplitter, QStatusBar, QTabWidget, QToolButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                             QWidget)

from engine import catalog
from engine.errors import BridgeError
from engine.pitch import named_pitches
from engine.request import SCHEDULERS, RenderRequest, random_seed
from engine.service import events as ev

from . import theme
from daw_bridge.audition import AudioUnavailable, Player, output_devices
from .library import ClipInfo, Stars, read_clip, scan, source_of, waveform_envelope
from .service_qt import ServiceSignals

RATES = (44_100, 48_000, 88_200, 96_000)
HISTORY = 200


class PromptEdit(QLineEdit):
    """A prompt field with history: up / down walk it, typing completes from it (substring)."""

    def __init__(self, placeholder: str, history: list[str]) -> None:
        super().__init__()
        self.setPlaceholderText(placeholder)
        self.history = history
        self._index = len(history)
        self._model = QStringListModel(history)
        completer = QCompleter(self._model, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.setCompleter(completer)

    def remember(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if text in self.history:
            self.history.remove(text)
        self.history.append(text)
        del self.history[:-HISTORY]
        self._model.setStringList(self.history)
        self._index = len(self.history)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self.history and not self.completer().popup().isVisible():
            step = -1 if event.key() == Qt.Key.Key_Up else 1
            self._index = max(0, min(len(self.history), self._index + step))
            self.setText(self.history[self._index] if self._index < len(self.history) else "")
            return
        super().keyPressEvent(event)


class ResultsList(QListWidget):
    """Results that drag out as files (text/uri-list of the WAV in the library)."""

    def mimeData(self, items) -> QMimeData:
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(str(i.data(Qt.ItemDataRole.UserRole))) for i in items])
        return data

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]


def waveform_pixmap(path: Path, size: QSize = QSize(160, 40)) -> QPixmap:
    env = waveform_envelope(path, size.width())
    pix = QPixmap(size)
    pix.fill(QColor("#1b1c1e"))
    p = QPainter(pix)
    p.setPen(QPen(QColor(theme.ACCENT)))
    mid = size.height() / 2
    for x, (lo, hi) in enumerate(env):
        p.drawLine(x, int(mid - hi * mid), x, int(mid - lo * mid))
    p.end()
    return pix


def move_to_trash(path: Path) -> bool:
    """The desktop's trash (freedesktop on Linux, Finder, the Recycle Bin): never a hard delete.
    Qt does not create a missing home trash on Linux, so it is made first."""
    import sys

    from PyQt6.QtCore import QFile, QStandardPaths

    if sys.platform.startswith("linux"):
        base = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation))
        for sub in ("files", "info"):
            (base / "Trash" / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    ok, _where = QFile.moveToTrash(str(path))
    return bool(ok) and not path.exists()


class MainWindow(QMainWindow):
    def __init__(self, service: Any, *, own_service: bool, settings: QSettings | None = None) -> None:
        super().__init__()
        self.service = service
        self.own_service = own_service
        self.settings = settings or QSettings("audioldm-bridge", "workstation")
        self.setWindowTitle("AudioLDM Bridge")
        self.player = Player()
        self.stars = Stars()
        self.library_dir = Path(service.status().library)
        self.rows: dict[int, QTreeWidgetItem] = {}
        self.bars: dict[int, QProgressBar] = {}
        self.mine: set[int] = set()
        self.last_progress_shown: float | None = None  # for the benchmark: when progress reached the screen
        self._ab: list[str] = []
        self._build()
        self._restore()
        self.signals = ServiceSignals(service, self)
        self.signals.received.connect(self.on_event)
        self.signals.status.connect(self.on_status)
        self.signals.lost.connect(self.on_lost)
        self._load_history()
        self.signals.poll_status()

    # ================================================================== layout
    def _build(self) -> None:
        history = self._setting("history", [])
        self.prompt = PromptEdit('Describe the sound, e.g. "a deep low kick drum"', list(history))
        self.negative = PromptEdit("Negative prompt (what to steer away from)", [])
        self.mode = QComboBox()
        self.mode.addItem("Generate", "generate")
        for label, mode in (("Style transfer", "style_transfer"), ("Inpaint", "inpaint"), ("Upsample", "upsample")):
            self.mode.addItem(f"{label} (region editor)", mode)
        self.mode.currentIndexChanged.connect(self._mode_picked)
        self.preset = QComboBox()
        self.preset.addItem("No preset", None)
        self._presets = {}
        try:
            from engine import presets

            for p in sorted(presets.load().presets.values(), key=lambda p: (p.category, p.name)):
                if p.mode == "generate":
                    self.preset.addItem(f"{p.category} / {p.name}", p.name)
                    self._presets[p.name] = p
        except Exception as exc:  # presets are a convenience: never a reason not to start
            self.statusBar().showMessage(f"presets unavailable: {exc}")
        self.preset.currentIndexChanged.connect(self._apply_preset)
        self.duration = QDoubleSpinBox(decimals=2, minimum=0.5, maximum=10.24, singleStep=0.25, value=2.5, suffix=" s")
        self.steps = QSpinBox(minimum=0, maximum=200, value=0)
        self.steps.setSpecialValueText("model's")
        self.guidance = QDoubleSpinBox(decimals=1, minimum=-0.5, maximum=30.0, singleStep=0.5, value=-0.5)
        self.guidance.setSpecialValueText("model's")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 2, value=random_seed())
        self.seed_lock = QToolButton(text="Lock", checkable=True, toolTip="keep this seed for the next renders")
        self.seed_new = QToolButton(text="New", toolTip="a new random seed")
        self.seed_new.clicked.connect(lambda: self.seed.setValue(random_seed()))
        self.candidates = QSpinBox(minimum=1, maximum=16, value=1)
        self.variations = QSpinBox(minimum=1, maximum=16, value=1)
        self.sampler = QComboBox()
        for s in SCHEDULERS[::-1]:
            self.sampler.addItem({"dpmpp": "DPM-Solver++", "ddim": "DDIM"}[s], s)
        self.rate = QComboBox()
        for r in RATES:
            self.rate.addItem(f"{r / 1000:g} kHz", r)
        self.rate.setCurrentIndex(RATES.index(48_000))
        self.fmt = QComboBox()
        for f in ("pcm24", "pcm16", "float32"):
            self.fmt.addItem({"pcm24": "24-bit", "pcm16": "16-bit", "float32": "32-bit float"}[f], f)
        self.model = QComboBox(editable=False)
        for name in list(catalog.BUILTIN_MODELS) + sorted(catalog.cached_hub_models()):
            self.model.addItem(name, name)
        self.fetch = QPushButton("Fetch model…", toolTip="download a hub checkpoint (the only download)")
        self.fetch.clicked.connect(self.fetch_model)
        self.in_tune = QCheckBox("Tune to the pitch the prompt names", checked=True,
                                 toolTip='"a sine tone at 440 Hz", "a bell tuned to E4": the render is tuned there '
                                         "(time-preserving); sounds with no steady pitch stay as rendered")
        self.render_btn = QPushButton("Render", objectName="render", toolTip="Ctrl+Enter")
        self.render_btn.clicked.connect(self.render)

        seed_row = QHBoxLayout()
        seed_row.setContentsMargins(0, 0, 0, 0)
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.seed_lock)
        seed_row.addWidget(self.seed_new)
        seed_box = QWidget()
        seed_box.setLayout(seed_row)
        model_row = QHBoxLayout()
        model_row.setContentsMargins(0, 0, 0, 0)
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.fetch)
        model_box = QWidget()
        model_box.setLayout(model_row)

        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(6)
        grid.addWidget(QLabel("Preset"), 0, 0)
        grid.addWidget(self.preset, 0, 1, 1, 3)
        grid.addWidget(QLabel("Mode"), 0, 4)
        grid.addWidget(self.mode, 0, 5)
        grid.addWidget(QLabel("Prompt"), 1, 0)
        grid.addWidget(self.prompt, 1, 1, 1, 5)
        grid.addWidget(QLabel("Negative"), 2, 0)
        grid.addWidget(self.negative, 2, 1, 1, 5)
        for row, cells in enumerate((
                (("Duration", self.duration), ("Steps", self.steps), ("Guidance", self.guidance)),
                (("Seed", seed_box), ("Candidates", self.candidates), ("Variations", self.variations)),
                (("Sampler", self.sampler), ("Rate", self.rate), ("Format", self.fmt))), start=3):
            for col, (label, widget) in enumerate(cells):
                grid.addWidget(QLabel(label), row, col * 2)
                grid.addWidget(widget, row, col * 2 + 1)
        grid.addWidget(QLabel("Model"), 6, 0)
        grid.addWidget(model_box, 6, 1, 1, 3)
        grid.addWidget(self.render_btn, 6, 4, 1, 2)
        grid.addWidget(self.in_tune, 7, 1, 1, 3)
        for col in (1, 3, 5):
            grid.setColumnStretch(col, 1)
        prompt_box = QGroupBox("Prompt")
        prompt_box.setLayout(grid)

        # Queue
        self.queue = QTreeWidget()
        self.queue.setHeaderLabels(["#", "From", "Prompt", "State", "Progress", "ETA"])
        self.queue.setRootIsDecorated(False)
        self.queue.setAlternatingRowColors(True)
        self.queue.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        for col, width in enumerate((44, 52, 230, 84, 140, 56)):
            self.queue.setColumnWidth(col, width)
        self.queue.header().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.queue.header().setStretchLastSection(False)
        self.cancel_btn = QPushButton("Cancel", toolTip="cancel the selected job (Esc)")
        self.cancel_btn.clicked.connect(self.cancel_selected)
        self.retry_btn = QPushButton("Retry", toolTip="queue a failed or cancelled job again")
        self.retry_btn.clicked.connect(self.retry_selected)
        qbtns = QHBoxLayout()
        qbtns.addStretch(1)
        qbtns.addWidget(self.retry_btn)
        qbtns.addWidget(self.cancel_btn)
        qlay = QVBoxLayout()
        qlay.addWidget(self.queue)
        qlay.addLayout(qbtns)
        queue_box = QGroupBox("Queue")
        queue_box.setLayout(qlay)

        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(prompt_box)
        left.addWidget(queue_box)
        left.setStretchFactor(1, 1)

        # Results
        self.search = QLineEdit(placeholderText="Search results (prompt, seed, model)")
        self.search.textChanged.connect(self.refilter)
        self.starred_only = QToolButton(text="★ Kept", checkable=True, toolTip="only the clips you kept")
        self.starred_only.toggled.connect(self.refilter)
        self.results = ResultsList()
        self.results.setIconSize(QSize(160, 40))
        self.results.setDragEnabled(True)
        self.results.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.results.setAlternatingRowColors(True)
        self.results.setWordWrap(True)
        self.results.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.results.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results.setSpacing(2)
        self.results.itemDoubleClicked.connect(lambda _: self.toggle_play())
        self.play_btn = QPushButton("Play", toolTip="play / stop the selected clip (Space)")
        self.play_btn.clicked.connect(self.toggle_play)
        self.loop_btn = QToolButton(text="Loop", checkable=True)
        self.loop_btn.toggled.connect(lambda on: setattr(self.player, "loop", on))
        self.ab_btn = QPushButton("A/B", toolTip="switch between the two selected clips, keeping the playhead")
        self.ab_btn.clicked.connect(self.ab_switch)
        self.star_btn = QPushButton("★ Keep")
        self.star_btn.clicked.connect(self.toggle_star)
        self.reseed_btn = QPushButton("New seed", toolTip="render the selected clip's request again with a new seed")
        self.reseed_btn.clicked.connect(lambda: self.rerender(vary=False))
        self.vary_btn = QPushButton("Vary", toolTip="same seed, guidance nudged up by 0.5")
        self.vary_btn.clicked.connect(lambda: self.rerender(vary=True))
        self.folder_btn = QPushButton("Show in folder")
        self.folder_btn.clicked.connect(self.show_in_folder)
        self.delete_btn = QPushButton("Delete", toolTip="move the selected clips to the trash")
        self.delete_btn.clicked.connect(lambda: self.delete_selected())
        self.device = QComboBox()
        self.device.addItem("Default output", None)
        for d in output_devices():
            self.device.addItem(d.name, d.index)
        self.device.currentIndexChanged.connect(self._device_changed)
        self.autoplay = QCheckBox("Play renders as they arrive")
        self.autoplay.setChecked(True)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.starred_only)
        transport = QHBoxLayout()
        for w in (self.play_btn, self.loop_btn, self.ab_btn, self.star_btn):
            transport.addWidget(w)
        transport.addStretch(1)
        actions = QHBoxLayout()
        for w in (self.reseed_btn, self.vary_btn, self.folder_btn, self.delete_btn):
            actions.addWidget(w)
        actions.addStretch(1)
        out_form = QFormLayout()
        out_form.addRow("Output", self.device)
        out_form.addRow("", self.autoplay)
        rlay = QVBoxLayout()
        rlay.addLayout(top)
        rlay.addWidget(self.results, 1)
        rlay.addLayout(transport)
        rlay.addLayout(actions)
        rlay.addLayout(out_form)
        results_box = QGroupBox("Results")
        results_box.setLayout(rlay)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(results_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.split = split
        from .region_editor import RegionEditor

        self.editor = RegionEditor(self.service, self.player)
        self.tabs = QTabWidget()
        self.tabs.addTab(split, "Generate")
        self.tabs.addTab(self.editor, "Region editor")
        self.setCentralWidget(self.tabs)

        # Engine status
        sb = QStatusBar()
        self.setStatusBar(sb)
        self.engine_label = QLabel("engine: starting", objectName="engineOk")
        self.crash_label = QLabel("", objectName="crash")
        self.crash_label.setVisible(False)
        self.memory_label = QLabel("")
        self.restart_btn = QPushButton("Restart engine")
        self.restart_btn.clicked.connect(self.restart_engine)
        self.fetch_bar = QProgressBar()
        self.fetch_bar.setMaximumWidth(160)
        self.fetch_bar.setVisible(False)
        self.library_label = QLabel(f"library: {self.library_dir}")
        sb.addWidget(self.engine_label)
        sb.addWidget(self.memory_label)
        sb.addWidget(self.crash_label, 1)
        self.settings_btn = QPushButton("Settings…")
        self.settings_btn.clicked.connect(self.open_settings)
        sb.addPermanentWidget(self.library_label)
        sb.addPermanentWidget(self.settings_btn)
        sb.addPermanentWidget(self.fetch_bar)
        sb.addPermanentWidget(self.restart_btn)

        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, activated=self.render)
        QShortcut(QKeySequence("Escape"), self, activated=self.cancel_selected)
        space = QShortcut(QKeySequence("Space"), self.results, activated=self.toggle_play)
        space.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.resize(1280, 800)

    # ================================================================== settings
    def _setting(self, key: str, default: Any) -> Any:
        value = self.settings.value(key, None)
        if value is None:
            return default
        if isinstance(default, list) and isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return default
        return value

    def _restore(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("splitter")
        if state is not None:
            self.split.restoreState(state)
        for combo, key in ((self.rate, "rate"), (self.fmt, "format"), (self.sampler, "sampler"),
                           (self.model, "model")):
            value = self.settings.value(key)
            if value is not None:
                i = combo.findData(type(combo.itemData(0))(value) if combo.count() else value)
                if i >= 0:
                    combo.setCurrentIndex(i)
        device = self.settings.value("device")
        if device is not None:
            i = self.device.findText(str(device))
            if i >= 0:
                self.device.setCurrentIndex(i)
        self.autoplay.setChecked(str(self.settings.value("autoplay", "true")).lower() != "false")
        self.in_tune.setChecked(str(self.settings.value("in_tune", "true")).lower() != "false")

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("splitter", self.split.saveState())
        s.setValue("rate", self.rate.currentData())
        s.setValue("format", self.fmt.currentData())
        s.setValue("sampler", self.sampler.currentData())
        s.setValue("model", self.model.currentData())
        s.setValue("device", self.device.currentText())
        s.setValue("autoplay", "true" if self.autoplay.isChecked() else "false")
        s.setValue("in_tune", "true" if self.in_tune.isChecked() else "false")
        s.setValue("history", json.dumps(self.prompt.history))
        s.sync()

    def closeEvent(self, event) -> None:
        self.save_settings()
        self.player.stop()
        self.signals.close()
        super().closeEvent(event)

    # ================================================================== render
    def _apply_preset(self) -> None:
        name = self.preset.currentData()
        p = self._presets.get(name)
        if p is None:
            return
        f = p.fields
        self.prompt.setText(f.get("prompt", ""))
        self.negative.setText(f.get("negative_prompt", ""))
        self.duration.setValue(float(f.get("duration_s", self.duration.value())))
        self.steps.setValue(int(f.get("steps") or 0))
        self.guidance.setValue(float(f["guidance_scale"]) if f.get("guidance_scale") is not None else -0.5)
        if p.seed is not None:
            self.seed.setValue(p.seed)
            self.seed_lock.setChecked(True)

    def build_request(self) -> RenderRequest:
        if not self.seed_lock.isChecked() and self._rendered_once:
            self.seed.setValue(random_seed())
        fields: dict[str, Any] = dict(
            mode="generate", prompt=self.prompt.text().strip(), negative_prompt=self.negative.text().strip(),
            duration_s=round(self.duration.value(), 3), seed=self.seed.value(),
            steps=self.steps.value() or None,
            guidance_scale=None if self.guidance.value() < 0 else self.guidance.value(),
            candidates=self.candidates.value(), variations=self.variations.value(),
            scheduler=self.sampler.currentData(), sample_rate=int(self.rate.currentData()),
            sample_format=self.fmt.currentData(), model=self.model.currentData())
        preset = self._presets.get(self.preset.currentData())
        if preset is not None:  # the preset's finish (FX, loudness) and fields the controls do not show
            request = preset.request(**{k: v for k, v in fields.items() if k != "mode"})
        else:
            request = RenderRequest(**fields)
        if (self.in_tune.isChecked() and named_pitches(request.prompt) and not request.raw
                and (request.finish is None or request.finish.tune_to is None)):  # a preset's own pitch wins
            request = request.with_finish(tune_to="prompt")
        return request

    _rendered_once = False

    def render(self) -> int | None:
        try:
            request = self.build_request()
            job = self.service.submit(request, lane="audition", preview_every=2, key=f"gui:{uuid.uuid4().hex}")
        except BridgeError as exc:
            self.statusBar().showMessage(f"cannot render: {exc}", 10_000)
            return None
        self._rendered_once = True
        self.prompt.remember(request.prompt)
        self.mine.add(job)
        self._ensure_row(job)
        return job

    # ================================================================== queue
    def _load_history(self) -> None:
        try:
            for rec in reversed(self.service.jobs(limit=50, newest_first=True)):
                self._ensure_row(rec.id, rec)
        except BridgeError:
            pass
        self.reload_results()

    def _ensure_row(self, job: int, rec: Any = None) -> QTreeWidgetItem:
        item = self.rows.get(job)
        if item is not None:
            return item
        if rec is None:
            try:
                rec = self.service.job(job)
            except BridgeError:
                rec = None
        prompt, source, state = "", "GUI" if job in self.mine else "?", "queued"
        if rec is not None:
            req = rec.request_dict
            prompt = req.get("prompt") or Path(req.get("source_path") or "").name
            source, state = source_of(rec.client_key), rec.state
        item = QTreeWidgetItem([str(job), source, prompt, state, "", ""])
        item.setData(0, Qt.ItemDataRole.UserRole, job)
        self.queue.insertTopLevelItem(0, item)
        bar = QProgressBar()
        bar.setRange(0, 100)
        bar.setValue(100 if state == "done" else 0)
        bar.setFormat("%p%")
        self.queue.setItemWidget(item, 4, bar)
        self.rows[job] = item
        self.bars[job] = bar
        return item

    def _set_state(self, job: int, state: str, tip: str | None = None) -> None:
        item = self._ensure_row(job)
        item.setText(3, state)
        colour = {"failed": theme.DANGER, "done": theme.OK, "cancelled": "#8a8f98"}.get(state)
        item.setForeground(3, QColor(colour) if colour else self.palette().text().color())
        if tip:
            item.setToolTip(3, tip)
            item.setToolTip(2, tip)

    def selected_job(self) -> int | None:
        items = self.queue.selectedItems()
        if items:
            return int(items[0].data(0, Qt.ItemDataRole.UserRole))
        running = [j for j, it in self.rows.items() if it.text(3) in ("running", "queued") and j in self.mine]
        return max(running) if running else None

    def cancel_selected(self) -> None:
        job = self.selected_job()
        if job is None:
            return
        result = self.service.cancel(job)
        self.statusBar().showMessage(f"job {job}: {result}", 5000)

    def retry_selected(self) -> None:
        job = self.selected_job()
        if job is None:
            return
        try:
            self.service.retry(job)
        except BridgeError as exc:
            self.statusBar().showMessage(str(exc), 8000)

    # ================================================================== events
    def open_settings(self, modal: bool = True):
        from .settings_dialog import SettingsDialog, read

        dialog = SettingsDialog(self.settings, self)

        def applied() -> None:
            v = read(self.settings)
            self.rate.setCurrentIndex(max(0, self.rate.findData(v["rate"])))
            self.fmt.setCurrentIndex(max(0, self.fmt.findData(v["format"])))
            i = self.device.findText(v["device"]) if v["device"] else 0
            self.device.setCurrentIndex(max(0, i))

        dialog.accepted.connect(applied)
        if modal:
            dialog.exec()
        else:
            dialog.show()
        return dialog

    def _mode_picked(self) -> None:
        mode = self.mode.currentData()
        if mode != "generate":
            i = self.editor.mode.findData(mode)
            self.editor.mode.setCurrentIndex(i)
            self.tabs.setCurrentWidget(self.editor)
            self.mode.blockSignals(True)
            self.mode.setCurrentIndex(0)
            self.mode.blockSignals(False)

    def on_event(self, e: Any) -> None:
        self.editor.on_event(e)
        job = getattr(e, "job_id", None)
        if isinstance(e, ev.JobQueued):
            self._ensure_row(job)
            self._set_state(job, "queued")
        elif isinstance(e, ev.JobStarted):
            self._set_state(job, "running")
        elif isinstance(e, ev.JobProgress):
            self._ensure_row(job)
            self.bars[job].setValue(int(100 * e.step / max(e.total, 1)))
            self.rows[job].setText(5, f"{e.eta_s:.1f} s")
            self.last_progress_shown = time.perf_counter()
        elif isinstance(e, ev.JobPreview):
            if job in self.mine and self.autoplay.isChecked() and job != self.editor.job:
                self._play(e.audio, e.sample_rate, f"preview:{job}")
        elif isinstance(e, ev.JobDone):
            self._set_state(job, "done")
            self.bars[job].setValue(100)
            self.rows[job].setText(5, f"{e.seconds:.1f} s")
            clips = [c for c in (read_clip(Path(p), self.stars.items) for p in e.outputs) if c is not None]
            for clip in reversed(clips):
                self._add_result(clip, top=True)
            if job in self.mine and clips and self.autoplay.isChecked():
                self.results.setCurrentRow(0)
                self._play_clip(clips[0])
        elif isinstance(e, ev.JobFailed):
            self._set_state(job, "failed", e.error)
            self.statusBar().showMessage(f"job {job} failed: {e.error}", 15_000)
        elif isinstance(e, ev.JobCancelled):
            self._set_state(job, "cancelled")
        elif isinstance(e, ev.JobRequeued):
            self._set_state(job, "queued", e.reason)
        elif isinstance(e, ev.EngineCrashed):
            self.crash_label.setText(f"Engine crashed: {e.reason}" + ("; restarting…" if e.will_restart else ""))
            self.crash_label.setVisible(True)
        elif isinstance(e, ev.EngineState) and e.state == "ready" and self.crash_label.isVisible():
            self.crash_label.setText(self.crash_label.text().replace("; restarting…", "; restarted"))
        elif isinstance(e, ev.ServiceConnection) and e.connected:
            self.crash_label.setVisible(False)

    def on_status(self, st: Any) -> None:
        mem = f"{st.rss_bytes / 2**20:.0f} MiB" if st.rss_bytes else "–"
        self.engine_label.setText(f"engine {st.state} · {st.device or '–'} · {st.model or 'no model'}")
        self.memory_label.setText(f"memory {mem} · queued {st.queue.get('queued', 0)} · "
                                  f"crashes {st.crash_count}")
        if st.state == "stopped" and st.reason:
            self.crash_label.setText(f"Engine stopped: {st.reason}")
            self.crash_label.setVisible(True)

    def on_lost(self, reason: str) -> None:
        self.crash_label.setText(f"Lost the render service: {reason}")
        self.crash_label.setVisible(True)

    def restart_engine(self) -> None:
        try:
            self.service.restart()
            self.crash_label.setText("Restarting the engine…")
        except BridgeError as exc:
            self.statusBar().showMessage(str(exc), 8000)

    # ================================================================== results
    def reload_results(self) -> None:
        self.results.clear()
        for clip in scan(self.library_dir, self.stars.items):
            self._add_result(clip, top=False)

    def _add_result(self, clip: ClipInfo, top: bool) -> None:
        for i in range(self.results.count()):
            if self.results.item(i).data(Qt.ItemDataRole.UserRole) == str(clip.path):
                return
        star = "★ " if clip.starred else ""
        item = QListWidgetItem(QIcon(waveform_pixmap(clip.path)), f"{star}{clip.prompt}\n{clip.summary()}")
        item.setData(Qt.ItemDataRole.UserRole, str(clip.path))
        item.setData(Qt.ItemDataRole.UserRole + 1, clip)
        item.setToolTip(str(clip.path))
        if top:
            self.results.insertItem(0, item)
        else:
            self.results.addItem(item)
        item.setHidden(not self._visible(clip))

    def _visible(self, clip: ClipInfo) -> bool:
        return clip.matches(self.search.text()) and (clip.starred or not self.starred_only.isChecked())

    def refilter(self) -> None:
        for i in range(self.results.count()):
            item = self.results.item(i)
            item.setHidden(not self._visible(item.data(Qt.ItemDataRole.UserRole + 1)))

    def selected_clips(self) -> list[ClipInfo]:
        return [i.data(Qt.ItemDataRole.UserRole + 1) for i in self.results.selectedItems()]

    def _device_changed(self) -> None:
        self.player.stop()
        self.player.device = self.device.currentData()

    def _play(self, audio: np.ndarray, rate: int, clip_id: str, start_s: float = 0.0) -> bool:
        try:
            self.player.play(audio, rate, clip_id=clip_id, start_s=start_s, loop=self.loop_btn.isChecked())
            self.play_btn.setText("Stop")
            return True
        except AudioUnavailable as exc:
            self.statusBar().showMessage(f"audition is off: {exc}", 10_000)
            return False

    def _play_clip(self, clip: ClipInfo, start_s: float = 0.0) -> bool:
        import soundfile as sf

        try:
            audio, rate = sf.read(str(clip.path), dtype="float32", always_2d=True)
        except Exception as exc:
            self.statusBar().showMessage(f"cannot read {clip.path.name}: {exc}", 10_000)
            return False
        return self._play(audio, rate, str(clip.path), start_s)

    def toggle_play(self) -> None:
        if self.player.playing:
            self.player.stop()
            self.play_btn.setText("Play")
            return
        clips = self.selected_clips()
        if clips:
            self._play_clip(clips[0])

    def ab_switch(self) -> None:
        clips = self.selected_clips()
        if len(clips) != 2:
            self.statusBar().showMessage("select two clips to compare (Ctrl+click)", 5000)
            return
        current = self.player.playing_id
        target = clips[1] if current == str(clips[0].path) else clips[0]
        self._play_clip(target, start_s=self.player.position_s if self.player.playing else 0.0)
        self.statusBar().showMessage(f"playing {'B' if target is clips[1] else 'A'}: {target.path.name}", 3000)

    def toggle_star(self) -> None:
        for item in self.results.selectedItems():
            clip: ClipInfo = item.data(Qt.ItemDataRole.UserRole + 1)
            clip.starred = self.stars.toggle(clip.path)
            text = item.text().removeprefix("★ ")
            item.setText(("★ " if clip.starred else "") + text)
        self.refilter()

    def rerender(self, vary: bool) -> None:
        for clip in self.selected_clips()[:1]:
            data = clip.meta.get("request")
            if not isinstance(data, dict):
                self.statusBar().showMessage(f"{clip.path.name} has no request in its provenance", 8000)
                return
            request = RenderRequest.from_dict(data)
            if vary:
                g = request.guidance_scale if request.guidance_scale is not None else 3.0
                request = request.replace(guidance_scale=min(30.0, g + 0.5))
            else:
                request = request.replace(seed=random_seed())
            job = self.service.submit(request, lane="audition", preview_every=2, key=f"gui:{uuid.uuid4().hex}")
            self.mine.add(job)
            self._ensure_row(job)

    def show_in_folder(self) -> None:
        clips = self.selected_clips()
        folder = clips[0].path.parent if clips else self.library_dir
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def delete_selected(self, confirm: bool = True) -> list[Path]:
        clips = self.selected_clips()
        if not clips:
            return []
        if confirm:
            answer = QMessageBox.question(self, "Move to trash",
                                          f"Move {len(clips)} clip(s) and their provenance to the trash?")
            if answer != QMessageBox.StandardButton.Yes:
                return []
        moved = []
        for clip in clips:
            if self.player.playing_id == str(clip.path):
                self.player.stop()
            for p in (clip.path, clip.path.with_name(clip.path.name + ".json")):
                if p.exists() and not move_to_trash(p):
                    self.statusBar().showMessage(f"could not move {p.name} to the trash; it was left in place", 10_000)
                    break
            else:
                moved.append(clip.path)
        for i in reversed(range(self.results.count())):
            if Path(self.results.item(i).data(Qt.ItemDataRole.UserRole)) in moved:
                self.results.takeItem(i)
        return moved

    # ================================================================== models
    def fetch_model(self) -> None:
        name, ok = QInputDialog.getText(self, "Fetch a model", "Hugging Face model id:",
                                        text=catalog.KNOWN_HUB_MODELS[0])
        if ok and name.strip():
            self.start_fetch(name.strip())

    def start_fetch(self, name: str) -> QProcess:
        """Download in a separate process (``audioldm-bridge models pull``): the window never waits."""
        import sys

        proc = QProcess(self)
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.fetch_bar.setRange(0, 0)
        self.fetch_bar.setFormat(f"fetching {name}")
        self.fetch_bar.setVisible(True)
        self.fetch.setEnabled(False)
        lines: list[str] = []

        def on_output() -> None:
            text = bytes(proc.readAllStandardOutput()).decode(errors="replace")
            lines.extend(t for t in text.replace("\r", "\n").splitlines() if t.strip())
            if lines:
                self.fetch_bar.setToolTip(lines[-1][-200:])

        def on_done(code: int, _status) -> None:
            self.fetch_bar.setVisible(False)
            self.fetch.setEnabled(True)
            if code == 0:
                if self.model.findData(name) < 0:
                    self.model.addItem(name, name)
                self.model.setCurrentIndex(self.model.findData(name))
                self.statusBar().showMessage(f"{name} is on disk", 10_000)
            else:
                err = next((ln for ln in reversed(lines) if ln.startswith("error:")), lines[-1] if lines else "")
                self.statusBar().showMessage(f"could not fetch {name}: {err.removeprefix('error: ')}", 20_000)

        proc.readyReadStandardOutput.connect(on_output)
        proc.finished.connect(on_done)
        proc.start(sys.executable, ["-m", "engine.cli", "models", "pull", name])
        self._fetch_proc = proc
        return proc

