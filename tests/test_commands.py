"""Commands and serve hooks register themselves (entry points); the rooms import in one direction."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import cli, commands

REPO = Path(__file__).resolve().parents[1]
ENGINE_COMMANDS = {"generate", "style-transfer", "inpaint", "upsample", "models", "eval-default", "serve", "jobs"}

# Makes the optional front-end libraries unimportable, as on a machine without the gui/bridge extras.
BLOCK_EXTRAS = textwrap.dedent("""
    import importlib.abc, sys
    BLOCKED = ("PyQt6", "PyQt5", "PySide6", "pyqtgraph", "pythonosc", "mido", "rtmidi", "sounddevice", "pedalboard")
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, Block())
""")


def _plugin(tmp_path: Path) -> Path:
    """A third-party distribution on sys.path: a command whose optional dependency is missing, one
    that works, and a serve hook."""
    site = tmp_path / "site"
    (site / "ghost_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "ghost_plugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: ghost-plugin\nVersion: 1.0\n")
    (site / "ghost_plugin-1.0.dist-info" / "entry_points.txt").write_text(textwrap.dedent("""
        [audioldm_bridge.commands]
        ghost = ghost_cmd:register [haunt]
        echo-room = echo_cmd:register

        [audioldm_bridge.serve_hooks]
        marker = marker_hook:HOOK
    """))
    (site / "ghost_cmd.py").write_text("import not_installed_anywhere_xyz\n\ndef register(sub):\n    pass\n")
    (site / "echo_cmd.py").write_text(textwrap.dedent("""
        def register(sub):
            p = sub.add_parser("echo-room", help="says hello from a plugin")
            p.add_argument("word")
            p.set_defaults(func=lambda args: print("echo", args.word) or 0)
    """))
    (site / "marker_hook.py").write_text(textwrap.dedent("""
        import json, os
        class _Closer:
            def __init__(self, path): self.path = path
            def close(self):
                with open(self.path, "a") as f: f.write("closed\\n")
        class Hook:
            def add_arguments(self, parser):
                parser.add_argument("--marker-file", default=None)
            def attach(self, service, args):
                if not args.marker_file:
                    return None
                st = service.status()
                with open(args.marker_file, "w") as f:
                    f.write(json.dumps({"journal": st.journal, "state": st.state}) + "\\n")
                return _Closer(args.marker_file)
        HOOK = Hook()
    """))
    return site


def _run(args: list[str], env_extra: dict | None = None, pre: str = "", timeout: float = 240):
    code = pre + "\nimport sys\nfrom engine.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=str(REPO))


def test_every_engine_command_is_declared_and_listed(capsys):
    declared = {e.name for e in commands.entries(commands.COMMANDS)}
    assert ENGINE_COMMANDS <= declared
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ENGINE_COMMANDS)


def test_without_the_gui_and_bridge_extras_every_command_is_listed_and_generate_works(tmp_path):
    proc = _run(["--help"], pre=BLOCK_EXTRAS)
    assert proc.returncode == 0, proc.stderr
    assert all(name in proc.stdout for name in ENGINE_COMMANDS)
    out = tmp_path / "kick.wav"
    proc = _run(["generate", "a low kick drum", "--model", "builtin:random-tiny", "--duration", "0.5",
                 "--steps", "1", "--seed", "3", "-o", str(out)], pre=BLOCK_EXTRAS,
                env_extra={"AUDIOLDM_BRIDGE_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and str(out) in proc.stdout
    # The block really blocks: the same interpreter set-up cannot import PyQt6.
    check = subprocess.run([sys.executable, "-c", BLOCK_EXTRAS + "\nimport PyQt6"], capture_output=True, text=True)
    assert check.returncode != 0 and "PyQt6" in check.stderr


def test_a_command_whose_extra_is_missing_is_listed_and_says_what_to_install(tmp_path):
    site = _plugin(tmp_path)
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    proc = _run(["--help"], env)
    assert proc.returncode == 0, proc.stderr
    assert "ghost" in proc.stdout and 'pip install "ghost-plugin[haunt]"' in proc.stdout
    assert "echo-room" in proc.stdout and "generate" in proc.stdout
    proc = _run(["ghost", "--anything"], env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "not_installed_anywhere_xyz" in proc.stderr and 'pip install "ghost-plugin[haunt]"' in proc.stderr
    proc = _run(["echo-room", "hi"], env)  # a plugin's working command runs
    assert proc.returncode == 0 and proc.stdout.strip() == "echo hi"
    proc = _run(["models", "list"], env)  # and ours are unaffected
    assert proc.returncode == 0 and "builtin:default" in proc.stdout


def test_serve_hooks_add_options_and_attach_to_the_running_service(tmp_path, monkeypatch, capsys):
    """The hook is declared by another distribution; serve calls it with the started service and
    closes what it returned when it stops (the OSC bridge and MIDI attach this way)."""
    site = _plugin(tmp_path)
    monkeypatch.syspath_prepend(str(site))
    from engine.service import config

    real = config.ServiceConfig
    monkeypatch.setattr(config, "ServiceConfig", lambda **kw: real(**kw, faults={"fake_engine": True}))
    marker = tmp_path / "marker.txt"
    journal = tmp_path / "jobs.sqlite3"
    assert cli.main(["serve", "--journal", str(journal), "--library", str(tmp_path / "lib"), "--until-idle", "--no-osc",
                     "--marker-file", str(marker)]) == 0
    first, last = marker.read_text().splitlines()
    assert json.loads(first)["journal"] == str(journal) and last == "closed"


def test_hook_with_a_missing_dependency_is_reported_and_serve_runs_without_it(tmp_path, monkeypatch):
    (tmp_path / "osc_hook_probe.py").write_text("import not_installed_anywhere_xyz\nHOOK = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    bad = commands.Entry("osc", "osc_hook_probe:HOOK [bridge]", commands.SERVE_HOOKS)
    [loaded] = commands.load_serve_hooks([bad])
    assert loaded.hook is None and 'pip install "audioldm-bridge[bridge]"' in loaded.error
    assert "not_installed_anywhere_xyz" in loaded.error
    # Our own module missing is a packaging bug, not a missing extra: it is not hidden.
    with pytest.raises(ModuleNotFoundError):
        commands.load_serve_hooks([commands.Entry("x", "engine.no_such_module:HOOK", commands.SERVE_HOOKS)])


# --------------------------------------------------------------------------- layering

def _imports(path: Path, package: str | None = None) -> set[str]:
    """Every module a file imports, at module level or inside functions (relative ones resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    if package is None:
        package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}
    return found


QT = ("PyQt5", "PyQt6", "PySide2", "PySide6", "pyqtgraph")


@pytest.mark.parametrize("room,forbidden", [
    ("engine", ("daw_bridge", "gui") + QT),
    ("daw_bridge", ("gui",) + QT),
])
def test_import_direction(room, forbidden):
    offenders = []
    for path in sorted((REPO / room).rglob("*.py")):
        for mod in _imports(path):
            if mod.split(".")[0] in forbidden:
                offenders.append(f"{path.relative_to(REPO)} imports {mod}")
    assert not offenders, offenders


def test_the_import_check_sees_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from gui import app\n    import PyQt6.QtCore\n    from ...daw_bridge import osc\n")
    assert {"gui", "gui.app", "PyQt6.QtCore", "daw_bridge.osc"} <= _imports(probe, package="engine.service")
