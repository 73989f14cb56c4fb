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
    for w, h in ((1280, 800), (1920, 1080)):
        window.resize(w, h)
        _wait(app, lambda: False, 0.5)
        path = folder / f"workstation-{w}x{h}.png"
        window.grab().save(str(path))
        print(path)
    return 0
