"""Commands and ``serve`` hooks that register themselves, through package entry points.

Each room (``engine``, ``daw_bridge``, ``gui``) declares its subcommands in ``pyproject.toml``::

    [project.entry-points."audioldm_bridge.commands"]
    generate = "engine.cli:register_generate"
    gui = "gui.cli:register [gui]"          # [gui]: the extra its module needs

and, to add options and services to ``audioldm-bridge serve``::

    [project.entry-points."audioldm_bridge.serve_hooks"]
    osc = "daw_bridge.osc_hook:HOOK [bridge]"

A command entry point names a function ``register(sub)`` that adds exactly one subparser, called
like the entry point, to ``sub`` (argparse's subparsers) and sets its ``func``. Its module should
import only the standard library and ``engine`` at module level, and its heavy or optional
dependencies inside the command function. If the module cannot be imported because an optional
dependency is missing, the command is still listed, and running it says which extra to install;
every other command keeps working.

A serve hook is an object with ``add_arguments(parser)`` and ``attach(service, args)``; ``attach``
runs once the service has started and returns an object with ``close()`` (or None). The service
never knows which hooks exist.

Without package metadata (a source checkout that was never ``pip install``-ed) the entry points are
read from the ``pyproject.toml`` beside the package, so a checkout behaves like an install.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from .errors import BridgeError

DISTRIBUTION = "audioldm-bridge"
COMMANDS = "audioldm_bridge.commands"
SERVE_HOOKS = "audioldm_bridge.serve_hooks"

_VALUE = re.compile(r"^\s*(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+))?\s*(\[(?P<extras>[^\]]*)\])?\s*$")


class MissingExtra(BridgeError):
    """A command or hook whose optional dependency is not installed."""


@dataclass(frozen=True)
class Entry:
    """One declared entry point (from package metadata or from pyproject.toml)."""

    name: str
    value: str
    group: str
    #: The distribution that declares it (a plugin's extras are its own).
    dist: str = DISTRIBUTION

    @property
    def module(self) -> str:
        return self._parts()["module"]

    @property
    def extras(self) -> tuple[str, ...]:
        raw = self._parts()["extras"] or ""
        return tuple(x.strip() for x in raw.split(",") if x.strip())

    def _parts(self) -> dict[str, str | None]:
        m = _VALUE.match(self.value)
        if m is None:
            raise ValueError(f"entry point {self.name} = {self.value!r} is not 'module:attr [extra]'")
        return m.groupdict()

    def load(self) -> Any:
        import importlib

        obj = importlib.import_module(self.module)
        for part in (self._parts()["attr"] or "").split("."):
            if part:
                obj = getattr(obj, part)
        return obj

    def install_hint(self) -> str:
        extra = ",".join(self.extras)
        return f'pip install "{self.dist}[{extra}]"' if extra else f"pip install {self.dist} again"


def entries(group: str) -> list[Entry]:
    """Entry points of ``group``: the installed package's metadata, else the source ``pyproject.toml``."""
    found = [Entry(ep.name, ep.value, group, ep.dist.name if ep.dist is not None else DISTRIBUTION)
             for ep in metadata.entry_points(group=group)]
    if any(e.dist == DISTRIBUTION for e in found):
        return found
    # A source checkout that was never installed: our own entry points from pyproject.toml.
    return _from_pyproject(group) + found


def _from_pyproject(group: str) -> list[Entry]:
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not pyproject.is_file():
        return []
    import tomllib

    with open(pyproject, "rb") as f:
        data = tomllib.load(f)
    declared = data.get("project", {}).get("entry-points", {}).get(group, {})
    return [Entry(name, value, group) for name, value in declared.items()]


def _missing_module(exc: ModuleNotFoundError, entry: Entry) -> bool:
    """True when the import failed on a dependency, not on the entry point's own module being absent
    from our package (which is a packaging bug and should surface)."""
    return bool(exc.name) and not (entry.module == exc.name or entry.module.startswith(exc.name + "."))


# --------------------------------------------------------------------------- commands

def _unavailable(entry: Entry, exc: ModuleNotFoundError) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        raise MissingExtra(f"the '{entry.name}' command needs {exc.name}, which is not installed; "
                           f"install it with: {entry.install_hint()}")

    return run


def add_commands(sub: argparse._SubParsersAction, group: str = COMMANDS,
                 declared: Iterable[Entry] | None = None) -> list[str]:
    """Add every declared command to ``sub``; returns the names of those whose extra is missing."""
    missing = []
    for entry in (entries(group) if declared is None else declared):
        try:
            register = entry.load()
        except ModuleNotFoundError as exc:
            if not _missing_module(exc, entry):
                raise
            # No option prefix: whatever follows (options included) is taken, then the message shown.
            p = sub.add_parser(entry.name, help=f"(needs: {entry.install_hint()})", add_help=False,
                               prefix_chars="\0")
            p.add_argument("rest", nargs="*")
            p.set_defaults(func=_unavailable(entry, exc))
            missing.append(entry.name)
            continue
        register(sub)
    return missing


# --------------------------------------------------------------------------- serve hooks

class ServeHook(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def attach(self, service: Any, args: argparse.Namespace) -> Any: ...


@dataclass
class LoadedHook:
    entry: Entry
    hook: ServeHook | None
    error: str | None = None


def load_serve_hooks(declared: Iterable[Entry] | None = None) -> list[LoadedHook]:
    """Every declared serve hook; one whose optional dependency is missing is kept with its error
    (``serve`` says so once and runs without it)."""
    out = []
    for entry in (entries(SERVE_HOOKS) if declared is None else declared):
        try:
            out.append(LoadedHook(entry, entry.load()))
        except ModuleNotFoundError as exc:
            if not _missing_module(exc, entry):
                raise
            out.append(LoadedHook(entry, None, f"serve hook '{entry.name}' is off: it needs {exc.name} "
                                               f"({entry.install_hint()})"))
    return out


def warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)
