"""The region editor and the settings dialog, driven for real (pytest-qt): a real recording dropped
on the window, a gap chosen with the mouse and inpainted (exact length, bit-identical outside the
gap), the detected cutoff of a band-limited file, style-transfer strength, a corrupt file, settings
kept across a restart, MIDI learn of a CC sent through a mido port."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("PyQt6")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl  # noqa: E402
from PyQt6.QtGui import QDropEvent  # noqa: E402
from PyQt6.QtTest import QTest  # noqa: E402

from engine.service import RenderService  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402

VOICE = Path("/usr/share/sounds/alsa/Front_Center.wav")
needs_voice = pytest.mark.skipif(not VOICE.is_file(), reason="alsa-utils' sounds not installed; .ci/run installs it")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    root = tmp_path_factory.mktemp("editor")
    os.environ["AUDIOLDM_BRIDGE_RUNTIME"] = tempfile.mkdtemp(prefix="alb-ed-")
    svc = RenderService(library=root / "library", journal=root / "jobs.sqlite3", device="cpu",
                        preload_model="builtin:default").start()
    svc.wait_ready(180)
    yield svc
    svc.stop()


@pytest.fixture
def window(qtbot, service, tmp_path):
    w = MainWindow(service, own_service=True,
                   settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    w.autoplay.setChecked(False)
    qtbot.addWidget(w)
    w.show()
    w.tabs.setCurrentWidget(w.editor)
    yield w
    w.player.stop()
    w.signals.close()


def drop(editor, path: Path) -> None:
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    editor.dropEvent(event)


def load(qtbot, editor, path: Path) -> None:
    before = editor.source
    drop(editor, path)
    qtbot.waitUntil(lambda: editor.source is not before and editor.source is not None, timeout=30_000)


def run(qtbot, editor, timeout: int = 180_000) -> Path:
    editor.steps.setValue(4)
    job = editor.run()
    assert job is not None, editor.message.text()
    qtbot.waitUntil(lambda: editor.result_path is not None or "failed" in editor.message.text(), timeout=timeout)
    assert editor.result_path is not None, editor.message.text()
    return editor.result_path


def _drag(qtbot, plot, x0: float, x1: float) -> None:
    """A real mouse drag on the plot's viewport, from data x0 to data x1 (at mid height)."""
    vb = plot.getPlotItem().getViewBox()
    y = sum(vb.viewRange()[1]) / 2

    def to_view(x: float) -> QPoint:
        scene = vb.mapViewToScene(QPointF(x, y))
        return plot.mapFromScene(scene)

    a, b = to_view(x0), to_view(x1)
    viewport = plot.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, 11):
        QTest.mouseMove(viewport, a + (b - a) * i / 10, 5)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


@needs_voice
def test_drop_a_recording_pick_a_gap_with_the_mouse_and_inpaint(qtbot, window):
    ed = window.editor
    load(qtbot, ed, VOICE)
    assert ed.source.sample_rate == 48_000 and ed.source.spec.shape[1] == 128
    ed.mode.setCurrentIndex(ed.mode.findData("inpaint"))
    ed.set_region(0.1, 1.3)
    ed.set_gap(0.6, 0.8)
    qtbot.wait(100)
    # Move the gap's right edge with the mouse: 0.8 s -> 0.9 s.
    _drag(qtbot, ed.wave, 0.8, 0.9)
    qtbot.waitUntil(lambda: abs(ed.gap_end.value() - 0.9) < 0.03, timeout=3000)
    start, end, gs, ge = ed.start.value(), ed.end.value(), ed.gap_start.value(), ed.gap_end.value()
    out = run(qtbot, ed)
    result, sr = sf.read(str(out), dtype="int16", always_2d=True)
    source, _ = sf.read(str(VOICE), dtype="int16", always_2d=True)
    a, b = int(round(start * sr)), int(round(end * sr))
    assert len(result) == b - a  # exactly the region
    g0, g1 = int(round(gs * sr)) - a, int(round(ge * sr)) - a
    assert np.array_equal(result[:g0], source[a:a + g0]) and np.array_equal(result[g1:], source[a + g1:b])
    assert ed.result_mono is not None and ed.diff_img.image is not None  # the difference view


def test_upsample_shows_the_detected_cutoff(qtbot, window, tmp_path):
    from scipy.signal import butter, sosfiltfilt

    src = VOICE if VOICE.is_file() else None
    if src is None:
        pytest.skip("alsa-utils' sounds not installed")
    audio, sr = sf.read(str(src))
    dull = sosfiltfilt(butter(12, 3500, fs=sr, output="sos"), audio)  # a phone-like recording
    path = tmp_path / "dull.wav"
    sf.write(str(path), dull, sr, subtype="PCM_24")
    ed = window.editor
    load(qtbot, ed, path)
    ed.mode.setCurrentIndex(ed.mode.findData("upsample"))
    assert ed.source.band_limited and 3000 < ed.source.cutoff_hz < 4200
    assert abs(ed.cutoff.value() - ed.source.cutoff_hz) < 1 and ed.cutoff_line.isVisible()
    assert abs(ed.cutoff_line.value() * 1000 - ed.cutoff.value()) < 1
    assert "detected cutoff" in ed.message.text()


@needs_voice
def test_style_transfer_uses_the_strength_field(qtbot, window):
    ed = window.editor
    load(qtbot, ed, VOICE)
    ed.mode.setCurrentIndex(ed.mode.findData("style_transfer"))
    ed.prompt.setText("a warm soft pad chord")
    ed.set_region(0.0, 1.0)
    ed.strength.setValue(0.3)
    out = run(qtbot, ed)
    meta = json.loads(out.with_name(out.name + ".json").read_text())
    assert meta["strength"] == 0.3 and meta["mode"] == "style_transfer"


def test_a_corrupt_or_short_input_is_a_message_and_the_window_stays_usable(qtbot, window, tmp_path):
    ed = window.editor
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(200))
    drop(ed, bad)
    qtbot.waitUntil(lambda: ed.message.text() != "", timeout=10_000)
    assert "broken.wav" in ed.message.text() and ed.source is None
    if VOICE.is_file():
        load(qtbot, ed, VOICE)
        ed.set_region(0.2, 0.4)
        assert ed.run() is None and "at least 0.5 s" in ed.message.text()


def test_settings_are_validated_and_survive_a_restart(qtbot, window, tmp_path):
    from gui.settings_dialog import SettingsDialog

    dialog = window.open_settings(modal=False)
    dialog.osc_port.setValue(80)
    dialog.allow_dirs.setPlainText(str(tmp_path / "nope"))
    assert dialog.save() is False and "OSC port" in dialog.problems.text() and "not a folder" in dialog.problems.text()
    dialog.osc_port.setValue(9555)
    dialog.allow_dirs.setPlainText(str(tmp_path))
    dialog.rate.setCurrentIndex(dialog.rate.findData(96_000))
    assert dialog.save() is True
    assert window.rate.currentData() == 96_000  # the workstation follows
    again = SettingsDialog(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert again.osc_port.value() == 9555 and again.values()["allow_dirs"] == [str(tmp_path)]
    assert again.rate.currentData() == 96_000


def test_learn_assigns_a_cc_sent_through_a_mido_port(qtbot, window, tmp_path):
    mido = pytest.importorskip("mido")
    from daw_bridge import rooms
    from daw_bridge.midi import mapping as M
    from daw_bridge.midi.controller import MidiController

    class Loopback(mido.ports.BaseIOPort):
        def _send(self, message):
            self._messages.append(message)

    path = tmp_path / "midi.toml"
    controller = MidiController(window.service, M.Mapping(path=path), audition=False)
    rooms.set_midi(controller)
    try:
        dialog = window.open_settings(modal=False)
        qtbot.mouseClick(dialog.learn_buttons["strength"], Qt.MouseButton.LeftButton)
        assert "turn a knob" in dialog.learn_state.text()
        port = Loopback()
        port.send(mido.Message("control_change", control=21, value=64))
        controller.handle(port.receive())
        qtbot.waitUntil(lambda: "CC 21" in dialog.learn_state.text(), timeout=3000)
        assert M.load(path).cc(21, 1).target == "strength"
    finally:
        rooms.set_midi(None)
        controller.close()
