"""``audioldm-bridge gui``: the workstation, attached to the running render service when there is
one (``serve`` for the DAW), else running its own (with the OSC bridge, like ``serve``)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


def start_service(args: argparse.Namespace) -> tuple[Any, bool, list]:
    """(service, own, attached hooks): a client of the running service, or one started here."""
    from engine.service import RenderService, ServiceClient, ServiceUnavailable

    try:
        return ServiceClient(args.journal), False, []
    except ServiceUnavailable:
        pass
    _settings_as_defaults(args)
    service = RenderService(library=args.library, journal=args.journal, device=args.device, dtype=args.dtype,
                            preload_model=args.preload).start()
    attached = []
    for h in getattr(args, "serve_hooks", []):
        if h.error:
            print(f"warning: {h.error}", file=sys.stderr)
        elif h.hook is not None:
            try:
                handle = h.hook.attach(service, args)
            except Exception as exc:  # the app runs without a room that cannot start (port in use ...)
                print(f"warning: {h.entry.name} is off: {exc}", file=sys.stderr)
                continue
            if handle is not None:
                attached.append(handle)
    return service, True, attached


def _settings_as_defaults(args: argparse.Namespace) -> None:
    """The Settings dialog's service options, where the command line did not give them."""
    from PyQt6.QtCore import QSettings

    from .settings_dialog import read

    v = read(QSettings("audioldm-bridge", "workstation"))
    given = getattr(args, "_given", set())
    if args.library is None and v["library"]:
        args.library = v["library"]
    if "osc_port" not in given and hasattr(args, "osc_port"):
        args.osc_port = v["osc_port"]
    if not getattr(args, "allow_dir", None) and v["allow_dirs"]:
        args.allow_dir = v["allow_dirs"]
    if not getattr(args, "allow_sender", None) and v["allow_senders"]:
        args.allow_sender = v["allow_senders"]
    if hasattr(args, "midi_in") and not args.midi_in and v["midi_in"]:
        args.midi_in = v["midi_in"]
    if hasattr(args, "midi_map") and not args.midi_map and v["midi_map"]:
        args.midi_map = v["midi_map"]


def run(args: argparse.Namespace) -> int:
    from PyQt6.QtWidgets import QApplication

    from . import theme
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("AudioLDM Bridge")
    app.setOrganizationName("audioldm-bridge")
    theme.apply(app)
    service, own, attached = start_service(args)
    window = MainWindow(service, own_service=own)
    window.show()
    if getattr(args, "file", None):
        window.tabs.setCurrentWidget(window.editor)
        window.editor.open(args.file)
    try:
        if args.screenshots:
            return take_screenshots(app, window, Path(args.screenshots), args.prompt or "a deep low kick drum")
        return app.exec()
    finally:
        for handle in attached:
            handle.close()
        if own:
            service.stop()
        else:
            service.close()


def _wait(app, predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.02)
    return False


def take_screenshots(app, window, folder: Path, prompt: str) -> int:
    """Render ``prompt`` (queue, progress, a result) and grab the window at two sizes."""
    folder.mkdir(parents=True, exist_ok=True)
    window.autoplay.setChecked(False)
    _wait(app, lambda: window.service.status().state in ("ready", "busy"), 180)
    for text in ("steady rain", "a warm soft pad chord", prompt):
        window.prompt.setText(text)
        window.duration.setValue(2.5)
        job = window.render()
        if job is None or not _wait(app, lambda: window.rows[job].text(3) in ("done", "failed"), 300):
            print("error: the screenshot render did not finish", file=sys.stderr)
            return 1
    window.prompt.setText("rain on a tin roof")
    window.results.setCurrentRow(0)
    _grab(app, window, folder, "workstation")
    # The region editor with a region, a gap and an inpainting result.
    voice = Path("/usr/share/sounds/alsa/Front_Center.wav")
    source = voice if voice.is_file() else Path(window.results.item(0).data(0x0100))
    editor = window.editor
    window.tabs.setCurrentWidget(editor)
    editor.open(source)
    if not _wait(app, lambda: editor.source is not None, 60):
        print(f"error: could not load {source}: {editor.message.text()}", file=sys.stderr)
        return 1
    editor.mode.setCurrentIndex(editor.mode.findData("inpaint"))
    duration = editor.source.frames / editor.source.sample_rate
    editor.set_region(0.1 * duration, 0.9 * duration)
    editor.set_gap(0.45 * duration, 0.6 * duration)
    editor.prompt.setText("a voice")
    editor.run()
    if not _wait(app, lambda: editor.result_path is not None or "failed" in editor.message.text(), 300):
        print("error: the screenshot edit did not finish", file=sys.stderr)
        return 1
    _grab(app, window, folder, "editor")
    return 0


def _grab(app, window, folder: Path, name: str) -> None:
    for w, h in ((1280, 800), (1920, 1080)):
        window.resize(w, h)
        _wait(app, lambda: False, 0.5)
        path = folder / f"{name}-{w}x{h}.png"
        window.grab().save(str(path))
        print(path)
