"""The workstation window, driven for real (pytest-qt): renders with the built-in model, audition
through the JACK dummy device, drag-out file URLs, cancel, an engine SIGKILL mid-render, an OSC job
showing up in the queue. Offscreen here; under Xvfb in .ci/run."""

from __future__ import annotations

import os
import signal
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import QSettings, Qt, QTimer  # noqa: E402

from engine import descriptors as D  # noqa: E402
from engine.service import RenderService  # noqa: E402
from daw_bridge.audition import output_devices  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    root = tmp_path_factory.mktemp("gui")
    os.environ["AUDIOLDM_BRIDGE_RUNTIME"] = tempfile.mkdtemp(prefix="alb-gui-")
    svc = RenderService(library=root / "library", journal=root / "jobs.sqlite3", device="cpu",
                        preload_model="builtin:default", crash_limit=20).start()
    svc.wait_ready(180)
    deadline = time.monotonic() + 120
    while svc.status().model != "builtin:default" and time.monotonic() < deadline:
        time.sleep(0.1)
    yield svc
    svc.stop()


@pytest.fixture
def window(qtbot, service, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the trash lives here
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(service, own_service=True, settings=settings)
    w.autoplay.setChecked(False)
    qtbot.addWidget(w)
    with qtbot.waitExposed(w):
        w.show()
    w.raise_()
    w.activateWindow()  # keyboard shortcuts need the active window (a real X server has no auto-focus)
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    yield w
    w.player.stop()
    w.signals.close()


def render_and_wait(qtbot, w, prompt: str, duration: float = 1.0, timeout_ms: int = 120_000) -> int:
    w.prompt.setText(prompt)
    w.duration.setValue(duration)
    before = set(w.rows)
    qtbot.keyClick(w.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(set(w.rows) - before), timeout=5000)
    job = max(set(w.rows) - before)
    qtbot.waitUntil(lambda: w.rows[job].text(3) in ("done", "failed", "cancelled"), timeout=timeout_ms)
    return job


def test_ctrl_enter_renders_with_progress_then_a_result(qtbot, window):
    progress: list[int] = []
    window.signals.received.connect(lambda e: progress.append(type(e).__name__))
    count = window.results.count()
    job = render_and_wait(qtbot, window, "a deep low kick drum")
    assert window.rows[job].text(3) == "done" and window.rows[job].text(1) == "GUI"
    assert "JobProgress" in progress and window.bars[job].value() == 100
    assert window.results.count() == count + 1
    clip = window.selected_clips() or [window.results.item(0).data(Qt.ItemDataRole.UserRole + 1)]
    assert clip[0].path.is_file() and clip[0].meta["prompt"] == "a deep low kick drum"
    assert "a deep low kick drum" in window.prompt.history
    # The history walks with up / down.
    window.prompt.setText("")
    qtbot.keyClick(window.prompt, Qt.Key.Key_Up)
    assert window.prompt.text() == "a deep low kick drum"


def test_a_result_drags_out_as_a_file_url_that_plays(qtbot, window):
    if window.results.count() == 0:
        render_and_wait(qtbot, window, "a closed hi-hat", 0.5)
    item = window.results.item(0)
    data = window.results.mimeData([item])
    [url] = data.urls()
    path = Path(url.toLocalFile())
    assert url.isLocalFile() and path.is_file() and path.parent == window.library_dir
    audio, rate = sf.read(str(path))
    assert rate == 48_000 and len(audio) > 0 and "text/uri-list" in data.formats()


def test_a_named_pitch_is_tuned_by_default_and_the_box_turns_it_off(qtbot, window):
    window.prompt.setText("a square wave tone tuned to A3, held for a long time")
    assert window.in_tune.isChecked() and window.build_request().finish.tune_to == "prompt"
    window.prompt.setText("a deep low kick drum")  # no pitch named: the request is as it always was
    assert window.build_request().finish is None
    window.prompt.setText("a sine tone at 440 Hz")
    window.in_tune.setChecked(False)
    assert window.build_request().finish is None
    window.in_tune.setChecked(True)
    job = render_and_wait(qtbot, window, "a sine tone at 440 Hz", 1.0)
    assert window.rows[job].text(3) == "done"
    (clip_path,) = window.service.job(job).outputs
    audio, rate = sf.read(clip_path)
    f0 = D.fundamental_hz(audio, rate)
    assert f0 is not None and abs(12 * np.log2(f0 / 440.0)) < 0.3


@pytest.mark.skipif(not output_devices(), reason="no audio output device (start jackd: .ci/run does)")
def test_audition_starts_and_stops(qtbot, window):
    if window.results.count() == 0:
        render_and_wait(qtbot, window, "a closed hi-hat", 0.5)
    window.results.setCurrentRow(0)
    window.loop_btn.setChecked(True)
    window.toggle_play()
    assert window.player.playing
    qtbot.waitUntil(lambda: window.player.position_s > 0.05 or window.player._pos > 0, timeout=5000)
    window.toggle_play()
    assert not window.player.playing and window.play_btn.text() == "Play"


def test_escape_cancels_the_selected_job(qtbot, window):
    window.prompt.setText("steady rain")
    window.duration.setValue(5.0)
    window.steps.setValue(200)
    job = window.render()
    qtbot.waitUntil(lambda: window.bars[job].value() > 0, timeout=120_000)
    window.queue.setCurrentItem(window.rows[job])
    qtbot.keyClick(window.queue, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.rows[job].text(3) == "cancelled", timeout=30_000)
    window.steps.setValue(0)


def test_engine_killed_mid_render_the_window_stays_responsive_and_the_job_finishes(qtbot, window, service):
    window.prompt.setText("a warm soft pad chord")
    window.duration.setValue(3.0)
    window.steps.setValue(120)
    job = window.render()
    qtbot.waitUntil(lambda: window.bars[job].value() > 0, timeout=120_000)
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    os.kill(service.status().pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: window.crash_label.isVisible() and "crashed" in window.crash_label.text(), timeout=10_000)
    assert "SIGKILL" in window.crash_label.text()
    qtbot.waitUntil(lambda: window.rows[job].text(3) == "done", timeout=180_000)
    timer.stop()
    window.steps.setValue(0)
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert gaps and max(gaps) < 0.5, f"the event loop stalled for {max(gaps):.3f} s"
    assert "restarted" in window.crash_label.text()


def test_a_job_submitted_over_osc_shows_up_marked_osc(qtbot, window, service):
    pytest.importorskip("pythonosc")
    from pythonosc.osc_message_builder import OscMessageBuilder

    from daw_bridge.osc.server import OscBridge, OscConfig

    bridge = OscBridge(service, OscConfig(port=0, allow_dirs=())).start()
    try:
        b = OscMessageBuilder(address="/audioldm/generate")
        for a in (f"gui-test-{time.time_ns()}", "a laser zap", 0.75):
            b.add_arg(a)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b.build().dgram, ("127.0.0.1", bridge.port))
        qtbot.waitUntil(lambda: any(it.text(1) == "OSC" and it.text(2) == "a laser zap" for it in window.rows.values()),
                        timeout=10_000)
        job = next(j for j, it in window.rows.items() if it.text(1) == "OSC" and it.text(2) == "a laser zap")
        qtbot.waitUntil(lambda: window.rows[job].text(3) == "done", timeout=120_000)
    finally:
        bridge.close()


def test_search_star_and_delete_to_the_trash(qtbot, window, tmp_path):
    job = render_and_wait(qtbot, window, "a bell ringing", 1.0)
    assert window.rows[job].text(3) == "done"
    window.search.setText("bell")
    visible = [window.results.item(i) for i in range(window.results.count()) if not window.results.item(i).isHidden()]
    assert visible and all("bell" in i.text() for i in visible)
    window.results.clearSelection()
    visible[0].setSelected(True)
    window.toggle_star()
    window.starred_only.setChecked(True)
    assert not visible[0].isHidden() and visible[0].text().startswith("★ ")
    path = Path(visible[0].data(Qt.ItemDataRole.UserRole))
    moved = window.delete_selected(confirm=False)
    assert moved == [path] and not path.exists() and not path.with_name(path.name + ".json").exists()
    trash = tmp_path / "xdg" / "Trash" / "files"
    assert (trash / path.name).is_file()  # in the trash, not gone
    window.starred_only.setChecked(False)
    window.search.setText("")


def test_settings_are_restored(qtbot, service, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    first = MainWindow(service, own_service=True, settings=settings)
    qtbot.addWidget(first)
    first.rate.setCurrentIndex(first.rate.findData(96_000))
    first.fmt.setCurrentIndex(first.fmt.findData("float32"))
    first.prompt.remember("thunder right overhead")
    first.in_tune.setChecked(False)
    first.close()
    second = MainWindow(service, own_service=True, settings=QSettings(str(tmp_path / "s.ini"),
                                                                      QSettings.Format.IniFormat))
    qtbot.addWidget(second)
    assert second.rate.currentData() == 96_000 and second.fmt.currentData() == "float32"
    assert not second.in_tune.isChecked()
    assert "thunder right overhead" in second.prompt.history
    second.close()
